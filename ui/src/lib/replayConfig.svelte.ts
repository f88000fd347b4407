// What the shell says about reviews and recordings (`replay_settings`): the scorecard's
// criteria and whether calls are recorded now (the header's recording indicator).
import { replaySettings, toIpcError, type IpcError, type ReplaySettings } from './ipc';

class ReplayConfig {
  value = $state<ReplaySettings | null>(null);
  error = $state<IpcError | null>(null);
  private pending: Promise<void> | null = null;

  /** Asks the shell again (one request at a time); never rejects. */
  refresh(): Promise<void> {
    this.pending ??= replaySettings()
      .then((v) => { this.value = v; this.error = null; })
      .catch((e) => { this.error = toIpcError(e); })
      .finally(() => { this.pending = null; });
    return this.pending;
  }
}

export const replayConfig = new ReplayConfig();
