// The page's pure modules under node (no browser, no server): the msgpack encoding of 64-bit
// battle ids, the battle model, the log's words, and the lobby's ship list against data/ships.toml.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeMsg, decodeMsg } from '../../web/js/conn.js';
import { Battle, snapshot, fromSnapshot, SPECTATOR } from '../../web/js/battle.js';
import { describe, result } from '../../web/js/words.js';
import { SHIPS } from '../../web/js/ships.js';
import { parseBid } from '../../web/js/store.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('battle ids round-trip exactly as 64-bit integers', () => {
  const max = (1n << 63n) - 1n;
  for (const bid of [1n, 4353107766685770798n, max]) {
    const bytes = encodeMsg({ t: 'fire', bid, w: 0 });
    assert.equal(decodeMsg(bytes).bid, bid);
  }
  // A small battle id still arrives as a BigInt-able integer, never a float.
  const small = encodeMsg({ t: 'fire', bid: 5n, w: 0 });
  assert.ok(!small.includes(0xcb), 'no float64 in the encoding');
  // Small Numbers stay compact integers (PROTOCOL.md section 2 accepts any integer format).
  assert.deepEqual([...encodeMsg({ w: 3 })], [0x81, 0xa1, 0x77, 0x03]);
});

test('store.parseBid accepts 1..2^63-1 only', () => {
  assert.equal(parseBid('42'), 42n);
  assert.equal(parseBid('9223372036854775807'), (1n << 63n) - 1n);
  for (const bad of ['0', '9223372036854775808', '-1', '1e3', '', 'abc', '12 34']) {
    assert.equal(parseBid(bad), null, bad);
  }
});

const scout = {
  type: 'scout', name: 'Scout', hull: 40, hmax: 40, arm: 4, pilot: 2, thr: 2,
  w: [{ name: 'Pulse Laser', kind: 'laser', d: 2, a: -1 }, { name: 'Missiles', kind: 'missile', d: 4, a: 6 },
    { name: 'Missile Rack', kind: 'rack', d: 0, a: 12 }, { name: 'Sandcaster', kind: 'sand', d: 0, a: 20 }],
  crit: new Array(11).fill(0),
};
const trader = {
  type: 'free_trader', name: 'Free Trader', hull: 80, hmax: 80, arm: 2, pilot: 1, thr: 1,
  w: [{ name: 'Beam Laser', kind: 'laser', d: 3, a: -1 }], crit: new Array(11).fill(0),
};

function started(seat) {
  const b = new Battle(7n, seat);
  b.apply({ t: 'started', bid: 7n, seq: 1, seat, band: 'close', first: 0, rlimit: 100, ships: [scout, trader] }, 1000, 30000);
  return b;
}

test('the model follows turns, ammunition, missiles and reactions', () => {
  const b = started(0);
  assert.equal(b.timerEnd, 31000);
  assert.ok(b.myTurn());
  let o = b.options();
  assert.deepEqual(o.fire.map((f) => f.i), [0, 1]);
  assert.ok(o.launch && o.end && o.sand);
  b.apply({ t: 'attack', seq: 2, seat: 0, w: 1, dice: [3, 4], total: 9, eff: 1, hit: true, sand: false, dmg: 5, hull: 75 }, 2000, 30000);
  assert.equal(b.ships[0].w[1].a, 5, 'a missile spent');
  assert.equal(b.ships[1].hull, 75);
  assert.ok(!b.myTurn(), 'one turn action per round');
  b.apply({ t: 'turn', seq: 3, round: 1, active: 1 }, 2000, 30000);
  b.apply({ t: 'mlaunch', seq: 4, seat: 1, mid: 9, band: 'close', left: 11 }, 2000, 30000);
  o = b.options();
  assert.deepEqual(o.pd.map((m) => m.id), [9], 'point defence offered against the incoming missile');
  b.apply({ t: 'pd_result', seq: 5, seat: 0, mid: 9, dice: [1, 2], total: 3, ok: false }, 2000, 30000);
  assert.equal(b.options().pd.length, 0, 'once per missile per round');
  b.apply({ t: 'sand_result', seq: 6, seat: 0, dice: [5, 5], total: 10, ok: true, bonus: 4, left: 19 }, 2000, 30000);
  assert.equal(b.ships[0].w[3].a, 19);
  assert.equal(b.sbonus[0], 4);
  assert.ok(!b.options().sand, 'once per round');
  b.apply({ t: 'mhit', seq: 7, seat: 0, mid: 9, dice: [1, 2, 3, 4], dmg: 10, hull: 30 }, 2000, 30000);
  assert.equal(b.msl.size, 0);
  b.apply({ t: 'round', seq: 8, round: 2, active: 1, hull: [30, 75] }, 3000, 30000);
  assert.equal(b.sbonus[0], 0);
  assert.ok(b.options().sand, 'a new round gives the sandcaster back');
  assert.equal(b.last, 8);
  const copy = fromSnapshot(JSON.parse(JSON.stringify(snapshot(b))));
  assert.deepEqual(copy, b);
  b.apply({ t: 'ended', seq: 9, winner: 1, reason: 'destroyed', hull: [0, 75], rounds: 2 }, 3000, 30000);
  assert.equal(result(b).title, 'Defeat');
  assert.equal(b.options().fire.length, 0, 'no controls after the end');
});

