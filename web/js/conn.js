// One WebSocket to battled: one binary message = one msgpack map (docs/PROTOCOL.md, section 1).
// This module owns the socket's life: hello/welcome, keep-alive pings, request ids, the client
// side of the rate limit, and reconnecting with backoff and jitter when the socket drops. It knows
// nothing about battles; app.js decides what to resume after a reconnect.
import { Encoder, Decoder } from '@msgpack/msgpack';

// Battle ids are 64-bit (PROTOCOL.md section 3): BigInt both ways so they round-trip exactly.
// With useBigInt64 the encoder writes Numbers above 2^32 as floats, which the server refuses as
// integers, so every value that can pass 2^32 (bid, ping ts) is sent as a BigInt.
const encoder = new Encoder({ useBigInt64: true });
const decoder = new Decoder({ useBigInt64: true });

export const PROTOCOL_VERSION = 1;

// Requests that draw from the server's token bucket (PROTOCOL.md section 4, item 5).
const RATED = new Set(['fire', 'missile', 'pd', 'sand', 'end']);

// Reconnect backoff: doubles from BACKOFF_MIN_MS up to BACKOFF_MAX_MS; each wait is drawn between
// half and all of it (jitter), so many pages dropped at once do not return in step.
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;
// A pong later than this closes the socket as dead and reconnects (a silent network loss).
const PONG_WAIT_MS = 10000;
// How long a socket may take to open before it is abandoned and retried.
const OPEN_WAIT_MS = 10000;
// Bounded queue of requests waiting for a rate-limit token; past it, requests are refused locally.
const RATE_QUEUE_MAX = 8;
// The page refills its bucket this much slower than the announced rate: the server measures the
// gaps between arrivals, which network and event-loop jitter can make shorter than the gaps between
// sends, and a request sent the very moment the page's bucket refilled would then be refused.
const RATE_MARGIN = 0.9;

/** Encodes a message map (a plain object) to the bytes of one WebSocket message. */
export function encodeMsg(msg) {
  return encoder.encode(msg);
}

/** Decodes one WebSocket message; returns a plain object, or null when it is not a map. */
export function decodeMsg(bytes) {
  const m = decoder.decode(bytes);
  return m && typeof m === 'object' && !Array.isArray(m) && !(m instanceof Uint8Array) ? m : null;
}

/** Integer fields other than bid arrive as Number, or BigInt when the server used a 64-bit format. */
export function num(x) {
  return typeof x === 'bigint' ? Number(x) : x;
}

/**
 * The connection. handlers: onWelcome(welcome, reconnected), onMessage(msg),
 * onStatus(state, detail) with state 'connecting' | 'open' | 'waiting' (detail: ms until the next
 * try) | 'closed' (detail: reason). url: the ws:// or wss:// address.
 */
export class Conn {
  constructor(url, handlers) {
    this.url = url;
    this.h = handlers;
    this.ws = null;
    this.welcome = null;
    this.rid = 0;
    this.attempt = 0;
    this.everWelcomed = false;
    this.timers = { retry: 0, ping: 0, pong: 0, open: 0, bucket: 0 };
    this.lastSent = 0;
    this.tokens = 0;
    this.refilled = 0;
    this.rateQueue = [];
    this.ratedSent = []; // Date.now() of the latest rated requests sent (at most RATE_QUEUE_MAX * 8)
    this.stopped = false;
  }

  /** Opens the socket (and keeps reopening it until stop()). */
  start() {
    this.stopped = false;
    this.open();
  }

  /** Closes for good: no reconnect. */
  stop() {
    this.stopped = true;
    this.drop();
    this.h.onStatus('closed', 'stopped');
  }

  /** True once welcome arrived on the current socket. */
  ready() {
    return this.ws !== null && this.welcome !== null && this.ws.readyState === 1;
  }

