import { describe, expect, it } from 'vitest';
import type { CallEvent } from '../bindings/CallEvent';
import type { CauseKind } from '../bindings/CauseKind';
import type { Intent } from '../bindings/Intent';
import type { RouteCause } from '../bindings/RouteCause';
import { applyEvent, emptyCall, type PersonaMarker } from './calls';
import { causeText, describeCause, personaChangeWhy } from './i18n';

const cause = (kind: CauseKind, intent: Intent | null = null, flags: Partial<RouteCause> = {}): RouteCause => ({
  kind, intent, consecutive: false, after_support: false, ...flags,
});

describe('persona change causes', () => {
  // The engine's `why` for the same causes (src/routing/router.rs tests).
  const engine: [RouteCause, string][] = [
    [cause('sales_intent', 'pricing'), 'pricing question'],
    [cause('intent', 'problem', { consecutive: true }), 'problem report on consecutive turns'],
    [cause('intent', 'order_status'), 'order status question'],
    [cause('intent_negative', 'complaint'), 'complaint with negative sentiment'],
    [cause('intent_falling', 'billing'), 'billing issue while sentiment is falling'],
    [cause('manager_request', 'manager'), 'customer asked for a manager'],
    [cause('human_request', 'human'), 'customer asked for a human agent'],
    [cause('strong_negative'), 'strongly negative sentiment'],
    [cause('negative_falling'), 'negative sentiment and falling trend'],
    [cause('negative', null, { consecutive: true }), 'negative sentiment on consecutive turns'],
    [cause('falling', null, { consecutive: true }), 'falling sentiment trend on consecutive turns'],
    [cause('sales_intent', 'purchase', { after_support: true }), 'purchase interest with positive sentiment after support'],
  ];

  it('words causes in English exactly as the engine does', () => {
    for (const [c, why] of engine) expect(describeCause('en', c, 'support')).toBe(why);
    expect(describeCause('en', cause('supervisor_pin'), 'sales')).toBe('supervisor pinned the call to sales');
  });

  it('words causes in Arabic', () => {
    expect(describeCause('ar', cause('intent_negative', 'complaint'), 'support')).toBe('شكوى بنبرة سلبية');
    expect(describeCause('ar', cause('manager_request', 'manager'), 'support')).toBe('طلب العميل التحدث إلى مدير');
    expect(describeCause('ar', cause('sales_intent', 'pricing'), 'sales')).toBe('سؤال عن الأسعار');
    expect(describeCause('ar', cause('intent', 'problem', { consecutive: true }), 'support')).toBe('بلاغ عن مشكلة في دورين متتاليين');
    expect(describeCause('ar', cause('sales_intent', 'purchase', { after_support: true }), 'sales'))
      .toBe('رغبة في الشراء بنبرة إيجابية بعد انتهاء الدعم');
    expect(describeCause('ar', cause('intent_falling', 'billing'), 'support')).toBe('مشكلة في الفاتورة مع تراجع رضا العميل');
    expect(describeCause('ar', cause('supervisor_pin'), 'sales')).toBe('ثبّت المشرف المكالمة على المبيعات');
  });

  it('has Arabic for every kind and intent, with no English left in it', () => {
    const kinds = Object.keys(causeText.en.kind) as CauseKind[];
    const intents = Object.keys(causeText.en.intent) as Intent[];
    expect(Object.keys(causeText.ar.kind).sort()).toEqual([...kinds].sort());
    expect(Object.keys(causeText.ar.intent).sort()).toEqual([...intents].sort());
    for (const kind of kinds) {
      for (const intent of [null, ...intents]) {
        for (const flags of [{}, { consecutive: true }, { after_support: true }]) {
          const text = describeCause('ar', cause(kind, intent, flags), 'support') ?? '';
          expect(text, `${kind}/${intent}`).toMatch(/[\u0600-\u06FF]/);
          expect(text, `${kind}/${intent}`).not.toMatch(/[A-Za-z{}]/);
        }
      }
    }
  });

  it('falls back to `why` for old events and unknown kinds', () => {
    const why = 'complaint with negative sentiment';
    expect(personaChangeWhy('ar', { to: 'support', why })).toBe(why);
    expect(personaChangeWhy('ar', { to: 'support', why, cause: null })).toBe(why);
    const future = { kind: 'something_new', consecutive: false, after_support: false } as unknown as RouteCause;
    expect(describeCause('ar', future, 'support')).toBeNull();
    expect(personaChangeWhy('ar', { to: 'support', why, cause: future })).toBe(why);
    expect(personaChangeWhy('ar', { to: 'support', why, cause: cause('intent_negative', 'complaint') })).toBe('شكوى بنبرة سلبية');
  });

  it('keeps the cause on the timeline marker (null for older events)', () => {
    const ev = (extra: Partial<CallEvent>): CallEvent => ({
      call_id: 'c', t_ms: 5, type: 'persona_changed', from: 'reception', to: 'support', reason: 'rule', turn: 2,
      why: 'complaint with negative sentiment', ...extra,
    } as CallEvent);
    const c = cause('intent_negative', 'complaint');
    const withCause = applyEvent(emptyCall('c'), ev({ cause: c })).items[0] as PersonaMarker;
    expect(withCause).toMatchObject({ kind: 'persona', cause: c, why: 'complaint with negative sentiment' });
    expect(personaChangeWhy('ar', withCause)).toBe('شكوى بنبرة سلبية');
    const old = applyEvent(emptyCall('c'), ev({})).items[0] as PersonaMarker;
    expect(old.cause).toBeNull();
    expect(personaChangeWhy('ar', old)).toBe('complaint with negative sentiment');
  });
});
