// The page: lobby, waiting, battle and result screens, driven by one Conn (conn.js) and one
// Battle model (battle.js). docs/WEB.md describes the flow; docs/PROTOCOL.md the messages.
import { Conn, num } from './conn.js';
import { Battle, BANDS, LOCATIONS, SPECTATOR, snapshot, fromSnapshot } from './battle.js';
import { describe, result, bandWord, who } from './words.js';
import { SHIPS } from './ships.js';
import * as store from './store.js';

const $ = (id) => document.getElementById(id);
// Lines kept in the battle log (and in the tab's saved copy).
const LOG_MAX = 300;
// Retries of an action the server refused as rate_limited before the page gives up on it.
const RATE_RETRIES = 3;
// Cluster: `moved` replies followed for one request before the page gives up on it (PROTOCOL.md
// section 8, "Clusters: moved").
const MOVED_MAX = 5;
// A resume answered server_busy (a cluster taking the battle over): tried again every
// RESUME_BUSY_MS, RESUME_BUSY_TRIES times (a takeover takes about the lease, 10 s by default).
const RESUME_BUSY_MS = 1000;
const RESUME_BUSY_TRIES = 60;

// Error codes the page acts on (PROTOCOL.md section 9).
const E = {
  VERSION_MISMATCH: 20, RATE_LIMITED: 23, NOT_QUEUED: 25, NOT_STARTED: 48, BATTLE_OVER: 49, NO_SUCH_BATTLE: 50,
  BATTLE_FULL: 51, NOT_IN_BATTLE: 52, ALREADY_IN_BATTLE: 53, BAD_TOKEN: 54, SPECTATORS_FULL: 55,
  SEQ_GONE: 56, SERVER_BUSY: 81,
};

const S = {
  conn: null,
  welcome: null,
  welcomes: 0,       // sockets that reached welcome (the first one and every reconnect)
  rateLimited: 0,    // rate_limited refusals seen (the page's own bucket should keep this at 0)
  screen: '',
  battle: null,      // Battle, or null in the lobby
  tok: null,         // this seat's resume token (Uint8Array)
  log: [],           // log lines: {seq, text}
  pending: new Map(), // rid -> {msg, tries, moved}
  moved: null,       // {msg, hops}: the request to send again once the battle's holder welcomes us
  queued: null,      // {ship, band} while in the queue (sent again after a reconnect)
  busy: 0,           // rid of the turn action awaiting its reply (buttons stay off meanwhile)
  reacting: new Map(), // rid -> control key ('pd-<mid>', 'sand') of a reaction awaiting its reply
  leaving: false,    // this page asked to leave the battle it is in
  hash: null,        // {join: bid} or {watch: bid} from the address
};

// ---- sending -------------------------------------------------------------------------------

function send(msg) {
  const rid = S.conn.send(msg);
  if (rid === 0) {
    notice(S.conn.ready() ? 'Too many actions at once; wait a moment.' : 'Not connected; the page is reconnecting.');
    return 0;
  }
  S.pending.set(rid, { msg, tries: 0 });
  if (S.pending.size > 64) S.pending.delete(S.pending.keys().next().value); // bounded
  return rid;
}

function act(msg) {
  if (!S.battle || S.busy) return;
  const turn = msg.t === 'fire' || msg.t === 'missile' || msg.t === 'end';
  const rid = send({ ...msg, bid: S.battle.bid });
  if (rid && turn) S.busy = rid;
  if (rid && (msg.t === 'pd' || msg.t === 'sand')) S.reacting.set(rid, reactionKey(msg));
  render();
}

// The control a reaction request came from: 'pd-<mid>' or 'sand'.
function reactionKey(msg) {
  return msg.t === 'pd' ? `pd-${msg.mid}` : 'sand';
}

// ---- screens -------------------------------------------------------------------------------

