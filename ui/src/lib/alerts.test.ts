import { describe, expect, it } from 'vitest';
import type { CallEvent } from '../bindings/CallEvent';
import { DEFAULT_ALERTS, alertKey, callAlerts, findKeyword, negativeRun, normalize } from './alerts';
import { applyEvent, type CallState } from './calls';

const KW = DEFAULT_ALERTS.keywords;

describe('normalize', () => {
  it('folds alef forms, ta marbuta, diacritics, tatweel, case and bidi controls', () => {
    expect(normalize('إلغاء')).toBe('الغاء');
    expect(normalize('أحمد آمن')).toBe('احمد امن');
    expect(normalize('شكوَى')).toBe('شكوي');
    expect(normalize('مـــدير')).toBe('مدير');
    expect(normalize('MANAGER\u202E')).toBe('manager');
  });
});

describe('findKeyword', () => {
  it('finds English keywords at word starts, any case', () => {
    expect(findKeyword('Let me talk to your MANAGER now', KW)).toBe('manager');
    expect(findKeyword('I want a cancellation', KW)).toBe('cancel');
    expect(findKeyword('get me a supervisor.', KW)).toBe('supervisor');
    expect(findKeyword('the scanceled thing', KW)).toBeNull();
    expect(findKeyword('all good, thanks', KW)).toBeNull();
  });
  it('finds Arabic keywords with clitics and alef variants', () => {
    expect(findKeyword('بدي أحكي مع المدير', KW)).not.toBeNull();
    expect(findKeyword('والمدير وين؟', KW)).not.toBeNull();
    expect(findKeyword('بدي الغاء الاشتراك', KW)).not.toBeNull(); // bare alef matches إلغاء
    expect(findKeyword('بدي إلغاء الاشتراك', KW)).not.toBeNull();
    expect(findKeyword('ألغي الخدمة', KW)).not.toBeNull();
    expect(findKeyword('عندي شكوة', KW)).toBeNull(); // different word
    expect(findKeyword('بدي أقدّم شكوى رسمية', KW)).not.toBeNull();
    expect(findKeyword('فالشكوى لسا مفتوحة', KW)).not.toBeNull();
    expect(findKeyword('شكرا كتير', KW)).toBeNull();
  });
  it('honours custom keywords and ignores blanks', () => {
    expect(findKeyword('I will call my lawyer', ['lawyer', ' '])).toBe('lawyer');
    expect(findKeyword('anything', ['', '  '])).toBeNull();
  });
});

describe('sentiment rule', () => {
  it('counts the trailing run of turns at or below the threshold', () => {
    expect(negativeRun([-0.5, -0.6], -0.4)).toBe(2);
    expect(negativeRun([-0.5, 0.1, -0.6], -0.4)).toBe(1);
    expect(negativeRun([-0.4], -0.4)).toBe(1);
    expect(negativeRun([], -0.4)).toBe(0);
  });

  const call = (scores: number[], lines: string[] = []): CallState => {
    let s = applyEvent(undefined, { call_id: 'c', t_ms: 0, type: 'call_started', customer: {}, lang: 'auto', persona: 'reception', transport: 't', started_at_ms: 0 });
    scores.forEach((score, i) => {
      s = applyEvent(s, { call_id: 'c', t_ms: i, type: 'sentiment', turn: i + 1, score, label: 'negative', trend: score } as CallEvent);
    });
    lines.forEach((text, i) => {
      s = applyEvent(s, { call_id: 'c', t_ms: i, type: 'transcript', speaker: 'customer', text, lang: 'en', final: true, turn: i + 1 });
    });
    return s;
  };

  it('alerts after N consecutive negative customer turns (default 2 at -0.4)', () => {
    expect(callAlerts(call([-0.6]), DEFAULT_ALERTS)).toEqual([]);
    expect(callAlerts(call([-0.6, -0.5]), DEFAULT_ALERTS)).toEqual([{ kind: 'sentiment', turns: 2, score: -0.5 }]);
    expect(callAlerts(call([-0.6, -0.5, 0.2]), DEFAULT_ALERTS)).toEqual([]);
    expect(callAlerts(call([-0.3, -0.3]), DEFAULT_ALERTS)).toEqual([]);
    expect(callAlerts(call([-0.3, -0.3]), { ...DEFAULT_ALERTS, threshold: -0.2 })).toHaveLength(1);
    expect(callAlerts(call([-0.6, -0.6]), { ...DEFAULT_ALERTS, turns: 3 })).toEqual([]);
  });

  it('alerts on keywords in final customer lines only', () => {
    const s = call([], ['hello', 'I want to cancel']);
    expect(callAlerts(s, DEFAULT_ALERTS)).toEqual([{ kind: 'keyword', keyword: 'cancel', text: 'I want to cancel' }]);
    const agentOnly = applyEvent(call([]), { call_id: 'c', t_ms: 1, type: 'transcript', speaker: 'agent', text: 'our manager says hi', lang: 'en', final: true, turn: 1 });
    expect(callAlerts(agentOnly, DEFAULT_ALERTS)).toEqual([]);
  });

  it('gives stable keys', () => {
    expect(alertKey('c', { kind: 'keyword', keyword: 'إلغاء', text: '' })).toBe(alertKey('c', { kind: 'keyword', keyword: 'الغاء', text: 'x' }));
  });
});
