// Battle events in words, for the log. The viewer's seat decides the wording: a player reads
// "You" and "the opponent"; a spectator reads ship names. Pure, like battle.js.
import { num } from './conn.js';
import { SPECTATOR } from './battle.js';

const BAND_WORDS = {
  adjacent: 'Adjacent', close: 'Close', short: 'Short', medium: 'Medium', long: 'Long',
  very_long: 'Very Long', distant: 'Distant',
};
const LOC_WORDS = {
  sensors: 'sensors', power_plant: 'power plant', fuel: 'fuel', weapon: 'a weapon',
  armour: 'armour', hull: 'hull', m_drive: 'M-drive', cargo: 'cargo', j_drive: 'J-drive',
  crew: 'crew', computer: 'computer',
};
const REASON_WORDS = {
  destroyed: 'a ship was destroyed', forfeit: 'a player gave up',
  timeout: 'a player let three turn timers run out', disconnect: 'a player left and did not come back',
  draw: 'the round limit was reached', abandoned: 'nobody acted for too long',
  shutdown: 'the server shut down', over: 'the battle is over',
};

export function bandWord(b) {
  return BAND_WORDS[b] || String(b);
}

export function reasonWord(r) {
  return REASON_WORDS[r] || String(r);
}

/** Subject for a seat: "You", "The opponent", or the ship's name for a spectator. */
export function who(battle, seat) {
  if (battle.seat === SPECTATOR) {
    const s = battle.ships[seat];
    if (!s) return `Seat ${seat + 1}`;
    const o = battle.ships[1 - seat];
    return o && o.name === s.name ? `${s.name} ${seat + 1}` : s.name;
  }
  return seat === battle.seat ? 'You' : 'The opponent';
}

function whose(battle, seat) {
  if (battle.seat === SPECTATOR) return `${who(battle, seat)}'s`;
  return seat === battle.seat ? 'your' : "the opponent's";
}

// "your Scout", "the opponent's Seeker", or for a spectator "the Scout".
function shipRef(battle, seat) {
  if (battle.seat === SPECTATOR) return `the ${who(battle, seat)}`;
  return `${seat === battle.seat ? 'your' : "the opponent's"} ${battle.ships[seat].name}`;
}

function target(battle, seat) {
  const w = who(battle, seat);
  return w === 'You' ? 'you' : w.replace(/^The/, 'the');
}

function dice(d) {
  return (d || []).map(num).join('+');
}

/** A missile's name in the log. */
export function missileName(battle, mid, own) {
  return `${whose(battle, own)} missile #${mid}`.replace(/^./, (c) => c.toUpperCase());
}

/**
 * One sentence for a battle event, or '' for one that needs none. battle: the model after the
 * event was applied (names and weapons are read from it).
 */
