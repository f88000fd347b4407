import { describe, expect, it } from 'vitest';
import { DEFAULT_ALERTS } from './alerts';
import {
  checkSettings, defaultSettings, llmEngine, LOCAL_LLM_MODELS, localModelOf, migrateLegacy, orNull, parseKeywords, TTS_VOICES,
} from './consoleSettings';
import { messages } from './i18n';

describe('defaults', () => {
  it('match the alert defaults and pass the checks', () => {
    const d = defaultSettings();
    expect(d.alerts.threshold).toBe(DEFAULT_ALERTS.threshold);
    expect(d.alerts.turns).toBe(DEFAULT_ALERTS.turns);
    expect(d.alerts.keywords).toEqual(DEFAULT_ALERTS.keywords);
    expect(d.llm.base_url).toBeNull();
    expect(checkSettings(d)).toEqual({});
  });
  it('are the fully local voice agent (src/settings.rs defaults)', () => {
    const d = defaultSettings();
    expect(d.llm.local).toBe('qwen2.5-0.5b');
    expect(LOCAL_LLM_MODELS).toContain(d.llm.local);
    expect(d.stt.model).toBe('whisper-base');
    expect(d.tts.english).toBe('piper');
    expect(TTS_VOICES.english).toEqual(['piper', 'espeak']);
    expect(d.turn.smart_turn).toBe(true);
  });
  it('are fresh copies', () => {
    const a = defaultSettings();
    a.alerts.keywords.push('x');
    expect(defaultSettings().alerts.keywords).not.toContain('x');
    expect(DEFAULT_ALERTS.keywords).not.toContain('x');
  });
});

describe('migrateLegacy', () => {
  const base = defaultSettings();
  it('moves language and alert rules over the loaded settings', () => {
    const raw = JSON.stringify({ lang: 'ar', alerts: { threshold: -0.6, turns: 3, keywords: [' refund ', '', 'مدير', 'refund', 7] } });
    const m = migrateLegacy(raw, { ...base, llm: { ...base.llm, model: 'kept' } });
    expect(m).not.toBeNull();
    expect(m!.ui_lang).toBe('ar');
    expect(m!.alerts).toEqual({ threshold: -0.6, turns: 3, keywords: ['refund', 'مدير'] });
    expect(m!.llm.model).toBe('kept');
  });
  it('skips bad values one by one', () => {
    const m = migrateLegacy(JSON.stringify({ lang: 'fr', alerts: { threshold: 9, turns: 2 } }), base);
    expect(m!.ui_lang).toBe('en');
    expect(m!.alerts.threshold).toBe(base.alerts.threshold);
    expect(m!.alerts.turns).toBe(2);
  });
  it('returns null when there is nothing to migrate', () => {
    expect(migrateLegacy(null, base)).toBeNull();
    expect(migrateLegacy('', base)).toBeNull();
    expect(migrateLegacy('{not json', base)).toBeNull();
    expect(migrateLegacy('"en"', base)).toBeNull();
    expect(migrateLegacy(JSON.stringify({ lang: 'xx' }), base)).toBeNull();
  });
  it('does not modify the base settings', () => {
    const b = defaultSettings();
    migrateLegacy(JSON.stringify({ lang: 'ar', alerts: { keywords: ['a'] } }), b);
    expect(b).toEqual(defaultSettings());
  });
});