test('the log speaks to players and spectators', () => {
  const p = started(1);
  const w = started(SPECTATOR);
  const ev = { t: 'attack', seq: 2, seat: 0, w: 0, dice: [6, 6], total: 15, eff: 7, hit: true, sand: false, dmg: 10, hull: 70 };
  assert.match(describe(p, ev), /^The opponent fires Pulse Laser and hits you/);
  assert.match(describe(w, ev), /^Scout fires Pulse Laser and hits Free Trader/);
  assert.match(describe(p, { t: 'crit', seat: 1, loc: 'm_drive', sev: 1, crew: false, extra: 0, hull: 70 }), /your Free Trader: M-drive/);
  assert.equal(describe(p, { t: 'unknown_future_event', seq: 3 }), '');
});

test("the lobby's ships are data/ships.toml's", () => {
  const toml = fs.readFileSync(path.join(root, 'data/ships.toml'), 'utf8');
  const keys = [...toml.matchAll(/^\[ships\.([a-z0-9_]+)\]\s*\nname = "([^"]*)"/gm)].map((m) => [m[1], m[2]]);
  assert.deepEqual(SHIPS, keys);
});

// A stand-in for the browser's WebSocket: records what the page sends, lets the test answer.
class FakeSocket {
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.all.push(this);
    setTimeout(() => { this.readyState = 1; this.onopen && this.onopen(); }, 0);
  }
  send(bytes) { this.sent.push({ at: Date.now(), msg: decodeMsg(bytes) }); }
  close() { this.readyState = 3; }
  reply(msg) { this.onmessage({ data: encodeMsg(msg).slice().buffer }); }
}
FakeSocket.all = [];

test('the connection keeps to the announced rate and reconnects with backoff', async () => {
  globalThis.WebSocket = FakeSocket;
  const { Conn } = await import('../../web/js/conn.js');
  const seen = { welcomes: 0, status: [] };
  const c = new Conn('ws://x/ws', {
    onWelcome: () => { seen.welcomes++; },
    onMessage: () => {},
    onStatus: (s, d) => seen.status.push([s, d]),
  });
  c.start();
  await new Promise((r) => setTimeout(r, 10));
  const ws = FakeSocket.all[0];
  assert.equal(ws.sent[0].msg.t, 'hello');
  ws.reply({ t: 'welcome', rid: 1, v: 1, rate: 4, burst: 2, idle_ms: 30000, turn_ms: 30000 });
  assert.equal(seen.welcomes, 1);
  const start = Date.now();
  for (let i = 0; i < 4; i++) assert.ok(c.send({ t: 'end', bid: 1n }) > 0);
  assert.equal(ws.sent.filter((s) => s.msg.t === 'end').length, 2, 'the burst goes at once');
  await new Promise((r) => setTimeout(r, 700));
  const ends = ws.sent.filter((s) => s.msg.t === 'end');
  assert.equal(ends.length, 4, 'the rest follow at the rate');
  assert.ok(ends[3].at - start >= 450, `4 actions at 4/s with a burst of 2 take >= 0.5 s (took ${ends[3].at - start} ms)`);
  // The socket drops: the next try waits between half and all of the first backoff step.
  ws.onclose();
  const wait = seen.status.find(([s]) => s === 'waiting');
  assert.ok(wait && wait[1] >= 250 && wait[1] <= 500, `first retry after ${wait && wait[1]} ms`);
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(FakeSocket.all.length, 2, 'a new socket');
  c.stop();
});

test('moveTo (cluster moved): a new socket to the holder at once, and reconnects go there', async () => {
  globalThis.WebSocket = FakeSocket;
  FakeSocket.all = [];
  const { Conn } = await import('../../web/js/conn.js');
  let welcomes = 0;
  const c = new Conn('ws://a/ws', { onWelcome: () => { welcomes++; }, onMessage: () => {}, onStatus: () => {} });
  c.start();
  await new Promise((r) => setTimeout(r, 10));
  FakeSocket.all[0].reply({ t: 'welcome', rid: 1, v: 1, rate: 4, burst: 2, idle_ms: 30000, turn_ms: 30000 });
  c.moveTo('ws://b:7480/ws');
  assert.equal(FakeSocket.all[0].readyState, 3, 'the old socket is closed');
  assert.equal(FakeSocket.all.length, 2);
  assert.equal(FakeSocket.all[1].url, 'ws://b:7480/ws');
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(FakeSocket.all[1].sent[0].msg.t, 'hello');
  FakeSocket.all[1].reply({ t: 'welcome', rid: 2, v: 1, rate: 4, burst: 2, idle_ms: 30000, turn_ms: 30000 });
  assert.equal(welcomes, 2);
  FakeSocket.all[1].onclose();
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(FakeSocket.all[2].url, 'ws://b:7480/ws', 'a reconnect goes to the holder');
  c.stop();
});
