// Test-only: installs a mocked Tauri IPC before the app loads (bundled into an init script by e2e/run.mjs).
import { emit } from '@tauri-apps/api/event';
import { mockIPC } from '@tauri-apps/api/mocks';

const calls = [];
const customers = {
  'cust-rana': { id: 'cust-rana', name: 'Rana', phone: '+963944000111', email: null, tier: 'gold', vip: true, language: 'ar', created_at: 1700000000000, updated_at: 1700000000000, last_interaction: null, total_calls: 3, total_tickets: 1 },
};
const tickets = [
  { id: 'tkt-00000001', customer_id: 'cust-rana', subject: 'الراوتر لا يعمل', description: 'Router keeps dropping', department: 'support', priority: 'high', status: 'open', assignee: null, call_id: null, created_at: 1700000000000, updated_at: 1700000000000 },
];
let t0 = Date.now();

function event(callId, type, fields) {
  return { call_id: callId, t_ms: Date.now() - t0, type, ...fields };
}

async function handle(cmd, args) {
  switch (cmd) {
    case 'list_scenarios':
      return [
        { id: 'support_ar', title: 'دعم فني — راوتر', lang: 'ar' },
        { id: 'sales_en', title: 'Sales enquiry', lang: 'en' },
      ];
    case 'start_simulation':
      return 'sim-' + args.scenario;
    case 'list_calls':
      return [];
    case 'supervisor_command': {
      const c = args.command;
      // Echo what the engine would broadcast.
      setTimeout(() => emit('call-event', event(args.callId, 'supervisor', { action: c.action, persona: c.persona ?? null, text: c.text ?? null })), 5);
      return null;
    }
    case 'get_customer':
      return customers[args.customerId] ?? null;
    case 'update_customer': {
      const existing = Object.values(customers).find((c) => c.phone === args.customer.phone);
      const c = { ...(existing ?? { id: 'cust-' + Math.random().toString(36).slice(2, 8), created_at: Date.now(), last_interaction: null, total_calls: 0, total_tickets: 0, tier: 'standard', vip: false }) };
      for (const [k, v] of Object.entries(args.customer)) if (v !== null) c[k] = v;
      c.updated_at = Date.now();
      customers[c.id] = c;
      return c;
    }
    case 'customer_tickets':
      return tickets.filter((t) => t.customer_id === args.customerId);
    case 'customer_calls':
      return [];
    case 'open_tickets':
      return tickets.filter((t) => t.status !== 'closed');
    case 'create_ticket': {
      const t = { ...args.ticket, id: args.ticket.id ?? 'tkt-' + (tickets.length + 1), status: 'open', assignee: null, created_at: Date.now(), updated_at: Date.now() };
      tickets.push(t);
      return t;
    }
    case 'set_ticket_status': {
      const t = tickets.find((x) => x.id === args.ticketId);
      if (!t) throw { code: 'not_found', message: 'no such ticket' };
      t.status = args.status;
      t.updated_at = Date.now();
      return { ...t };
    }
    case 'ticket_history':
      return [{ id: 'h1', ticket_id: args.ticketId, field: 'created', old_value: null, new_value: 'open', changed_by: 'agent', reason: null, at: 1700000000000 }];
    default:
      throw { code: 'unknown_command', message: cmd };
  }
}

mockIPC(
  (cmd, args) => {
    calls.push({ cmd, args: args === undefined ? null : JSON.parse(JSON.stringify(args)) });
    return handle(cmd, args ?? {});
  },
  { shouldMockEvents: true },
);

window.__SWITCHBOARD_MOCK__ = {
  calls,
  emit: (ev) => emit('call-event', ev),
  resetClock: () => { t0 = Date.now(); },
};
