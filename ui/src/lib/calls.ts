// Per-call state, built only from CallEvents by a pure reducer.
import type { CallEvent } from '../bindings/CallEvent';
import type { CallStatus } from '../bindings/CallStatus';
import type { Controller } from '../bindings/Controller';
import type { CustomerInfo } from '../bindings/CustomerInfo';
import type { EndReason } from '../bindings/EndReason';
import type { Lang } from '../bindings/Lang';
import type { PersonaId } from '../bindings/PersonaId';
import type { RouteCause } from '../bindings/RouteCause';
import type { SentimentLabel } from '../bindings/SentimentLabel';
import type { Speaker } from '../bindings/Speaker';
import type { Stage } from '../bindings/Stage';
import type { SupervisorAction } from '../bindings/SupervisorAction';
import type { TurnMetrics } from '../bindings/TurnMetrics';

export interface LineItem {
  kind: 'line';
  id: number;
  speaker: Speaker;
  persona: PersonaId | null;
  text: string;
  lang: Lang;
  final: boolean;
  turn: number;
  interrupted: boolean;
  /** What was generated but never played (from barge_in). */
  dropped: string | null;
  t_ms: number;
}
export interface PersonaMarker {
  kind: 'persona'; id: number; from: PersonaId; to: PersonaId; reason: 'rule' | 'supervisor' | 'agent';
  /** The engine's English explanation; `cause` is the same as data (null in older recordings). */
  why: string; cause: RouteCause | null; turn: number; t_ms: number;
}
export interface SupervisorMarker { kind: 'supervisor'; id: number; action: SupervisorAction; persona: PersonaId | null; text: string | null; t_ms: number }
export interface ErrorMarker { kind: 'error'; id: number; stage: Stage; code: string; message: string; fallback: string | null; turn: number | null; t_ms: number }
export interface TicketMarker { kind: 'ticket'; id: number; ticket_id: string; subject: string; department: string; priority: string; t_ms: number }
/** The AI agent asked for a human to take the call. */
export interface HumanMarker { kind: 'human'; id: number; reason: string; turn: number; t_ms: number }
export type Item = LineItem | PersonaMarker | SupervisorMarker | ErrorMarker | TicketMarker | HumanMarker;

export interface TurnSentiment { turn: number; score: number; label: SentimentLabel; trend: number }

export interface CallState {
  id: string;
  customer: CustomerInfo;
  lang: string;
  persona: PersonaId;
  transport: string;
  /** The LiveKit room of a call in one. */
  room: string | null;
  startedAtMs: number;
  controller: Controller;
  pinned: PersonaId | null;
  items: Item[];
  /** Index into `items` of the open (non-final) line per speaker+turn. */
  open: Record<string, number>;
  /** Sentiment of each customer turn, in arrival order. */
  sentiments: TurnSentiment[];
  /** By customer turn number, for chips next to the line. */
  sentimentByTurn: Record<number, TurnSentiment>;
  trend: number;
  metrics: Record<number, TurnMetrics>;
  /** Who wrote each turn's reply (`agent_reply.provider`). */
  writers: Record<number, string>;
  turns: number;
  lastCustomerText: string;
  lastEventMs: number;
  ended: null | { reason: EndReason; duration_ms: number; summary: string; endedAtMs: number };
  errors: number;
  nextId: number;
}

export function emptyCall(id: string): CallState {
  return {
    id,
    customer: {},
    lang: 'auto',
    persona: 'reception',
    transport: '',
    room: null,
    startedAtMs: 0,
    controller: 'ai',
    pinned: null,
    items: [],
    open: {},
    sentiments: [],
    sentimentByTurn: {},
    trend: 0,
    metrics: {},
    writers: {},
    turns: 0,
    lastCustomerText: '',
    lastEventMs: 0,
    ended: null,
    errors: 0,
    nextId: 1,
  };
}

const lineKey = (speaker: Speaker, turn: number) => `${speaker}:${turn}`;

function withItem(s: CallState, item: Item): CallState {
  return { ...s, items: [...s.items, item], nextId: s.nextId + 1 };
}

