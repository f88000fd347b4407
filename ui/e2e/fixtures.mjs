// Scripted CallEvent streams for the page tests: three calls, Arabic and English mixed.
export const hostile = ['<img src=x onerror=alert(1)>', '</script><script>alert(2)</script>', '\u202Egnp.exe'];

export function events() {
  const start = Date.now() - 60_000;
  const ev = (call_id, t_ms, type, f) => ({ call_id, t_ms, type, ...f });
  const angry = 'call-angry';
  const happy = 'call-happy';
  const mixed = 'call-mixed';
  return [
    ev(angry, 0, 'call_started', { customer: { id: 'cust-rana', phone: '+963944000111', name: 'Rana' }, lang: 'ar', persona: 'reception', transport: 'simulated', started_at_ms: start }),
    ev(happy, 0, 'call_started', { customer: { id: null, phone: '+447700900123', name: 'John Smith' }, lang: 'en', persona: 'reception', transport: 'simulated', started_at_ms: start + 5000 }),
    ev(mixed, 0, 'call_started', { customer: { id: null, phone: '+971501234567', name: 'منى' }, lang: 'auto', persona: 'reception', transport: 'simulated', started_at_ms: start + 9000 }),

    ev(angry, 100, 'transcript', { speaker: 'agent', text: 'مرحباً يا Rana، معك أحمد من الاستقبال.', lang: 'ar', final: true, turn: 0, persona: 'reception' }),
    ev(angry, 2000, 'transcript', { speaker: 'customer', text: 'الراوتر', lang: 'ar', final: false, turn: 1 }),
    ev(angry, 2600, 'transcript', { speaker: 'customer', text: 'الراوتر خربان من أسبوع وما حدا ساعدني', lang: 'ar', final: true, turn: 1 }),
    ev(angry, 2600, 'sentiment', { turn: 1, score: -0.62, label: 'negative', trend: -0.62 }),
    ev(angry, 2600, 'persona_changed', { from: 'reception', to: 'support', reason: 'rule', turn: 1, why: 'complaint with negative sentiment' }),
    ev(angry, 3000, 'transcript', { speaker: 'agent', text: 'أهلاً، معك', lang: 'ar', final: true, turn: 1, persona: 'support', interrupted: true }),
    ev(angry, 3000, 'barge_in', { turn: 1, heard: 'أهلاً، معك', dropped: 'محمد من الدعم الفني، أتفهم استياءك.' }),
    ev(angry, 4000, 'transcript', { speaker: 'customer', text: 'بدي أحكي مع المدير هلق!', lang: 'ar', final: true, turn: 2 }),
    ev(angry, 4000, 'sentiment', { turn: 2, score: -0.8, label: 'negative', trend: -0.71 }),

    ev(happy, 100, 'transcript', { speaker: 'agent', text: 'Hello John, this is Ahmed from reception.', lang: 'en', final: true, turn: 0, persona: 'reception' }),
    ev(happy, 1500, 'transcript', { speaker: 'customer', text: 'Hi! I love the new plan, how much is the upgrade?', lang: 'en', final: true, turn: 1 }),
    ev(happy, 1500, 'sentiment', { turn: 1, score: 0.64, label: 'positive', trend: 0.64 }),
    ev(happy, 1600, 'persona_changed', { from: 'reception', to: 'sales', reason: 'rule', turn: 1, why: 'pricing question' }),
    ev(happy, 2100, 'turn_metrics', { turn: 1, eou_ms: 500, stt_ms: 12, llm_first_token_ms: 220, tts_first_audio_ms: 60, total_ms: 300, response_ms: 812 }),
    ev(happy, 2100, 'transcript', { speaker: 'agent', text: 'Great choice! The upgrade is 10 dollars a month.', lang: 'en', final: true, turn: 1, persona: 'sales' }),

    ev(mixed, 100, 'transcript', { speaker: 'agent', text: 'Hello, this is Ahmed. مرحباً!', lang: 'en', final: true, turn: 0, persona: 'reception' }),
    ev(mixed, 1200, 'transcript', { speaker: 'customer', text: 'مرحبا، my invoice shows ' + hostile[0], lang: 'ar', final: true, turn: 1 }),
    ev(mixed, 1200, 'sentiment', { turn: 1, score: -0.1, label: 'neutral', trend: -0.1 }),
    ev(mixed, 1300, 'persona_changed', { from: 'reception', to: 'support', reason: 'rule', turn: 1, why: 'billing question' }),
    ev(mixed, 1400, 'error', { turn: 1, stage: 'llm', code: 'llm_timeout', message: 'LLM stalled — template answered', fallback: 'template' }),
    ev(mixed, 1450, 'error', { turn: 1, stage: 'tts', code: 'tts_failed', message: 'elevenlabs is rate limiting (HTTP 429): Too many concurrent requests; elevenlabs is skipped for the next 60 s', fallback: 'espeak-ng' }),
    ev(mixed, 1480, 'agent_reply', { turn: 1, persona: 'support', lang: 'ar', text: 'سأتحقق من فاتورتك الآن.', provider: 'template', fallback: true }),
    ev(mixed, 1500, 'turn_metrics', { turn: 1, eou_ms: 500, stt_ms: 15, llm_first_token_ms: null, tts_first_audio_ms: 70, total_ms: 2100, response_ms: 2600, tts_provider: 'espeak-ng', stt_provider: 'whisper-base' }),
    ev(mixed, 1500, 'transcript', { speaker: 'agent', text: 'سأتحقق من فاتورتك الآن.', lang: 'ar', final: true, turn: 1, persona: 'support' }),
    ev(mixed, 2500, 'transcript', { speaker: 'customer', text: 'It also says ' + hostile[1] + ' and ' + hostile[2], lang: 'en', final: true, turn: 2 }),
    ev(mixed, 2600, 'human_requested', { turn: 2, reason: 'customer insists on a manager ' + hostile[0] }),
    ev(mixed, 2500, 'sentiment', { turn: 2, score: 0.05, label: 'neutral', trend: -0.02 }),
  ];
}

