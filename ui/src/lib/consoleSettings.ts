// The console's settings as the Settings page edits them: defaults, the one-time
// migration of the old localStorage copy, and the checks shown next to each field.
// The shell (src/settings.rs `validate`) has the final word; these checks only let
// the page say what is wrong in the supervisor's language before a round trip.
import type { ConsoleSettings } from '../bindings/ConsoleSettings';
import { DEFAULT_ALERTS } from './alerts';
import type { MessageKey } from './i18n';

/** Where settings lived before the shell persisted them (read once, then removed). */
export const LEGACY_KEY = 'switchboard.settings.v1';

/** Choices the engine knows (src/settings.rs LOCAL_LLM_MODELS, STT_MODELS, TTS_*_VOICES). */
export const LOCAL_LLM_MODELS = ['qwen2.5-0.5b', 'smollm2-135m'] as const;
export const STT_MODELS = ['whisper-base', 'whisper-tiny-en'] as const;
export const STT_CLOUD = ['none', 'openai'] as const;
export const TTS_VOICES = { english: ['piper', 'espeak'], arabic: ['espeak'], cloud: ['none', 'openai', 'elevenlabs'] } as const;

/**
 * Who writes the agent's replies: a local model (`local:<name>`), the
 * OpenAI-compatible server at `llm.base_url`, or the built-in template replies.
 */
export type LlmEngine = `local:${string}` | 'server' | 'templates';

/** The engine the saved settings choose (a local model wins over a URL, which is then kept but unused). */
export function llmEngine(s: ConsoleSettings): LlmEngine {
  if (s.llm.local !== null) return `local:${s.llm.local}`;
  return s.llm.base_url !== null ? 'server' : 'templates';
}

/** The local model of an engine choice, or null. */
export const localModelOf = (e: LlmEngine): string | null => (e.startsWith('local:') ? e.slice('local:'.length) : null);

/** Allowed ranges (src/settings.rs `validate`). */
export const LIMITS = {
  turns: [1, 20],
  first_token_timeout_ms: [200, 60_000],
  silence_hold_ms: [100, 5_000],
  min_speech_ms: [20, 2_000],
  barge_in_min_ms: [20, 2_000],
  max_turn_ms: [2_000, 120_000],
} as const;

/** What the page shows when the shell cannot be asked (the engine's defaults). */
export function defaultSettings(): ConsoleSettings {
  return {
    ui_lang: 'en',
    alerts: { threshold: DEFAULT_ALERTS.threshold, turns: DEFAULT_ALERTS.turns, keywords: [...DEFAULT_ALERTS.keywords] },
    llm: { local: 'qwen2.5-0.5b', base_url: null, model: 'gpt-4o-mini', first_token_timeout_ms: 4000, fallback_local: null, tools: false },
    stt: { model: 'whisper-base', cloud: 'none' },
    tts: { english: 'piper', arabic: 'espeak', cloud: 'none' },
    turn: { silence_hold_ms: 500, min_speech_ms: 200, barge_in_min_ms: 160, max_turn_ms: 30_000, smart_turn: true },
    audio: { input_device: null, output_device: null, headset: false },
    livekit: { url: null },
  };
}

export function cloneSettings(s: ConsoleSettings): ConsoleSettings {
  return JSON.parse(JSON.stringify(s)) as ConsoleSettings;
}

/**
 * `base` with the language and alert rules of an old localStorage copy (`raw`), or
 * null when there is nothing usable to migrate. Bad values are skipped one by one.
 */
export function migrateLegacy(raw: string | null | undefined, base: ConsoleSettings): ConsoleSettings | null {
  if (!raw) return null;
  let p: unknown;
  try { p = JSON.parse(raw); } catch { return null; }
  if (!p || typeof p !== 'object') return null;
  const o = p as { lang?: unknown; alerts?: unknown };
  const out = cloneSettings(base);
  let changed = false;
  if (o.lang === 'en' || o.lang === 'ar') { out.ui_lang = o.lang; changed = true; }
  if (o.alerts && typeof o.alerts === 'object') {
    const a = o.alerts as { threshold?: unknown; turns?: unknown; keywords?: unknown };
    if (typeof a.threshold === 'number' && Number.isFinite(a.threshold) && a.threshold >= -1 && a.threshold <= 1) {
      out.alerts.threshold = a.threshold; changed = true;
    }
    if (typeof a.turns === 'number' && a.turns >= LIMITS.turns[0] && a.turns <= LIMITS.turns[1]) {
      out.alerts.turns = Math.floor(a.turns); changed = true;
    }
    if (Array.isArray(a.keywords)) {
      out.alerts.keywords = parseKeywords(a.keywords.filter((k): k is string => typeof k === 'string').join('\n'));
      changed = true;
    }
  }
  return changed ? out : null;
}

