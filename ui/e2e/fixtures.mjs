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
