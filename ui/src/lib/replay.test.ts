import { describe, expect, it } from 'vitest';
import type { CallEvent } from '../bindings/CallEvent';
import {
  callDuration, clock, dateToMs, emptyFilter, eventMarkers, exportFile, lineIndexAt, lineStarts, sentimentPoints, sentimentY,
  timelineLength, timeToX, toCallFilter, VirtualClock, waveformPath, xToTime,
} from './replay';

describe('clock', () => {
  it('formats positions as m:ss, and h:mm:ss past the hour', () => {
    expect(clock(0)).toBe('0:00');
    expect(clock(999)).toBe('0:00');
    expect(clock(1000)).toBe('0:01');
    expect(clock(65_500)).toBe('1:05');
    expect(clock(59 * 60_000 + 59_999)).toBe('59:59');
    expect(clock(3_600_000)).toBe('1:00:00');
    expect(clock(3_725_000)).toBe('1:02:05');
  });
  it('never shows a negative or broken time', () => {
    expect(clock(-5000)).toBe('0:00');
    expect(clock(NaN)).toBe('0:00');
    expect(clock(Infinity)).toBe('0:00');
  });
});

describe('current line', () => {
  const starts = lineStarts([0, 1000, 1000, 2500, 4000].map((at_ms) => ({ at_ms })));
  it('is the last line started at or before the time', () => {
    expect(lineIndexAt(starts, 0)).toBe(0);
    expect(lineIndexAt(starts, 999)).toBe(0);
    expect(lineIndexAt(starts, 1000)).toBe(2);
    expect(lineIndexAt(starts, 2499)).toBe(2);
    expect(lineIndexAt(starts, 2500)).toBe(3);
    expect(lineIndexAt(starts, 1e9)).toBe(4);
  });
  it('is -1 before the first line and with no lines', () => {
    expect(lineIndexAt(lineStarts([{ at_ms: 500 }]), 499)).toBe(-1);
    expect(lineIndexAt(lineStarts([]), 100)).toBe(-1);
  });
  it('tolerates a line stamped earlier than the one before it', () => {
    const s = lineStarts([{ at_ms: 0 }, { at_ms: 3000 }, { at_ms: 2000 }, { at_ms: 5000 }]);
    expect([...s]).toEqual([0, 3000, 3000, 5000]);
    expect(lineIndexAt(s, 2500)).toBe(0);
    expect(lineIndexAt(s, 3000)).toBe(2);
  });
  it('agrees with a linear scan on a long call', () => {
    const lines = Array.from({ length: 1200 }, (_, i) => ({ at_ms: i * 3000 + (i % 7) * 100 }));
    const s = lineStarts(lines);
    for (let ms = -10; ms < 1200 * 3000 + 5000; ms += 337) {
      let expected = -1;
      for (let i = 0; i < lines.length; i++) if (lines[i].at_ms <= ms) expected = i;
      expect(lineIndexAt(s, ms)).toBe(expected);
    }
  });
});

