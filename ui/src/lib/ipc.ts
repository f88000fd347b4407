// The one place that talks to the Tauri shell. Every call rejects with `IpcError`.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type { Annotation } from '../bindings/Annotation';
import type { CallEvent } from '../bindings/CallEvent';
import type { CallFilter } from '../bindings/CallFilter';
import type { CallReplay } from '../bindings/CallReplay';
import type { CallRow } from '../bindings/CallRow';
import type { CallScore } from '../bindings/CallScore';
import type { CallStatus } from '../bindings/CallStatus';
import type { ConsoleSettings } from '../bindings/ConsoleSettings';
import type { Customer } from '../bindings/Customer';
import type { DeskStatus } from '../bindings/DeskStatus';
import type { DeviceList } from '../bindings/DeviceList';
import type { ModelStatus } from '../bindings/ModelStatus';
import type { NewAnnotation } from '../bindings/NewAnnotation';
import type { NewCustomer } from '../bindings/NewCustomer';
import type { NewTicket } from '../bindings/NewTicket';
import type { PastCall } from '../bindings/PastCall';
import type { PersonaScore } from '../bindings/PersonaScore';
import type { Rerun } from '../bindings/Rerun';
import type { SecretInfo } from '../bindings/SecretInfo';
import type { SecretName } from '../bindings/SecretName';
import type { SupervisorCommand } from '../bindings/SupervisorCommand';
import type { Ticket } from '../bindings/Ticket';
import type { TicketChange } from '../bindings/TicketChange';
import type { TicketStatus } from '../bindings/TicketStatus';

export interface IpcError { code: string; message: string }
export interface Scenario { id: string; title: string; lang: string }

export const CALL_EVENT = 'call-event';

export function toIpcError(e: unknown): IpcError {
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const o = e as { code: unknown; message: unknown };
    return { code: String(o.code), message: String(o.message) };
  }
  if (e instanceof Error) return { code: 'internal', message: e.message };
  return { code: 'internal', message: String(e) };
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toIpcError(e);
  }
}

export const listScenarios = () => call<Scenario[]>('list_scenarios');
export const startSimulation = (scenario: string, speed?: number) =>
  call<string>('start_simulation', speed === undefined ? { scenario } : { scenario, speed });
export const listCalls = () => call<CallStatus[]>('list_calls');
export const supervisorCommand = (callId: string, command: SupervisorCommand) =>
  call<void>('supervisor_command', { callId, command });
export const getCustomer = (customerId: string) => call<Customer | null>('get_customer', { customerId });
export const updateCustomer = (customer: NewCustomer) => call<Customer>('update_customer', { customer });
export const customerTickets = (customerId: string) => call<Ticket[]>('customer_tickets', { customerId });
export const customerCalls = (customerId: string) => call<CallRow[]>('customer_calls', { customerId });
export const openTickets = () => call<Ticket[]>('open_tickets');
export const createTicket = (ticket: NewTicket) => call<Ticket>('create_ticket', { ticket });
export const setTicketStatus = (ticketId: string, status: TicketStatus, reason: string) =>
  call<Ticket>('set_ticket_status', { ticketId, status, reason });
export const ticketHistory = (ticketId: string) => call<TicketChange[]>('ticket_history', { ticketId });

export const getSettings = () => call<ConsoleSettings>('get_settings');
export const saveSettings = (settings: ConsoleSettings) => call<ConsoleSettings>('save_settings', { settings });
/** Where each API key would be read from; never a value. */
export const secretStatus = () => call<SecretInfo[]>('secret_status');
/** Stores a key in the OS keyring. The value goes one way: nothing ever returns it. */
export const setSecret = (name: SecretName, value: string) => call<void>('set_secret', { name, value });
export const deleteSecret = (name: SecretName) => call<void>('delete_secret', { name });
/** The local models (speech, voice, end of turn, language model): installed or not, and how to install them. */
export const modelStatus = () => call<ModelStatus[]>('model_status');