function show(screen) {
  if (S.screen === screen) return;
  const had = document.activeElement && document.activeElement !== document.body;
  S.screen = screen;
  for (const id of ['lobby', 'waiting', 'battle']) $(id).hidden = id !== screen;
  document.body.dataset.screen = screen;
  document.title = 'battled';
  // The control that was focused is hidden now: keyboard users continue from the new screen's top.
  if (had && screen === 'battle') $('battle-h').focus();
}

let noticeTimer = 0;
function notice(text, sticky) {
  const n = $('notice');
  n.textContent = text;
  n.hidden = !text;
  clearTimeout(noticeTimer);
  if (text && !sticky) noticeTimer = setTimeout(() => { n.hidden = true; }, 8000);
}

function toLobby(text) {
  store.clear();
  S.battle = null;
  S.tok = null;
  S.log = [];
  S.queued = null;
  S.busy = 0;
  S.leaving = false;
  $('forfeit-yes').hidden = true;
  show('lobby');
  if (text) notice(text);
  renderLobby();
  (S.hash && S.hash.join ? $('join-btn') : $('queue-btn')).focus();
}

// Drops #join=/#watch= from the address once used, so a reload does not use it again.
function dropHash() {
  S.hash = null;
  history.replaceState(null, '', location.pathname + location.search);
}

function shareLink(bid) {
  const u = new URL(location.href);
  u.hash = `join=${bid}`;
  u.search = '';
  return u.toString();
}

function showWaiting(text, share) {
  show('waiting');
  $('waiting-text').textContent = text;
  $('share').hidden = !share;
  if (share) $('share-link').value = share;
  $('cancel-btn').focus();
}

// ---- lobby ---------------------------------------------------------------------------------

function fillSelect(sel, items, chosen) {
  for (const [value, label] of items) {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = label;
    if (value === chosen) o.selected = true;
    sel.append(o);
  }
}

function renderLobby() {
  const j = S.hash && S.hash.join;
  $('join-card').hidden = !j;
  if (j) $('join-bid').textContent = j.toString();
}

function setup() {
  return { ship: $('ship').value, band: $('band').value };
}

function bindLobby() {
  fillSelect($('ship'), SHIPS, 'scout');
  fillSelect($('ai-ship'), SHIPS, '');
  fillSelect($('band'), BANDS.map((b) => [b, bandWord(b)]), 'short');
  $('queue-btn').onclick = () => {
    const q = setup();
    if (send({ t: 'queue', ...q })) S.queued = q;
  };
  $('ai-btn').onclick = () => {
    const msg = { t: 'create', ...setup(), vs: 'ai' };
    if ($('ai-ship').value) msg.os = $('ai-ship').value;
    send(msg);
  };
  $('private-btn').onclick = () => send({ t: 'create', ...setup(), vs: 'player' });
  $('join-btn').onclick = () => {
    if (S.hash && S.hash.join) send({ t: 'join', bid: S.hash.join, ship: setup().ship });
  };
  $('watch-form').onsubmit = (ev) => {
    ev.preventDefault();
    const bid = store.parseBid($('watch-bid').value);
    if (!bid) {
      notice('A battle id is a number from 1 to 9223372036854775807.');
      $('watch-bid').focus();
      return;
    }
    watch(bid);
  };
  $('cancel-btn').onclick = () => {
    if (S.queued) {
      send({ t: 'cancel' });
      S.queued = null;
      toLobby();
    } else if (S.battle) {
      S.leaving = true;
      send({ t: 'leave', bid: S.battle.bid });
      toLobby();
    } else {
      toLobby();
    }
  };
  $('copy-btn').onclick = async () => {
    $('share-link').select();
    try {
      await navigator.clipboard.writeText($('share-link').value);
      notice('Link copied.');
    } catch (e) {
      notice('Select the link and copy it by hand.');
    }
  };
}

function watch(bid) {
  S.battle = new Battle(bid, SPECTATOR);
  S.tok = null;
  S.log = [];
  send({ t: 'watch', bid });
}

// ---- the battle ----------------------------------------------------------------------------

