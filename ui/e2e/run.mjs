// End-to-end page tests: builds ui/dist, serves it with a strict CSP, installs a mocked Tauri IPC
// (e2e/mock-entry.js) as an init script and drives headless Chromium through playwright-core.
// Usage: node e2e/run.mjs [--no-build]
import { build as esbuild } from 'esbuild';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build as viteBuild } from 'vite';
import { events, hostile } from './fixtures.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const artifacts = join(root, 'test-artifacts');
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ipc: http://ipc.localhost; object-src 'none'; base-uri 'none'; form-action 'none'";
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

let failures = 0;
let passes = 0;
function check(cond, name, detail = '') {
  if (cond) { passes++; console.log(`  ok   ${name}`); }
  else { failures++; console.log(`  FAIL ${name}${detail ? ' — ' + detail : ''}`); }
}

if (!process.argv.includes('--no-build')) await viteBuild({ root, logLevel: 'warn' });
if (!existsSync(join(dist, 'index.html'))) { console.error('ui/dist missing'); process.exit(1); }
mkdirSync(artifacts, { recursive: true });

const mockBundle = await esbuild({
  entryPoints: [join(root, 'e2e/mock-entry.js')], bundle: true, write: false, format: 'iife', target: 'es2021',
});
const mockScript = mockBundle.outputFiles[0].text;

