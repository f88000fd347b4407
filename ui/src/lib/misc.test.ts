import { describe, expect, it } from 'vitest';
import { applyEvent, type CallState } from './calls';
import { formatDuration, maskPhone, sparkPoints } from './format';
import { messages, personaName, translate } from './i18n';
import { sortWall } from './sort';

describe('maskPhone', () => {
  it('keeps the country prefix and the last three digits', () => {
    expect(maskPhone('+963944000111')).toBe('+9639•••••111');
    expect(maskPhone('+447700900123')).toBe('+4477•••••123');
    expect(maskPhone('0501234567')).toBe('050••••567');
  });
  it('handles short, empty and spaced numbers', () => {
    expect(maskPhone('1234')).toBe('1234');
    expect(maskPhone('')).toBe('');
    expect(maskPhone(null)).toBe('');
    expect(maskPhone('+971 50 123 4567')).toBe('+9715•••••567');
    expect(maskPhone('\u202E+963944000111')).toBe('+9639•••••111');
  });
  it('never shows more than 7 digits of a long number', () => {
    const shown = maskPhone('+12345678901234').replace(/\D/g, '');
    expect(shown.length).toBeLessThanOrEqual(7);
  });
});

describe('formatting', () => {
  it('formats durations', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(65_000)).toBe('1:05');
    expect(formatDuration(3_725_000)).toBe('1:02:05');
    expect(formatDuration(-5)).toBe('0:00');
  });
  it('maps sentiment to sparkline points within the box', () => {
    expect(sparkPoints([], 100, 20)).toBe('');
    expect(sparkPoints([1, -1], 100, 20)).toBe('0.0,0.0 100.0,20.0');
    expect(sparkPoints([5], 100, 20)).toBe('50.0,0.0');
  });
});

describe('wall sorting', () => {
  const mk = (id: string, trend: number, started: number, ended = false): CallState => {
    let s = applyEvent(undefined, { call_id: id, t_ms: 0, type: 'call_started', customer: {}, lang: 'auto', persona: 'reception', transport: 't', started_at_ms: started });
    s = applyEvent(s, { call_id: id, t_ms: 1, type: 'sentiment', turn: 1, score: trend, label: 'neutral', trend });
    if (ended) s = applyEvent(s, { call_id: id, t_ms: 2, type: 'call_ended', reason: 'customer_hangup', turns: 1, duration_ms: 2, persona: 'reception', summary: '', summary_provider: 'extractive' });
    return s;
  };
  it('puts alerts first, then the lowest trend, ended calls last', () => {
    const order = sortWall([
      { call: mk('happy', 0.6, 1), alerts: 0 },
      { call: mk('ended-bad', -0.9, 0, true), alerts: 1 },
      { call: mk('meh', -0.1, 2), alerts: 0 },
      { call: mk('kw', 0.2, 3), alerts: 1 },
      { call: mk('angry', -0.7, 4), alerts: 2 },
    ]).map((e) => e.call.id);
    expect(order).toEqual(['angry', 'kw', 'meh', 'happy', 'ended-bad']);
  });
  it('is stable for equal trends (oldest first, then id)', () => {
    const order = sortWall([{ call: mk('b', 0, 5), alerts: 0 }, { call: mk('a', 0, 5), alerts: 0 }, { call: mk('c', 0, 1), alerts: 0 }]).map((e) => e.call.id);
    expect(order).toEqual(['c', 'a', 'b']);
  });
});

describe('i18n', () => {
  const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
  it('every key has English and Arabic with the same placeholders', () => {
    for (const [key, v] of Object.entries(messages)) {
      expect(v.en.trim(), key).not.toBe('');
      expect(v.ar.trim(), key).not.toBe('');
      expect(placeholders(v.ar), key).toEqual(placeholders(v.en));
    }
  });
  it('Arabic strings are Arabic', () => {
    for (const [key, v] of Object.entries(messages)) expect(/[\u0600-\u06FF]/.test(v.ar), key).toBe(true);
  });
  it('interpolates and names personas', () => {
    expect(translate('en', 'wall.count', { n: 3 })).toBe('3 live');
    expect(personaName('ar', 'reception')).toContain('أحمد');
    expect(personaName('ar', 'sales')).toContain('سارة');
    expect(personaName('ar', 'support')).toContain('محمد');
    expect(personaName('en', 'support')).toContain('Mohammed');
  });
});
