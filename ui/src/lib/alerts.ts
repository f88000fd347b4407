// Alert rules: pure functions over a call's state.
import type { CallState } from './calls';

export interface AlertSettings {
  /** Sentiment at or below this counts as negative. */
  threshold: number;
  /** Consecutive negative customer turns that raise an alert. */
  turns: number;
  keywords: string[];
}

export const DEFAULT_KEYWORDS = ['manager', 'cancel', 'supervisor', 'مدير', 'المدير', 'إلغاء', 'الغي', 'شكوى'];

export const DEFAULT_ALERTS: AlertSettings = { threshold: -0.4, turns: 2, keywords: DEFAULT_KEYWORDS };

export type Alert =
  | { kind: 'sentiment'; turns: number; score: number }
  | { kind: 'keyword'; keyword: string; text: string };

const DIACRITICS = /[\u064B-\u065F\u0670\u0640]/g; // harakat, dagger alef, tatweel
const BIDI_CONTROLS = /[\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/** Folds case, Arabic alef/ya/ta-marbuta forms and diacritics so that keyword matching is forgiving. */
export function normalize(text: string): string {
  return text
    .normalize('NFC')
    .toLowerCase()
    .replace(BIDI_CONTROLS, '')
    .replace(DIACRITICS, '')
    .replace(/[أإآٱ]/g, 'ا')
    .replace(/ى/g, 'ي')
    .replace(/ة/g, 'ه')
    .replace(/ؤ/g, 'و')
    .replace(/ئ/g, 'ي');
}

const ARABIC = /[\u0600-\u06FF]/;

/**
 * The keyword found in `text`, if any. Arabic keywords match as substrings of the
 * normalized text (so clitics like و/ف/ب/ل/ال and suffixes still match: "والمدير");
 * Latin keywords match at a word start ("cancel" matches "cancellation", not "scancel").
 */
export function findKeyword(text: string, keywords: string[]): string | null {
  const norm = normalize(text);
  for (const kw of keywords) {
    const k = normalize(kw.trim());
    if (!k) continue;
    if (ARABIC.test(k)) {
      if (norm.includes(k)) return kw;
    } else {
      let from = 0;
      for (;;) {
        const i = norm.indexOf(k, from);
        if (i < 0) break;
        if (i === 0 || !/[\p{L}\p{N}]/u.test(norm[i - 1])) return kw;
        from = i + 1;
      }
    }
  }
  return null;
}

/** Length of the run of negative customer turns ending at the latest one. */
export function negativeRun(scores: number[], threshold: number): number {
  let n = 0;
  for (let i = scores.length - 1; i >= 0 && scores[i] <= threshold; i--) n++;
  return n;
}

export function callAlerts(s: CallState, cfg: AlertSettings): Alert[] {
  const out: Alert[] = [];
  const scores = s.sentiments.map((x) => x.score);
  const run = negativeRun(scores, cfg.threshold);
  if (cfg.turns > 0 && run >= cfg.turns) out.push({ kind: 'sentiment', turns: run, score: scores[scores.length - 1] });
  // Keywords in any final customer line of the call.
  for (let i = s.items.length - 1; i >= 0; i--) {
    const it = s.items[i];
    if (it.kind === 'line' && it.speaker === 'customer' && it.final) {
      const kw = findKeyword(it.text, cfg.keywords);
      if (kw) { out.push({ kind: 'keyword', keyword: kw, text: it.text }); break; }
    }
  }
  return out;
}

/** Stable identity of an alert, so a toast fires once per new alert. */
export function alertKey(callId: string, a: Alert): string {
  return a.kind === 'sentiment' ? `${callId}:sentiment` : `${callId}:kw:${normalize(a.keyword)}`;
}