function bindBattle() {
  $('lobby-btn').onclick = () => toLobby();
  $('forfeit-btn').onclick = () => {
    $('forfeit-yes').hidden = false;
    $('forfeit-yes').focus();
  };
  $('forfeit-yes').onclick = () => {
    $('forfeit-yes').hidden = true;
    act({ t: 'forfeit' });
  };
  $('stop-watch-btn').onclick = () => {
    if (S.battle) {
      S.leaving = true;
      send({ t: 'leave', bid: S.battle.bid });
    }
    toLobby();
  };
  document.addEventListener('keydown', shortcut);
}

// Optional keys for players; Tab and Enter/Space on the buttons do everything too.
function shortcut(ev) {
  if (S.screen !== 'battle' || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const tag = ev.target && ev.target.tagName;
  if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA') return;
  let key = null;
  if (/^[1-8]$/.test(ev.key)) key = `fire-${ev.key - 1}`;
  else key = { m: 'launch', e: 'end', s: 'sand', p: 'pd-first' }[ev.key.toLowerCase()] || null;
  if (!key) return;
  const b = key === 'pd-first'
    ? document.querySelector('#reactions button[data-key^="pd-"]:not([disabled])')
    : document.querySelector(`#actions button[data-key="${key}"]`);
  if (b && !b.disabled) {
    ev.preventDefault();
    b.click();
  }
}

function button(key, label, ok, onclick, cls) {
  const b = document.createElement('button');
  b.type = 'button';
  b.dataset.key = key;
  b.textContent = label;
  b.disabled = !ok;
  if (cls) b.className = cls;
  b.onclick = onclick;
  return b;
}

function ammo(a) {
  return a < 0 ? 'unlimited' : `${a} left`;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function renderShip(i) {
  const b = S.battle;
  const s = b.ships[i];
  const card = $(`ship${i}`);
  card.replaceChildren();
  if (!s) return;
  const mine = b.playing() && i === b.seat;
  card.classList.toggle('mine', mine);
  card.classList.toggle('first', b.seat === SPECTATOR && i === 0); // a spectator's two colours
  card.classList.toggle('active', b.phase === 'running' && b.active === i);
  const h = el('h3');
  h.append(el('span', s.name, 'name'), ' ',
    el('span', b.seat === SPECTATOR ? `seat ${i + 1}` : mine ? 'you' : 'opponent', 'tag'));
  if (b.away & (1 << i)) h.append(' ', el('span', 'disconnected', 'tag warn'));
  card.append(h);

  const hull = el('div', undefined, 'hull');
  const label = el('span', `Hull ${s.hull} / ${s.hmax}`);
  label.id = `hull${i}-label`;
  const bar = el('div', undefined, 'meter');
  bar.setAttribute('role', 'meter');
  bar.setAttribute('aria-valuemin', '0');
  bar.setAttribute('aria-valuemax', String(s.hmax));
  bar.setAttribute('aria-valuenow', String(s.hull));
  bar.setAttribute('aria-labelledby', label.id);
  const fill = el('div', undefined, 'fill');
  const pct = s.hmax > 0 ? Math.round(100 * s.hull / s.hmax) : 0;
  fill.style.width = `${pct}%`;
  fill.dataset.level = pct > 50 ? 'ok' : pct > 20 ? 'low' : 'crit';
  bar.append(fill);
  hull.append(label, bar);
  card.append(hull);

  const stats = el('dl', undefined, 'stats');
  const sb = b.sbonus[i] > 0 ? ` (+${b.sbonus[i]} sand)` : '';
  for (const [k, v] of [['Armour', `${s.arm}${sb}`], ['Pilot', String(s.pilot)], ['Thrust', String(s.thr)]]) {
    stats.append(el('dt', k), el('dd', v));
  }
  if (b.tmo[i] > 0) stats.append(el('dt', 'Timeouts'), el('dd', String(b.tmo[i])));
  card.append(stats);

  const wl = el('ul', undefined, 'weapons');
  if (s.w.length === 0) wl.append(el('li', 'No weapons'));
  for (const w of s.w) {
    const dice = (w.d > 0 ? ` ${w.d}D6` : '') + (w.lr ? ` (${w.lr > 0 ? '+' : ''}${w.lr} at Long or farther)` : '');
    const li = el('li');
    li.append(el('span', `${w.name}${dice}`), el('span', w.kind === 'laser' || w.kind === 'gun' ? (w.a < 0 ? '' : ammo(w.a)) : ammo(w.a), 'ammo'));
    if (w.a === 0) li.classList.add('empty');
    wl.append(li);
  }
  card.append(wl);

  const crits = s.crit.map((n, k) => (n > 0 ? `${LOCATIONS[k].replace('_', '-')} ×${n}` : null)).filter(Boolean);
  if (crits.length) card.append(el('p', `Criticals: ${crits.join(', ')}`, 'crits'));
}

function renderStatus() {
  const b = S.battle;
  $('round').textContent = String(b.round);
  $('rlimit').textContent = String(b.rlimit);
  $('bid').textContent = b.bid.toString();
  $('role').textContent = b.seat === SPECTATOR ? '· watching' : '';
  let turn;
  if (b.phase === 'ended') turn = 'Battle over';
  else if (b.seat === SPECTATOR) turn = `${b.ships[b.active].name} to act`;
  else if (b.myTurn()) turn = 'Your turn';
  else if (b.active === b.seat) turn = 'Your turn is done';
  else turn = "Opponent's turn";
  $('turn').textContent = turn;
  // A tab in the background shows whose turn it is in its title.
  document.title = b.myTurn() ? 'Your turn · battled' : 'battled';
  $('turn').dataset.mine = String(b.myTurn());
  const bands = $('bands');
  bands.replaceChildren();
  for (const band of BANDS) {
    const li = el('li');
    li.append(el('span', bandWord(band), 'band-name'));
    if (band === b.band) {
      li.setAttribute('aria-current', 'true');
      li.classList.add('here');
    }
    for (const m of b.msl.values()) {
      if (m.band === band) li.append(el('span', `#${m.id}`, `msl ${m.own === b.seat ? 'out' : 'in'}`));
    }
    bands.append(li);
  }
  tick();
}

// The turn timer counts down locally from the last turn change (or the state's turn_ms).
function tick() {
  const c = $('conn');
  if (c.dataset.state === 'waiting') {
    c.textContent = `Connection lost; retrying in ${Math.max(0, Math.ceil((retryAt - Date.now()) / 1000))} s`;
  }
  const b = S.battle;
  const t = $('timer');
  if (!b || b.phase !== 'running' || !b.timerEnd) {
    t.textContent = '';
    return;
  }
  const left = Math.max(0, Math.ceil((b.timerEnd - Date.now()) / 1000));
  t.textContent = `${left} s left`;
  t.dataset.low = String(left <= 10);
}

function renderActions() {
  const b = S.battle;
  const box = $('actions');
  box.hidden = !b.playing() || b.phase !== 'running';
  $('watching').hidden = b.seat !== SPECTATOR || b.phase !== 'running';
  if (box.hidden) return;
  const focused = document.activeElement;
  const o = b.options();
  const busy = S.busy !== 0 || !S.conn.ready();
  const sent = new Set(S.reacting.values());
  const names = o.fire.map((f) => f.w.name);
  const turn = o.fire.map((f, n) => {
    const what = f.w.a === 0 ? ' (empty)' : f.w.a > 0 ? ` (${f.w.a})` : '';
    // Two weapons of one name (a corvette's two lasers) are told apart by their turret number.
    const which = names.indexOf(f.w.name) !== names.lastIndexOf(f.w.name) ? ` ${f.i + 1}` : '';
    return { key: `fire-${n}`, label: `Fire ${f.w.name}${which}${what}`, ok: f.ok && !busy, cls: 'fire', go: () => act({ t: 'fire', w: f.i }) };
  });
  if (o.hasRack) turn.push({ key: 'launch', label: 'Launch missile', ok: o.launch && !busy, go: () => act({ t: 'missile' }) });
  turn.push({ key: 'end', label: 'End turn', ok: o.end && !busy, go: () => act({ t: 'end' }) });
  const react = o.pd.map((m) => ({
    key: `pd-${m.id}`, label: `Point defence on missile #${m.id} (${bandWord(m.band)})`,
    ok: S.conn.ready() && !sent.has(`pd-${m.id}`), go: () => act({ t: 'pd', mid: m.id }),
  }));
  const near = b.band === 'adjacent' || b.band === 'close';
  const sandWhy = !near ? ' (Adjacent or Close only)' : b.sandu & (1 << b.seat) ? ' (used this round)' : '';
  if (o.hasSand) react.push({ key: 'sand', label: `Sandcaster${sandWhy}`, ok: o.sand && S.conn.ready() && !sent.has('sand'), go: () => act({ t: 'sand' }) });
  syncButtons($('turn-actions'), turn);
  syncButtons($('reactions'), react);
  $('no-reactions').hidden = react.length > 0;
  // A control that went off under the keyboard's focus hands it to the card's heading, so the
  // next Tab lands on the first control again.
  if (focused && box.contains(focused) && (focused.disabled || !focused.isConnected)) $('actions-h').focus();
}

// Updates a row of buttons in place (by data-key): a button never disappears and reappears under
// the pointer or the keyboard's focus just because an event arrived.
function syncButtons(row, specs) {
  const keep = new Set(specs.map((x) => x.key));
  for (const b of [...row.children]) if (!keep.has(b.dataset.key)) b.remove();
  let at = row.firstElementChild;
  for (const x of specs) {
    let b = row.querySelector(`button[data-key="${x.key}"]`);
    if (!b) b = button(x.key, x.label, x.ok, null, x.cls);
    if (b.textContent !== x.label) b.textContent = x.label;
    b.disabled = !x.ok;
    b.onclick = x.go;
    if (b !== at) row.insertBefore(b, at);
    else at = at.nextElementSibling;
  }
}

function renderMissiles() {
  const b = S.battle;
  const ul = $('missiles');
  ul.replaceChildren();
  if (b.msl.size === 0) ul.append(el('li', 'None.', 'hint'));
  for (const m of b.msl.values()) {
    const dir = b.seat === SPECTATOR ? `launched by ${b.ships[m.own].name}`
      : m.own === b.seat ? 'yours, flying at the opponent' : 'incoming';
    ul.append(el('li', `#${m.id} ${dir}, at ${bandWord(m.band)} range${m.pd ? ', point defence tried this round' : ''}`,
      m.own === b.seat ? 'out' : 'in'));
  }
}

function renderLog() {
  const ol = $('log');
  const have = ol.childElementCount;
  if (have > S.log.length || (have > 0 && ol.firstElementChild.dataset.seq !== String(S.log[0] && S.log[0].seq))) {
    ol.replaceChildren();
  }
  for (let i = ol.childElementCount; i < S.log.length; i++) {
    const li = el('li', S.log[i].text);
    li.dataset.seq = String(S.log[i].seq);
    li.dataset.t = S.log[i].t || '';
    ol.append(li);
  }
  ol.scrollTop = ol.scrollHeight;
}

function renderResult() {
  const b = S.battle;
  const box = $('result');
  const was = !box.hidden;
  box.hidden = b.phase !== 'ended';
  if (box.hidden) return;
  const r = result(b);
  $('result-h').textContent = r.title;
  $('result-text').textContent = r.text;
  box.dataset.outcome = !b.ended || b.ended.winner === null ? 'none'
    : b.seat === SPECTATOR ? 'none' : b.ended.winner === b.seat ? 'won' : 'lost';
  if (!was) $('lobby-btn').focus();
}

function render() {
  const b = S.battle;
  if (!b || b.phase === 'waiting' || !b.ships[0]) return;
  show('battle');
  renderStatus();
  renderShip(0);
  renderShip(1);
  renderActions();
  renderMissiles();
  renderLog();
  renderResult();
}

// ---- messages ------------------------------------------------------------------------------

function persist() {
  const b = S.battle;
  if (!b) return;
  store.save(b.bid, b.seat, S.tok, b.last, { battle: snapshot(b), log: S.log.slice(-LOG_MAX) });
}

function addLog(seq, t, text) {
  if (!text) return;
  S.log.push({ seq, t, text });
  if (S.log.length > LOG_MAX) S.log.splice(0, S.log.length - LOG_MAX);
}

function onEvent(m) {
  const bid = BigInt(m.bid);
  const seq = num(m.seq);
  let b = S.battle;
  if (m.t === 'started' && (!b || b.bid !== bid)) {
    // A match from the queue, or the battle this page created or joined.
    b = S.battle = new Battle(bid, num(m.seat));
    S.log = [];
  }
  if (!b || b.bid !== bid) return; // a battle this page has left
  if (m.t === 'state') {
    if (seq < b.last) return;
    addLog(seq, 'state', describe(b, m));
  } else if (seq <= b.last) {
    return; // seen already (a resume replays from the last seq this page saved)
  }
  if (m.t === 'started') {
    b.seat = num(m.seat);
    S.tok = m.tok;
    S.queued = null;
    if (S.hash && S.hash.join === bid) dropHash();
  }
  if (m.rid !== undefined) {
    if (num(m.rid) === S.busy) S.busy = 0;
    S.reacting.delete(num(m.rid));
  }
  const wm = S.welcome ? num(S.welcome.turn_ms) : 0;
  b.apply(m, Date.now(), wm);
  if (m.t !== 'state') addLog(seq, m.t, describe(b, m));
  if (m.t === 'ended' || b.phase === 'ended') S.busy = 0;
  persist();
  render();
}

function onError(m) {
  const code = num(m.code);
  const rid = m.rid !== undefined ? num(m.rid) : 0;
  const p = S.pending.get(rid);
  S.pending.delete(rid);
  if (code === E.RATE_LIMITED) S.rateLimited++;
  const retry = code === E.RATE_LIMITED && p && p.tries < RATE_RETRIES;
  // A turn action about to be retried keeps its buttons off, so it cannot be sent twice.
  if (rid && rid === S.busy) S.busy = retry ? -1 : 0;
  S.reacting.delete(rid);
  const what = p ? p.msg.t : '';
  const text = m.msg ? `${m.msg} (${m.err})` : m.err;
  if (code === E.VERSION_MISMATCH) {
    // Reconnecting cannot help: this page and the server speak different protocol versions.
    S.conn.stop();
    notice(`This server speaks another protocol version: ${text}. Reload the page later.`, true);
    return;
  }
  if (what === 'resume') {
    if (code === E.SEQ_GONE && S.battle) {
      // The battle is behind what this tab saw (PROTOCOL.md section 8): start over from its state.
      S.battle = new Battle(S.battle.bid, S.battle.seat);
      S.log = [];
      send({ t: 'resume', bid: S.battle.bid, seat: S.battle.seat, tok: S.tok, last: 0 });
      return;
    }
    if (code === E.ALREADY_IN_BATTLE) return; // this connection holds it already
    if (code === E.SERVER_BUSY && S.battle && (p.tries || 0) < RESUME_BUSY_TRIES) {
      // A cluster node is taking the battle over from one that died (PROTOCOL.md section 8):
      // the same resume again shortly.
      notice('The battle is moving to another server; resuming…', false);
      setTimeout(() => {
        const again = S.conn.send(p.msg);
        if (again) S.pending.set(again, { msg: p.msg, tries: (p.tries || 0) + 1 });
      }, RESUME_BUSY_MS);
      return;
    }
    toLobby('That battle is no longer available.');
    return;
  }
  if (retry) {
    S.conn.emptyBucket();
    const rate = S.welcome ? num(S.welcome.rate) : 1;
    const wasBusy = S.busy === -1;
    setTimeout(() => {
      const again = S.conn.send(p.msg);
      if (again) {
        S.pending.set(again, { msg: p.msg, tries: p.tries + 1 });
        if (p.msg.t === 'pd' || p.msg.t === 'sand') S.reacting.set(again, reactionKey(p.msg));
      }
      if (wasBusy && S.busy === -1) S.busy = again;
      render();
    }, Math.ceil(1000 / Math.max(1, rate)));
    return;
  }
  if (what === 'watch') {
    const why = {
      [E.NO_SUCH_BATTLE]: 'No battle has that id (or it ended a while ago).',
      [E.NOT_STARTED]: 'That battle has not started yet.',
      [E.SPECTATORS_FULL]: 'That battle has as many spectators as it allows.',
    }[code];
    toLobby(why || `Cannot watch: ${text}`);
    return;
  }
  if (what === 'join') {
    const why = {
      [E.NO_SUCH_BATTLE]: 'No battle has that id; ask for a new link.',
      [E.BATTLE_FULL]: 'Someone else has already joined that battle.',
    }[code];
    dropHash();
    toLobby(why || `Cannot join: ${text}`);
    return;
  }
  if (what === 'queue' || what === 'create') {
    S.queued = null;
    toLobby(`Cannot start: ${text}`);
    return;
  }
  if (what === 'cancel' && code === E.NOT_QUEUED) return;
  notice(text);
  render();
}

// Cluster: another node holds the battle the request was about. The page moves its one socket
// there (its WebSocket port, ws or wss as this page) and sends the request again after welcome.
function onMoved(m) {
  const rid = m.rid !== undefined ? num(m.rid) : 0;
  const p = rid ? S.pending.get(rid) : undefined;
  S.pending.delete(rid);
  if (rid && rid === S.busy) S.busy = 0;
  S.reacting.delete(rid);
  if (m.bid === undefined && S.queued) {
    // The queue was matched with a player waiting on another server (PROTOCOL.md section 8): the
    // entry is gone here; after that server's welcome, onWelcome queues again there.
    if (typeof m.ws !== 'string' || m.ws === '') {
      S.queued = null;
      toLobby(`Your opponent is on a server without a web port (${m.addr}); queue again.`);
      return;
    }
    showWaiting('Opponent found on another server; joining it…', null);
    S.conn.moveTo(`${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${m.ws}/ws`);
    return;
  }
  if (!p) return; // not a request this page still waits on
  const hops = (p.moved || 0) + 1;
  // A join or watch that cannot be followed ends in the lobby; a seat this page holds stays saved
  // (a later reload may find the battle on a server it can reach).
  const fail = (text) => {
    if (p.msg.t === 'join' || p.msg.t === 'watch') toLobby(text);
    notice(text, true);
    render();
  };
  if (hops > MOVED_MAX) {
    fail(`Battle ${m.bid} keeps moving between servers; try again in a moment.`);
    return;
  }
  if (typeof m.ws !== 'string' || m.ws === '') {
    fail(`Battle ${m.bid} is on a server without a web port (${m.addr}); use battle-cli there.`);
    return;
  }
  S.moved = { msg: p.msg, hops };
  S.conn.moveTo(`${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${m.ws}/ws`);
}

function onMessage(m) {
  if (m.t === 'error') {
    onError(m);
    return;
  }
  if (m.t === 'moved') {
    onMoved(m);
    return;
  }
  if (m.rid !== undefined) S.pending.delete(num(m.rid));
  switch (m.t) {
    case 'queued':
      showWaiting(`Waiting for an opponent at ${bandWord(m.band)} range…`, null);
      return;
    case 'unqueued':
      return;
    case 'created': {
      const bid = BigInt(m.bid);
      if (!S.battle || S.battle.bid !== bid) {
        S.battle = new Battle(bid, 0);
        S.log = [];
      }
      S.tok = m.tok;
      persist();
      showWaiting(`Private battle ${bid} is waiting for its second player.`, shareLink(bid));
      $('share-link').focus();
      return;
    }
    case 'left':
      if (S.battle && S.battle.bid === BigInt(m.bid) && !S.leaving && S.battle.phase !== 'ended') {
        toLobby('This battle continues in another window or tab.');
      }
      return;
    default:
      if (m.bid !== undefined && m.seq !== undefined) onEvent(m);
  }
}

// After every welcome (first connect or reconnect): take back what this tab was doing.
function onWelcome(w, again) {
  S.welcome = w;
  S.welcomes++;
  S.busy = 0;
  S.reacting.clear();
  if (S.moved) {
    // Welcomed by the battle's holder after a moved: the request goes again, as it was.
    const mv = S.moved;
    S.moved = null;
    const rid = send(mv.msg);
    if (rid) S.pending.get(rid).moved = mv.hops;
    render();
    return;
  }
  const saved = store.load();
  if (S.battle && (!saved || saved.bid !== S.battle.bid)) {
    // A spectator or player whose battle was not saved yet (the reply never came): ask again.
    if (S.battle.seat === SPECTATOR) watch(S.battle.bid);
    return;
  }
  if (saved) {
    if (!S.battle) {
      const snap = saved.snap && fromSnapshot(saved.snap.battle);
      S.battle = snap && snap.bid === saved.bid ? snap : new Battle(saved.bid, saved.seat);
      S.log = snap && Array.isArray(saved.snap.log) ? saved.snap.log : [];
      S.tok = saved.tok;
    }
    const b = S.battle;
    if (b.phase === 'ended') {
      render(); // the result stays on screen; there is nothing left to resume
      return;
    }
    if (b.seat === SPECTATOR) {
      // A spectator has no token: watching again answers a full state.
      addLog(b.last, 'note', again ? 'Reconnected; watching again.' : 'Watching again.');
      send({ t: 'watch', bid: b.bid });
    } else {
      const last = b.ships[0] ? b.last : 0;
      send({ t: 'resume', bid: b.bid, seat: b.seat, tok: S.tok, last });
    }
    render();
    return;
  }
  if (S.queued) {
    send({ t: 'queue', ...S.queued });
    return;
  }
  if (S.screen === 'waiting') {
    toLobby('The connection dropped; you left the queue.');
    return;
  }
  if (!again && S.hash && S.hash.watch) {
    const bid = S.hash.watch;
    dropHash();
    watch(bid);
    return;
  }
  if (S.screen !== 'battle') toLobby();
}

// "retrying in N s", counted down by tick() until the next try.
let retryAt = 0;
function retryText(ms) {
  retryAt = Date.now() + (ms || 0);
  return `Connection lost; retrying in ${Math.ceil((ms || 0) / 1000)} s`;
}

function onStatus(state, detail) {
  const c = $('conn');
  c.dataset.state = state;
  c.textContent = {
    connecting: 'Connecting…',
    open: `Connected${S.welcome && S.welcome.srv ? ` to ${S.welcome.srv}` : ''}`,
    waiting: retryText(detail),
    closed: 'Disconnected',
  }[state];
  // Lobby and waiting controls work only over a live session.
  for (const b of document.querySelectorAll('#lobby button, #cancel-btn')) b.disabled = state !== 'open';
  if (S.screen === 'battle' && S.battle) renderActions();
}

function parseHash() {
  const h = location.hash.replace(/^#/, '');
  const m = /^(join|watch)=([0-9]{1,19})$/.exec(h);
  if (!m) return null;
  const bid = store.parseBid(m[2]);
  return bid ? { [m[1]]: bid } : null;
}

function boot() {
  bindLobby();
  bindBattle();
  S.hash = parseHash();
  window.addEventListener('hashchange', () => {
    S.hash = parseHash();
    if (S.screen === 'lobby') {
      renderLobby();
      if (S.hash && S.hash.watch && S.conn.ready()) watch(S.hash.watch);
    }
  });
  setInterval(tick, 250);
  // Relative to the page, so a proxy that serves it under a path (/battled/) still finds /battled/ws.
  const url = new URL('ws', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.hash = '';
  url.search = '';
  S.conn = new Conn(url.toString(), { onWelcome, onMessage, onStatus });
  window.addEventListener('online', () => S.conn.retryNow());
  S.conn.start();
  // For tests and the curious: a read-only view of the page's state.
  window.battled = { state: S, who };
}

boot();