  open() {
    clearTimeout(this.timers.retry);
    this.h.onStatus('connecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.retry();
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.welcome = null;
    this.timers.open = setTimeout(() => this.lost(ws), OPEN_WAIT_MS);
    ws.onopen = () => {
      clearTimeout(this.timers.open);
      this.sendNow({ t: 'hello', v: PROTOCOL_VERSION, name: 'web' });
    };
    ws.onmessage = (ev) => this.receive(ws, ev.data);
    ws.onclose = () => this.lost(ws);
    ws.onerror = () => {}; // onclose follows and decides
  }

  receive(ws, data) {
    if (ws !== this.ws || !(data instanceof ArrayBuffer)) return;
    let msg;
    try {
      msg = decodeMsg(new Uint8Array(data));
    } catch (e) {
      msg = null;
    }
    if (!msg || typeof msg.t !== 'string') return; // not ours to act on: skip it
    clearTimeout(this.timers.pong);
    if (msg.t === 'welcome') {
      this.welcome = msg;
      this.attempt = 0;
      this.tokens = num(msg.burst);
      this.refilled = Date.now();
      this.startPing();
      const again = this.everWelcomed;
      this.everWelcomed = true;
      this.h.onStatus('open');
      this.h.onWelcome(msg, again);
      return;
    }
    if (msg.t === 'pong') return;
    try {
      this.h.onMessage(msg);
    } catch (e) {
      // A message the page could not use (a newer server's shape?) must not end the session.
      console.error(`battled: could not handle a ${msg.t} message`, e);
    }
  }

  // The socket ended or was judged dead: forget it and schedule the next try.
  lost(ws) {
    if (ws !== this.ws) return;
    this.drop();
    if (!this.stopped) this.retry();
  }

  drop() {
    for (const k of ['ping', 'pong', 'open', 'bucket']) clearTimeout(this.timers[k]);
    this.rateQueue = [];
    const ws = this.ws;
    this.ws = null;
    this.welcome = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(); } catch (e) { /* already closed */ }
    }
  }

  retry() {
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(this.attempt, 10));
    const wait = Math.round(cap / 2 + Math.random() * cap / 2);
    this.attempt++;
    this.h.onStatus('waiting', wait);
    this.timers.retry = setTimeout(() => this.open(), wait);
  }

  /**
   * Cluster: from now on talks to url instead (the node that holds this page's battle, after a
   * moved): the current socket is closed and a new one opened at once; reconnects go there too.
   */
  moveTo(url) {
    this.url = url;
    this.drop();
    this.attempt = 0;
    if (!this.stopped) this.open();
  }

  /** Skips the remaining backoff (the browser says it is online again). */
  retryNow() {
    if (!this.stopped && this.ws === null) this.open();
  }

  // Keep-alive: the server closes a connection silent for idle_ms (PROTOCOL.md section 4), so a
  // ping goes out when nothing else was sent for a third of it; a missing pong means a dead link.
  startPing() {
    const idle = num(this.welcome.idle_ms) || 30000;
    const every = Math.max(1000, Math.floor(idle / 3));
    const tick = () => {
      if (!this.ready()) return;
      if (Date.now() - this.lastSent >= every - 50) {
        this.sendNow({ t: 'ping', ts: BigInt(Date.now()) });
        const ws = this.ws;
        this.timers.pong = setTimeout(() => this.lost(ws), Math.max(PONG_WAIT_MS, every));
      }
      this.timers.ping = setTimeout(tick, every);
    };
    this.timers.ping = setTimeout(tick, every);
  }

  sendNow(msg) {
    this.ws.send(encodeMsg(msg));
    this.lastSent = Date.now();
  }

  /**
   * Sends a request with the next rid and returns that rid, or 0 when it cannot go now (not
   * connected, or too many actions waiting for the rate limit). Turn and reaction requests wait
   * for a token of the announced rate, so a player clicking fast is slowed here, not refused.
   */
  send(msg) {
    if (!this.ready()) return 0;
    const rid = ++this.rid;
    const full = { ...msg, rid };
    if (!RATED.has(msg.t)) {
      this.sendNow(full);
      return rid;
    }
    if (this.rateQueue.length >= RATE_QUEUE_MAX) return 0;
    this.rateQueue.push(full);
    this.drainRated();
    return rid;
  }

  // Token bucket mirroring the server's: burst tokens, refilled at rate per second.
  drainRated() {
    const rate = num(this.welcome.rate) * RATE_MARGIN;
    const burst = num(this.welcome.burst);
    const unlimited = num(this.welcome.rate) >= 65535;
    const now = Date.now();
    this.tokens = Math.min(burst, this.tokens + (now - this.refilled) * rate / 1000);
    this.refilled = now;
    while (this.rateQueue.length > 0 && (unlimited || this.tokens >= 1)) {
      this.sendNow(this.rateQueue.shift());
      this.ratedSent.push(now);
      if (this.ratedSent.length > RATE_QUEUE_MAX * 8) this.ratedSent.shift();
      if (!unlimited) this.tokens -= 1;
    }
    clearTimeout(this.timers.bucket);
    if (this.rateQueue.length > 0) {
      const wait = Math.ceil((1 - this.tokens) * 1000 / rate);
      this.timers.bucket = setTimeout(() => this.ready() && this.drainRated(), wait);
    }
  }

  /** After a rate_limited refusal: the server's bucket is empty, so ours is too. */
  emptyBucket() {
    this.tokens = 0;
    this.refilled = Date.now();
  }
}
