import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConsoleSettings } from '../bindings/ConsoleSettings';
import { defaultSettings, LEGACY_KEY } from './consoleSettings';

// The shell, mocked: what get_settings returns and what save_settings received.
const shell = vi.hoisted(() => ({
  saved: null as unknown,
  stored: null as unknown,
  getFails: false,
  saveFails: false,
  saves: [] as unknown[],
}));

vi.mock('./ipc', async (importOriginal) => {
  const real = await importOriginal<typeof import('./ipc')>();
  return {
    ...real,
    getSettings: vi.fn(async () => {
      if (shell.getFails) throw { code: 'internal', message: 'shell not reachable' };
      return JSON.parse(JSON.stringify(shell.stored));
    }),
    saveSettings: vi.fn(async (s: ConsoleSettings) => {
      shell.saves.push(JSON.parse(JSON.stringify(s)));
      if (shell.saveFails) throw { code: 'settings_unsaved', message: 'disk full' };
      shell.stored = s;
      return JSON.parse(JSON.stringify(s));
    }),
  };
});

class MemoryStorage {
  items = new Map<string, string>();
  getItem(k: string) { return this.items.get(k) ?? null; }
  setItem(k: string, v: string) { this.items.set(k, v); }
  removeItem(k: string) { this.items.delete(k); }
}

async function freshSettings() {
  vi.resetModules();
  return (await import('./settings.svelte')).settings;
}

beforeEach(() => {
  shell.stored = defaultSettings();
  shell.getFails = false;
  shell.saveFails = false;
  shell.saves = [];
  (globalThis as unknown as { localStorage?: MemoryStorage }).localStorage = new MemoryStorage();
});

const storage = () => (globalThis as unknown as { localStorage: MemoryStorage }).localStorage;

describe('settings store', () => {
  it('loads what the shell saved', async () => {
    shell.stored = { ...defaultSettings(), ui_lang: 'ar' };
    const s = await freshSettings();
    await s.init();
    expect(s.lang).toBe('ar');
    expect(s.loadError).toBeNull();
    expect(shell.saves).toHaveLength(0);
    expect(s.t('nav.settings')).toBe('الإعدادات');
  });

  it('migrates the old localStorage copy once, then forgets it', async () => {
    storage().setItem(LEGACY_KEY, JSON.stringify({ lang: 'ar', alerts: { threshold: -0.7, turns: 4, keywords: ['refund'] } }));
    let s = await freshSettings();
    await s.init();
    expect(shell.saves).toHaveLength(1);
    expect((shell.saves[0] as ConsoleSettings).alerts).toEqual({ threshold: -0.7, turns: 4, keywords: ['refund'] });
    expect(s.lang).toBe('ar');
    expect(s.alerts.turns).toBe(4);
    expect(storage().getItem(LEGACY_KEY)).toBeNull();
    s = await freshSettings();
    await s.init();
    expect(shell.saves).toHaveLength(1);
    expect(s.alerts.threshold).toBe(-0.7);
  });

  it('keeps the old copy when the migration cannot be saved', async () => {
    storage().setItem(LEGACY_KEY, JSON.stringify({ lang: 'ar' }));
    shell.saveFails = true;
    const s = await freshSettings();
    await s.init();
    expect(s.lang).toBe('ar');
    expect(s.saveError?.code).toBe('settings_unsaved');
    expect(storage().getItem(LEGACY_KEY)).not.toBeNull();
  });

  it('falls back to defaults and says why when the shell cannot be asked', async () => {
    shell.getFails = true;
    storage().setItem(LEGACY_KEY, JSON.stringify({ lang: 'ar' }));
    const s = await freshSettings();
    await s.init();
    expect(s.loadError).toEqual({ code: 'internal', message: 'shell not reachable' });
    expect(s.lang).toBe('ar');
    expect(s.alerts).toEqual(defaultSettings().alerts);
    expect(storage().getItem(LEGACY_KEY)).not.toBeNull();
  });

  it('saves a language switch with the rest of the settings unchanged', async () => {
    shell.stored = { ...defaultSettings(), llm: { local: null, base_url: 'http://127.0.0.1:8080/v1', model: 'qwen', first_token_timeout_ms: 3000, fallback_local: null, tools: false } };
    const s = await freshSettings();
    await s.init();
    s.setLang('ar');
    expect(s.lang).toBe('ar');
    await vi.waitFor(() => expect(shell.saves).toHaveLength(1));
    expect(shell.saves[0]).toEqual({ ...(shell.stored as ConsoleSettings), ui_lang: 'ar' });
  });

  it('keeps a language switch for the session when it cannot be saved', async () => {
    const s = await freshSettings();
    await s.init();
    shell.saveFails = true;
    s.setLang('ar');
    await vi.waitFor(() => expect(s.saveError?.message).toBe('disk full'));
    expect(s.lang).toBe('ar');
  });

  it('saves one at a time, in order', async () => {
    const s = await freshSettings();
    await s.init();
    const a = { ...defaultSettings(), alerts: { ...defaultSettings().alerts, turns: 3 } };
    const b = { ...defaultSettings(), alerts: { ...defaultSettings().alerts, turns: 5 } };
    await Promise.all([s.save(a), s.save(b)]);
    expect((shell.saves as ConsoleSettings[]).map((x) => x.alerts.turns)).toEqual([3, 5]);
    expect(s.alerts.turns).toBe(5);
  });
});
