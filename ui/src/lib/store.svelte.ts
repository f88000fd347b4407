// Live calls, alerts and toasts, fed by `call-event`.
import { SvelteMap } from 'svelte/reactivity';
import type { CallEvent } from '../bindings/CallEvent';
import { alertKey, callAlerts, type Alert } from './alerts';
import { applyEvent, fromStatus, type CallState } from './calls';
import { listCalls, notify, onCallEvent } from './ipc';
import { settings } from './settings.svelte';

/** How long an ended call stays on the wall. */
export const ENDED_LINGER_MS = 60_000;

export interface Toast { id: number; title: string; body: string; callId: string | null; kind: 'alert' | 'info' | 'error' }

class CallsStore {
  calls = new SvelteMap<string, CallState>();
  alerts = new SvelteMap<string, Alert[]>();
  toasts = $state<Toast[]>([]);
  now = $state(Date.now());
  private seenAlerts = new Set<string>();
  private toastId = 1;

  apply(ev: CallEvent) {
    const next = applyEvent(this.calls.get(ev.call_id), ev);
    this.calls.set(ev.call_id, next);
    if (ev.type === 'sentiment' || (ev.type === 'transcript' && ev.speaker === 'customer' && ev.final) || ev.type === 'call_started') {
      this.refreshAlerts(next);
    }
    if (ev.type === 'human_requested') {
      // The AI cannot help further: a supervisor is needed now.
      const who = next.customer.name || next.customer.phone || next.id.slice(0, 8);
      const title = settings.t('alert.toast', { who });
      const body = settings.t('alert.human', { reason: ev.reason });
      this.toast(title, body, next.id, 'alert');
      notify(title, body);
    }
    if (ev.type === 'call_ended') {
      setTimeout(() => {
        const c = this.calls.get(ev.call_id);
        if (c?.ended) { this.calls.delete(ev.call_id); this.alerts.delete(ev.call_id); }
      }, ENDED_LINGER_MS);
    }
  }

  refreshAlerts(c: CallState) {
    const list = callAlerts(c, settings.alerts);
    const prev = this.alerts.get(c.id) ?? [];
    if (list.length === 0 && prev.length === 0) return;
    this.alerts.set(c.id, list);
    for (const a of list) {
      const key = alertKey(c.id, a);
      if (this.seenAlerts.has(key)) continue;
      this.seenAlerts.add(key);
      const who = c.customer.name || c.customer.phone || c.id.slice(0, 8);
      const title = settings.t('alert.toast', { who });
      const body = a.kind === 'sentiment' ? settings.t('alert.sentiment', { n: a.turns }) : settings.t('alert.keyword', { kw: a.keyword });
      this.toast(title, body, c.id, 'alert');
      notify(title, body);
    }
  }

  /**
   * Drops the live calls the shell no longer follows (a LiveKit room was left:
   * its calls go on on their worker, off this wall). Ended calls linger as usual.
   */
  async reconcile() {
    const live = new Set((await listCalls()).map((s) => s.call_id));
    for (const [id, c] of this.calls) {
      if (!c.ended && !live.has(id)) { this.calls.delete(id); this.alerts.delete(id); }
    }
  }

  /** Re-evaluates every call, e.g. after the thresholds changed. */
  refreshAllAlerts() {
    for (const c of this.calls.values()) this.refreshAlerts(c);
  }

  toast(title: string, body: string, callId: string | null = null, kind: Toast['kind'] = 'info') {
    const id = this.toastId++;
    this.toasts = [...this.toasts.slice(-4), { id, title, body, callId, kind }];
    setTimeout(() => this.dismiss(id), kind === 'alert' ? 10_000 : 5_000);
  }

  dismiss(id: number) {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }

  async start(): Promise<() => void> {
    const unlisten = await onCallEvent((ev) => this.apply(ev));
    try {
      const now = Date.now();
      for (const st of await listCalls()) {
        if (!this.calls.has(st.call_id) && !st.ended) this.calls.set(st.call_id, fromStatus(st, now));
      }
    } catch (e) {
      const err = e as { message?: string };
      this.toast(settings.t('common.error', { msg: err.message ?? String(e) }), '', null, 'error');
    }
    const timer = setInterval(() => { this.now = Date.now(); }, 1000);
    return () => { unlisten(); clearInterval(timer); };
  }
}

export const store = new CallsStore();
