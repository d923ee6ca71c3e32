// The audit trail (admin): who changed what, newest first.
import * as api from './api.js';
import { el, show, table, when } from './dom.js';

export async function audit() {
  const page = await api.get('api/v1/audit', { limit: 100 });
  show(
    el('h1', {}, 'Audit trail'),
    table(
      [
        ['When', (e) => when(e.at)],
        ['Who', (e) => e.actor],
        ['Action', (e) => e.action],
        ['Target', (e) => el('span', { class: 'mono' }, e.target)],
        ['Source', (e) => e.source || ''],
      ],
      page.data,
    ),
  );
}
