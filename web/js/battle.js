// What the page knows about one battle, rebuilt from `started` or `state` and kept current by
// applying each battle event in seq order (docs/PROTOCOL.md sections 6 to 8). Pure: no DOM, no
// socket, so node's test runner can check it too.
import { num } from './conn.js';

export const BANDS = ['adjacent', 'close', 'short', 'medium', 'long', 'very_long', 'distant'];
export const LOCATIONS = ['sensors', 'power_plant', 'fuel', 'weapon', 'armour', 'hull', 'm_drive',
  'cargo', 'j_drive', 'crew', 'computer'];
export const SPECTATOR = 2;
const FIRING = new Set(['laser', 'missile', 'gun']);

function ship(s) {
  return {
    type: s.type,
    name: s.name || s.type,
    hull: num(s.hull),
    hmax: num(s.hmax),
    arm: num(s.arm),
    pilot: num(s.pilot),
    thr: num(s.thr),
    w: (s.w || []).map((w) => ({ name: w.name, kind: w.kind, d: num(w.d), a: num(w.a), lr: num(w.lr || 0) })),
    crit: (s.crit || []).map(num),
  };
}

// Spends one round of the first weapon of a kind that has some left (racks and sandcasters report
// only the total left, so the model spends them in list order, as the engine does).
function spend(sh, kind, left) {
  const ws = sh.w.filter((w) => w.kind === kind);
  const first = ws.find((w) => w.a > 0);
  if (first) first.a -= 1;
  const total = ws.reduce((n, w) => n + Math.max(0, w.a), 0);
  if (left !== undefined && ws.length === 1 && total !== left) ws[0].a = left;
}

export class Battle {
  /** bid: BigInt; seat: 0, 1 or SPECTATOR. */
  constructor(bid, seat) {
    this.bid = bid;
    this.seat = seat;
    this.phase = 'waiting';
    this.band = 'adjacent';
    this.round = 0;
    this.rlimit = 0;
    this.active = 0;
    this.acted = 0;
    this.sandu = 0;
    this.away = 0;
    this.sbonus = [0, 0];
    this.tmo = [0, 0];
    this.ships = [null, null];
    this.msl = new Map();
    this.last = 0;
    this.ended = null;
    this.timerEnd = 0; // Date.now() value when the active seat's turn timer runs out; 0 = none
  }

  /** True for a seat-holding player (not a spectator). */
  playing() {
    return this.seat === 0 || this.seat === 1;
  }

  /** Takes a full `state` (or `started`): everything is replaced. now: Date.now(). */
  reset(m, now, turnMs) {
    this.seq(m);
    this.band = m.band;
    this.ships = m.ships.map(ship);
    this.msl = new Map();
    this.ended = null;
    if (m.t === 'started') {
      this.phase = 'running';
      this.round = 1;
      this.rlimit = num(m.rlimit);
      this.active = num(m.first);
      this.acted = this.sandu = this.away = 0;
      this.sbonus = [0, 0];
      this.tmo = [0, 0];
      this.timerEnd = turnMs > 0 ? now + turnMs : 0;
      return;
    }
    this.phase = m.phase;
    this.round = num(m.round);
    this.rlimit = num(m.rlimit);
    this.active = num(m.active);
    this.acted = num(m.acted);
    this.sandu = num(m.sandu);
    this.away = num(m.away);
    this.sbonus = m.sbonus.map(num);
    this.tmo = m.tmo.map(num);
    for (const x of m.msl) {
      this.msl.set(num(x.id), { id: num(x.id), own: num(x.own), band: x.band, pd: x.pd });
    }
    const left = num(m.turn_ms);
    this.timerEnd = this.phase === 'running' && left > 0 ? now + left : 0;
    if (this.phase === 'ended') {
      const h = this.ships.map((s) => s.hull);
      this.ended = { winner: null, reason: 'over', hull: h, rounds: this.round };
    }
  }

  seq(m) {
    this.last = num(m.seq);
  }