/** The sound devices of this computer (rejects e.g. with `device_unavailable` when there are none). */
export const listAudioDevices = () => call<DeviceList>('list_audio_devices');
export const deskStatus = () => call<DeskStatus>('desk_status');
/** Single seat: this computer's microphone is the customer; returns the call id. */
export const startMicCall = (lang?: 'ar' | 'en' | 'auto') => call<string>('start_mic_call', lang ? { lang } : {});
/** Joins a LiveKit room as the agent; resolves with the call id once a caller is there. */
export const joinLivekitRoom = (room: string, lang?: 'ar' | 'en' | 'auto') =>
  call<string>('join_livekit_room', lang ? { room, lang } : { room });
/** Listens in on a LiveKit room, hidden (`room: null` stops); the room now listened to. */
export const listenLivekitRoom = (room: string | null) => call<string | null>('listen_livekit_room', { room });
export const livekitListening = () => call<string | null>('livekit_listening');
/** Plays a call on the supervisor's speakers, or stops. */
export const listenCall = (callId: string, on: boolean) => call<DeskStatus>('listen_call', { callId, on });
/** Puts the supervisor's microphone on a call's line (after a takeover), or takes it off. */
export const supervisorMicrophone = (callId: string, on: boolean) => call<DeskStatus>('supervisor_microphone', { callId, on });

/** Call history, reviews and recordings (the Replay view). */
export interface ReplaySettings {
  /** The scorecard's criteria, e.g. ["greeting", "empathy", "resolution", "compliance"]. */
  criteria: string[];
  /** Whether calls are being recorded now. */
  recording: boolean;
  retention_days: number;
}
export type ExportFormat = 'json' | 'md' | 'vtt';

export const findCalls = (filter: CallFilter) => call<PastCall[]>('find_calls', { filter });
export const loadReplay = (callId: string) => call<CallReplay>('load_replay', { callId });
/** Where the call's stereo WAV can be played from; null when the call was not recorded. */
/** The call's recording as an object URL for the audio player (revoke it when done), or
 *  null when the call has none. The shell sends the bytes: WebKitGTK cannot play media
 *  from a custom URI scheme, a blob it can. */
export async function recordingUrl(callId: string): Promise<string | null> {
  const bytes = await call<ArrayBuffer>('recording_audio', { callId });
  if (!bytes || bytes.byteLength === 0) return null;
  return URL.createObjectURL(new Blob([bytes], { type: 'audio/wav' }));
}
export const addAnnotation = (annotation: NewAnnotation) => call<Annotation>('add_annotation', { annotation });
export const deleteAnnotation = (id: string) => call<void>('delete_annotation', { id });
export const setScore = (callId: string, criterion: string, score: number, note: string | null) =>
  call<CallScore>('set_score', { callId, criterion, score, note });
export const replaySettings = () => call<ReplaySettings>('replay_settings');
/** The exported file's content (JSON Lines of the call's events, Markdown or WebVTT). */
export const exportCall = (callId: string, format: ExportFormat) => call<string>('export_call', { callId, format });
/** Answers the call's customer turns again with today's pipeline (may take many seconds). */
export const rerunCall = (callId: string) => call<Rerun>('rerun_call', { callId });
export const scoresByPersona = () => call<PersonaScore[]>('scores_by_persona');

export function onCallEvent(handler: (ev: CallEvent) => void): Promise<UnlistenFn> {
  return listen<CallEvent>(CALL_EVENT, (e) => handler(e.payload));
}

export type Notifier = (title: string, body: string) => void;

/**
 * Desktop notification, sent by the shell (`notify` command, tauri-plugin-notification
 * on the Rust side: the webview needs no notification permission). Tests may install
 * their own notifier with `setNotifier`. Never throws; a missing notification server
 * is silent.
 */
let notifier: Notifier = (title, body) => {
  invoke('notify', { title, body }).catch(() => { /* no notification server: nothing to do */ });
};

export function setNotifier(fn: Notifier): void { notifier = fn; }

export function notify(title: string, body: string): void {
  try { notifier(title, body); } catch { /* a notification must never break the console */ }
}
