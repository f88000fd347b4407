import { DEFAULT_ALERTS, type AlertSettings } from './alerts';
import { translate, type MessageKey, type UiLang } from './i18n';

const KEY = 'switchboard.settings.v1';

interface Persisted { lang: UiLang; alerts: AlertSettings }

function load(): Persisted {
  const fallback: Persisted = { lang: 'en', alerts: { ...DEFAULT_ALERTS, keywords: [...DEFAULT_ALERTS.keywords] } };
  try {
    const raw = globalThis.localStorage?.getItem(KEY);
    if (!raw) return fallback;
    const p = JSON.parse(raw) as Partial<Persisted>;
    const a = (p.alerts ?? {}) as Partial<AlertSettings>;
    return {
      lang: p.lang === 'ar' ? 'ar' : 'en',
      alerts: {
        threshold: typeof a.threshold === 'number' && Number.isFinite(a.threshold) ? a.threshold : DEFAULT_ALERTS.threshold,
        turns: typeof a.turns === 'number' && a.turns >= 1 ? Math.floor(a.turns) : DEFAULT_ALERTS.turns,
        keywords: Array.isArray(a.keywords) ? a.keywords.filter((k) => typeof k === 'string') : [...DEFAULT_ALERTS.keywords],
      },
    };
  } catch {
    return fallback;
  }
}

class Settings {
  lang = $state<UiLang>('en');
  alerts = $state<AlertSettings>({ ...DEFAULT_ALERTS });

  constructor() {
    const p = load();
    this.lang = p.lang;
    this.alerts = p.alerts;
  }

  save() {
    try {
      globalThis.localStorage?.setItem(KEY, JSON.stringify({ lang: this.lang, alerts: $state.snapshot(this.alerts) }));
    } catch { /* storage full or unavailable: settings stay for this session */ }
  }

  setLang(l: UiLang) { this.lang = l; this.save(); }
  setAlerts(a: AlertSettings) { this.alerts = a; this.save(); }
  reset() { this.setAlerts({ ...DEFAULT_ALERTS, keywords: [...DEFAULT_ALERTS.keywords] }); }

  t = (key: MessageKey, params?: Record<string, string | number>) => translate(this.lang, key, params);
}

export const settings = new Settings();
