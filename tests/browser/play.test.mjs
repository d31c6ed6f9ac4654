// The page in a real browser against the real battled (issue 13): each test starts its own server
// (harness.mjs) and plays through the page's buttons as a person would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, openPage, shot, onScreen, logOf, play, sleep, STEP_MS,
} from './harness.mjs';

const PHONE = { width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 1 };
let browser;

before(async () => { browser = await launchBrowser(); });
after(async () => { if (browser) await browser.close(); });

async function withServer(sets, fn) {
  const srv = await startServer(sets);
  let code;
  try {
    await fn(srv);
  } finally {
    code = await srv.stop();
  }
  // The server drained and exited cleanly (under ASan a leak or error would make this fail).
  assert.equal(code, 0, `battled exited with ${code}:\n${srv.logTail}`);
}

async function lobby(page) {
  await onScreen(page, 'lobby');
  await page.waitForSelector('#conn[data-state="open"]');
}

// play()'s stop condition: the battle reached round n.
const untilRound = (n) => async (pg) => (await pg.$eval('#round', (e) => Number(e.textContent))) >= n;

// Plays this page's seat to the result, which it returns; the page logged no errors.
async function finish(p) {
  await play(p);
  const r = await resultOf(p);
  noErrors(p);
  return r;
}

async function resultOf(page) {
  await page.waitForSelector('#result:not([hidden])', { visible: true });
  return page.$eval('#result', (r) => ({
    title: r.querySelector('#result-h').textContent,
    text: r.querySelector('#result-text').textContent,
    outcome: r.dataset.outcome,
  }));
}

function noErrors(...pages) {
  for (const p of pages) assert.deepEqual(p.errors, [], 'the page logged errors');
}

// Creates a private battle on `a`, opens its shared link on `b` and joins; returns the link.
async function privateBattle(a, b, shipA, shipB) {
  await lobby(a);
  await a.select('#ship', shipA);
  await a.select('#band', 'close');
  await a.click('#private-btn');
  await onScreen(a, 'waiting');
  await a.waitForSelector('#share:not([hidden])');
  const link = await a.$eval('#share-link', (i) => i.value);
  assert.match(link, /#join=[0-9]{1,19}$/);
  await shot(a, 'waiting-private');
  await b.goto(link, { waitUntil: 'load' });
  await lobby(b);
  await b.waitForSelector('#join-card:not([hidden])');
  assert.equal(await b.$eval('#join-bid', (e) => e.textContent), link.split('=')[1]);
  await b.select('#ship', shipB);
  await b.click('#join-btn');
  await onScreen(a, 'battle');
  await onScreen(b, 'battle');
  return link;
}

test('two pages play a private battle to its end through the buttons', async () => {
  await withServer([], async (srv) => {
    const a = await openPage(browser, srv.url);
    const b = await openPage(browser, null);
    await lobby(a);
    await shot(a, 'lobby');
    await privateBattle(a, b, 'scout', 'seeker');
    const bidA = await a.$eval('#bid', (e) => e.textContent);
    assert.equal(await b.$eval('#bid', (e) => e.textContent), bidA);
    await shot(a, 'battle');
    await Promise.all([play(a), play(b)]);
    const ra = await resultOf(a);
    const rb = await resultOf(b);
    await shot(a, 'result');
    // One winner and one loser, or nobody (a draw at the round limit).
    const outcomes = [ra.outcome, rb.outcome].sort().join(',');
    assert.ok(['lost,won', 'none,none'].includes(outcomes), `outcomes ${outcomes}`);
    // Both saw the same events, in seq order, without gaps.
    const la = (await logOf(a)).map((l) => `${l.seq}:${l.t}`);
    const lb = (await logOf(b)).map((l) => `${l.seq}:${l.t}`);
    assert.deepEqual(la, lb);
    assert.equal(la[0], '1:started');
    assert.ok(!la.some((x) => x.endsWith(':timeout')), 'a page that plays promptly never times out');
    assert.match(la[la.length - 1], /:ended$/);
    // Back in the lobby, the tab forgets the battle.
    await a.click('#lobby-btn');
    await onScreen(a, 'lobby');
    assert.equal(await a.evaluate(() => sessionStorage.length), 0);
    noErrors(a, b);
  });
});

test('one page plays the server AI to its end; phone-sized, by keyboard, at a low rate limit', async () => {
  // One action a second, no burst: the page's own bucket must space its requests.
  await withServer(['ratelimit.actions_per_sec=1', 'ratelimit.burst=1'], async (srv) => {
    const p = await openPage(browser, srv.url, PHONE);
    await lobby(p);
    await shot(p, 'lobby-phone');
    // Keyboard only: Tab to the AI's button and press Enter.
    await p.select('#ship', 'patrol_corvette');
    await p.select('#band', 'medium');
    await p.select('#ai-ship', 'scout');
    await p.focus('#ai-ship');
    await p.keyboard.press('Tab');
    assert.equal(await p.evaluate(() => document.activeElement.id), 'ai-btn');
    await p.keyboard.press('Enter');
    await onScreen(p, 'battle');
    await p.waitForSelector('#turn-actions button:not([disabled])');
    await shot(p, 'battle-phone');
    // The battle takes the focus; the next Tab reaches the first control, Enter fires it, and the
    // focus moves to the actions' heading while the control is off.
    assert.equal(await p.evaluate(() => document.activeElement.id), 'battle-h');
    await p.keyboard.press('Tab');
    assert.equal(await p.evaluate(() => document.activeElement.dataset.key), 'fire-0');
    await p.keyboard.press('Enter');
    await p.waitForFunction(() => [...document.querySelectorAll('#log li')].some((li) => li.dataset.t === 'attack'));
    assert.equal(await p.evaluate(() => document.activeElement.id), 'actions-h');
    // The next turn by the keyboard shortcut: "2" fires the second weapon.
    await p.waitForSelector('#turn-actions button[data-key="fire-1"]:not([disabled])');
    await p.keyboard.press('2');
    await p.waitForFunction(() => [...document.querySelectorAll('#log li')].filter((li) => li.dataset.t === 'attack' && / you fire /i.test(` ${li.textContent}`)).length === 2);
    // Nothing wider than the phone's screen.
    const wide = await p.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= PHONE.width, `page is ${wide}px wide on a ${PHONE.width}px screen`);
    await play(p, { missileEvery: 2 });
    const r = await resultOf(p);
    assert.match(r.title, /Victory|Defeat|Draw/);
    // The page spaced its turn and reaction requests by the announced rate (1 a second, burst 1).
    const sent = await p.evaluate(() => window.battled.state.conn.ratedSent);
    assert.ok(sent.length >= 3, `${sent.length} rated requests`);
    for (let i = 1; i < sent.length; i++) {
      assert.ok(sent[i] - sent[i - 1] >= 1000, `requests ${i - 1} and ${i} were ${sent[i] - sent[i - 1]} ms apart`);
    }
    const refused = await p.evaluate(() => window.battled.state.rateLimited);
    if (refused) console.log(`# the server refused ${refused} request(s) for rate (network jitter); the page retried`);
    await shot(p, 'result-phone');
    noErrors(p);
  });
});

