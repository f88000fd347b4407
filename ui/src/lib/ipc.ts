// The one place that talks to the Tauri shell. Every call rejects with `IpcError`.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type { CallEvent } from '../bindings/CallEvent';
import type { CallRow } from '../bindings/CallRow';
import type { CallStatus } from '../bindings/CallStatus';
import type { Customer } from '../bindings/Customer';
import type { NewCustomer } from '../bindings/NewCustomer';
import type { NewTicket } from '../bindings/NewTicket';
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

export function onCallEvent(handler: (ev: CallEvent) => void): Promise<UnlistenFn> {
  return listen<CallEvent>(CALL_EVENT, (e) => handler(e.payload));
}

export type Notifier = (title: string, body: string) => void;

/**
 * Desktop notification. Uses the Web Notification API, which the Tauri notification
 * plugin provides inside the webview once the shell registers it; a shell may also
 * install its own notifier with `setNotifier`. Never throws.
 */
let notifier: Notifier = (title, body) => {
  const N = (globalThis as { Notification?: typeof Notification }).Notification;
  if (!N) return;
  if (N.permission === 'granted') new N(title, { body });
  else if (N.permission !== 'denied') {
    void Promise.resolve(N.requestPermission()).then((p) => { if (p === 'granted') new N(title, { body }); }).catch(() => {});
  }
};

export function setNotifier(fn: Notifier): void { notifier = fn; }

export function notify(title: string, body: string): void {
  try { notifier(title, body); } catch { /* a notification must never break the console */ }
}