  /**
   * Applies one battle event (seq = last + 1). Returns false for a type this page does not know,
   * which it skips as PROTOCOL.md asks. now: Date.now(); turnMs: the welcome's turn timer.
   */
  apply(m, now, turnMs) {
    const seat = num(m.seat);
    const other = 1 - seat;
    const timer = () => { this.timerEnd = turnMs > 0 && this.phase === 'running' ? now + turnMs : 0; };
    switch (m.t) {
      case 'started':
      case 'state':
        this.reset(m, now, turnMs);
        return true;
      case 'turn':
        this.acted |= 1 << (1 - num(m.active));
        this.active = num(m.active);
        this.round = num(m.round);
        timer();
        break;
      case 'round':
        this.round = num(m.round);
        this.active = num(m.active);
        this.acted = this.sandu = 0;
        this.sbonus = [0, 0];
        m.hull.forEach((h, i) => { this.ships[i].hull = num(h); });
        for (const x of this.msl.values()) x.pd = false;
        timer();
        break;
      case 'attack': {
        const w = this.ships[seat].w[num(m.w)];
        if (w && w.a > 0) w.a -= 1;
        this.ships[other].hull = num(m.hull);
        if (m.sand) this.sbonus[other] = 0;
        this.acted |= 1 << seat;
        break;
      }
      case 'crit': {
        const sh = this.ships[seat];
        sh.hull = num(m.hull);
        const i = LOCATIONS.indexOf(m.loc);
        if (i >= 0 && sh.crit.length === LOCATIONS.length) sh.crit[i] += 1;
        break;
      }
      case 'mlaunch':
        spend(this.ships[seat], 'rack', num(m.left));
        this.msl.set(num(m.mid), { id: num(m.mid), own: seat, band: m.band, pd: false });
        this.acted |= 1 << seat;
        break;
      case 'mmove': {
        const x = this.msl.get(num(m.mid));
        if (x) x.band = m.band;
        break;
      }
      case 'mhit':
        this.msl.delete(num(m.mid));
        this.ships[seat].hull = num(m.hull);
        break;
      case 'pd_result': {
        const x = this.msl.get(num(m.mid));
        if (x) x.pd = true;
        if (m.ok) this.msl.delete(num(m.mid));
        break;
      }
      case 'sand_result':
        spend(this.ships[seat], 'sand', num(m.left));
        this.sandu |= 1 << seat;
        this.sbonus[seat] = m.ok ? num(m.bonus) : 0;
        break;
      case 'timeout':
        this.tmo[seat] = num(m.n);
        break;
      case 'away':
        this.away |= 1 << seat;
        break;
      case 'back':
        this.away &= ~(1 << seat);
        break;
      case 'ended':
        this.phase = 'ended';
        this.timerEnd = 0;
        m.hull.forEach((h, i) => { this.ships[i].hull = num(h); });
        this.ended = {
          winner: m.winner === null || m.winner === undefined ? null : num(m.winner),
          reason: m.reason,
          hull: m.hull.map(num),
          rounds: num(m.rounds),
        };
        break;
      default:
        this.seq(m);
        return false;
    }
    this.seq(m);
    return true;
  }

  /** True when the page's seat may take its turn action now. */
  myTurn() {
    return this.playing() && this.phase === 'running' && this.active === this.seat &&
      !(this.acted & (1 << this.seat));
  }

  /**
   * The controls for the page's seat: {fire: [{i, w, ok}], launch, end, pd: [missile], sand}.
   * ok/launch/end/sand are booleans saying whether the request would be legal now.
   */
  options() {
    const none = { fire: [], launch: false, end: false, pd: [], sand: false, hasRack: false, hasSand: false };
    if (!this.playing() || this.phase !== 'running') return none;
    const me = this.ships[this.seat];
    const turn = this.myTurn();
    const racks = me.w.filter((w) => w.kind === 'rack');
    const sands = me.w.filter((w) => w.kind === 'sand');
    return {
      fire: me.w.map((w, i) => ({ i, w, ok: turn && w.a !== 0 })).filter((x) => FIRING.has(x.w.kind)),
      launch: turn && racks.some((w) => w.a > 0),
      end: turn,
      pd: [...this.msl.values()].filter((x) => x.own !== this.seat && !x.pd),
      sand: sands.some((w) => w.a > 0) && (this.band === 'adjacent' || this.band === 'close') &&
        !(this.sandu & (1 << this.seat)),
      hasRack: racks.length > 0,
      hasSand: sands.length > 0,
    };
  }
}

/** A JSON-able copy of a battle (for sessionStorage); fromSnapshot() reverses it. */
export function snapshot(b) {
  return { ...b, bid: b.bid.toString(), msl: [...b.msl.values()] };
}

/** Rebuilds a Battle from snapshot()'s output; returns null when it does not look like one. */
export function fromSnapshot(o) {
  if (!o || typeof o.bid !== 'string' || !Array.isArray(o.ships) || !Array.isArray(o.msl)) return null;
  const b = new Battle(BigInt(o.bid), o.seat);
  Object.assign(b, o, { bid: b.bid, msl: new Map(o.msl.map((x) => [x.id, x])) });
  return b;
}
