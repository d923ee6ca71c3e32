// Deliveries: the log, filtered by status, event type and webhook (newest first, paged by
// cursor), and one delivery with its attempts and payload, replayed or acknowledged from here.
import * as api from './api.js';
import { badge, el, ms, notice, show, table, when } from './dom.js';

const STATUSES = ['', 'pending', 'retrying', 'succeeded', 'dead', 'cancelled', 'held'];

export async function deliveries(params) {
  const filter = { status: params.get('status') || '', event_type: params.get('event_type') || '', webhook_id: params.get('webhook_id') || '' };
  const path = filter.webhook_id ? `api/v1/webhooks/${encodeURIComponent(filter.webhook_id)}/deliveries` : 'api/v1/webhooks/deliveries';
  const query = { status: filter.status, event_type: filter.event_type, limit: 50 };
  const first = await api.get(path, query);
  const rows = el('tbody');
  const more = el('button', { type: 'button', id: 'more' }, 'Load more');
  let cursor = first.next_cursor;
  const append = (items) => rows.append(...items.map(row));
  append(first.data);
  more.hidden = !cursor;
  more.addEventListener('click', async () => {
    const next = await api.get(path, { ...query, cursor });
    append(next.data);
    cursor = next.next_cursor;
    more.hidden = !cursor;
  });
  const status = el('select', { id: 'filter-status', name: 'status' }, STATUSES.map((s) => el('option', { value: s, selected: s === filter.status }, s || 'any status')));
  const type = el('input', { id: 'filter-event-type', name: 'event_type', value: filter.event_type, placeholder: 'event type, e.g. invoice.paid' });
  const webhook = el('input', { id: 'filter-webhook', name: 'webhook_id', value: filter.webhook_id, placeholder: 'webhook id (wh_…)' });
  const apply = (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [name, input] of [['status', status], ['event_type', type], ['webhook_id', webhook]]) if (input.value) next.set(name, input.value.trim());
    window.location.hash = `#/deliveries?${next}`;
  };
  const heading = el('tr', {}, ['Created', 'Status', 'Event type', 'Webhook', 'Attempts', 'Last error'].map((h) => el('th', {}, h)));
  show(
    el('h1', {}, 'Deliveries'),
    el('form', { class: 'toolbar', onsubmit: apply, id: 'delivery-filter' },
      el('div', {}, el('label', { for: 'filter-status' }, 'Status'), status),
      el('div', {}, el('label', { for: 'filter-event-type' }, 'Event type'), type),
      el('div', {}, el('label', { for: 'filter-webhook' }, 'Webhook'), webhook),
      el('button', { type: 'submit' }, 'Filter'),
      el('span', { class: 'spacer' }),
      filter.webhook_id && api.can.write() ? bulkReplay(filter) : null),
    el('table', { id: 'deliveries' }, el('thead', {}, heading), rows),
    first.data.length === 0 ? el('p', { class: 'muted' }, 'No deliveries match.') : null,
    el('p', {}, more),
  );
}

function row(d) {
  const open = () => { window.location.hash = `#/deliveries/${d.id}`; };
  return el('tr', { class: 'link', onclick: open, 'data-id': d.id },
    el('td', {}, when(d.created_at)), el('td', {}, badge(d.status)), el('td', {}, d.event_type),
    el('td', { class: 'mono' }, d.webhook_id), el('td', {}, String(d.attempts)), el('td', {}, d.last_error || ''));
}

/** Replays a webhook's dead (or held) deliveries in the background: POST …/deliveries/replay. */
function bulkReplay(filter) {
  const status = filter.status === 'held' ? 'held' : 'dead';
  return el('button', { type: 'button', id: 'bulk-replay', onclick: async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      const replay = await api.post('api/v1/webhooks/deliveries/replay', { webhook_id: filter.webhook_id, status: [status] });
      button.replaceWith(notice('ok', `Replay ${replay.id}: ${replay.matched} ${status} deliveries matched, ${replay.replayed} sent again so far.`));
    } catch (error) {
      button.replaceWith(notice('error', error.message));
    }
  } }, `Replay every ${status} delivery of this webhook`);
}

export async function delivery(id) {
  const d = await api.get(`api/v1/webhooks/deliveries/${encodeURIComponent(id)}`);
  const message = el('div', { id: 'delivery-message' });
  const act = (label, path, done) => el('button', { type: 'button', id: label.toLowerCase().replace(/\s+/g, '-'), onclick: async () => {
    try {
      await api.post(path);
      await delivery(id);
      document.getElementById('delivery-message').replaceChildren(notice('ok', done));
    } catch (error) {
      message.replaceChildren(notice('error', error.message));
    }
  } }, label);
  const closed = ['succeeded', 'dead', 'cancelled'].includes(d.status);
  const writable = api.can.write();
  show(
    el('h1', {}, `Delivery ${d.id}`),
    message,
    el('div', { class: 'card' }, el('dl', { class: 'facts' },
      [['Status', badge(d.status)], ['Event', el('span', { class: 'mono' }, d.event_id)], ['Event type', d.event_type],
        ['Webhook', el('a', { href: `#/webhooks/${d.webhook_id}` }, d.webhook_id)], ['Attempts', String(d.attempts)],
        ['Next attempt', when(d.next_attempt_at)], ['Last error', d.last_error], ['Acknowledged', when(d.acknowledged_at)],
        ['Created', when(d.created_at)], ['Updated', when(d.updated_at)]]
        .filter(([, value]) => value).map(([label, value]) => [el('dt', {}, label), el('dd', {}, value)]))),
    writable ? el('div', { class: 'actions' },
      closed ? act('Replay', `api/v1/webhooks/deliveries/${d.id}/replay`, 'Replayed: a new round of attempts is under way.') : null,
      d.status === 'dead' && !d.acknowledged_at ? act('Acknowledge', `api/v1/webhooks/deliveries/${d.id}/acknowledge`, 'Acknowledged.') : null) : null,
    el('h2', {}, 'Attempts'),
    withId('attempts', table([
      ['#', (a) => String(a.number)],
      ['Started', (a) => when(a.started_at)],
      ['Status', (a) => (a.status_code ? String(a.status_code) : '–')],
      ['Duration', (a) => ms(a.duration_ms)],
      ['Error', (a) => (a.error_kind ? `${a.error_kind}${a.error_detail ? `: ${a.error_detail}` : ''}` : '')],
      ['Response', (a) => el('code', {}, a.response_excerpt || '')],
    ], d.attempts_log || [])),
    el('h2', {}, 'Payload'),
    el('pre', { id: 'payload' }, d.payload === null || d.payload === undefined ? 'no longer stored' : JSON.stringify(d.payload, null, 2)),
  );
}

function withId(id, node) {
  node.id = id;
  return node;
}