describe('checkSettings', () => {
  const withChange = (f: (s: ReturnType<typeof defaultSettings>) => void) => { const s = defaultSettings(); f(s); return checkSettings(s); };
  it('names the field of each problem', () => {
    expect(Object.keys(withChange((s) => { s.alerts.threshold = 1.5; }))).toEqual(['alerts.threshold']);
    expect(Object.keys(withChange((s) => { s.alerts.threshold = Number.NaN; }))).toEqual(['alerts.threshold']);
    expect(Object.keys(withChange((s) => { s.alerts.turns = 0; }))).toEqual(['alerts.turns']);
    expect(Object.keys(withChange((s) => { s.llm.local = null; s.llm.base_url = 'http://127.0.0.1:8080/v1'; s.llm.model = '  '; }))).toEqual(['llm.model']);
    expect(Object.keys(withChange((s) => { s.turn.silence_hold_ms = 50; }))).toEqual(['turn.silence_hold_ms']);
    expect(Object.keys(withChange((s) => { s.turn.min_speech_ms = 2.5; }))).toEqual(['turn.min_speech_ms']);
    expect(Object.keys(withChange((s) => { s.llm.first_token_timeout_ms = 0; }))).toEqual(['llm.first_token_timeout_ms']);
    expect(withChange((s) => { s.turn.max_turn_ms = 3000; s.turn.silence_hold_ms = 3000; })).toEqual({ 'turn.max_turn_ms': { key: 'invalid.maxTurn' } });
    expect(Object.keys(withChange((s) => { s.alerts.keywords = ['x'.repeat(101)]; }))).toEqual(['alerts.keywords']);
  });
  it('knows the local models', () => {
    expect(withChange((s) => { s.llm.local = 'smollm2-135m'; })).toEqual({});
    expect(withChange((s) => { s.llm.local = null; })).toEqual({});
    expect(withChange((s) => { s.llm.local = 'llama-70b'; })).toEqual({ 'llm.local': { key: 'invalid.choice' } });
  });
  it('checks the server URL and model only when the server writes the replies', () => {
    // Local model: the server settings are kept but unused.
    expect(withChange((s) => { s.llm.base_url = 'ftp://x'; s.llm.model = ' '; })).toEqual({});
    // Built-in replies: nothing to check.
    expect(withChange((s) => { s.llm.local = null; s.llm.model = ''; })).toEqual({});
    // The server: both checked.
    expect(Object.keys(withChange((s) => { s.llm.local = null; s.llm.base_url = 'ftp://x'; s.llm.model = ' '; })).sort()).toEqual(['llm.base_url', 'llm.model']);
    expect(withChange((s) => { s.llm.local = null; s.llm.base_url = 'http://127.0.0.1:8080/v1'; })).toEqual({});
  });
  it('accepts LiveKit servers as ws(s):// or http(s):// addresses, without credentials (src/livekit/credentials.rs)', () => {
    const url = (u: string | null) => withChange((s) => { s.livekit.url = u; })['livekit.url']?.key ?? null;
    expect(url(null)).toBeNull();
    expect(url('wss://example.livekit.cloud')).toBeNull();
    expect(url('ws://127.0.0.1:7880')).toBeNull();
    expect(url('https://lk.example.com')).toBeNull();
    expect(url('example.livekit.cloud')).toBe('invalid.livekitUrl');
    expect(url('ftp://x')).toBe('invalid.livekitUrl');
    expect(url('wss://')).toBe('invalid.livekitUrl');
    expect(url('wss://key:secret@example.livekit.cloud')).toBe('invalid.urlCredentials');
  });
  it('accepts http(s) base URLs only, without credentials', () => {
    const url = (u: string) => withChange((s) => { s.llm.local = null; s.llm.base_url = u; })['llm.base_url']?.key ?? null;
    expect(url('http://127.0.0.1:8080/v1')).toBeNull();
    expect(url('https://api.openai.com/v1')).toBeNull();
    expect(url('HTTPS://api.example.com')).toBeNull();
    expect(url('ftp://example.com')).toBe('invalid.url');
    expect(url('127.0.0.1:8080')).toBe('invalid.url');
    expect(url('javascript:alert(1)')).toBe('invalid.url');
    expect(url('http://')).toBe('invalid.url');
    expect(url('https://user:sk-abc@api.example.com/v1')).toBe('invalid.urlCredentials');
  });
  it('gives range parameters for the message', () => {
    const p = withChange((s) => { s.turn.max_turn_ms = 1; })['turn.max_turn_ms'];
    expect(p).toEqual({ key: 'invalid.range', params: { min: 2000, max: 120000 } });
    for (const k of ['invalid.range', 'invalid.url', 'invalid.urlCredentials', 'invalid.required', 'invalid.maxTurn', 'invalid.keywordLength', 'invalid.choice'] as const) {
      expect(messages[k].ar).toMatch(/[\u0600-\u06FF]/);
    }
  });
});

describe('llmEngine', () => {
  it('says who writes the replies: a local model wins over a URL', () => {
    const s = defaultSettings();
    expect(llmEngine(s)).toBe('local:qwen2.5-0.5b');
    s.llm.base_url = 'http://127.0.0.1:8080/v1';
    expect(llmEngine(s)).toBe('local:qwen2.5-0.5b');
    s.llm.local = null;
    expect(llmEngine(s)).toBe('server');
    s.llm.base_url = null;
    expect(llmEngine(s)).toBe('templates');
  });
  it('names the local model of a choice', () => {
    expect(localModelOf('local:smollm2-135m')).toBe('smollm2-135m');
    expect(localModelOf('server')).toBeNull();
    expect(localModelOf('templates')).toBeNull();
  });
});

describe('form helpers', () => {
  it('parses keywords one per line', () => {
    expect(parseKeywords(' manager \n\ncancel\nmanager\n  مدير  ')).toEqual(['manager', 'cancel', 'مدير']);
    expect(parseKeywords('')).toEqual([]);
  });
  it('treats blank text as not set', () => {
    expect(orNull('  ')).toBeNull();
    expect(orNull(null)).toBeNull();
    expect(orNull(' x ')).toBe('x');
  });
});