// ---- Replay: past calls, one long call (1,200 lines), one with hostile lines.
const day = (y, m, d, h, min) => new Date(y, m - 1, d, h, min).getTime();
export const LONG_CALL = 'past-ar-long';
export const LONG_LINES = 1200;
export const LINE_MS = 3000;

export function pastCalls() {
  const base = { transport: 'simulated', recording_blanked_ms: null, recording_ms: null };
  return [
    { ...base, id: LONG_CALL, customer_id: 'cust-rana', customer_name: 'Rana', customer_phone: '+963944000111', started_at: day(2024, 5, 12, 9, 30),
      ended_at: day(2024, 5, 12, 9, 30) + LONG_LINES * LINE_MS + 2000, outcome: 'customer_hangup', final_persona: 'sales',
      summary: 'الراوتر خربان منذ أسبوع؛ حُوّلت المكالمة إلى الدعم ثم المبيعات.', sentiment_avg: -0.12, sentiment_min: -0.8, recording: null, turns: LONG_LINES / 2, interventions: 3 },
    { ...base, id: 'past-en-1', customer_id: null, customer_name: 'John Smith', customer_phone: '+447700900123', started_at: day(2024, 6, 2, 14, 5),
      ended_at: day(2024, 6, 2, 14, 5) + 95_000, outcome: 'customer_hangup', final_persona: 'sales', summary: 'Asked about the upgrade price; happy with 10 dollars a month.',
      sentiment_avg: 0.5, sentiment_min: 0.1, recording: 'past-en-1.wav', recording_ms: 95_000, recording_blanked_ms: 1200, turns: 3, interventions: 0 },
    { ...base, id: 'past-mixed-1', customer_id: null, customer_name: 'منى', customer_phone: '+971501234567', started_at: day(2024, 6, 20, 11, 0),
      ended_at: day(2024, 6, 20, 11, 0) + 42_000, outcome: 'supervisor', final_persona: 'support', summary: 'Invoice question ' + hostile[0],
      sentiment_avg: -0.05, sentiment_min: -0.1, recording: null, turns: 2, interventions: 1 },
  ];
}

const pick = (arr, i) => arr[i % arr.length];

