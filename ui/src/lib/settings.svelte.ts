// The console's settings: loaded from the shell (settings.json, see src-tauri/src/settings.rs)
// before the app mounts, saved through `save_settings`. API keys are not here: they go
// straight to the OS keyring (ipc `setSecret`) and never come back.
import type { ConsoleSettings } from '../bindings/ConsoleSettings';
import type { AlertSettings } from './alerts';
import { cloneSettings, defaultSettings, LEGACY_KEY, migrateLegacy } from './consoleSettings';
import { translate, type MessageKey, type UiLang } from './i18n';
import { getSettings, saveSettings, toIpcError, type IpcError } from './ipc';

function readLegacy(): string | null {
  try { return globalThis.localStorage?.getItem(LEGACY_KEY) ?? null; } catch { return null; }
}
function dropLegacy() {
  try { globalThis.localStorage?.removeItem(LEGACY_KEY); } catch { /* unavailable: nothing to drop */ }
}

class Settings {
  value = $state<ConsoleSettings>(defaultSettings());
  /** Why the saved settings could not be loaded (defaults are shown meanwhile). */
  loadError = $state<IpcError | null>(null);
  /** Why the last quick change (language) could not be saved. */
  saveError = $state<IpcError | null>(null);
  private queue: Promise<unknown> = Promise.resolve();

  get lang(): UiLang { return this.value.ui_lang; }
  get alerts(): AlertSettings { return this.value.alerts; }

  /** Loads the saved settings; moves an old localStorage copy into them once. */
  async init(): Promise<void> {
    const legacy = readLegacy();
    let loaded: ConsoleSettings;
    try {
      loaded = await getSettings();
      this.loadError = null;
    } catch (e) {
      this.loadError = toIpcError(e);
      this.value = migrateLegacy(legacy, defaultSettings()) ?? defaultSettings();
      return;
    }
    const migrated = migrateLegacy(legacy, loaded);
    if (migrated) {
      try {
        loaded = await saveSettings(migrated);
        dropLegacy();
      } catch (e) {
        // Used for this session; the old copy stays so the next start tries again.
        loaded = migrated;
        this.saveError = toIpcError(e);
      }
    } else if (legacy !== null) {
      dropLegacy();
    }
    this.value = loaded;
  }

  /** Saves (one save at a time, in order) and makes the result current. Rejects with `IpcError`. */
  save(next: ConsoleSettings): Promise<ConsoleSettings> {
    const run = this.queue.then(async () => {
      const saved = await saveSettings(cloneSettings(next));
      this.value = saved;
      this.saveError = null;
      return saved;
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /** Switches the language at once; a failed save keeps it for this session and says why. */
  setLang(l: UiLang) {
    const next = { ...cloneSettings($state.snapshot(this.value) as ConsoleSettings), ui_lang: l };
    this.value = next;
    this.save(next).catch((e) => { this.saveError = toIpcError(e); });
  }

  t = (key: MessageKey, params?: Record<string, string | number>) => translate(this.lang, key, params);
}

export const settings = new Settings();
