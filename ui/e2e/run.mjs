// End-to-end page tests: builds ui/dist, serves it with a strict CSP, installs a mocked Tauri IPC
// (e2e/mock-entry.js) as an init script and drives headless Chromium through playwright-core.
// Usage: node e2e/run.mjs [--no-build]
import { build as esbuild } from 'esbuild';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { chromium } from 'playwright-core';
import { build as viteBuild } from 'vite';
import { events, hostile, LINE_MS, LONG_CALL, LONG_LINES } from './fixtures.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const artifacts = join(root, 'test-artifacts');
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; connect-src 'self' ipc: http://ipc.localhost; object-src 'none'; base-uri 'none'; form-action 'none'";
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
  const markers = await page.locator('.error-marker').allTextContents();
  check(markers.length === 2 && markers[0].includes('LLM stalled') && markers[1].includes('rate limiting') && markers[1].includes('espeak-ng'), 'errors shown in place, with who took over', JSON.stringify(markers));
  check(await page.locator('.persona-marker').count() === 1, 'persona change marker inline');
  const human = await page.locator('.human-marker').textContent();
  check(human.includes('asks for a human') && human.includes(hostile[0]) && await page.locator('.human-marker img').count() === 0, 'the AI asking for a human is marked in the transcript, its reason as text', human);
  check(await page.locator('.chip.neg, .chip.pos, .chip.neu').count() >= 1 || await page.locator('.line .chip').count() >= 1, 'sentiment chips');
  check((await page.locator('.latency-list li').count()) >= 1, 'latency per turn listed');
  check((await page.locator('.latency-list .providers[data-turn="1"]').textContent()).trim() === 'whisper-base → template → espeak-ng', 'who heard, who wrote and which voice spoke, per turn');

  await page.selectOption('.controls select', 'sales');
  await page.click('.controls button:has-text("Pin persona")');
  await page.click('.controls button:has-text("Take over")');
  await page.waitForSelector('.controls button:has-text("Hand back")');
  const sent = (await mockCalls()).filter((c) => c.cmd === 'supervisor_command').map((c) => c.args);
  check(sent.some((a) => JSON.stringify(a) === JSON.stringify({ callId: 'call-mixed', command: { action: 'pin', persona: 'sales' } })), 'pin sent {callId, command:{action:"pin",persona:"sales"}}', JSON.stringify(sent));
  check(sent.some((a) => a.callId === 'call-mixed' && a.command.action === 'takeover'), 'takeover sent');

  console.log('sound devices');
  // No microphone: the takeover stands, the problem shows in place, typing still works.
  await page.waitForSelector('.controls .inline-error[data-code="no_input_device"]');
  const micErr = await page.locator('.controls .inline-error').textContent();
  check(micErr.includes('No microphone was found') && micErr.includes('type what the customer should hear'), 'no microphone: clear message in place after takeover', micErr);
  check(await page.locator('.controls input[aria-label="Say to customer"]').count() === 1, 'supervisor can still type what to say');
  check((await mockCalls()).some((c) => c.cmd === 'supervisor_microphone' && c.args.callId === 'call-mixed' && c.args.on === true), 'takeover asked for the supervisor microphone');
  await page.evaluate(() => { window.__SWITCHBOARD_MOCK__.state.micError = null; });
  await page.click('.controls button:has-text("Use my microphone")');
  await page.waitForSelector('.controls .mic-on');
  check(await page.locator('.controls .inline-error').count() === 0, 'error cleared once the microphone opened');
  await page.click('.controls button.listen');
  await page.waitForSelector('.controls button.listen[aria-pressed="true"]');
  check((await page.locator('.controls [role="status"]').allTextContents()).some((x) => x.includes('Playing on your speakers')), 'listening shown');
  check((await mockCalls()).some((c) => c.cmd === 'listen_call' && c.args.callId === 'call-mixed' && c.args.on === true), 'listen_call {callId, on:true} sent');
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

  console.log('settings');
  check((await mockCalls()).some((c) => c.cmd === 'notify' && c.args.title.includes('Rana')), 'alerts sent a desktop notification through the notify command');
  // The language toggles above were saved too: look only at what this page sends.
  const before = (await mockCalls()).length;
  const savesHere = async () => (await mockCalls()).slice(before).filter((c) => c.cmd === 'save_settings').map((c) => c.args);
  const waitSaves = (n) => page.waitForFunction(([from, k]) => window.__SWITCHBOARD_MOCK__.calls.slice(from).filter((c) => c.cmd === 'save_settings').length === k, [before, n]);
  // Text of every match, joined ('' when none: never waits for an element).
  const textOf = (sel) => page.$$eval(sel, (els) => els.map((e) => e.textContent).join('|'));
  const attrs = (sel, name) => page.$$eval(sel, (els, n) => els.map((e) => e.getAttribute(n)), name);
  await page.click('[data-nav="settings"]');
  await page.waitForSelector('.settings-view .secret-row');
  const devErr = await page.locator('[data-error="devices"]').textContent();
  check(devErr.includes('no sound device is available (DeviceNotAvailable)'), 'device error shown in place', devErr);
  const inputOpts = await page.$$eval('select[name="input_device"] option', (os) => os.map((o) => o.textContent));
  check(JSON.stringify(inputOpts) === JSON.stringify(['System default']), 'input picker keeps just System default', JSON.stringify(inputOpts));

  // Local models: what is installed, what is not and how to install it.
  await page.waitForSelector('[data-section="models"] [data-model]');
  const modelRows = await attrs('[data-section="models"] [data-model]', 'data-model');
  check(JSON.stringify(modelRows) === JSON.stringify(['whisper-base', 'whisper-tiny-en', 'smart-turn-v3', 'silero-vad', 'onnxruntime', 'piper-joe', 'smollm2-135m', 'qwen2.5-0.5b']),
    'models panel lists every model available on this platform', JSON.stringify(modelRows));
  const badges = Object.fromEntries(await page.$$eval('[data-model]', (els) => els.map((e) => [e.getAttribute('data-model'), e.querySelector('[data-status]')?.getAttribute('data-status') + ':' + e.querySelector('[data-status]')?.textContent])));
  check(badges['whisper-base'] === 'installed:installed' && badges['piper-joe'] === 'installed:installed' && badges['smart-turn-v3'] === 'installed:installed'
    && badges['qwen2.5-0.5b'] === 'missing:not installed' && badges['smollm2-135m'] === 'missing:not installed', 'models: installed / not installed badges', JSON.stringify(badges));
  const qwenRow = await textOf('[data-model="qwen2.5-0.5b"]');
  check(await textOf('[data-model="qwen2.5-0.5b"] code') === 'switchboard models fetch --only qwen2.5-0.5b'
    && qwenRow.includes('~/.local/share/switchboard/models/qwen2.5-0.5b/qwen2.5-0.5b-instruct-q4_k_m.gguf is missing') && qwenRow.includes('491.4 MB'),
    'a missing model shows its size, why it is missing and the fetch command', qwenRow);
  check(await page.locator('[data-model="whisper-base"] code').count() === 0 && (await textOf('[data-model="whisper-base"]')).includes('148.0 MB'), 'an installed model shows its size and no fetch command');
  const hostileAbout = '<img src=x onerror=alert(1)>';
  check((await textOf('[data-model="smart-turn-v3"]')).includes(hostileAbout) && await page.locator('.settings-view img').count() === 0, 'hostile model description shown as text (no <img> created)');

  // Who writes the replies: the local Qwen model by default, missing in the mock.
  check(await page.inputValue('select[name="llm_engine"]') === 'local:qwen2.5-0.5b' && await page.locator('input[name="llm_base_url"]').count() === 0,
    'default engine is the local Qwen model; server fields hidden');
  const qwenWarn = await textOf('[data-section="providers"] [data-missing="qwen2.5-0.5b"]');
  check(qwenWarn.includes('not installed') && qwenWarn.includes('built-in replies') && qwenWarn.includes('switchboard models fetch --only qwen2.5-0.5b'),
    'missing local Qwen model: warning next to the engine names the fallback and the fetch command', qwenWarn);
  check(JSON.stringify(await attrs('[data-missing]', 'data-missing')) === JSON.stringify(['qwen2.5-0.5b']), 'no warning for the installed speech model, voice and Smart Turn');
  await page.selectOption('select[name="llm_engine"]', 'local:smollm2-135m');
  check(JSON.stringify(await attrs('[data-missing]', 'data-missing')) === JSON.stringify(['smollm2-135m'])
    && (await textOf('[data-missing="smollm2-135m"] code')) === 'switchboard models fetch --only smollm2-135m', 'the warning follows the chosen local model');
  await page.selectOption('select[name="llm_engine"]', 'templates');
  check(await page.locator('[data-llm="none"]').count() === 1 && await page.locator('[data-missing]').count() === 0, 'built-in replies: hint shown, no model warning');
  await page.selectOption('select[name="llm_engine"]', 'server');
  check(await page.locator('input[name="llm_base_url"]').count() === 1 && await page.locator('input[name="llm_model"]').count() === 1 && await page.locator('[data-llm="none"]').count() === 0,
    'OpenAI-compatible server: URL and model fields shown');

  const hostileKw = '<img src=x onerror=alert(1)>';
  await page.fill('input[name="threshold"]', '-0.5');
  await page.fill('input[name="turns"]', '3');
  await page.fill('textarea[name="keywords"]', `refund\n  refund \n${hostileKw}\nمدير`);
  await page.click('[data-action="save-settings"]');
  await page.waitForSelector('[data-field="llm.base_url"]');
  check(await textOf('[data-field="llm.base_url"]') === 'Required' && (await savesHere()).length === 0, 'server chosen without a URL: URL required, nothing sent');
  await page.fill('input[name="llm_base_url"]', 'ftp://127.0.0.1/v1');
  await page.click('[data-action="save-settings"]');
  await page.waitForFunction(() => document.querySelector('[data-field="llm.base_url"]')?.textContent.includes('http://'));
  check((await savesHere()).length === 0, 'an invalid URL is not sent');
  await page.fill('input[name="llm_base_url"]', ' http://127.0.0.1:8080/v1 ');
  await page.fill('input[name="llm_model"]', 'qwen2.5-0.5b');
  await page.fill('input[name="llm_timeout"]', '3000');
  await page.selectOption('select[name="stt_model"]', 'whisper-tiny-en');
  await page.fill('input[name="silence_hold_ms"]', '700');
  await page.fill('input[name="max_turn_ms"]', '20000');
  await page.check('input[name="headset"]');
  await page.fill('input[name="livekit_url"]', 'callfloor.example.com');
  await page.click('[data-action="save-settings"]');
  await page.waitForSelector('[data-field="livekit.url"]');
  check((await textOf('[data-field="livekit.url"]')).includes('wss://') && (await savesHere()).length === 0, 'a LiveKit server without a scheme is not sent');
  await page.fill('input[name="livekit_url"]', ' wss://callfloor.example.com ');
  check(await page.locator('[data-note="tts-cloud"]').count() === 0, 'no cloud voice: no note');
  await page.selectOption('select[name="tts_cloud"]', 'elevenlabs');
  await page.selectOption('select[name="llm_fallback"]', 'qwen2.5-0.5b');
  await page.check('input[name="llm_tools"]');
  check(await page.locator('[data-note="stt-cloud"]').count() === 0, 'no cloud recognition: no note');
  await page.selectOption('select[name="stt_cloud"]', 'openai');
  check((await textOf('[data-note="stt-cloud"]')).includes('OpenAI API key'), 'cloud recognition names the key it needs');
  check((await textOf('[data-note="tts-cloud"]')).includes('ElevenLabs API key'), 'a cloud voice names the key it needs');
  await page.click('[data-action="save-settings"]');
  await page.waitForSelector('[data-outcome="saved"]');
  const saved = await savesHere();
  const expected = {
    settings: {
      ui_lang: 'en',
      alerts: { threshold: -0.5, turns: 3, keywords: ['refund', hostileKw, 'مدير'] },
      llm: { local: null, base_url: 'http://127.0.0.1:8080/v1', model: 'qwen2.5-0.5b', first_token_timeout_ms: 3000, fallback_local: 'qwen2.5-0.5b', tools: true },
      stt: { model: 'whisper-tiny-en', cloud: 'openai' },
      tts: { english: 'piper', arabic: 'espeak', cloud: 'elevenlabs' },
      turn: { silence_hold_ms: 700, min_speech_ms: 200, barge_in_min_ms: 160, max_turn_ms: 20000, smart_turn: true },
      audio: { input_device: null, output_device: null, headset: true },
      livekit: { url: 'wss://callfloor.example.com' },
    },
  };
  check(saved.length === 1 && isDeepStrictEqual(saved[0], expected), 'save_settings received exactly the edited settings', JSON.stringify(saved));
  check(await page.locator('.settings-view img').count() === 0 && (await page.inputValue('textarea[name="keywords"]')).includes(hostileKw), 'hostile keyword kept as text');

  // Devices appear once the shell finds some (a hostile name stays text).
  await page.evaluate((name) => { window.__SWITCHBOARD_MOCK__.state.devices = { inputs: ['USB Headset', name], outputs: ['Speakers'], default_input: 'USB Headset', default_output: 'Speakers' }; }, hostileKw);
  await page.click('[data-nav="wall"]');
  await page.click('[data-nav="settings"]');
  await page.waitForSelector('select[name="input_device"] option:nth-child(3)', { state: 'attached' });
  const opts = await page.$$eval('select[name="input_device"] option', (os) => os.map((o) => o.textContent));
  check(JSON.stringify(opts) === JSON.stringify(['System default (USB Headset)', 'USB Headset', hostileKw]), 'input devices listed, names literal', JSON.stringify(opts));
  check(await page.locator('[data-error="devices"]').count() === 0, 'device error gone once devices exist');
  check(await page.inputValue('input[name="silence_hold_ms"]') === '700', 'saved values shown after navigating back');
  check(await page.inputValue('select[name="llm_engine"]') === 'server' && await page.inputValue('input[name="llm_base_url"]') === 'http://127.0.0.1:8080/v1', 'the saved server is shown as the engine after navigating back');
  await page.selectOption('select[name="output_device"]', 'Speakers');
  await page.click('[data-action="save-settings"]');
  await waitSaves(2);
  const second = (await savesHere())[1].settings;
  check(second.audio.output_device === 'Speakers' && second.audio.input_device === null, 'output device saved by name', JSON.stringify(second.audio));

  // A local model answers: the server's URL is kept (unused). Built-in replies drop both.
  await page.selectOption('select[name="llm_engine"]', 'local:smollm2-135m');
  await page.click('[data-action="save-settings"]');
  await waitSaves(3);
  const third = (await savesHere())[2].settings;
  check(third.llm.local === 'smollm2-135m' && third.llm.base_url === 'http://127.0.0.1:8080/v1' && third.llm.model === 'qwen2.5-0.5b', 'local model saved as llm.local, server URL kept', JSON.stringify(third.llm));
  await page.selectOption('select[name="llm_engine"]', 'templates');
  await page.uncheck('input[name="smart_turn"]');
  await page.click('[data-action="save-settings"]');
  await waitSaves(4);
  const fourth = (await savesHere())[3].settings;
  check(fourth.llm.local === null && fourth.llm.base_url === null, 'built-in replies saved as local: null, base_url: null', JSON.stringify(fourth.llm));
  check(fourth.turn.smart_turn === false && third.turn.smart_turn === true, 'Smart Turn off saved as smart_turn: false', JSON.stringify(fourth.turn));

  // Refresh asks again: models gone missing are named next to their settings.
  await page.evaluate(() => {
    for (const m of window.__SWITCHBOARD_MOCK__.state.models) {
      if (!['whisper-tiny-en', 'piper-joe', 'smart-turn-v3'].includes(m.name)) continue;
      m.installed = false;
      m.missing = [`${m.files[0].path} is missing`];
    }
  });
  await page.click('[data-action="refresh-models"]');
  await page.waitForSelector('[data-model="piper-joe"] [data-status="missing"]');
  check(JSON.stringify(await attrs('[data-missing]', 'data-missing')) === JSON.stringify(['whisper-tiny-en', 'piper-joe']), 'Refresh re-queries: missing speech model and voice warned, Smart Turn off so no warning', JSON.stringify(await attrs('[data-missing]', 'data-missing')));
  const sttWarn = await textOf('[data-missing="whisper-tiny-en"]');
  check(sttWarn.includes('ask the customer to repeat') && sttWarn.includes('switchboard models fetch --only whisper-tiny-en'), 'missing speech model: calls ask the customer to repeat', sttWarn);
  const piperWarn = await textOf('[data-missing="piper-joe"]');
  check(piperWarn.includes('eSpeak NG') && piperWarn.includes('switchboard models fetch --only piper-joe'), 'missing Piper voice: eSpeak NG speaks instead', piperWarn);
  await page.check('input[name="smart_turn"]');
  const turnWarn = await textOf('[data-section="turn"] [data-missing="smart-turn-v3"]');
  check(turnWarn.includes('silence alone') && turnWarn.includes('switchboard models fetch --only smart-turn-v3'), 'missing Smart Turn model: turns end on silence alone', turnWarn);
  await page.selectOption('select[name="tts_english"]', 'espeak');
  check(await page.locator('[data-missing="piper-joe"]').count() === 0, 'eSpeak NG chosen: no Piper warning');

  // model_status fails: said in place; the rest of the page keeps working.
  await page.evaluate(() => { window.__SWITCHBOARD_MOCK__.state.modelsError = { code: 'internal', message: 'models folder unreadable: permission denied' }; });
  await page.click('[data-action="refresh-models"]');
  await page.waitForSelector('[data-error="models"]');
  check((await textOf('[data-error="models"]')).includes('models folder unreadable: permission denied'), 'model_status failing: inline error in the models panel');
  await page.click('[data-action="save-settings"]');
  await waitSaves(5);
  await page.waitForSelector('[data-outcome="saved"]');
  const fifth = (await savesHere())[4].settings;
  check(fifth.tts.english === 'espeak' && fifth.turn.smart_turn === true, 'Save still works while model_status fails', JSON.stringify(fifth.tts));
  await page.evaluate(() => { window.__SWITCHBOARD_MOCK__.state.modelsError = null; });

  // API keys: sent once through set_secret, never shown again.
  const secretKey = 'sk-test-DO-NOT-SHOW-4242';
  check(await page.locator('.secret-row').count() === 5, 'one row per known key');
  check((await page.locator('[data-secret="livekit_api_key"] [data-status]').textContent()) === 'from environment', 'environment status badge');
  await page.fill('[data-secret="llm_api_key"] input[type="password"]', secretKey);
  await page.click('[data-secret="llm_api_key"] [data-action="save-key"]');
  await page.waitForSelector('[data-secret="llm_api_key"] [data-status="keyring"]');
  const setCalls = (await mockCalls()).filter((c) => c.cmd === 'set_secret').map((c) => c.args);
  check(setCalls.length === 1 && isDeepStrictEqual(setCalls[0], { name: 'llm_api_key', value: secretKey }), 'key sent through set_secret', JSON.stringify(setCalls.map((a) => a.name)));
  check((await page.locator('[data-secret="llm_api_key"] [data-status]').textContent()) === 'in keyring', 'badge says in keyring');
  const values = await page.$$eval('input', (els) => els.map((e) => e.value));
  check(!(await page.content()).includes(secretKey) && !values.includes(secretKey), 'the key is not in the DOM or any input afterwards');
  check(!(await mockCalls()).some((c) => c.cmd === 'save_settings' && JSON.stringify(c.args).includes(secretKey)), 'the key never goes into save_settings');
  await page.click('[data-secret="llm_api_key"] [data-action="remove-key"]');
  await page.waitForSelector('[data-secret="llm_api_key"] [data-status="missing"]');
  check((await mockCalls()).some((c) => c.cmd === 'delete_secret' && c.args.name === 'llm_api_key'), 'remove calls delete_secret');
  await page.evaluate(() => { window.__SWITCHBOARD_MOCK__.state.keyringDown = true; });
  await page.fill('[data-secret="deepgram_api_key"] input[type="password"]', 'dg-123');
  await page.click('[data-secret="deepgram_api_key"] [data-action="save-key"]');
  await page.waitForSelector('[data-secret="deepgram_api_key"] [data-error="key"]');
  const kerr = await page.locator('[data-secret="deepgram_api_key"] [data-error="key"]').textContent();
  check(kerr.includes('the OS keyring is not available'), 'keyring_unavailable shown in place', kerr);
  check(await page.inputValue('[data-secret="deepgram_api_key"] input[type="password"]') === '', 'a refused key is cleared from the input too');
  await page.click('[data-action="refresh-models"]');
  await page.waitForSelector('[data-section="models"] [data-model]');
  await page.selectOption('select[name="llm_engine"]', 'local:qwen2.5-0.5b');
  await page.selectOption('select[name="tts_english"]', 'piper');
  await page.screenshot({ path: join(artifacts, 'settings-en.png'), fullPage: true });
  await page.locator('[data-section="models"]').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(artifacts, 'models-en.png') });

  // Arabic settings page: right to left, saved with the rest unchanged.
  const savesBeforeAr = (await savesHere()).length;
  await page.click('input[data-lang="ar"]');
  await page.waitForFunction(() => document.documentElement.dir === 'rtl');
  check((await page.locator('.settings-view h1').textContent()) === 'الإعدادات', 'settings heading in Arabic');
  check((await page.locator('[data-secret="llm_api_key"] [data-status]').textContent()) === 'غير مُعيَّن', 'key status in Arabic');
  await waitSaves(savesBeforeAr + 1);
  const arSave = (await savesHere()).at(-1).settings;
  check(arSave.ui_lang === 'ar' && arSave.turn.silence_hold_ms === 700 && arSave.audio.output_device === 'Speakers', 'language switch saved with the other settings', JSON.stringify(arSave));
  const arEngines = await page.$$eval('select[name="llm_engine"] option', (os) => os.map((o) => o.textContent));
  check(JSON.stringify(arEngines) === JSON.stringify(['محلي — Qwen2.5 0.5B (على هذا الحاسوب)', 'محلي — SmolLM2 135M (الأسرع والأقل دقة)', 'خادم متوافق مع OpenAI', 'ردود مدمجة (بدون نموذج لغوي)']),
    'LLM engine choices in Arabic', JSON.stringify(arEngines));
  check((await textOf('[data-section="models"] h2')) === 'النماذج المحلية' && (await textOf('[data-action="refresh-models"]')) === 'تحديث'
    && (await textOf('[data-model="qwen2.5-0.5b"] [data-status]')) === 'غير مثبّت' && (await textOf('[data-model="whisper-base"] [data-status]')) === 'مثبّت',
    'models panel in Arabic');
  check((await textOf('label:has(input[name="smart_turn"])')).includes('نهاية الدور حسب المعنى')
    && (await textOf('select[name="tts_english"] option[value="piper"]')) === 'Piper — Joe (صوت عصبي، إنجليزي)', 'Smart Turn and Piper labels in Arabic');
  const arWarn = await page.$$eval('[data-missing="qwen2.5-0.5b"]', (els) => els.map((e) => ({ text: e.textContent, dir: e.getAttribute('dir') })));
  check(arWarn.length === 1 && arWarn[0].dir === 'auto' && arWarn[0].text.includes('غير مثبّت') && arWarn[0].text.includes('الردود المدمجة') && arWarn[0].text.includes('switchboard models fetch --only qwen2.5-0.5b'),
    'missing-model warning in Arabic (dir=auto, command in Latin script)', JSON.stringify(arWarn));
  await page.selectOption('select[name="llm_engine"]', 'server');
  const urlDir = await page.$eval('input[name="llm_base_url"]', (e) => getComputedStyle(e).direction);
  check(urlDir === 'ltr', 'URL field stays left-to-right in Arabic', urlDir);
  await page.screenshot({ path: join(artifacts, 'settings-ar.png'), fullPage: true });
  await page.locator('[data-section="providers"]').screenshot({ path: join(artifacts, 'providers-ar.png') });
  await page.locator('[data-section="models"]').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(artifacts, 'models-ar.png') });
  await page.click('input[data-lang="en"]');
  await page.waitForFunction(() => document.documentElement.dir === 'ltr');

  console.log('call from my microphone');
  await page.click('[data-nav="wall"]');
  await page.evaluate(() => { window.__SWITCHBOARD_MOCK__.state.micError = { code: 'device_unavailable', message: 'The sound device "default" is not available (no sound server). Check that it is connected and not used by another program, or that the sound system is running.' }; });
  await page.click('button.mic-call');
  await page.waitForSelector('.wall .inline-error[data-code="device_unavailable"]');
  check((await page.locator('.wall .inline-error').textContent()).includes('is not available'), 'no sound device: clear message on the wall');
  check(await page.locator('.card').count() >= 3 && await page.locator('button.mic-call').isEnabled(), 'the rest of the wall keeps working');
  await page.evaluate(() => { window.__SWITCHBOARD_MOCK__.state.micError = null; });
  await page.click('button.mic-call');
  await page.waitForFunction(() => window.__SWITCHBOARD_MOCK__.calls.some((c) => c.cmd === 'start_mic_call'));
  await emitAll([{ call_id: 'mic-call-1', t_ms: 0, type: 'call_started', customer: { id: null, phone: null, name: null }, lang: 'auto', persona: 'reception', transport: 'local', started_at_ms: Date.now() }]);
  await page.waitForSelector('.call-view[data-call-id="mic-call-1"]');
  check(await page.locator('.wall .inline-error').count() === 0, 'error cleared once the call started');
  check((await page.locator('.call-view .controls').textContent()).includes('This computer'), 'single-seat call marked as on this computer');
  check(await page.locator('.controls button.listen').isDisabled(), 'a single-seat call already plays on the speakers: no listen-in');

  console.log('join a LiveKit room');
  await page.click('[data-nav="wall"]');
  await page.evaluate(() => { window.__SWITCHBOARD_MOCK__.state.roomError = { code: 'livekit_connect_failed', message: 'cannot join the LiveKit room: engine: signal failure: transport connection error: IO error: Connection refused (os error 111)' }; });
  await page.click('button.join-room');
  check(await page.locator('form.join-form button[type="submit"]').isDisabled(), 'Join waits for a room name');
  await page.fill('input[name="livekit_room"]', 'دعم-العملاء-7');
  check((await page.$eval('input[name="livekit_room"]', (e) => getComputedStyle(e).direction)) === 'rtl', 'an Arabic room name is typed right to left');
  await page.click('form.join-form button[type="submit"]');
  await page.waitForSelector('.wall .inline-error[data-error="livekit"][data-code="livekit_connect_failed"]');
  check((await page.locator('.wall .inline-error[data-error="livekit"]').textContent()).includes('Connection refused'), 'a room that cannot be joined: the cause on the wall');
  const joinArgs = await page.evaluate(() => window.__SWITCHBOARD_MOCK__.calls.filter((c) => c.cmd === 'join_livekit_room').map((c) => c.args));
  check(joinArgs.length === 1 && joinArgs[0].room === 'دعم-العملاء-7' && joinArgs[0].lang === 'auto', 'the room name reaches the shell as typed', JSON.stringify(joinArgs));
  await page.evaluate(() => { window.__SWITCHBOARD_MOCK__.state.roomError = null; });
  await page.click('form.join-form button[type="submit"]');
  await emitAll([{ call_id: 'room-call-1', t_ms: 0, type: 'call_started', customer: { id: null, phone: '+971501234567', name: null }, lang: 'auto', persona: 'reception', transport: 'livekit', started_at_ms: Date.now() }]);
  await page.waitForSelector('.call-view[data-call-id="room-call-1"]');
  await page.click('[data-nav="wall"]');
  await page.waitForSelector('.wall');
  check(await page.locator('.wall .inline-error[data-error="livekit"]').count() === 0 && await page.locator('form.join-form').count() === 0,
    'LiveKit error cleared and the form closed once the call started');

  console.log('listen in on a LiveKit room');
  await page.click('button.join-room');
  await page.fill('input[name="livekit_room"]', 'worker-room-3');
  await page.evaluate(() => { window.__SWITCHBOARD_MOCK__.state.roomError = { code: 'device_unavailable', message: 'The sound device "default" is not available (no sound server).' }; });
  await page.click('form.join-form button.listen-room');
  await page.waitForSelector('.wall .inline-error[data-error="livekit"][data-code="device_unavailable"]');
  check(await page.locator('.room-listening').count() === 0, 'no speakers: the cause in place, not listening');
  await page.evaluate(() => { window.__SWITCHBOARD_MOCK__.state.roomError = null; });
  await page.click('form.join-form button.listen-room');
  await page.waitForSelector('.room-listening');
  check((await page.locator('.room-listening').textContent()).includes('worker-room-3'), 'listening in on the room is shown');
  // The worker's call in that room joins the wall through the room.
  await emitAll([{ call_id: 'worker-call-9', t_ms: 0, type: 'call_started', customer: { id: null, phone: '+966551234567', name: 'نورة' }, lang: 'ar', persona: 'support', transport: 'livekit', started_at_ms: Date.now(), room: 'worker-room-3' },
    { call_id: 'worker-call-9', t_ms: 900, type: 'transcript', speaker: 'customer', text: 'الإنترنت مقطوع منذ الصباح', lang: 'ar', final: true, turn: 1 }]);
  await page.waitForSelector('.wall [data-call-id="worker-call-9"]');
  check((await page.locator('.wall [data-call-id="worker-call-9"]').textContent()).includes('نورة'), 'a worker-hosted call is on the wall like any other');
  await page.click('.wall [data-call-id="worker-call-9"]');
  await page.waitForSelector('.call-view[data-call-id="worker-call-9"] .room-note');
  check((await page.locator('.call-view .room-note').textContent()).includes('worker-room-3'), 'the call view names its LiveKit room');
  await page.click('[data-nav="wall"]');
  await page.waitForSelector('.wall');
  await page.evaluate(() => { window.__SWITCHBOARD_MOCK__.state.listed = [{ call_id: 'room-call-1', customer: { id: null, phone: '+971501234567', name: null }, controller: 'ai', persona: 'reception', pinned: null, turns: 0, sentiment_trend: 0, busy: false, agent_speaking: false, ended: false }]; });
  const listenArgs = await page.evaluate(() => window.__SWITCHBOARD_MOCK__.calls.filter((c) => c.cmd === 'listen_livekit_room').map((c) => c.args));
  check(listenArgs.length === 2 && listenArgs[1].room === 'worker-room-3', 'the room reaches the shell', JSON.stringify(listenArgs));
  await page.click('.room-listening button.stop-listening-room');
  await page.waitForFunction(() => !document.querySelector('.room-listening'));
  const stopArgs = await page.evaluate(() => window.__SWITCHBOARD_MOCK__.calls.filter((c) => c.cmd === 'listen_livekit_room').map((c) => c.args).at(-1));
  check(stopArgs && stopArgs.room === null, 'stop listening asks the shell to leave the room', JSON.stringify(stopArgs));
  await page.waitForFunction(() => !document.querySelector('.wall [data-call-id="worker-call-9"]'));
  check(await page.locator('.wall [data-call-id="room-call-1"]').count() === 1, 'leaving the room takes its worker calls off the wall and keeps the console\'s own');

  console.log('replay');
  const sinceReplay = (await mockCalls()).length;
  const replayCalls = async (cmd) => (await mockCalls()).slice(sinceReplay).filter((c) => c.cmd === cmd).map((c) => c.args);
  const waitCall = (cmd, n = 1) => page.waitForFunction(([from, c, k]) => window.__SWITCHBOARD_MOCK__.calls.slice(from).filter((x) => x.cmd === c).length >= k, [sinceReplay, cmd, n]);
  await page.waitForSelector('[data-testid="recording-indicator"]');
  const recTitle = await page.getAttribute('[data-testid="recording-indicator"]', 'title');
  check((await page.locator('[data-testid="recording-indicator"]').textContent()).includes('Recording') && recTitle.includes('Calls are being recorded'),
    'recording indicator in the header while calls are recorded, with a tooltip', recTitle);
  await page.click('[data-nav="replay"]');
  await page.waitForSelector('[data-testid="replay-results"] [data-testid="replay-row"]');
  const rowIds = await attrs('[data-testid="replay-row"]', 'data-call-id');
  check(JSON.stringify(rowIds) === JSON.stringify([LONG_CALL, 'past-en-1', 'past-mixed-1']), 'Replay lists the past calls', JSON.stringify(rowIds));
  const firstFind = (await replayCalls('find_calls'))[0];
  check(firstFind && isDeepStrictEqual(firstFind.filter, {}), 'history opens with an unfiltered find_calls', JSON.stringify(firstFind));
  check(await page.locator('[data-testid="replay-row"][data-call-id="past-en-1"] [data-testid="replay-recorded"]').count() === 1
    && await page.locator('[data-testid="replay-row"][data-call-id="past-mixed-1"] [data-testid="replay-recorded"]').count() === 0, 'recorded calls are marked');
  const longRow = await textOf(`[data-testid="replay-row"][data-call-id="${LONG_CALL}"]`);
  check(longRow.includes('Rana') && longRow.includes('1:00:02') && longRow.includes('-0.80') && longRow.includes('Customer hung up') && !longRow.includes('+963944000111'),
    'a row shows customer (phone masked), duration, outcome and lowest sentiment', longRow);
  await page.waitForSelector('[data-testid="replay-persona-scores"] table');
  check((await textOf('[data-testid="replay-persona-scores"]')).includes('4.2 (calls: 5)'), 'scores per persona table');

  await page.fill('[data-testid="replay-filter-keyword"]', ' الراوتر خربان ');
  await page.fill('[data-testid="replay-filter-from"]', '2024-05-01');
  await page.fill('[data-testid="replay-filter-to"]', '2024-05-31');
  await page.selectOption('[data-testid="replay-filter-intervened"]', 'yes');
  await page.fill('[data-testid="replay-filter-sentiment"]', '-0.5');
  await page.click('[data-testid="replay-search"]');
  await waitCall('find_calls', 2);
  const keywordFilter = (await replayCalls('find_calls'))[1].filter;
  const [mayFrom, mayTo] = await page.evaluate(() => [new Date(2024, 4, 1).getTime(), new Date(2024, 5, 1).getTime()]);
  check(isDeepStrictEqual(keywordFilter, { keyword: 'الراوتر خربان', from_ms: mayFrom, to_ms: mayTo, intervened: true, sentiment_below: -0.5 }),
    'filter by keyword (and dates, intervened, sentiment) calls find_calls with that filter, empty fields left out', JSON.stringify(keywordFilter));
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="replay-row"]').length === 1);
  check(JSON.stringify(await attrs('[data-testid="replay-row"]', 'data-call-id')) === JSON.stringify([LONG_CALL]), 'only the matching call is listed');
  await page.screenshot({ path: join(artifacts, 'replay-history-en.png'), fullPage: true });

  await page.evaluate(() => { window.__SWITCHBOARD_MOCK__.state.replay.findError = { code: 'crm_unavailable', message: 'the CRM database is not reachable' }; });
  await page.click('[data-testid="replay-search"]');
  await page.waitForSelector('[data-testid="replay-error"][data-code="crm_unavailable"]');
  check((await textOf('[data-testid="replay-error"]')).includes('the CRM database is not reachable'), 'a failed search says why, in place');
  await page.evaluate(() => { window.__SWITCHBOARD_MOCK__.state.replay.findError = null; });
  await page.click('.replay-filter button:has-text("Clear")');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="replay-row"]').length === 3);

  // A call with hostile lines: shown as text.
  await page.click('[data-testid="replay-row"][data-call-id="past-mixed-1"] td:nth-child(2)');
  await page.waitForSelector('.replay-view[data-call-id="past-mixed-1"] [data-testid="replay-line"]');
  const mixedText = await textOf('[data-testid="replay-lines"]');
  for (const h of hostile) check(mixedText.includes(h), `replay: hostile line shown literally: ${JSON.stringify(h).slice(0, 40)}`);
  check((await textOf('.replay-summary')).includes(hostile[0]), 'replay: hostile summary shown literally');
  check(await page.locator('img').count() === 0, 'replay: no <img> element created');
  const bdis = await page.$$eval('[data-testid="replay-line"] .utterance', (els) => els.map((e) => `${e.tagName}:${e.getAttribute('dir')}`));
  check(bdis.length === 4 && bdis.every((d) => d === 'BDI:auto'), 'each transcript line is a <bdi dir="auto">', JSON.stringify(bdis));
  check((await textOf('.warn-text')).includes('1 recorded events could not be read'), 'unreadable events are reported');

  // A recording: played through <audio>, at the chosen speed with the pitch kept.
  await page.evaluate(() => { window.__SWITCHBOARD_MOCK__.state.replay.recordingUrls['past-en-1'] = 'tone:95'; });
  await page.click('.replay-view button.back');
  await page.click('[data-testid="replay-row"][data-call-id="past-en-1"] td:nth-child(2)');
  await page.waitForSelector('[data-testid="replay-audio"]', { state: 'attached' });
  check(await page.locator('[data-testid="replay-audio-note"]').count() === 0, 'a recording: no note about missing sound');
  await page.selectOption('[data-testid="replay-speed"]', '1.5');
  await page.click('[data-testid="replay-play"]');
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="replay-seek"]').value) > 500, null, { timeout: 5000 }).catch(() => {});
  const rate15 = await page.$eval('[data-testid="replay-audio"]', (a) => a.playbackRate);
  await page.selectOption('[data-testid="replay-speed"]', '2');
  await page.waitForTimeout(300);
  const stillPlaying = await page.$eval('[data-testid="replay-audio"]', (a) => !a.paused) && await page.getAttribute('[data-testid="replay-play"]', 'aria-pressed') === 'true';
  await page.click('[data-testid="replay-play"]');
  const audioState = await page.$eval('[data-testid="replay-audio"]', (a) => ({ rate: a.playbackRate, pitch: a.preservesPitch, t: a.currentTime, paused: a.paused }));
  const shown = Number(await page.inputValue('[data-testid="replay-seek"]'));
  check(rate15 === 1.5 && audioState.rate === 2 && audioState.pitch === true && audioState.t > 0.5 && audioState.paused && Math.abs(shown - audioState.t * 1000) < 300,
    'the recording plays through <audio> at the chosen speed with the pitch kept, the position follows it', JSON.stringify({ rate15, ...audioState, shown }));
  check(stillPlaying, 'changing the speed while the recording plays keeps it playing');

  // A recording this webview cannot play: the clock takes over and says why.
  await page.evaluate(() => { window.__SWITCHBOARD_MOCK__.state.replay.recordingUrls['past-en-1'] = 'not-audio'; });
  await page.click('.replay-view button.back');
  await page.click('[data-testid="replay-row"][data-call-id="past-en-1"] td:nth-child(2)');
  await page.waitForSelector('[data-testid="replay-audio-note"][data-reason="failed"]');
  check((await textOf('[data-testid="replay-audio-note"]')).includes('cannot be played here') && (await replayCalls('recording_audio')).some((a) => a.callId === 'past-en-1'),
    'an unplayable recording falls back to the virtual clock, with the reason shown');
  await page.click('[data-testid="replay-play"]');
  await page.waitForTimeout(400);
  await page.click('[data-testid="replay-play"]');
  check(Number(await page.inputValue('[data-testid="replay-seek"]')) > 200, 'the virtual clock plays after the audio failed');

  // The long call: open time measured from the click until its 1,200 lines are in the page.
  await page.click('.replay-view button.back');
  await page.waitForSelector(`[data-testid="replay-row"][data-call-id="${LONG_CALL}"]`);
  const openMs = await page.evaluate(async ([id, n]) => {
    const t0 = performance.now();
    document.querySelector(`[data-testid="replay-row"][data-call-id="${id}"] td:nth-child(2)`).click();
    await new Promise((res) => { const poll = () => (document.querySelectorAll('[data-testid="replay-line"]').length >= n ? res() : requestAnimationFrame(poll)); poll(); });
    // Until the frame with the lines has been laid out and painted.
    await new Promise((res) => requestAnimationFrame(() => setTimeout(res, 0)));
    return performance.now() - t0;
  }, [LONG_CALL, LONG_LINES]);
  console.log(`  replay open ${LONG_LINES} lines: ${openMs.toFixed(0)} ms`);
  check(openMs < 3000, 'the 1,200-line replay opens in under 3 s', openMs.toFixed(0));
  check(await page.locator('[data-testid="replay-line"]').count() === LONG_LINES, 'all 1,200 lines listed');
  check((await replayCalls('load_replay')).some((a) => isDeepStrictEqual(a, { callId: LONG_CALL })), 'load_replay {callId}');
  check((await page.getAttribute('[data-testid="replay-audio-note"]', 'data-reason')) === 'no_recording' && (await textOf('[data-testid="replay-audio-note"]')).includes('no recording'),
    'no recording: a note says the timeline plays without sound');
  check((await textOf('[data-testid="replay-time"]')) === '0:00 / 1:00:02', 'time shows position / duration', await textOf('[data-testid="replay-time"]'));
  const kinds = await page.$$eval('[data-testid="replay-timeline"] .mark', (els) => els.map((e) => e.getAttribute('data-kind')));
  const count = (k) => kinds.filter((x) => x === k).length;
  check(count('persona') === 2 && count('supervisor') === 3 && count('ticket') === 1 && count('barge_in') === 1 && count('human') === 1 && count('error') === 1 && count('annotation') === 2,
    'timeline marks persona changes, supervisor actions, ticket, barge-in, human request, error and comments', JSON.stringify(kinds));
  const personaTitle = await textOf('[data-testid="replay-timeline"] .mark-persona title');
  check(personaTitle.includes('Ahmed · reception → Mohammed · support') && personaTitle.includes('complaint with negative sentiment'), 'persona marker says from → to and why', personaTitle);
  const wavePaths = await page.$$eval('[data-testid="replay-timeline"] path.wave', (els) => els.map((e) => (e.getAttribute('d') ?? '').split('M').length - 1));
  check(wavePaths.length === 2 && wavePaths.every((n) => n > 100), 'waveform bars for both channels', JSON.stringify(wavePaths));
  check((await page.$$eval('[data-testid="replay-timeline"] polyline', (els) => els.map((e) => e.getAttribute('points').split(' ').length))).every((n) => n === LONG_LINES / 2), 'sentiment score and trend curves');
  check(await page.$eval('[data-testid="replay-timeline"]', (e) => getComputedStyle(e).direction) === 'ltr', 'the timeline runs left to right');

  // Clicking a line seeks there and highlights it.
  const target = 600;
  const targetSel = `[data-testid="replay-line"][data-index="${target}"]`;
  await page.locator(targetSel).scrollIntoViewIfNeeded();
  await page.click(`${targetSel} .utterance`);
  await page.waitForSelector(`${targetSel}[aria-current="true"]`);
  const wantClock = `${Math.floor((target * LINE_MS) / 60000)}:${String(Math.floor(((target * LINE_MS) % 60000) / 1000)).padStart(2, '0')}`;
  check((await textOf('[data-testid="replay-time"]')).startsWith(wantClock + ' /'), 'clicking a line seeks: the current time shows its start', `${await textOf('[data-testid="replay-time"]')} vs ${wantClock}`);
  check(JSON.stringify(await attrs('[data-testid="replay-line"][aria-current="true"]', 'data-index')) === JSON.stringify([String(target)]), 'exactly that line is aria-current');
  const playheadX = Number(await page.getAttribute('[data-testid="replay-playhead"]', 'x1'));
  const tlWidth = await page.$eval('[data-testid="replay-timeline"] svg', (e) => e.getBoundingClientRect().width);
  check(Math.abs(playheadX - tlWidth * (target * LINE_MS) / (LONG_LINES * LINE_MS + 2000)) < 2, 'the playhead moved with it', `${playheadX} of ${tlWidth}`);
  const inView = await page.$eval(targetSel, (el) => { const r = el.getBoundingClientRect(); const p = el.parentElement.getBoundingClientRect(); return r.top >= p.top && r.bottom <= p.bottom; });
  check(inView, 'the current line is scrolled into view in the transcript');

  // Clicking the timeline seeks too.
  await page.locator('[data-testid="replay-timeline"] svg').scrollIntoViewIfNeeded();
  const box = await page.locator('[data-testid="replay-timeline"] svg').boundingBox();
  await page.mouse.click(box.x + box.width * 0.25, box.y + box.height - 4);
  await page.waitForFunction(() => /^1[45]:/.test(document.querySelector('[data-testid="replay-time"]').textContent));
  const clickedAt = Number(await page.inputValue('[data-testid="replay-seek"]'));
  const clickedLine = Number((await attrs('[data-testid="replay-line"][aria-current="true"]', 'data-index'))[0]);
  // One pixel is ~3.4 s of this hour-long call.
  check(Math.abs(clickedAt - 0.25 * (LONG_LINES * LINE_MS + 2000)) < 5000 && clickedLine === Math.floor(clickedAt / LINE_MS), 'clicking the timeline seeks and moves the highlight', `${clickedAt} ms, line ${clickedLine}`);

  // Speed 2×: the virtual clock runs twice as fast.
  await page.selectOption('[data-testid="replay-speed"]', '2');
  check(await page.inputValue('[data-testid="replay-speed"]') === '2', 'speed select set to 2×');
  const startPos = Number(await page.inputValue('[data-testid="replay-seek"]'));
  const tPlay = Date.now();
  await page.click('[data-testid="replay-play"]');
  await page.waitForTimeout(1000);
  await page.click('[data-testid="replay-play"]');
  const played = Number(await page.inputValue('[data-testid="replay-seek"]')) - startPos;
  const wall = Date.now() - tPlay;
  check(played > 1.5 * 900 && played <= 2 * wall + 200, 'at 2× the clock advances about twice the real time', `${played} ms in ${wall} ms`);
  check(await page.getAttribute('[data-testid="replay-play"]', 'aria-pressed') === 'false', 'paused again');

  // Comments.
  await page.click(`[data-testid="replay-line"][data-index="${target}"] .rtime`);
  await page.fill('[data-testid="replay-comment-author"]', 'Trainer Lina');
  await page.fill('[data-testid="replay-comment-body"]', 'Calm reply here <b>well done</b>');
  check((await textOf('[data-testid="replay-comment-add"]')).includes(wantClock), 'the comment button names the current time');
  await page.click('[data-testid="replay-comment-add"]');
  await waitCall('add_annotation');
  const ann = (await replayCalls('add_annotation'))[0];
  check(isDeepStrictEqual(ann, { annotation: { call_id: LONG_CALL, at_ms: target * LINE_MS, author: 'Trainer Lina', body: 'Calm reply here <b>well done</b>' } }), 'add_annotation at the current time', JSON.stringify(ann));
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="replay-annotation"]').length === 3);
  const annTexts = await page.$$eval('[data-testid="replay-annotation"]', (els) => els.map((e) => e.textContent));
  check(annTexts[1].includes('Trainer Lina') && annTexts[1].includes('<b>well done</b>') && await page.locator('.replay-annotations b').count() === 0, 'the new comment is listed in time order, as text', JSON.stringify(annTexts));
  check(await page.evaluate(() => localStorage.getItem('switchboard.replay.author')) === 'Trainer Lina', 'the author is remembered');
  check(await page.locator('[data-testid="replay-timeline"] .mark[data-kind="annotation"]').count() === 3, 'the new comment is marked on the timeline');
  await page.click('[data-testid="replay-annotation"][data-id="ann-2"] .annotation-seek');
  await page.waitForFunction(() => document.querySelector('[data-testid="replay-time"]').textContent.startsWith('38:33'));
  check(true, 'clicking a comment seeks to it');
  const newId = await page.getAttribute('[data-testid="replay-annotation"]:nth-child(2)', 'data-id');
  await page.click(`[data-testid="replay-annotation"][data-id="${newId}"] [data-testid="replay-annotation-delete"]`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="replay-annotation"]').length === 2);
  check(isDeepStrictEqual((await replayCalls('delete_annotation'))[0], { id: newId }), 'delete_annotation {id}');

  // Scorecard.
  const criteria = await attrs('[data-testid="replay-score"]', 'data-criterion');
  check(JSON.stringify(criteria) === JSON.stringify(['greeting', 'empathy', 'resolution', 'compliance']), 'one row per criterion from replay_settings', JSON.stringify(criteria));
  check(await page.inputValue('[data-criterion="greeting"] [data-testid="replay-score-select"]') === '4' && (await textOf('[data-criterion="greeting"] [data-testid="replay-score-state"]')).includes('4/5'), 'existing score shown');
  await page.selectOption('[data-criterion="empathy"] [data-testid="replay-score-select"]', '3');
  await page.fill('[data-criterion="empathy"] [data-testid="replay-score-note"]', 'calm tone');
  await page.click('[data-criterion="empathy"] [data-testid="replay-score-save"]');
  await waitCall('set_score');
  const sc = (await replayCalls('set_score'))[0];
  check(isDeepStrictEqual(sc, { callId: LONG_CALL, criterion: 'empathy', score: 3, note: 'calm tone' }), 'set_score {callId, criterion, score, note}', JSON.stringify(sc));
  await page.waitForFunction(() => document.querySelector('[data-criterion="empathy"] [data-testid="replay-score-state"]').textContent.includes('3/5'));
  check(true, 'saved score shown');

  // Export (WebVTT) as a download.
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 5000 }), page.click('[data-testid="replay-export-vtt"]')]);
  check(dl.suggestedFilename() === `call-${LONG_CALL}.vtt`, 'export offers call-<id>.vtt for download', dl.suggestedFilename());
  check(isDeepStrictEqual((await replayCalls('export_call'))[0], { callId: LONG_CALL, format: 'vtt' }), "export_call {callId, format: 'vtt'}");

  // Re-run with today's pipeline.
  await page.click('[data-testid="replay-rerun"]');
  await page.waitForSelector('[data-testid="replay-rerun-busy"]');
  check(await page.locator('[data-testid="replay-rerun"]').isDisabled(), 're-run shows a busy state');
  await page.waitForSelector('[data-testid="replay-rerun-table"]');
  const rerunRows = await page.$$eval('[data-testid="replay-rerun-row"]', (els) => els.map((e) => [...e.querySelectorAll('td')].map((td) => td.textContent)));
  check(rerunRows.length === 6 && rerunRows[0][2].includes('Ahmed') && rerunRows[0][2].includes('ms') && rerunRows[0][3].includes('Mohammed') && rerunRows[0][3].includes('opening a ticket') === false && rerunRows[0][3].includes('سأفتح تذكرة')
    && rerunRows[0][1].includes('heard today'), 'the re-run shows then and today side by side per turn', JSON.stringify(rerunRows[0]));
  check(isDeepStrictEqual((await replayCalls('rerun_call'))[0], { callId: LONG_CALL }), 'rerun_call {callId}');
  await page.click(`${targetSel} .rtime`);
  await page.evaluate(() => { document.querySelector('.content').scrollTo(0, 0); for (const b of document.querySelectorAll('.toast-close')) b.click(); });
  await page.screenshot({ path: join(artifacts, 'replay-en.png') });
  await page.locator('.replay-rerun').screenshot({ path: join(artifacts, 'replay-rerun-en.png') });

  await page.click('[data-nav="lang"]');
  await page.waitForFunction(() => document.documentElement.dir === 'rtl');
  await page.evaluate(() => document.querySelector('.content').scrollTo(0, 0));
  check(await page.$eval('[data-testid="replay-timeline"]', (e) => getComputedStyle(e).direction) === 'ltr' && (await textOf('[data-testid="replay-play"]')).includes('تشغيل'),
    'Arabic: the controls are in Arabic, the timeline still runs left to right');
  const replayLtr = await page.evaluate(() => [...document.querySelectorAll('.replay-view .phone, [data-testid="replay-time"], [data-testid="replay-line"] .rtime')].slice(0, 6).map((el) => {
    const t = el.firstChild; const r = document.createRange();
    r.setStart(t, 0); r.setEnd(t, 1); const first = r.getBoundingClientRect().x;
    r.setStart(t, t.length - 1); r.setEnd(t, t.length); return first < r.getBoundingClientRect().x;
  }));
  check(replayLtr.length === 6 && replayLtr.every(Boolean), 'Arabic: phone, clock and line times not mirrored', JSON.stringify(replayLtr));
  const arLine = await page.$eval('[data-testid="replay-line"][data-index="0"] .utterance', (e) => [getComputedStyle(e).direction, e.textContent]);
  check(arLine[0] === 'rtl' && /[\u0600-\u06FF]/.test(arLine[1]), 'an Arabic line runs right to left', JSON.stringify(arLine));
  await page.screenshot({ path: join(artifacts, 'replay-ar.png') });
  await page.click('[data-nav="lang"]');
  await page.waitForFunction(() => document.documentElement.dir === 'ltr');

  // Recording indicator follows replay_settings.
  await page.evaluate(() => { window.__SWITCHBOARD_MOCK__.state.replay.settings.recording = false; });
  await page.click('[data-nav="wall"]');
  await page.waitForFunction(() => !document.querySelector('[data-testid="recording-indicator"]'));
  check(true, 'no recording indicator when calls are not recorded');
  await page.evaluate(() => { window.__SWITCHBOARD_MOCK__.state.replay.settings.recording = true; });
  await page.click('[data-nav="tickets"]');
  await page.waitForSelector('[data-testid="recording-indicator"]');
  check(true, 'the indicator is back on another page once recording is on');

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