/** The replay of a past call: the long one is generated (~60 minutes, 1,200 lines). */
export function replayOf(call) {
  const ev = (t_ms, type, f) => ({ call_id: call.id, t_ms, type, ...f });
  if (call.id === 'past-mixed-1') {
    return {
      call, duration_ms: 42_000, waveform: null, unreadable_events: 1, scores: [], annotations: [],
      lines: [
        line(0, 'agent', 'Hello, this is Ahmed. مرحباً!', 'en', 'reception', 100, { latency: null }),
        line(1, 'customer', 'مرحبا، my invoice shows ' + hostile[0], 'ar', null, 4000, { sentiment: -0.1, sentiment_label: 'neutral' }),
        line(1, 'agent', 'سأتحقق من فاتورتك الآن.', 'ar', 'support', 9000, { latency: metrics(1, 2600) }),
        line(2, 'customer', 'It also says ' + hostile[1] + ' and ' + hostile[2], 'en', null, 15_000, { sentiment: 0.05, sentiment_label: 'neutral' }),
      ],
      sentiment: [{ at_ms: 4000, turn: 1, score: -0.1, trend: -0.1 }, { at_ms: 15_000, turn: 2, score: 0.05, trend: -0.02 }],
      markers: [
        ev(5000, 'persona_changed', { from: 'reception', to: 'support', reason: 'rule', turn: 1, why: 'billing question' }),
        ev(20_000, 'human_requested', { turn: 2, reason: 'customer insists on a manager ' + hostile[0] }),
        ev(30_000, 'supervisor', { action: 'end', persona: null, text: null }),
      ],
    };
  }
  if (call.id === 'past-en-1') {
    return {
      call, duration_ms: 95_000, unreadable_events: 0, annotations: [], scores: [],
      waveform: { customer: Array.from({ length: 800 }, (_, i) => Math.round(120 + 100 * Math.sin(i / 9))), heard: Array.from({ length: 800 }, (_, i) => Math.round(90 + 80 * Math.cos(i / 7))) },
      lines: [
        line(0, 'agent', 'Hello John, this is Ahmed from reception.', 'en', 'reception', 0, {}),
        line(1, 'customer', 'Hi! I love the new plan, how much is the upgrade?', 'en', null, 6000, { sentiment: 0.64, sentiment_label: 'positive' }),
        line(1, 'agent', 'Great choice! The upgrade is 10 dollars a month.', 'en', 'sales', 12_000, { latency: metrics(1, 812) }),
      ],
      sentiment: [{ at_ms: 6000, turn: 1, score: 0.64, trend: 0.64 }],
      markers: [ev(7000, 'persona_changed', { from: 'reception', to: 'sales', reason: 'rule', turn: 1, why: 'pricing question' })],
    };
  }
  // The long call: Arabic and English, three personas, a supervisor stepping in.
  const customerAr = ['الراوتر خربان من أسبوع وما حدا ساعدني', 'الإنترنت بطيء جداً بالليل', 'بدي أعرف ليش الفاتورة عالية', 'شكراً، هيك أحسن'];
  const customerEn = ['The router keeps dropping the connection', 'Can you check my line again?', 'How much is the faster plan?', 'OK, that sounds fine'];
  const agentAr = ['أتفهم استياءك، سأتحقق من الخط الآن.', 'حسناً، أعدت ضبط الاتصال من جهتنا.', 'الباقة الأسرع بعشرين دولاراً في الشهر.'];
  const agentEn = ['I understand, let me check your line.', 'I have reset the connection on our side.', 'The faster plan is 20 dollars a month.'];
  const lines = [];
  const sentiment = [];
  const persona = (i) => (i < 400 ? 'reception' : i < 800 ? 'support' : 'sales');
  let trend = 0;
  for (let i = 0; i < LONG_LINES; i++) {
    const turn = Math.floor(i / 2) + 1;
    const at = i * LINE_MS;
    const ar = turn % 3 !== 0;
    if (i % 2 === 0) {
      const score = Math.round(Math.sin(i / 37) * 80) / 100;
      trend = Math.round((trend * 0.7 + score * 0.3) * 100) / 100;
      const label = score <= -0.2 ? 'negative' : score >= 0.2 ? 'positive' : 'neutral';
      lines.push(line(turn, 'customer', `${pick(ar ? customerAr : customerEn, turn)} (${turn})`, ar ? 'ar' : 'en', null, at, { sentiment: score, sentiment_label: label }));
      sentiment.push({ at_ms: at, turn, score, trend });
    } else {
      lines.push(line(turn, 'agent', pick(ar ? agentAr : agentEn, turn), ar ? 'ar' : 'en', persona(i), at, { latency: metrics(turn, 700 + (i % 7) * 60), interrupted: i % 50 === 1 }));
    }
  }
  const t = (i) => i * LINE_MS + 500;
  const markers = [
    ev(t(400), 'persona_changed', { from: 'reception', to: 'support', reason: 'rule', turn: 201, why: 'complaint with negative sentiment', cause: { kind: 'intent_negative', intent: 'complaint', consecutive: false, after_support: false } }),
    ev(t(451), 'barge_in', { turn: 226, heard: 'أتفهم', dropped: 'استياءك، سأتحقق من الخط الآن.' }),
    ev(t(600), 'ticket', { turn: 301, ticket_id: 'tkt-00000042', subject: 'الراوتر لا يعمل', department: 'support', priority: 'high' }),
    ev(t(700), 'error', { turn: 351, stage: 'llm', code: 'llm_timeout', message: 'LLM stalled — template answered', fallback: 'template' }),
    ev(t(760), 'human_requested', { turn: 381, reason: 'customer asked for a manager' }),
    ev(t(770), 'supervisor', { action: 'takeover', persona: null, text: null }),
    ev(t(780), 'supervisor', { action: 'whisper', persona: null, text: 'Offer the 10% goodwill credit' }),
    ev(t(790), 'supervisor', { action: 'handback', persona: null, text: null }),
    ev(t(800), 'persona_changed', { from: 'support', to: 'sales', reason: 'supervisor', turn: 401, why: 'supervisor pinned the call to sales' }),
  ];
  const wave = (f) => Array.from({ length: 2400 }, (_, i) => Math.max(0, Math.round(f(i))));
  return {
    call, lines, sentiment, markers, unreadable_events: 0,
    duration_ms: LONG_LINES * LINE_MS + 2000,
    waveform: {
      customer: wave((i) => (Math.floor(i / 2) % 2 === 0 ? 60 + 120 * Math.abs(Math.sin(i / 5)) : 8)),
      heard: wave((i) => (Math.floor(i / 2) % 2 === 1 ? 50 + 100 * Math.abs(Math.cos(i / 4)) : 6)),
    },
    annotations: [
      { id: 'ann-1', call_id: call.id, at_ms: t(402), author: 'Lina', body: 'Good hand-over to support here.', created_at: day(2024, 5, 13, 10, 0) },
      { id: 'ann-2', call_id: call.id, at_ms: t(771), author: 'سامر', body: 'كان يجب التدخل أبكر.', created_at: day(2024, 5, 13, 10, 5) },
    ],
    scores: [{ call_id: call.id, criterion: 'greeting', score: 4, reviewer: 'Lina', note: 'warm', updated_at: day(2024, 5, 13, 10, 6) }],
  };
}