describe('timeline geometry', () => {
  it('maps time to x and back, clamped to the timeline', () => {
    expect(timeToX(0, 60_000, 600)).toBe(0);
    expect(timeToX(30_000, 60_000, 600)).toBe(300);
    expect(timeToX(90_000, 60_000, 600)).toBe(600);
    expect(timeToX(-1, 60_000, 600)).toBe(0);
    expect(xToTime(150, 60_000, 600)).toBe(15_000);
    expect(xToTime(-20, 60_000, 600)).toBe(0);
    expect(xToTime(700, 60_000, 600)).toBe(60_000);
    expect(xToTime(timeToX(12_345, 60_000, 800), 60_000, 800)).toBeCloseTo(12_345, 6);
  });
  it('is safe with an empty call or no width', () => {
    expect(timeToX(10, 0, 600)).toBe(0);
    expect(xToTime(10, 60_000, 0)).toBe(0);
  });
  it('runs to the later of the duration and the last line', () => {
    expect(timelineLength(60_000, [{ end_ms: 61_500 }])).toBe(61_500);
    expect(timelineLength(60_000, [{ end_ms: 1000 }])).toBe(60_000);
    expect(timelineLength(0, [])).toBe(1);
  });
  it('draws sentiment from +1 at the top to −1 at the bottom', () => {
    expect(sentimentY(1, 10, 40)).toBe(10);
    expect(sentimentY(-1, 10, 40)).toBe(50);
    expect(sentimentY(0, 10, 40)).toBe(30);
    expect(sentimentY(-3, 10, 40)).toBe(50);
    const pts = [{ at_ms: 0, turn: 1, score: 1, trend: 0 }, { at_ms: 60_000, turn: 2, score: -1, trend: -0.5 }];
    expect(sentimentPoints(pts, 'score', 60_000, 600, 0, 40)).toBe('0.0,0.0 600.0,40.0');
    expect(sentimentPoints(pts, 'trend', 60_000, 600, 0, 40)).toBe('0.0,20.0 600.0,30.0');
  });
  it('draws at most one waveform bar per two pixels, scaled to the loudest peak', () => {
    const peaks = Array.from({ length: 1000 }, (_, i) => (i === 500 ? 200 : 100));
    const d = waveformPath(peaks, 100, 50, 40, true);
    const bars = d.match(/M/g) ?? [];
    expect(bars.length).toBe(50);
    expect(d).toContain('V10.0');
    expect(d).toContain('V30.0');
    expect(waveformPath(peaks, 100, 50, 40, false)).toContain('V90.0');
    expect(waveformPath([], 100, 50, 40, true)).toBe('');
    expect(waveformPath([0, 0], 100, 50, 40, true)).toBe('');
    expect(waveformPath([1, 2, 3], 100, 50, 40, true).match(/M/g)?.length).toBe(3);
  });
});

describe('timeline markers', () => {
  const base = { call_id: 'c' };
  const events = [
    { ...base, t_ms: 9000, type: 'supervisor', action: 'takeover' },
    { ...base, t_ms: 2000, type: 'persona_changed', from: 'reception', to: 'support', reason: 'rule', turn: 1, why: 'x' },
    { ...base, t_ms: 3000, type: 'sentiment', turn: 1, score: 0, label: 'neutral', trend: 0 },
    { ...base, t_ms: 4000, type: 'error', stage: 'llm', code: 'e', message: 'm' },
    { ...base, t_ms: 5000, type: 'barge_in', turn: 2, heard: '', dropped: '' },
    { ...base, t_ms: 6000, type: 'ticket', turn: 2, ticket_id: 't', subject: 's', department: 'd', priority: 'p' },
    { ...base, t_ms: 7000, type: 'human_requested', turn: 2, reason: 'r' },
  ] as CallEvent[];
  it('keeps the events worth marking, in time order', () => {
    expect(eventMarkers(events).map((m) => `${m.at_ms}:${m.kind}`)).toEqual([
      '2000:persona', '4000:error', '5000:barge_in', '6000:ticket', '7000:human', '9000:supervisor',
    ]);
  });
});