test('a page that loses its connection and then reloads resumes and finishes', async () => {
  // A short idle timeout makes the page ping every 2 s, so it notices a dead network quickly.
  await withServer(['server.idle_timeout_ms=6000'], async (srv) => {
    const p = await openPage(browser, srv.url);
    await lobby(p);
    await p.select('#ship', 'scout');
    await p.click('#ai-btn');
    await onScreen(p, 'battle');
    const bid = await p.$eval('#bid', (e) => e.textContent);
    // Two rounds, then the network drops: the socket closes under the page.
    await play(p, { until: untilRound(3) });
    const before = (await logOf(p)).length;
    await p.evaluate(() => window.battled.state.conn.ws.close());
    await p.waitForFunction(() => window.battled.state.welcomes === 2);
    await p.waitForSelector('#conn[data-state="open"]');
    await p.waitForFunction(() => [...document.querySelectorAll('#log li')].some((li) => li.dataset.t === 'back'));
    // The network goes away (the browser is offline): the page notices by its missing pong, waits,
    // and comes back when the browser is online again.
    await p.setOfflineMode(true);
    await p.waitForSelector('#conn[data-state="waiting"]', { timeout: STEP_MS });
    await p.setOfflineMode(false);
    await p.waitForFunction(() => window.battled.state.welcomes === 3);
    await p.waitForFunction(() => [...document.querySelectorAll('#log li')].filter((li) => li.dataset.t === 'back').length === 2);
    // A reload keeps the battle (sessionStorage) and its log, and resumes where it was.
    await play(p, { until: untilRound(5) });
    const seqBefore = await p.evaluate(() => window.battled.state.battle.last);
    await p.reload({ waitUntil: 'load' });
    await onScreen(p, 'battle');
    assert.equal(await p.$eval('#bid', (e) => e.textContent), bid);
    await p.waitForSelector('#conn[data-state="open"]');
    await p.waitForFunction((s) => window.battled.state.battle.last > s, {}, seqBefore);
    const log = await logOf(p);
    assert.ok(log.length > before, 'the log survived the reload');
    assert.equal(log[0].t, 'started', 'the log still starts with the battle');
    // Seqs only grow: nothing was applied twice.
    for (let i = 1; i < log.length; i++) assert.ok(log[i].seq >= log[i - 1].seq, `seq order at ${i}`);
    await finish(p);
  });
});