function metrics(turn, response_ms) {
  return { turn, eou_ms: 500, stt_ms: 20, llm_first_token_ms: 310, tts_first_audio_ms: 80, total_ms: response_ms - 400, response_ms, stt_provider: 'whisper-base', tts_provider: 'piper' };
}

function line(turn, speaker, text, lang, persona, at_ms, extra) {
  return { turn, speaker, text, lang, persona, interrupted: false, at_ms, end_ms: at_ms + 2400, from_audio: false, sentiment: null, sentiment_label: null, latency: null, ...extra };
}

/** What `rerun_call` answers: every customer turn, answered then and today. */
export function rerunOf(replay) {
  const turns = [];
  for (const l of replay.lines) {
    if (l.speaker !== 'customer' || turns.length >= 6) continue;
    const old = replay.lines.find((x) => x.speaker === 'agent' && x.turn === l.turn);
    turns.push({
      turn: l.turn, customer: l.text, heard_now: turns.length === 0 ? l.text + ' (today)' : null,
      old_persona: old?.persona ?? null, old_reply: old?.text ?? null, old_response_ms: old?.latency?.response_ms ?? null,
      new_persona: 'support', new_reply: l.lang === 'ar' ? 'أنا آسف لذلك، سأفتح تذكرة فوراً.' : 'Sorry about that, I am opening a ticket right away.', new_provider: 'openai-compatible', new_response_ms: 640 + turns.length * 10,
    });
  }
  return { call_id: replay.call.id, from_audio: false, turns };
}