export function describe(battle, m) {
  const seat = num(m.seat);
  const other = 1 - seat;
  const W = (s) => who(battle, s);
  switch (m.t) {
    case 'started': {
      const me = battle.seat;
      const vs = me === SPECTATOR
        ? `${battle.ships[0].name} against ${battle.ships[1].name}`
        : `your ${battle.ships[me].name} against the opponent's ${battle.ships[1 - me].name}`;
      return `The battle begins at ${bandWord(m.band)} range: ${vs}. ${W(num(m.first))} act${W(num(m.first)) === 'You' ? '' : 's'} first.`;
    }
    case 'state':
      return `Battle state received (round ${num(m.round)}, ${bandWord(m.band)} range).`;
    case 'turn':
      return `${W(num(m.active)) === 'You' ? 'Your' : whose(battle, num(m.active)).replace(/^./, (c) => c.toUpperCase())} turn.`;
    case 'round':
      return `Round ${num(m.round)} begins. ${hulls(battle, m.hull.map(num))}. ${W(num(m.active))} act${W(num(m.active)) === 'You' ? '' : 's'} first.`;
    case 'attack': {
      const w = battle.ships[seat].w[num(m.w)];
      const wn = w ? w.name : `weapon ${num(m.w)}`;
      const eff = num(m.eff);
      const roll = `rolled ${dice(m.dice)}, total ${num(m.total)}`;
      if (!m.hit) return `${W(seat)} fire${W(seat) === 'You' ? '' : 's'} ${wn} and miss${W(seat) === 'You' ? '' : 'es'} (${roll}).`;
      const sand = m.sand ? ', the sandcaster cloud absorbs part of it' : '';
      return `${W(seat)} fire${W(seat) === 'You' ? '' : 's'} ${wn} and hit${W(seat) === 'You' ? '' : 's'} ${target(battle, other)} (${roll}, effect ${eff >= 0 ? '+' : ''}${eff})${sand}: ${num(m.dmg)} damage, hull ${num(m.hull)}.`;
    }
    case 'crit': {
      const extra = num(m.extra) > 0 ? `, ${num(m.extra)} extra hull damage` : '';
      const crew = m.crew ? ', a crew member is injured' : '';
      return `Critical hit on ${shipRef(battle, seat)}: ${LOC_WORDS[m.loc] || m.loc}, severity ${num(m.sev)}${extra}${crew}. Hull ${num(m.hull)}.`;
    }
    case 'mlaunch':
      return `${W(seat)} launch${W(seat) === 'You' ? '' : 'es'} missile #${num(m.mid)} from ${bandWord(m.band)} range (${num(m.left)} left in the racks).`;
    case 'mmove':
      return `${missileName(battle, num(m.mid), seat)} closes to ${bandWord(m.band)} range.`;
    case 'mhit':
      return `Missile #${num(m.mid)} strikes ${target(battle, seat)} for ${num(m.dmg)} damage (rolled ${dice(m.dice)}); hull ${num(m.hull)}.`;
    case 'pd_result':
      return `${whose(battle, seat).replace(/^./, (c) => c.toUpperCase())} point defence ${m.ok ? 'destroys' : 'misses'} missile #${num(m.mid)} (rolled ${dice(m.dice)}, total ${num(m.total)}).`;
    case 'sand_result':
      return m.ok
        ? `${whose(battle, seat).replace(/^./, (c) => c.toUpperCase())} sandcaster puts up a cloud: +${num(m.bonus)} armour against the next laser hit this round (rolled ${dice(m.dice)}; ${num(m.left)} canisters left).`
        : `${whose(battle, seat).replace(/^./, (c) => c.toUpperCase())} sandcaster fails (rolled ${dice(m.dice)}, total ${num(m.total)}; ${num(m.left)} canisters left).`;
    case 'timeout':
      return `${whose(battle, seat).replace(/^./, (c) => c.toUpperCase())} turn timer ran out (${num(m.n)} in a row); the server plays the default action.`;
    case 'away':
      return `${W(seat)} ${W(seat) === 'You' ? 'have' : 'has'} lost the connection; the seat waits for a resume.`;
    case 'back':
      return `${W(seat)} ${W(seat) === 'You' ? 'are' : 'is'} back.`;
    case 'ended':
      return resultText(battle);
    default:
      return '';
  }
}

// "Hulls: yours 30, the opponent's 12" for a player; ship names for a spectator.
function hulls(battle, h) {
  if (battle.seat === SPECTATOR) return `Hulls: ${who(battle, 0)} ${h[0]}, ${who(battle, 1)} ${h[1]}`;
  return `Hulls: yours ${h[battle.seat]}, the opponent's ${h[1 - battle.seat]}`;
}

/** Title and sentence for the result: {title, text}. */
export function result(battle) {
  const e = battle.ended;
  if (!e) return { title: 'Battle over', text: '' };
  const h = e.hull;
  // "destroyed" names the ship that was.
  const why = e.reason === 'destroyed' && e.winner !== null
    ? `${shipRef(battle, 1 - e.winner)} was destroyed` : reasonWord(e.reason);
  const tail = `: ${why} after ${e.rounds} round${e.rounds === 1 ? '' : 's'}. Final ${hulls(battle, h).replace(/^H/, 'h')}.`;
  if (e.reason === 'over') {
    return { title: 'Battle over', text: `This battle has ended${tail}` };
  }
  if (e.winner === null) {
    return { title: e.reason === 'draw' ? 'Draw' : 'No winner', text: `Nobody wins${tail}` };
  }
  if (battle.seat === SPECTATOR) {
    return { title: `${battle.ships[e.winner].name} wins`, text: `${who(battle, e.winner)} wins${tail}` };
  }
  const won = e.winner === battle.seat;
  return { title: won ? 'Victory' : 'Defeat', text: `${won ? 'You win' : 'You lose'}${tail}` };
}

function resultText(battle) {
  const r = result(battle);
  return `Battle over. ${r.text}`;
}
