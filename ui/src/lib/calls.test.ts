import { describe, expect, it } from 'vitest';
import type { CallEvent } from '../bindings/CallEvent';
import { applyEvent, type CallState, type LineItem } from './calls';

const ID = 'c1';
const started: CallEvent = {
  call_id: ID, t_ms: 0, type: 'call_started', customer: { id: 'k1', phone: '+963944000111', name: 'Rana' },
  lang: 'auto', persona: 'reception', transport: 'simulated', started_at_ms: 1_000_000,
};
const tr = (speaker: 'customer' | 'agent' | 'supervisor', text: string, turn: number, final: boolean, extra: Partial<CallEvent> = {}): CallEvent =>
  ({ call_id: ID, t_ms: 10, type: 'transcript', speaker, text, lang: 'en', final, turn, ...extra }) as CallEvent;
const run = (evs: CallEvent[], s?: CallState) => evs.reduce<CallState | undefined>((acc, e) => applyEvent(acc, e), s)!;
const lines = (s: CallState) => s.items.filter((i): i is LineItem => i.kind === 'line');

describe('applyEvent', () => {
  it('starts a call', () => {
    const s = run([started]);
    expect(s.customer.name).toBe('Rana');
    expect(s.persona).toBe('reception');
    expect(s.startedAtMs).toBe(1_000_000);
    expect(s.controller).toBe('ai');
    expect(s.ended).toBeNull();
  });

  it('replaces a partial line by its final, keeping one line per utterance', () => {
    const s = run([started, tr('customer', 'I', 1, false), tr('customer', 'I want', 1, false), tr('customer', 'I want a refund', 1, true)]);
    expect(lines(s)).toHaveLength(1);
    expect(lines(s)[0]).toMatchObject({ text: 'I want a refund', final: true, speaker: 'customer' });
    expect(s.open).toEqual({});
    expect(s.lastCustomerText).toBe('I want a refund');
    expect(s.turns).toBe(1);
  });

  it('keeps separate lines for different speakers and turns, in order', () => {
    const s = run([
      started, tr('agent', 'Hello', 0, false, { persona: 'reception' }), tr('customer', 'Hi', 1, false),
      tr('agent', 'Hello, how can I help?', 0, true, { persona: 'reception' }), tr('customer', 'Hi there', 1, true),
    ]);
    expect(lines(s).map((l) => [l.speaker, l.text])).toEqual([['agent', 'Hello, how can I help?'], ['customer', 'Hi there']]);
  });

  it('a new final line after a final one of the same turn is a new utterance', () => {
    const s = run([started, tr('customer', 'one', 1, true), tr('customer', 'two', 1, true)]);
    expect(lines(s)).toHaveLength(2);
  });

  it('does not mutate the previous state', () => {
    const a = run([started, tr('customer', 'I', 1, false)]);
    const snapshot = JSON.stringify(a);
    applyEvent(a, tr('customer', 'I want', 1, true));
    expect(JSON.stringify(a)).toBe(snapshot);
  });

  it('marks an interrupted agent line on barge-in with what was heard and dropped', () => {
    const s = run([
      started, tr('agent', 'Hello, this is Mohammed from support and', 3, false, { persona: 'support' }),
      { call_id: ID, t_ms: 20, type: 'barge_in', turn: 3, heard: 'Hello, this is', dropped: 'Mohammed from support and' },
    ]);
    expect(lines(s)[0]).toMatchObject({ interrupted: true, text: 'Hello, this is', dropped: 'Mohammed from support and' });
  });

  it('marks interrupted from the transcript flag and from a barge-in after the final', () => {
    const a = run([started, tr('agent', 'Hello', 2, true, { persona: 'sales', interrupted: true })]);
    expect(lines(a)[0].interrupted).toBe(true);
    const b = run([started, tr('agent', 'Hello there', 2, true, { persona: 'sales' }), { call_id: ID, t_ms: 30, type: 'barge_in', turn: 2, heard: 'Hello', dropped: 'there' }]);
    expect(lines(b)[0]).toMatchObject({ interrupted: true, text: 'Hello' });
  });

  it('ignores a barge-in for an unknown turn', () => {
    const a = run([started]);
    expect(applyEvent(a, { call_id: ID, t_ms: 30, type: 'barge_in', turn: 9, heard: '', dropped: 'x' }).items).toHaveLength(0);
  });

  it('tracks persona changes with an inline marker and agent persona on lines', () => {
    const s = run([
      started,
      { call_id: ID, t_ms: 5, type: 'persona_changed', from: 'reception', to: 'sales', reason: 'rule', turn: 1, why: 'pricing question' },
      tr('agent', 'Sarah here', 1, true, { persona: 'sales' }),
    ]);
    expect(s.persona).toBe('sales');
    expect(s.items[0]).toMatchObject({ kind: 'persona', from: 'reception', to: 'sales', why: 'pricing question' });
    expect(lines(s)[0].persona).toBe('sales');
  });

  it('records sentiment per turn and the trend', () => {
    const s = run([
      started,
      { call_id: ID, t_ms: 5, type: 'sentiment', turn: 1, score: -0.5, label: 'negative', trend: -0.5 },
      { call_id: ID, t_ms: 6, type: 'sentiment', turn: 2, score: 0.1, label: 'neutral', trend: -0.2 },
    ]);
    expect(s.sentiments.map((x) => x.score)).toEqual([-0.5, 0.1]);
    expect(s.sentimentByTurn[2].trend).toBe(-0.2);
    expect(s.trend).toBe(-0.2);
  });

  it('supervisor actions change controller and pin, and leave markers', () => {
    const sup = (action: 'takeover' | 'handback' | 'pin' | 'unpin', persona: 'sales' | null = null): CallEvent =>
      ({ call_id: ID, t_ms: 7, type: 'supervisor', action, persona });
    let s = run([started, sup('takeover')]);
    expect(s.controller).toBe('supervisor');
    s = run([sup('pin', 'sales')], s);
    expect(s.pinned).toBe('sales');
    expect(s.persona).toBe('sales');
    s = run([sup('unpin'), sup('handback')], s);
    expect(s.pinned).toBeNull();
    expect(s.controller).toBe('ai');
    expect(s.items.filter((i) => i.kind === 'supervisor')).toHaveLength(4);
  });

  it('stores turn metrics and errors', () => {
    const s = run([
      started,
      { call_id: ID, t_ms: 8, type: 'turn_metrics', turn: 1, eou_ms: 500, stt_ms: 10, llm_first_token_ms: null, tts_first_audio_ms: 50, total_ms: 300, response_ms: 800 },
      { call_id: ID, t_ms: 9, type: 'error', turn: 1, stage: 'llm', code: 'timeout', message: 'LLM stalled', fallback: 'template' },
    ]);
    expect(s.metrics[1].response_ms).toBe(800);
    expect(s.errors).toBe(1);
    expect(s.items[0]).toMatchObject({ kind: 'error', fallback: 'template' });
  });

  it('call_ended finalizes open lines and records the end', () => {
    const s = run([
      started, tr('customer', 'wait', 3, false),
      { call_id: ID, t_ms: 60_000, type: 'call_ended', reason: 'customer_hangup', turns: 3, duration_ms: 60_000, persona: 'support', summary: 'Router fixed', summary_provider: 'extractive' },
    ]);
    expect(s.ended).toMatchObject({ reason: 'customer_hangup', duration_ms: 60_000, summary: 'Router fixed', endedAtMs: 1_060_000 });
    expect(lines(s)[0].final).toBe(true);
    expect(s.open).toEqual({});
    expect(s.persona).toBe('support');
  });

  it('accepts events for a call whose start it missed', () => {
    const s = applyEvent(undefined, tr('customer', 'hello', 1, true));
    expect(s.id).toBe(ID);
    expect(lines(s)).toHaveLength(1);
  });

  it('stays fast with long calls (partials update in place)', () => {
    let s = run([started]);
    const t0 = performance.now();
    for (let turn = 1; turn <= 200; turn++) {
      for (let w = 0; w < 10; w++) s = applyEvent(s, tr('customer', 'word '.repeat(w + 1), turn, w === 9));
    }
    expect(lines(s)).toHaveLength(200);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
