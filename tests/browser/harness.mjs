// Browser test harness: starts the real battled from the build folder on 127.0.0.1 with kernel-
// chosen ports and its own settings (--set), reads its WebSocket port from ws.port_file, and drives
// Debian's Chromium with puppeteer-core. Every wait is bounded. Environment (set by run.sh):
//   BATTLED        path to the battled binary (required)
//   BATTLED_SOURCE_DIR  the repository (web/ and node_modules/ are served from it)
//   BROWSER_ARTIFACTS   folder for screenshots
//   CHROMIUM       the browser (default /usr/bin/chromium)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = process.env.BATTLED_SOURCE_DIR || path.resolve(here, '../..');
export const ARTIFACTS = process.env.BROWSER_ARTIFACTS || path.join(os.tmpdir(), 'battled-browser-artifacts');
const require = createRequire(path.join(SOURCE_DIR, 'package.json'));
const puppeteer = require('puppeteer-core');

// Deadlines (ms). A loaded 2-core machine runs several suites at once: generous, but finite.
export const START_MS = 15000;  // battled writes its port files
export const STEP_MS = 20000;   // one expected change on a page (a turn, a screen)
export const BATTLE_MS = 150000; // one battle from start to result
const STOP_MS = 5000;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts battled with the test's settings on top of the harness's; returns {url, dir, log, stop()}.
 * url is the page's address (http://127.0.0.1:PORT/).
 */
export async function startServer(sets = []) {
  const bin = process.env.BATTLED;
  if (!bin) throw new Error('BATTLED (path to the battled binary) is not set');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'battled-browser-'));
  const log = path.join(dir, 'battled.log');
  const std = [
    'server.listen=127.0.0.1:0', `server.port_file=${dir}/port`, 'server.shards=1',
    'admin.listen=', 'ws.listen=127.0.0.1:0', `ws.port_file=${dir}/wsport`,
    `ws.web_root=${SOURCE_DIR}/web`,
    `ws.msgpack_dir=${SOURCE_DIR}/node_modules/@msgpack/msgpack/dist.esm`,
    'game.ai_think_ms=50', 'game.round_limit=40', 'log.level=debug', 'server.drain_timeout_ms=500',
  ];
  const args = ['-c', path.join(SOURCE_DIR, 'config.toml')];
  for (const s of [...std, ...sets]) args.push('--set', s);
  const out = fs.openSync(log, 'w');
  const child = spawn(bin, args, { cwd: SOURCE_DIR, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  let exited = null;
  child.on('exit', (code, sig) => { exited = { code, sig }; });
  const end = Date.now() + START_MS;
  let port = 0;
  while (Date.now() < end && !exited) {
    try {
      port = parseInt(fs.readFileSync(path.join(dir, 'wsport'), 'utf8').split('\n')[0], 10) || 0;
    } catch (e) { /* not written yet */ }
    if (port > 0) break;
    await sleep(20);
  }
  if (!port) {
    try { child.kill('SIGKILL'); } catch (e) { /* gone */ }
    throw new Error(`battled did not write its ws port file in time (exit ${JSON.stringify(exited)}):\n${readLog(log)}`);
  }
  return {
    url: `http://127.0.0.1:${port}/`,
    dir,
    log,
    /** Stops battled with SIGTERM (its drain); returns its exit code (null when it had to be killed). */
    async stop() {
      if (!exited) child.kill('SIGTERM');
      const until = Date.now() + STOP_MS;
      while (!exited && Date.now() < until) await sleep(20);
      if (!exited) {
        child.kill('SIGKILL');
        const killed = Date.now() + STOP_MS;
        while (!exited && Date.now() < killed) await sleep(20);
        this.logTail = readLog(log);
        fs.rmSync(dir, { recursive: true, force: true });
        return null;
      }
      this.logTail = readLog(log);
      fs.rmSync(dir, { recursive: true, force: true });
      return exited.code;
    },
  };
}

function readLog(file) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-40).join('\n');
  } catch (e) {
    return '(no log)';
  }
}

/** Launches headless Chromium (never downloads one). */
export async function launchBrowser() {
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
    timeout: START_MS,
    protocolTimeout: BATTLE_MS,
  });
}

/** A new page (its own browser context, so its own sessionStorage), with errors collected. */
export async function openPage(browser, url, viewport = { width: 1100, height: 900 }) {
  const ctx = await browser.createBrowserContext();
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  page.setDefaultTimeout(STEP_MS);
  await page.setViewport(viewport);
  if (url) await page.goto(url, { waitUntil: 'load' });
  return page;
}

/** Saves a full-page screenshot as ARTIFACTS/name.png. */
export async function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Waits for a screen (lobby, waiting, battle) to be the one shown. */
export async function onScreen(page, id) {
  await page.waitForSelector(`#${id}:not([hidden])`, { visible: true });
}

/** The texts of the visible battle log, with each line's seq and event type. */
export async function logOf(page) {
  return page.$$eval('#log li', (lis) => lis.map((li) => ({ seq: Number(li.dataset.seq), t: li.dataset.t, text: li.textContent })));
}

/**
 * Plays this page's seat through its buttons, as a person would, until the result shows.
 * Each step waits (bounded) for either the result or an enabled control, then clicks one:
 * point defence on an incoming missile and the sandcaster when offered (once in a while), else a
 * turn action: fire the first weapon with ammunition, else launch, else end the turn.
 * until(page) may stop it early (returns true). Returns the number of clicks.
 */
export async function play(page, { until = null, budget = BATTLE_MS, missileEvery = 3 } = {}) {
  const end = Date.now() + budget;
  let clicks = 0;
  let turns = 0;
  for (let step = 0; step < 1000; step++) {
    if (Date.now() > end) throw new Error(`battle not over within ${budget} ms`);
    if (until && await until(page)) return clicks;
    const what = await page.waitForFunction(() => {
      if (!document.querySelector('#result').hidden) return 'result';
      if (document.querySelector('#battle').hidden) return null;
      const on = (sel) => document.querySelector(sel);
      if (on('#reactions button[data-key^="pd-"]:not([disabled])')) return 'pd';
      if (on('#turn-actions button:not([disabled])')) return 'turn';
      return null;
    }, { timeout: Math.min(STEP_MS * 2, Math.max(1, end - Date.now())), polling: 50 }).then((h) => h.jsonValue());
    if (what === 'result') return clicks;
    // A control can go away between looking and clicking (the missile was destroyed, the timer
    // played the turn): like a person, look again.
    const click = async (sel) => page.click(sel).then(() => true, () => false);
    if (what === 'pd') {
      if (!await click('#reactions button[data-key^="pd-"]:not([disabled])')) continue;
    } else {
      turns++;
      if (turns % 2 === 0 && await click('#reactions button[data-key="sand"]:not([disabled])')) clicks++;
      const launch = '#turn-actions button[data-key="launch"]:not([disabled])';
      const fire = '#turn-actions button.fire:not([disabled])';
      const endTurn = '#turn-actions button[data-key="end"]:not([disabled])';
      const order = turns % missileEvery === 0 ? [launch, fire, endTurn] : [fire, launch, endTurn];
      let done = false;
      for (const sel of order) if (!done) done = await click(sel);
      if (!done) continue;
    }
    clicks++; // the page turns the clicked control off at once while its request is in flight
  }
  throw new Error('play: too many steps');
}
