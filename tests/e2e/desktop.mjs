// End-to-end test of the real desktop console: the built app under Xvfb, driven
// through tauri-driver + WebKitWebDriver. A simulated caller (spoken by espeak-ng
// through the real audio path) shows up on the wall; the supervisor opens it, watches
// transcript and sentiment arrive, pins a persona, takes over and hands back, creates
// a ticket and finds it on the customer card. Screenshots of the Wall and the Call
// view in English and Arabic go to test-artifacts/e2e/. Prints cold start and RSS.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import net from 'node:net';
import { WebDriver } from './webdriver.mjs';

const root = resolve(new URL('../..', import.meta.url).pathname);
const app = process.argv[2];
if (!app) {
  console.error('usage: node tests/e2e/desktop.mjs PATH_TO_switchboard-desktop');
  process.exit(2);
}
const artifacts = join(root, 'test-artifacts', 'e2e');
mkdirSync(artifacts, { recursive: true });

const children = [];
function start(cmd, args, env) {
  const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  p.stdout.on('data', (d) => (log += d));
  p.stderr.on('data', (d) => (log += d));
  p.log = () => log;
  children.push(p);
  return p;
}
/** Processes running the app's binary (matched by /proc/PID/exe, never by name). */
function appPids() {
  const exe = resolve(app);
  const pids = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readlinkSync(`/proc/${d}/exe`) === exe) pids.push(Number(d));
    } catch { /* not ours or gone */ }
  }
  return pids;
}
function cleanup() {
  for (const c of children.reverse()) {
    try { c.kill('SIGTERM'); } catch { /* gone */ }
  }
  for (const pid of appPids()) {
    try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
  }
}
process.on('exit', cleanup);

async function freePort() {
  return new Promise((res) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}
async function waitPort(port, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise((res) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); res(true); });
      s.on('error', () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} never opened`);
}

let step = 'setup';
let passed = 0;
let failed = 0;
const check = (name, cond, detail = '') => {
  if (cond) { passed++; console.log(`ok - ${name}`); } else { failed++; console.log(`FAILED - ${name} ${detail}`); }
};

const data = mkdtempSync(join(tmpdir(), 'sb-e2e-'));
const display = `:${90 + Math.floor(Math.random() * 9)}`;
start('Xvfb', [display, '-screen', '0', '1280x800x24', '-nolisten', 'tcp']);
await new Promise((r) => setTimeout(r, 800));
const port = await freePort();
const appEnv = {
  DISPLAY: display,
  XDG_DATA_HOME: data,
  SWITCHBOARD_DB_URL: `sqlite://${join(data, 'crm.sqlite3')}`,
  SWITCHBOARD_SIM_SPEED: '1.5',
};
const driver = start('tauri-driver', ['--port', String(port), '--native-driver', '/usr/bin/WebKitWebDriver'], appEnv);
const wd = new WebDriver(`http://127.0.0.1:${port}`);

const clickText = (sel, text) =>
  wd.exec(
    `const [sel, text] = arguments; const el = [...document.querySelectorAll(sel)].find(e => e.textContent.includes(text) && !e.disabled);
     if (!el) return false; el.click(); return true;`,
    [sel, text],
  );
async function waitClickText(sel, text, timeout = 30000) {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    if (await clickText(sel, text)) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`no enabled ${sel} with text ${JSON.stringify(text)}`);
}
const shot = async (name) => writeFileSync(join(artifacts, `${name}.png`), await wd.screenshot());

