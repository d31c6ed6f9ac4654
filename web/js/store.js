// The tab's battle, kept in sessionStorage so a reload (or a new socket) can resume it: battle id,
// seat (2 = watching), the seat's resume token and the last seq seen (PROTOCOL.md section 8).
// sessionStorage is per tab: two tabs of one browser can hold the two seats of a battle.
const KEY = 'battled.battle.v1';

/**
 * Returns {bid: BigInt, seat, tok: Uint8Array|null, last, snap} or null. snap is what save() was
 * given to keep beside them (the page's picture of the battle and its log), or null.
 */
export function load() {
  let s;
  try {
    s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
  } catch (e) {
    return null;
  }
  if (!s || typeof s.bid !== 'string' || !/^[0-9]{1,19}$/.test(s.bid)) return null;
  const tok = typeof s.tok === 'string' && /^[0-9a-f]{32}$/.test(s.tok)
    ? Uint8Array.from(s.tok.match(/../g), (h) => parseInt(h, 16)) : null;
  return { bid: BigInt(s.bid), seat: s.seat | 0, tok, last: Number(s.last) || 0, snap: s.snap || null };
}

/**
 * Saves the battle the tab is in. tok: Uint8Array of 16 bytes, or null for a spectator; snap: a
 * JSON-able picture of the battle at seq `last`, so a reload resumes from `last` and not from 0.
 */
export function save(bid, seat, tok, last, snap) {
  const hex = tok ? Array.from(tok, (b) => b.toString(16).padStart(2, '0')).join('') : null;
  try {
    sessionStorage.setItem(KEY, JSON.stringify({ bid: bid.toString(), seat, tok: hex, last, snap: snap || null }));
  } catch (e) { /* storage full or disabled: the battle still plays, it just cannot resume */ }
}

/** Forgets the battle (back in the lobby). */
export function clear() {
  try {
    sessionStorage.removeItem(KEY);
  } catch (e) { /* nothing to forget */ }
}

/** Parses a battle id typed or linked by a person; returns a BigInt in 1..2^63-1, or null. */
export function parseBid(text) {
  const t = String(text || '').trim();
  if (!/^[0-9]{1,19}$/.test(t)) return null;
  const b = BigInt(t);
  return b >= 1n && b < (1n << 63n) ? b : null;
}
