export type View =
  | { name: 'wall' }
  | { name: 'call'; id: string }
  | { name: 'customer'; id: string; phone: string | null }
  | { name: 'tickets' }
  | { name: 'settings' };

class Nav {
  view = $state<View>({ name: 'wall' });
  go(v: View) { this.view = v; }
}

export const nav = new Nav();