try {
  await waitPort(port);
  step = 'start the app';
  const t0 = Date.now();
  await wd.start(resolve(app), appEnv);
  await wd.waitFor('.wall', { timeout: 30000 });
  const firstPaint = Date.now() - t0;
  console.log(`# cold start to first paint of the wall: ${firstPaint} ms`);
  await new Promise((r) => setTimeout(r, 1500));
  const pid = appPids()[0];
  const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  console.log(`# idle RSS of the app process: ${Math.round(Number(rss) / 1024)} MiB (webview processes not included)`);
  await shot('wall-empty-en');

  step = 'simulate a caller';
  await waitClickText('.wall button', 'Simulate a caller');
  await waitClickText('.menu-list button', 'خالد');
  await wd.waitFor('.cards > *', { timeout: 20000 });
  await wd.waitFor('.cards > *', { timeout: 60000, pred: (t) => /Mohammed|Ahmed|Sarah/.test(t) });
  check('the call appears on the wall with its persona', true);
  await shot('wall-en');

  step = 'open the call';
  await wd.exec(`document.querySelector('.cards > *').click(); const b = document.querySelector('.cards > * button, .cards > * a'); if (b) b.click(); return true;`);
  await wd.waitFor('.call-view', { timeout: 10000 });
  const line = await wd.waitFor('.line.speaker-customer[data-final="true"]', { timeout: 90000 });
  check('a final customer line arrives', !!line);
  const dir = await wd.exec(`const el = document.querySelector('.line.speaker-customer [dir="auto"], .line.speaker-customer bdi'); return el ? (el.getAttribute('dir') || el.tagName) : null;`);
  check('utterances carry their own direction (dir=auto / bdi)', dir === 'auto' || dir === 'BDI', String(dir));
  const sentiment = await wd.waitFor('.line.speaker-customer .chip[title]', { timeout: 30000 });
  check('sentiment is shown for the call', !!sentiment);

  step = 'pin a persona';
  await wd.exec(`const s = document.querySelector('.call-view select'); s.value = 'support'; s.dispatchEvent(new Event('change', { bubbles: true })); return true;`);
  await waitClickText('.call-view button', 'Pin persona');
  await wd.waitFor('.call-view button', { timeout: 15000, pred: (t) => t.includes('Unpin') });
  check('pinning shows Unpin', true);
  await waitClickText('.call-view button', 'Unpin');

  step = 'take over and hand back';
  await waitClickText('.call-view button', 'Take over');
  await wd.waitFor('.call-view button', { timeout: 15000, pred: (t) => t.includes('Hand back') });
  check('take over switches the control to Hand back', true);
  await waitClickText('.call-view button', 'Hand back');
  await wd.waitFor('.call-view button', { timeout: 15000, pred: (t) => t.includes('Take over') });
  check('hand back returns control to the AI', true);
  await shot('call-en');

  step = 'create a ticket';
  await waitClickText('.call-view button', 'Create ticket from this call');
  await wd.waitFor('.ticket-form');
  await wd.exec(`const i = document.querySelector('.ticket-form input[type=text]'); i.value = 'E2E: router broken since yesterday'; i.dispatchEvent(new Event('input', { bubbles: true })); return true;`);
  await waitClickText('.ticket-form button', 'Create ticket');
  await wd.waitFor('body', { timeout: 10000, pred: (t) => t.includes('created') });
  check('the ticket is created', true);

  step = 'customer card';
  await waitClickText('.call-view button', 'Customer card');
  await wd.waitFor('body', { timeout: 15000, pred: (t) => t.includes('E2E: router broken since yesterday') });
  check('the ticket is on the customer card', true);

  step = 'arabic';
  await waitClickText('nav button, aside button, button', 'العربية');
  const rtl = await wd.exec(`return document.documentElement.getAttribute('dir');`);
  check('the Arabic UI is right-to-left', rtl === 'rtl', String(rtl));
  await wd.exec(`history.back(); return true;`);
  await shot('customer-ar');
  await waitClickText('nav button, aside button, a, button', 'المكالمات');
  await wd.waitFor('.wall', { timeout: 10000 });
  await shot('wall-ar');
  await wd.exec(`const c = document.querySelector('.cards > *'); if (c) c.click(); return true;`);
  await new Promise((r) => setTimeout(r, 1000));
  await shot('call-ar');
} catch (e) {
  failed++;
  console.log(`FAILED - ${step}: ${e.message}`);
  try { await shot(`failure-${step.replace(/\W+/g, '-')}`); } catch { /* no window */ }
  console.log(driver.log().slice(-3000));
} finally {
  // Closing the session closes the app; don't let a stuck driver hold the run.
  await Promise.race([wd.quit(), new Promise((r) => setTimeout(r, 5000))]);
  cleanup();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
