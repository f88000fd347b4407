// Pure logic of the Replay view: time formatting, where the playhead is in the
// transcript, timeline geometry, the history filter and the virtual clock that
// plays a call without audio. No DOM, no Svelte: unit-tested in replay.test.ts.
import type { CallEvent } from '../bindings/CallEvent';
import type { CallFilter } from '../bindings/CallFilter';
import type { PastCall } from '../bindings/PastCall';
import type { ReplayLine } from '../bindings/ReplayLine';
import type { SentimentPoint } from '../bindings/SentimentPoint';
import type { ExportFormat } from './ipc';

export const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 2] as const;
export const PERSONAS = ['reception', 'sales', 'support'] as const;
export const OUTCOMES = ['customer_hangup', 'supervisor', 'transport_closed', 'shutdown'] as const;
export const MAX_SCORE = 5;

/** A position in a call: "m:ss", or "h:mm:ss" past the hour (whole seconds, rounded down). */
export function clock(ms: number): string {
  const total = Number.isFinite(ms) ? Math.max(0, Math.floor(ms / 1000)) : 0;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/**
 * Line start times made non-decreasing (a line stamped earlier than the one before it
 * counts from that one), so `lineIndexAt` can search them.
 */
export function lineStarts(lines: readonly Pick<ReplayLine, 'at_ms'>[]): Float64Array {
  const out = new Float64Array(lines.length);
  let max = -Infinity;
  for (let i = 0; i < lines.length; i++) {
    max = Math.max(max, lines[i].at_ms);
    out[i] = max;
  }
  return out;
}

/**
 * The line being played at `ms`: the last one that started at or before it
 * (binary search over `lineStarts`), -1 before the first line.
 */
export function lineIndexAt(starts: ArrayLike<number>, ms: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid] <= ms) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found;
}

/** How long the timeline runs: the call's duration, or its last line's end if later. */
export function timelineLength(durationMs: number, lines: readonly Pick<ReplayLine, 'end_ms'>[]): number {
  let end = Math.max(0, durationMs || 0);
  for (const l of lines) if (l.end_ms > end) end = l.end_ms;
  return Math.max(end, 1);
}

/** Time → x on a timeline `width` pixels wide (clamped to it). */
export function timeToX(ms: number, durationMs: number, width: number): number {
  if (durationMs <= 0 || width <= 0) return 0;
  return Math.min(width, Math.max(0, (ms / durationMs) * width));
}

/** x on the timeline → time (clamped to the call). */
export function xToTime(x: number, durationMs: number, width: number): number {
  if (durationMs <= 0 || width <= 0) return 0;
  return Math.min(durationMs, Math.max(0, (x / width) * durationMs));
}

/** Sentiment (−1..1) → y in a band from `top` (+1) to `top + height` (−1). */
export function sentimentY(score: number, top: number, height: number): number {
  const c = Math.max(-1, Math.min(1, Number.isFinite(score) ? score : 0));
  return top + ((1 - c) / 2) * height;
}

/** SVG polyline points of the sentiment curve (`key`: the turn's score or the smoothed trend). */
export function sentimentPoints(points: readonly SentimentPoint[], key: 'score' | 'trend', durationMs: number, width: number, top: number, height: number): string {
  return points
    .map((p) => `${timeToX(p.at_ms, durationMs, width).toFixed(1)},${sentimentY(p[key], top, height).toFixed(1)}`)
    .join(' ');
}

/**
 * One SVG path of vertical bars for a waveform channel: at most one bar per `barWidth`
 * pixels (the peaks are merged by maximum), each drawn up (`up`) or down from `base`,
 * scaled to the loudest peak.
 */
export function waveformPath(peaks: readonly number[], width: number, base: number, height: number, up: boolean, barWidth = 2): string {
  if (peaks.length === 0 || width <= 0 || height <= 0) return '';
  let loudest = 0;
  for (const p of peaks) if (p > loudest) loudest = p;
  if (loudest <= 0) return '';
  const bars = Math.max(1, Math.min(peaks.length, Math.floor(width / barWidth)));
  const step = width / bars;
  const parts: string[] = [];
  for (let b = 0; b < bars; b++) {
    const from = Math.floor((b * peaks.length) / bars);
    const to = Math.max(from + 1, Math.floor(((b + 1) * peaks.length) / bars));
    let peak = 0;
    for (let i = from; i < to; i++) if (peaks[i] > peak) peak = peaks[i];
    const h = (peak / loudest) * height;
    if (h < 0.5) continue;
    const x = (b * step + step / 2).toFixed(1);
    parts.push(`M${x} ${base.toFixed(1)}V${(up ? base - h : base + h).toFixed(1)}`);
  }
  return parts.join('');
}

export type MarkerKind = 'persona' | 'supervisor' | 'ticket' | 'barge_in' | 'human' | 'error' | 'annotation';

/** Something marked on the timeline. `event` is the recorded event (none for comments). */
export interface TimelineMarker {
  at_ms: number;
  kind: MarkerKind;
  event?: CallEvent;
  /** For comments: the annotation's id. */
  id?: string;
}