/** One keyword per line; blanks and repeats dropped. */
export function parseKeywords(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const k = line.trim();
    if (k && !seen.has(k)) { seen.add(k); out.push(k); }
  }
  return out;
}

/** Empty text means "not set". */
export const orNull = (s: string | null | undefined): string | null => (s && s.trim() ? s.trim() : null);

export type SettingsField =
  | 'alerts.threshold' | 'alerts.turns' | 'alerts.keywords'
  | 'llm.local' | 'llm.base_url' | 'llm.model' | 'llm.first_token_timeout_ms'
  | 'turn.silence_hold_ms' | 'turn.min_speech_ms' | 'turn.barge_in_min_ms' | 'turn.max_turn_ms'
  | 'livekit.url';

export interface FieldProblem { key: MessageKey; params?: Record<string, string | number> }
export type Problems = Partial<Record<SettingsField, FieldProblem>>;

function range(v: number, [min, max]: readonly [number, number]): FieldProblem | null {
  return Number.isFinite(v) && Number.isInteger(v) && v >= min && v <= max ? null : { key: 'invalid.range', params: { min, max } };
}

/** Why `url` would be refused: a scheme `schemes` accepts and a server, no user or password. */
function checkUrl(url: string, schemes: RegExp, invalid: MessageKey): FieldProblem | null {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)/i.exec(url.trim());
  if (!m || !schemes.test(m[1])) return { key: invalid };
  if (m[2].includes('@')) return { key: 'invalid.urlCredentials' };
  if (!m[2] || m[2].startsWith(':')) return { key: invalid };
  return null;
}

/** Why an OpenAI-compatible base URL would be refused, or null when it is fine. */
export const checkBaseUrl = (url: string): FieldProblem | null => checkUrl(url, /^https?$/i, 'invalid.url');

/** Why a LiveKit server URL would be refused (src/livekit/credentials.rs `http_base`), or null. */
export const checkLivekitUrl = (url: string): FieldProblem | null => checkUrl(url, /^(wss?|https?)$/i, 'invalid.livekitUrl');

/**
 * The problems the page can name by itself, by field (empty when none). The server's
 * URL and model name are checked only when the server writes the replies (no local
 * model and a URL set); otherwise they are kept but unused.
 */
export function checkSettings(s: ConsoleSettings): Problems {
  const p: Problems = {};
  const put = (f: SettingsField, v: FieldProblem | null) => { if (v) p[f] = v; };
  const th = s.alerts.threshold;
  if (!(typeof th === 'number' && Number.isFinite(th) && th >= -1 && th <= 1)) p['alerts.threshold'] = { key: 'invalid.range', params: { min: -1, max: 1 } };
  put('alerts.turns', range(s.alerts.turns, LIMITS.turns));
  if (s.alerts.keywords.some((k) => [...k].length > 100)) p['alerts.keywords'] = { key: 'invalid.keywordLength' };
  const local = s.llm.local;
  if (local !== null && !(LOCAL_LLM_MODELS as readonly string[]).includes(local)) p['llm.local'] = { key: 'invalid.choice' };
  if (llmEngine(s) === 'server') {
    put('llm.base_url', checkBaseUrl(s.llm.base_url ?? ''));
    if (!s.llm.model.trim()) p['llm.model'] = { key: 'invalid.required' };
  }
  put('llm.first_token_timeout_ms', range(s.llm.first_token_timeout_ms, LIMITS.first_token_timeout_ms));
  put('turn.silence_hold_ms', range(s.turn.silence_hold_ms, LIMITS.silence_hold_ms));
  put('turn.min_speech_ms', range(s.turn.min_speech_ms, LIMITS.min_speech_ms));
  put('turn.barge_in_min_ms', range(s.turn.barge_in_min_ms, LIMITS.barge_in_min_ms));
  put('turn.max_turn_ms', range(s.turn.max_turn_ms, LIMITS.max_turn_ms));
  if (!p['turn.max_turn_ms'] && !p['turn.silence_hold_ms'] && s.turn.silence_hold_ms >= s.turn.max_turn_ms) {
    p['turn.max_turn_ms'] = { key: 'invalid.maxTurn' };
  }
  if (s.livekit.url !== null) put('livekit.url', checkLivekitUrl(s.livekit.url));
  return p;
}
