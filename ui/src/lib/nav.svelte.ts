export type View =
  | { name: 'wall' }
  | { name: 'call'; id: string }
  | { name: 'customer'; id: string; phone: string | null }
  | { name: 'tickets' }
  /** Call history (no id) or the replay of one past call. */
  | { name: 'replay'; id?: string }
  | { name: 'settings' };

class Nav {
  view = $state<View>({ name: 'wall' });
  go(v: View) { this.view = v; }
}

export const nav = new Nav();