const markerKinds: Partial<Record<CallEvent['type'], MarkerKind>> = {
  persona_changed: 'persona',
  supervisor: 'supervisor',
  ticket: 'ticket',
  barge_in: 'barge_in',
  human_requested: 'human',
  error: 'error',
};

/** The recorded events worth a mark on the timeline, in time order. */
export function eventMarkers(events: readonly CallEvent[]): TimelineMarker[] {
  const out: TimelineMarker[] = [];
  for (const ev of events) {
    const kind = markerKinds[ev.type];
    if (kind) out.push({ at_ms: ev.t_ms, kind, event: ev });
  }
  return out.sort((a, b) => a.at_ms - b.at_ms);
}

/** The history filter as typed in the form (dates as the date inputs give them: "YYYY-MM-DD"). */
export interface FilterForm {
  customer: string;
  from: string;
  to: string;
  persona: string;
  outcome: string;
  /** "Sentiment fell below" (−1..1), as typed (a number input bound by Svelte gives a number or null). */
  sentimentBelow: string | number | null;
  keyword: string;
  intervened: 'any' | 'yes' | 'no';
  recorded: 'any' | 'yes' | 'no';
}

export const emptyFilter = (): FilterForm => ({
  customer: '', from: '', to: '', persona: '', outcome: '', sentimentBelow: '', keyword: '', intervened: 'any', recorded: 'any',
});

/** Local midnight of a "YYYY-MM-DD" date, in epoch ms (null when it is not a date). */
export function dateToMs(date: string, dayOffset = 0): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date.trim());
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + dayOffset);
  const ms = d.getTime();
  return Number.isNaN(ms) ? null : ms;
}

const tri = (v: FilterForm['intervened']): boolean | undefined => (v === 'yes' ? true : v === 'no' ? false : undefined);

/**
 * The form as the `find_calls` filter: empty fields are left out; "from" counts from the
 * start of its day and "to" includes its whole day (the filter's end is exclusive).
 */
export function toCallFilter(form: FilterForm): CallFilter {
  const f: CallFilter = {};
  const customer = form.customer.trim();
  if (customer) f.customer = customer;
  const from = dateToMs(form.from);
  if (from !== null) f.from_ms = from;
  const to = dateToMs(form.to, 1);
  if (to !== null) f.to_ms = to;
  if (form.persona) f.persona = form.persona;
  if (form.outcome) f.outcome = form.outcome;
  const raw = form.sentimentBelow == null ? '' : String(form.sentimentBelow).trim();
  const below = raw === '' ? NaN : Number(raw);
  if (Number.isFinite(below)) f.sentiment_below = Math.max(-1, Math.min(1, below));
  const keyword = form.keyword.trim();
  if (keyword) f.keyword = keyword;
  const intervened = tri(form.intervened);
  if (intervened !== undefined) f.intervened = intervened;
  const recorded = tri(form.recorded);
  if (recorded !== undefined) f.recorded = recorded;
  return f;
}

/** How long a past call lasted (null when unknown). */
export function callDuration(c: Pick<PastCall, 'started_at' | 'ended_at' | 'recording_ms'>): number | null {
  if (c.ended_at != null && c.ended_at >= c.started_at) return c.ended_at - c.started_at;
  return c.recording_ms ?? null;
}

/** The download's file name and type for an export. */
export function exportFile(callId: string, format: ExportFormat): { name: string; type: string } {
  const safe = callId.replace(/[^A-Za-z0-9_-]/g, '_');
  switch (format) {
    case 'json': return { name: `call-${safe}.jsonl`, type: 'application/x-ndjson' };
    case 'md': return { name: `call-${safe}.md`, type: 'text/markdown;charset=utf-8' };
    case 'vtt': return { name: `call-${safe}.vtt`, type: 'text/vtt;charset=utf-8' };
  }
}

/**
 * A clock that plays the timeline when there is no audio: position = where it was
 * last set + elapsed real time × speed. `now` is injected (performance.now in the view).
 */
export class VirtualClock {
  private baseMs = 0;
  private startedAt: number | null = null;
  private speed = 1;

  constructor(private readonly lengthMs: number) {}

  get playing(): boolean { return this.startedAt !== null; }
  get rate(): number { return this.speed; }

  /** The position at `now`, never past the end. */
  position(now: number): number {
    const ms = this.startedAt === null ? this.baseMs : this.baseMs + (now - this.startedAt) * this.speed;
    return Math.min(this.lengthMs, Math.max(0, ms));
  }

  /** True once playing has reached the end. */
  ended(now: number): boolean { return this.position(now) >= this.lengthMs; }

  play(now: number) {
    if (this.startedAt !== null) return;
    if (this.baseMs >= this.lengthMs) this.baseMs = 0;
    this.startedAt = now;
  }

  pause(now: number) {
    this.baseMs = this.position(now);
    this.startedAt = null;
  }

  seek(ms: number, now: number) {
    this.baseMs = Math.min(this.lengthMs, Math.max(0, ms));
    if (this.startedAt !== null) this.startedAt = now;
  }

  setRate(rate: number, now: number) {
    if (!(rate > 0)) return;
    if (this.startedAt !== null) { this.baseMs = this.position(now); this.startedAt = now; }
    this.speed = rate;
  }
}