test('a tab whose saved seq is ahead of the battle (seq_gone) takes the full state and plays on', async () => {
  await withServer([], async (srv) => {
    const p = await openPage(browser, srv.url);
    await lobby(p);
    await p.click('#ai-btn');
    await onScreen(p, 'battle');
    await play(p, { until: untilRound(2) });
    // As after a server that lost its latest events: the tab's last seq is past the battle's.
    await p.evaluate(() => {
      const k = 'battled.battle.v1';
      const s = JSON.parse(sessionStorage.getItem(k));
      s.last += 1000;
      s.snap.battle.last += 1000;
      sessionStorage.setItem(k, JSON.stringify(s));
    });
    await p.reload({ waitUntil: 'load' });
    await onScreen(p, 'battle');
    await p.waitForSelector('#conn[data-state="open"]');
    // The page resumed with last = 0: its picture is the battle's again (seq back below 1000).
    await p.waitForFunction(() => { const b = window.battled.state.battle; return b && b.last > 0 && b.last < 1000; });
    await finish(p);
  });
});

test('a spectator page sees the same events as the players', async () => {
  await withServer([], async (srv) => {
    const a = await openPage(browser, srv.url);
    const b = await openPage(browser, null);
    const c = await openPage(browser, srv.url);
    await privateBattle(a, b, 'free_trader', 'scout');
    const bid = await a.$eval('#bid', (e) => e.textContent);
    // The spectator types the battle id into the lobby's watch form.
    await lobby(c);
    await c.type('#watch-bid', bid);
    await c.click('#watch-btn');
    await onScreen(c, 'battle');
    await c.waitForSelector('#watching:not([hidden])');
    assert.equal(await c.$eval('#actions', (e) => e.hidden), true, 'a spectator has no controls');
    const first = await c.evaluate(() => window.battled.state.battle.last);
    // The spectator's screenshot mid-battle, while the players play on.
    const midShot = async () => {
      await c.waitForFunction(() => document.querySelectorAll('#log li').length > 6, { timeout: STEP_MS * 3 });
      await shot(c, 'spectator');
    };
    await Promise.all([play(a), play(b), midShot()]);
    const rc = await resultOf(c);
    const ra = await resultOf(a);
    await shot(c, 'spectator-result');
    // Every event after the spectator's starting state, the same as a player's, in order.
    const events = (l) => l.filter((x) => x.seq > first && x.t !== 'state' && x.t !== 'note').map((x) => `${x.seq}:${x.t}`);
    const la = events(await logOf(a));
    const lc = events(await logOf(c));
    assert.ok(lc.length > 0);
    assert.ok(!la.some((x) => x.endsWith(':timeout')), 'a page that plays promptly never times out');
    assert.deepEqual(lc, la);
    if (ra.outcome === 'won') assert.match(rc.title, /Free Trader wins/);
    if (ra.outcome === 'lost') assert.match(rc.title, /Scout wins/);
    noErrors(a, b, c);
  });
});

test('two pages queued for one band meet; a forfeit ends it for both', async () => {
  await withServer([], async (srv) => {
    const a = await openPage(browser, srv.url);
    const b = await openPage(browser, srv.url);
    for (const p of [a, b]) {
      await lobby(p);
      await p.select('#band', 'long');
    }
    await a.click('#queue-btn');
    await onScreen(a, 'waiting');
    assert.match(await a.$eval('#waiting-text', (e) => e.textContent), /Long range/);
    await b.click('#queue-btn');
    await onScreen(a, 'battle');
    await onScreen(b, 'battle');
    assert.equal(await a.$eval('#bid', (e) => e.textContent), await b.$eval('#bid', (e) => e.textContent));
    // The forfeit asks again before it gives up.
    await b.click('#forfeit-btn');
    await b.waitForSelector('#forfeit-yes', { visible: true });
    assert.equal(await b.evaluate(() => document.activeElement.id), 'forfeit-yes');
    await b.click('#forfeit-yes');
    const ra = await resultOf(a);
    const rb = await resultOf(b);
    assert.equal(ra.title, 'Victory');
    assert.equal(rb.title, 'Defeat');
    assert.match(ra.text, /gave up/);
    noErrors(a, b);
  });
});

test('a watch link for a battle that does not exist says so in the lobby', async () => {
  await withServer([], async (srv) => {
    const p = await openPage(browser, `${srv.url}#watch=12345`);
    await p.waitForSelector('#notice:not([hidden])');
    assert.match(await p.$eval('#notice', (e) => e.textContent), /No battle has that id/);
    await onScreen(p, 'lobby');
    await sleep(10);
    noErrors(p);
  });
});
