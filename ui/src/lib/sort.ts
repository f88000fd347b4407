import type { CallState } from './calls';

export interface WallEntry { call: CallState; alerts: number }

/** Trouble first: live before ended, alerts before none, then lowest sentiment trend, then oldest. */
export function compareWall(a: WallEntry, b: WallEntry): number {
  const ea = a.call.ended ? 1 : 0;
  const eb = b.call.ended ? 1 : 0;
  if (ea !== eb) return ea - eb;
  const aa = a.alerts > 0 ? 0 : 1;
  const ab = b.alerts > 0 ? 0 : 1;
  if (aa !== ab) return aa - ab;
  if (a.call.trend !== b.call.trend) return a.call.trend - b.call.trend;
  if (a.call.startedAtMs !== b.call.startedAtMs) return a.call.startedAtMs - b.call.startedAtMs;
  return a.call.id < b.call.id ? -1 : a.call.id > b.call.id ? 1 : 0;
}

export function sortWall(entries: WallEntry[]): WallEntry[] {
  return entries.slice().sort(compareWall);
}