const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon' };
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const rel = normalize(decodeURIComponent(url.pathname)).replace(/^([/\\])+/, '') || 'index.html';
  const file = join(dist, rel);
  if (!file.startsWith(dist) || !existsSync(file)) { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'content-security-policy': CSP });
  res.end(readFileSync(file));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}/`;

const userDataDir = mkdtempSync(join(tmpdir(), 'sb-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: CHROMIUM,
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});

const consoleErrors = [];
const dialogs = [];
let page;

async function openPage() {
  page = await context.newPage();
  page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.addInitScript({ content: mockScript });
  await page.goto(base);
  // The app subscribes, then asks for the live calls: from then on events reach it.
  await page.waitForFunction(() => window.__SWITCHBOARD_MOCK__?.calls.some((c) => c.cmd === 'list_calls'));
}

const emitAll = (evs) => page.evaluate(async (list) => { for (const ev of list) await window.__SWITCHBOARD_MOCK__.emit(ev); }, evs);
const mockCalls = () => page.evaluate(() => window.__SWITCHBOARD_MOCK__.calls);

try {
  await context.addInitScript(() => localStorage.clear());
  await openPage();

  console.log('wall');
  await emitAll(events());
  await page.waitForFunction(() => document.querySelectorAll('.card').length === 3);
  const order = await page.$$eval('.card', (els) => els.map((e) => e.getAttribute('data-call-id')));
  check(order[0] === 'call-angry', 'angry call sorted first', order.join(','));
  check(JSON.stringify(order) === JSON.stringify(['call-angry', 'call-mixed', 'call-happy']), 'then lowest trend first', order.join(','));
  check(await page.locator('.card.alert[data-call-id="call-angry"]').count() === 1, 'angry card highlighted');
  check(await page.locator('.toast-alert').count() >= 1, 'alert toast shown');
  const phone = await page.locator('.card[data-call-id="call-angry"] .phone').textContent();
  check(phone === '+9639•••••111', 'phone masked', phone);
  check(!(await page.content()).includes('+963944000111'), 'full phone not in DOM');
  await page.screenshot({ path: join(artifacts, 'wall-en.png') });

  console.log('call view');
  await page.click('.card[data-call-id="call-mixed"]');
  await page.waitForSelector('.call-view[data-call-id="call-mixed"]');
  // Partial then final for the same turn: one line, final text.
  await emitAll([{ call_id: 'call-mixed', t_ms: 9000, type: 'transcript', speaker: 'customer', text: 'I also want', lang: 'en', final: false, turn: 4 }]);
  await page.waitForSelector('.line[data-turn="4"].partial');
  check((await page.locator('.line.speaker-customer[data-turn="4"] .utterance bdi').textContent()) === 'I also want', 'partial shown as spoken');
  await emitAll([{ call_id: 'call-mixed', t_ms: 9500, type: 'transcript', speaker: 'customer', text: 'I also want a refund please', lang: 'en', final: true, turn: 4 }]);
  await page.waitForSelector('.line.speaker-customer[data-turn="4"][data-final="true"]');
  const turn4 = await page.$$eval('.line.speaker-customer[data-turn="4"]', (els) => els.map((e) => e.querySelector('.utterance bdi').textContent));
  check(turn4.length === 1 && turn4[0] === 'I also want a refund please', 'partial replaced by final', JSON.stringify(turn4));
  const arabic = await page.$$eval('.utterance', (els) => els.filter((e) => /[\u0600-\u06FF]/.test(e.textContent)).map((e) => e.getAttribute('dir')));
  check(arabic.length > 0 && arabic.every((d) => d === 'auto'), 'Arabic lines have dir=auto', JSON.stringify(arabic));
  const text = await page.locator('.transcript').textContent();
  for (const h of hostile) check(text.includes(h), `hostile string shown literally: ${JSON.stringify(h).slice(0, 40)}`);
  check(await page.locator('img').count() === 0, 'no <img> element created');
  check(await page.locator('.error-marker').count() === 1 && (await page.locator('.error-marker').textContent()).includes('LLM stalled'), 'error shown in place');
  check(await page.locator('.persona-marker').count() === 1, 'persona change marker inline');
  check(await page.locator('.chip.neg, .chip.pos, .chip.neu').count() >= 1 || await page.locator('.line .chip').count() >= 1, 'sentiment chips');
  check((await page.locator('.latency-list li').count()) >= 1, 'latency per turn listed');

  await page.selectOption('.controls select', 'sales');
  await page.click('.controls button:has-text("Pin persona")');
  await page.click('.controls button:has-text("Take over")');
  await page.waitForSelector('.controls button:has-text("Hand back")');
  const sent = (await mockCalls()).filter((c) => c.cmd === 'supervisor_command').map((c) => c.args);
  check(sent.some((a) => JSON.stringify(a) === JSON.stringify({ callId: 'call-mixed', command: { action: 'pin', persona: 'sales' } })), 'pin sent {callId, command:{action:"pin",persona:"sales"}}', JSON.stringify(sent));
  check(sent.some((a) => a.callId === 'call-mixed' && a.command.action === 'takeover'), 'takeover sent');
  await page.fill('.controls input[aria-label="Whisper to the agent"]', 'Offer the 10% goodwill credit');
  await page.click('.controls button:has-text("Send note")');
  await page.waitForFunction(() => window.__SWITCHBOARD_MOCK__.calls.some((c) => c.cmd === 'supervisor_command' && c.args.command.action === 'whisper'));
  check(true, 'whisper sent');
  await page.waitForSelector('.supervisor-marker');
  check(await page.locator('.supervisor-marker').count() >= 2, 'supervisor actions marked inline');
  await page.click('button:has-text("Create ticket from this call")');
  const subject = await page.inputValue('.ticket-form input[type="text"]');
  check(subject === 'I also want a refund please', 'ticket subject prefilled from last customer line', subject);
  await page.click('.ticket-form button[type="submit"]');
  await page.waitForFunction(() => window.__SWITCHBOARD_MOCK__.calls.some((c) => c.cmd === 'create_ticket'));
  const created = (await mockCalls()).find((c) => c.cmd === 'create_ticket').args.ticket;
  check(created.call_id === 'call-mixed' && created.customer_id && created.subject === subject, 'create_ticket invoked with call id', JSON.stringify(created));
  await page.screenshot({ path: join(artifacts, 'call-en.png') });

  console.log('arabic');
  await page.click('[data-nav="lang"]');
  check(await page.evaluate(() => document.documentElement.dir) === 'rtl', 'html dir=rtl in Arabic');
  check(await page.evaluate(() => document.documentElement.lang) === 'ar', 'html lang=ar');
  check((await page.locator('.sidebar').textContent()).includes('المكالمات الحية'), 'UI text in Arabic');
  await page.screenshot({ path: join(artifacts, 'call-ar.png') });
  await page.click('[data-nav="wall"]');
  await page.waitForSelector('.card');
  check((await page.locator('.card[data-call-id="call-angry"] .persona').textContent()).includes('محمد'), 'persona name in Arabic');
  const ltrOrder = await page.evaluate(() => [...document.querySelectorAll('.card .phone, .card .score')].map((el) => {
    const t = el.firstChild; const r = document.createRange();
    r.setStart(t, 0); r.setEnd(t, 1); const first = r.getBoundingClientRect().x;
    r.setStart(t, t.length - 1); r.setEnd(t, t.length); return first < r.getBoundingClientRect().x;
  }));
  check(ltrOrder.length > 0 && ltrOrder.every(Boolean), 'phone numbers and scores not mirrored in RTL', JSON.stringify(ltrOrder));
  await page.screenshot({ path: join(artifacts, 'wall-ar.png') });

  console.log('tickets & customer');
  await page.click('[data-nav="lang"]');
  await page.click('[data-nav="tickets"]');
  await page.waitForSelector('.ticket-row');
  await page.click('.ticket-row');
  await page.waitForSelector('.timeline li');
  check(await page.locator('.ticket-detail button[type="submit"]').isDisabled(), 'status change needs a reason');
  await page.selectOption('.ticket-detail select', 'resolved');
  await page.fill('.ticket-detail input', 'Technician fixed the router');
  await page.click('.ticket-detail button[type="submit"]');
  await page.waitForFunction(() => window.__SWITCHBOARD_MOCK__.calls.some((c) => c.cmd === 'set_ticket_status'));
  const st = (await mockCalls()).find((c) => c.cmd === 'set_ticket_status').args;
  check(st.status === 'resolved' && st.reason === 'Technician fixed the router' && st.ticketId === 'tkt-00000001', 'set_ticket_status with reason', JSON.stringify(st));
  await page.screenshot({ path: join(artifacts, 'tickets-en.png') });
  await page.click('[data-nav="wall"]');
  await page.click('.card[data-call-id="call-angry"]');
  await page.waitForSelector('.call-view[data-call-id="call-angry"]');
  check(await page.locator('.line.speaker-agent.interrupted').count() === 1, 'interrupted agent line marked');
  check((await page.locator('.line.interrupted .dropped').textContent()).includes('محمد من الدعم'), 'unplayed words of a barge-in shown');
  await page.click('button:has-text("Customer card")');
  await page.waitForSelector('.customer-form');
  check(await page.inputValue('.customer-form input[type="text"]') === 'Rana', 'customer card loaded');
  await page.screenshot({ path: join(artifacts, 'customer-en.png') });

  check(dialogs.length === 0, 'no dialog fired', dialogs.join(' | '));

  console.log('latency: 50 concurrent calls');
  await page.close();
  await openPage();
  const lat = await page.evaluate(async () => {
    const mock = window.__SWITCHBOARD_MOCK__;
    const N = 50;
    const pending = new Map();
    const done = [];
    const mo = new MutationObserver(() => {
      if (pending.size === 0) return;
      const now = performance.now();
      const text = document.body.textContent;
      for (const [marker, t0] of pending) if (text.includes(marker)) { done.push(now - t0); pending.delete(marker); }
    });
    mo.observe(document.body, { subtree: true, childList: true, characterData: true });
    const start = Date.now();
    for (let i = 0; i < N; i++) {
      await mock.emit({ call_id: `load-${i}`, t_ms: 0, type: 'call_started', customer: { id: null, phone: `+9715000${String(i).padStart(5, '0')}`, name: `Caller ${i}` }, lang: 'auto', persona: 'reception', transport: 'simulated', started_at_ms: start });
    }
    await new Promise((r) => setTimeout(r, 300));
    // ~20 s of a busy floor compressed: every call speaks, partials then finals, sentiment, metrics.
    let seq = 0;
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < N; i++) {
        const call_id = `load-${i}`;
        const turn = round + 1;
        const marker = `m${seq++}x`;
        const ar = i % 2 === 0;
        const text = (ar ? 'أريد أن أعرف سعر الباقة ' : 'I would like to know the price ') + marker;
        pending.set(marker, performance.now());
        void mock.emit({ call_id, t_ms: Date.now() - start, type: 'transcript', speaker: 'customer', text, lang: ar ? 'ar' : 'en', final: round % 3 === 2, turn });
        if (round % 3 === 2) {
          void mock.emit({ call_id, t_ms: Date.now() - start, type: 'sentiment', turn, score: Math.sin(i + round), label: 'neutral', trend: Math.sin(i + round) / 2 });
          void mock.emit({ call_id, t_ms: Date.now() - start, type: 'turn_metrics', turn, eou_ms: 500, stt_ms: 20, llm_first_token_ms: 300, tts_first_audio_ms: 80, total_ms: 400, response_ms: 900 });
        }
        if (i % 10 === 9) await sleep(4);
      }
      await sleep(30);
    }
    const deadline = performance.now() + 5000;
    while (pending.size && performance.now() < deadline) await sleep(20);
    mo.disconnect();
    done.sort((a, b) => a - b);
    const q = (p) => done[Math.min(done.length - 1, Math.floor(p * done.length))];
    return { n: done.length, missing: pending.size, p50: q(0.5), p95: q(0.95), max: done[done.length - 1], cards: document.querySelectorAll('.card').length };
  });
  console.log(`  event-to-DOM latency over ${lat.n} transcript events, 50 calls: p50 ${lat.p50.toFixed(1)} ms, p95 ${lat.p95.toFixed(1)} ms, max ${lat.max.toFixed(1)} ms`);
  check(lat.cards === 50, '50 cards on the wall', String(lat.cards));
  check(lat.missing === 0, 'every event reached the DOM', `${lat.missing} missing`);
  check(lat.p95 < 250, 'event-to-DOM p95 under 250 ms', lat.p95.toFixed(1));
  await page.screenshot({ path: join(artifacts, 'wall-50-calls.png') });

  const realErrors = consoleErrors.filter((e) => !/favicon/.test(e));
  check(realErrors.length === 0, 'no console errors / CSP violations', realErrors.join(' | '));
} catch (e) {
  failures++;
  console.error('e2e crashed:', e);
  if (page) await page.screenshot({ path: join(artifacts, 'crash.png') }).catch(() => {});
} finally {
  await context.close();
  server.close();
  rmSync(userDataDir, { recursive: true, force: true });
}

console.log(`e2e: ${passes} passed, ${failures} failed; screenshots in ${artifacts}`);
process.exit(failures ? 1 : 0);