/** Applies one event to one call's state; never mutates `prev`. */
export function applyEvent(prev: CallState | undefined, ev: CallEvent): CallState {
  const s0 = prev ?? emptyCall(ev.call_id);
  const base = s0.startedAtMs || Date.now() - ev.t_ms;
  const s: CallState = { ...s0, lastEventMs: base + ev.t_ms };
  switch (ev.type) {
    case 'call_started':
      return {
        ...s,
        customer: ev.customer,
        lang: ev.lang,
        persona: ev.persona,
        transport: ev.transport,
        room: ev.room ?? null,
        startedAtMs: ev.started_at_ms,
        lastEventMs: ev.started_at_ms + ev.t_ms,
      };
    case 'transcript': {
      const key = lineKey(ev.speaker, ev.turn);
      const at = s.open[key];
      const persona = ev.speaker === 'agent' ? (ev.persona ?? s.persona) : null;
      const existing = at !== undefined ? s.items[at] : undefined;
      let next: CallState;
      if (existing && existing.kind === 'line') {
        const items = s.items.slice();
        items[at] = {
          ...existing,
          text: ev.text,
          lang: ev.lang,
          final: ev.final,
          persona: persona ?? existing.persona,
          interrupted: existing.interrupted || !!ev.interrupted,
        };
        next = { ...s, items };
      } else {
        const line: LineItem = {
          kind: 'line', id: s.nextId, speaker: ev.speaker, persona, text: ev.text, lang: ev.lang,
          final: ev.final, turn: ev.turn, interrupted: !!ev.interrupted, dropped: null, t_ms: ev.t_ms,
        };
        next = withItem(s, line);
        if (!ev.final) next.open = { ...s.open, [key]: next.items.length - 1 };
      }
      if (ev.final && key in next.open) {
        const open = { ...next.open };
        delete open[key];
        next.open = open;
      }
      if (ev.speaker === 'customer') {
        next.lastCustomerText = ev.text;
        if (ev.final) next.turns = Math.max(next.turns, ev.turn);
      }
      return next;
    }
    case 'barge_in': {
      // Mark the agent's line for that turn, open or already final.
      let idx = s.open[lineKey('agent', ev.turn)];
      if (idx === undefined) {
        for (let i = s.items.length - 1; i >= 0 && i >= s.items.length - 20; i--) {
          const it = s.items[i];
          if (it.kind === 'line' && it.speaker === 'agent' && it.turn === ev.turn) { idx = i; break; }
        }
      }
      if (idx === undefined) return s;
      const it = s.items[idx] as LineItem;
      const items = s.items.slice();
      items[idx] = { ...it, interrupted: true, text: ev.heard || it.text, dropped: ev.dropped || null };
      return { ...s, items };
    }
    case 'sentiment': {
      const ts: TurnSentiment = { turn: ev.turn, score: ev.score, label: ev.label, trend: ev.trend };
      return {
        ...s,
        sentiments: [...s.sentiments, ts],
        sentimentByTurn: { ...s.sentimentByTurn, [ev.turn]: ts },
        trend: ev.trend,
      };
    }
    case 'persona_changed':
      return withItem({ ...s, persona: ev.to }, {
        kind: 'persona', id: s.nextId, from: ev.from, to: ev.to, reason: ev.reason, why: ev.why, cause: ev.cause ?? null, turn: ev.turn, t_ms: ev.t_ms,
      });
    case 'agent_reply':
      // The spoken text arrives as agent transcripts; the reply says who answered
      // (which language model, or the templates). A fallback is reported by its
      // own `error` event.
      return { ...s, persona: ev.persona, writers: { ...s.writers, [ev.turn]: ev.provider } };
    case 'turn_metrics': {
      const { turn, eou_ms, stt_ms, llm_first_token_ms, tts_first_audio_ms, total_ms, response_ms, tts_provider, stt_provider } = ev;
      return { ...s, metrics: { ...s.metrics, [turn]: { turn, eou_ms, stt_ms, llm_first_token_ms, tts_first_audio_ms, total_ms, response_ms, tts_provider, stt_provider } } };
    }
    case 'ticket':
      return withItem(s, {
        kind: 'ticket', id: s.nextId, ticket_id: ev.ticket_id, subject: ev.subject, department: ev.department, priority: ev.priority, t_ms: ev.t_ms,
      });
    case 'human_requested':
      return withItem(s, { kind: 'human', id: s.nextId, reason: ev.reason, turn: ev.turn, t_ms: ev.t_ms });
    case 'supervisor': {
      let controller = s.controller;
      let pinned = s.pinned;
      let persona = s.persona;
      if (ev.action === 'takeover') controller = 'supervisor';
      else if (ev.action === 'handback') controller = 'ai';
      else if (ev.action === 'pin') { pinned = ev.persona ?? null; persona = ev.persona ?? persona; }
      else if (ev.action === 'unpin') pinned = null;
      return withItem({ ...s, controller, pinned, persona }, {
        kind: 'supervisor', id: s.nextId, action: ev.action, persona: ev.persona ?? null, text: ev.text ?? null, t_ms: ev.t_ms,
      });
    }
    case 'error':
      return withItem({ ...s, errors: s.errors + 1 }, {
        kind: 'error', id: s.nextId, stage: ev.stage, code: ev.code, message: ev.message, fallback: ev.fallback ?? null, turn: ev.turn ?? null, t_ms: ev.t_ms,
      });
    case 'call_ended':
      return {
        ...s,
        persona: ev.persona,
        open: {},
        items: s.items.map((it) => (it.kind === 'line' && !it.final ? { ...it, final: true } : it)),
        ended: { reason: ev.reason, duration_ms: ev.duration_ms, summary: ev.summary, endedAtMs: s.startedAtMs + ev.duration_ms },
      };
    default:
      return s;
  }
}

/** Seeds a call from a `list_calls` snapshot (when the UI opens mid-call). */
export function fromStatus(st: CallStatus, now: number): CallState {
  return {
    ...emptyCall(st.call_id),
    customer: st.customer,
    controller: st.controller,
    persona: st.persona,
    pinned: st.pinned,
    turns: st.turns,
    trend: st.sentiment_trend,
    startedAtMs: now,
    lastEventMs: now,
  };
}

export function lastCustomerLine(s: CallState): string {
  return s.lastCustomerText;
}