describe('history filter', () => {
  it('drops empty fields', () => {
    expect(toCallFilter(emptyFilter())).toEqual({});
    expect(toCallFilter({ ...emptyFilter(), customer: '   ', keyword: ' ', sentimentBelow: '  ' })).toEqual({});
  });
  it('keeps what was given, trimmed', () => {
    expect(toCallFilter({
      customer: ' Rana ', from: '', to: '', persona: 'support', outcome: 'supervisor', sentimentBelow: '-0.5',
      keyword: ' الراوتر خربان ', intervened: 'yes', recorded: 'no',
    })).toEqual({ customer: 'Rana', persona: 'support', outcome: 'supervisor', sentiment_below: -0.5, keyword: 'الراوتر خربان', intervened: true, recorded: false });
    expect(toCallFilter({ ...emptyFilter(), intervened: 'no', recorded: 'yes' })).toEqual({ intervened: false, recorded: true });
  });
  it('keeps a sentiment of 0 and clamps it to −1..1; ignores what is not a number', () => {
    expect(toCallFilter({ ...emptyFilter(), sentimentBelow: '0' })).toEqual({ sentiment_below: 0 });
    expect(toCallFilter({ ...emptyFilter(), sentimentBelow: '-4' })).toEqual({ sentiment_below: -1 });
    expect(toCallFilter({ ...emptyFilter(), sentimentBelow: 'abc' })).toEqual({});
    // As a bound number input gives it.
    expect(toCallFilter({ ...emptyFilter(), sentimentBelow: -0.5 })).toEqual({ sentiment_below: -0.5 });
    expect(toCallFilter({ ...emptyFilter(), sentimentBelow: null })).toEqual({});
  });
  it('takes "from" from the start of its day and "to" to the end of its day (local time)', () => {
    const f = toCallFilter({ ...emptyFilter(), from: '2024-03-10', to: '2024-03-12' });
    expect(f).toEqual({ from_ms: new Date(2024, 2, 10).getTime(), to_ms: new Date(2024, 2, 13).getTime() });
    // A single day: everything that started on it.
    const day = toCallFilter({ ...emptyFilter(), from: '2024-12-31', to: '2024-12-31' });
    expect(day.to_ms! - day.from_ms!).toBeGreaterThanOrEqual(23 * 3600_000);
    expect(day.to_ms).toBe(new Date(2025, 0, 1).getTime());
  });
  it('ignores dates it cannot read', () => {
    expect(dateToMs('10/03/2024')).toBeNull();
    expect(dateToMs('')).toBeNull();
    expect(toCallFilter({ ...emptyFilter(), from: 'yesterday' })).toEqual({});
  });
});

describe('past calls and exports', () => {
  it('takes the duration from the end, else from the recording', () => {
    expect(callDuration({ started_at: 1000, ended_at: 61_000, recording_ms: null })).toBe(60_000);
    expect(callDuration({ started_at: 1000, ended_at: null, recording_ms: 5000 })).toBe(5000);
    expect(callDuration({ started_at: 1000, ended_at: null, recording_ms: null })).toBeNull();
  });
  it('names the download after the call and the format', () => {
    expect(exportFile('abc-123', 'json').name).toBe('call-abc-123.jsonl');
    expect(exportFile('abc-123', 'md').name).toBe('call-abc-123.md');
    expect(exportFile('abc-123', 'vtt')).toEqual({ name: 'call-abc-123.vtt', type: 'text/vtt;charset=utf-8' });
    expect(exportFile('../x y', 'md').name).toBe('call-___x_y.md');
  });
});

describe('virtual clock', () => {
  it('advances with real time times the speed, and stops at the end', () => {
    const c = new VirtualClock(10_000);
    expect(c.position(0)).toBe(0);
    c.play(1000);
    expect(c.position(3000)).toBe(2000);
    c.setRate(2, 3000);
    expect(c.position(4000)).toBe(4000);
    c.pause(4000);
    expect(c.position(9000)).toBe(4000);
    expect(c.playing).toBe(false);
    c.play(9000);
    expect(c.position(100_000)).toBe(10_000);
    expect(c.ended(100_000)).toBe(true);
  });
  it('seeks while playing or paused, and replays from the start once ended', () => {
    const c = new VirtualClock(10_000);
    c.seek(5000, 0);
    expect(c.position(50)).toBe(5000);
    c.play(100);
    c.seek(8000, 200);
    expect(c.position(700)).toBe(8500);
    c.seek(20_000, 700);
    expect(c.position(700)).toBe(10_000);
    c.pause(800);
    c.play(900);
    expect(c.position(1900)).toBe(1000);
    c.setRate(0, 1900);
    expect(c.rate).toBe(1);
  });
});
