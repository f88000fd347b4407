// The supervisor's sound devices: which call plays on the speakers, which calls
// have the supervisor's microphone on the line, single-seat calls. Device
// problems are kept per call ('' for the wall) and shown in place.
import { SvelteMap } from 'svelte/reactivity';
import type { DeskStatus } from '../bindings/DeskStatus';
import { deskStatus, joinLivekitRoom, listenCall, listenLivekitRoom, livekitListening, startMicCall, supervisorMicrophone, toIpcError, type IpcError } from './ipc';

/** Key of problems that belong to no call (starting a microphone call). */
export const WALL = '';
/** Key of problems joining a LiveKit room. */
export const ROOM = '#livekit';

class Desk {
  listening = $state<string | null>(null);
  microphones = $state<string[]>([]);
  localCalls = $state<string[]>([]);
  /** The LiveKit room the supervisor listens in on. */
  listeningRoom = $state<string | null>(null);
  /** Device calls in flight, by call id (WALL for a microphone call starting). */
  pending = new SvelteMap<string, boolean>();
  errors = new SvelteMap<string, IpcError>();

  apply(s: DeskStatus) {
    this.listening = s.listening;
    this.microphones = s.microphones;
    this.localCalls = s.local_calls;
  }

  async refresh() {
    try { this.apply(await deskStatus()); } catch { /* the shell is not there (page tests): nothing to show */ }
    try { this.listeningRoom = await livekitListening(); } catch { /* as above */ }
  }

  private async run<T>(key: string, op: () => Promise<T>): Promise<T | null> {
    this.pending.set(key, true);
    try {
      const r = await op();
      this.errors.delete(key);
      return r;
    } catch (e) {
      this.errors.set(key, toIpcError(e));
      return null;
    } finally {
      this.pending.delete(key);
    }
  }

  /** Plays the call on the speakers (or stops); returns false and keeps the error on failure. */
  async listen(callId: string, on: boolean): Promise<boolean> {
    const s = await this.run(callId, () => listenCall(callId, on));
    if (s) this.apply(s);
    return s !== null;
  }

  /** Puts the supervisor's microphone on the call's line (or takes it off). */
  async microphone(callId: string, on: boolean): Promise<boolean> {
    const s = await this.run(callId, () => supervisorMicrophone(callId, on));
    if (s) this.apply(s);
    return s !== null;
  }

  /** Starts a single-seat call; its id, or null with the error kept under WALL. */
  async startMicCall(lang?: 'ar' | 'en' | 'auto'): Promise<string | null> {
    const id = await this.run(WALL, () => startMicCall(lang));
    if (id) await this.refresh();
    return id;
  }

  /** Joins a LiveKit room; the call's id once a caller is there, or null with the error kept under ROOM. */
  async joinRoom(room: string): Promise<string | null> {
    return this.run(ROOM, () => joinLivekitRoom(room.trim(), 'auto'));
  }

  /** Listens in on a LiveKit room (or stops with null); false with the error kept under ROOM. */
  async listenRoom(room: string | null): Promise<boolean> {
    const r = await this.run(ROOM, () => listenLivekitRoom(room === null ? null : room.trim()));
    if (r === null && room !== null) return false;
    this.listeningRoom = r;
    return true;
  }

  dismiss(key: string) { this.errors.delete(key); }
}

export const desk = new Desk();
