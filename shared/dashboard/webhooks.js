// Webhooks: the list with state and health; one webhook's form (create or edit, the API's
// validation errors shown at the field) and its actions: pause, enable, test, rotate the
// secret, replay dead or release held deliveries. Buttons appear only for roles that may use them.
import * as api from './api.js';
import { badge, el, notice, show, table, when } from './dom.js';

/** A message to show on the next page (the secret of a webhook just created). */
let flash = null;

export async function webhooks() {
  const page = await api.get('api/v1/webhooks', { limit: 100 });
  show(
    el('h1', {}, 'Webhooks'),
    el('div', { class: 'toolbar' }, el('span', { class: 'spacer' }), api.can.write() ? el('a', { class: 'button primary', href: '#/webhooks/new', id: 'new-webhook' }, 'New webhook') : null),
    table(
      [
        ['Name', (w) => el('a', { href: `#/webhooks/${w.id}` }, w.name)],
        ['URL', (w) => el('span', { class: 'mono' }, w.url)],
        ['Events', (w) => w.events.join(', ')],
        ['State', (w) => badge(w.state)],
        ['Health', (w) => health(w)],
        ['', (w) => el('a', { href: `#/deliveries?webhook_id=${w.id}` }, 'Deliveries')],
      ],
      page.data,
    ),
  );
}

function health(webhook) {
  const h = webhook.health || {};
  if (!h.failure_streak) return el('span', { class: 'muted' }, h.last_success_at ? `ok, last success ${when(h.last_success_at)}` : 'no failures');
  return el('span', {}, `${h.failure_streak} failed in a row`, h.last_error ? el('div', { class: 'muted' }, h.last_error) : null);
}

/** The form's fields: [name, label, type, wide]. */
const FIELDS = [
  ['name', 'Name', 'text', false],
  ['url', 'URL (https://…)', 'url', false],
  ['events', 'Event types, comma-separated (customer.*, invoice.paid, *)', 'text', true],
  ['description', 'Description', 'text', true],
  ['rate_limit_per_sec', 'Rate limit (deliveries per second, empty for none)', 'number', false],
];

export async function webhook(id) {
  const current = id ? await api.get(`api/v1/webhooks/${encodeURIComponent(id)}`) : null;
  const writable = api.can.write();
  const inputs = {};
  const fields = FIELDS.map(([name, label, type, wide]) => {
    const value = current ? valueOf(current, name) : '';
    inputs[name] = el('input', { id: `field-${name}`, name, type, value, step: type === 'number' ? 'any' : null, disabled: !writable });
    return el('div', { class: wide ? 'wide' : null }, el('label', { for: `field-${name}` }, label), inputs[name], el('div', { class: 'field-error', id: `error-${name}` }));
  });
  const message = el('div', { id: 'form-message' });
  const submit = async (event) => {
    event.preventDefault();
    clearErrors(inputs, message);
    try {
      const body = requestFrom(inputs, current);
      if (current) {
        await api.put(`api/v1/webhooks/${current.id}`, body);
        flash = notice('ok', 'Saved.');
        await webhook(current.id);
      } else {
        const created = await api.post('api/v1/webhooks', body);
        flash = notice('ok', `Created. Its signing secret, shown this once: ${created.secret}`);
        window.location.hash = `#/webhooks/${created.id}`;
      }
    } catch (error) {
      showError(error, inputs, message);
    }
  };
  const shown = flash;
  flash = null;
  show(
    el('h1', {}, current ? current.name : 'New webhook'),
    shown,
    message,
    current ? facts(current) : null,
    current && writable ? actions(current, message) : null,
    el(
      'form',
      { class: 'card', id: 'webhook-form', onsubmit: submit, novalidate: true },
      el('div', { class: 'form' }, fields),
      writable ? el('p', {}, el('button', { class: 'primary', type: 'submit', id: 'save-webhook' }, current ? 'Save' : 'Create webhook')) : null,
    ),
  );
}

function valueOf(current, name) {
  if (name === 'events') return current.events.join(', ');
  const value = current[name];
  return value === null || value === undefined ? '' : String(value);
}

/** The PUT/POST body; an edit keeps what the form does not show. */
function requestFrom(inputs, current) {
  const rate = inputs.rate_limit_per_sec.value.trim();
  const body = {
    name: inputs.name.value,
    url: inputs.url.value,
    events: inputs.events.value.split(/[\s,]+/).filter(Boolean),
    description: inputs.description.value || null,
    rate_limit_per_sec: rate === '' ? null : Number(rate),
  };
  if (current) {
    body.is_active = current.state === 'active';
    body.headers = current.headers;
    body.retry_policy = retryRequest(current.retry_policy);
  }
  return body;
}

function retryRequest(policy) {
  if (!policy) return undefined;
  const { max_attempts: maxAttempts, jitter, schedule } = policy;
  if (schedule.kind === 'explicit') return { max_attempts: maxAttempts, jitter, schedule_secs: schedule.delays_secs };
  return { max_attempts: maxAttempts, jitter, base_delay_secs: schedule.base_delay_secs, factor: schedule.factor, max_delay_secs: schedule.max_delay_secs };
}

function clearErrors(inputs, message) {
  message.replaceChildren();
  for (const [name, input] of Object.entries(inputs)) {
    input.classList.remove('invalid');
    document.getElementById(`error-${name}`).textContent = '';
  }
}

/** A validation error goes to its field (`events[2]` → events); anything else above the form. */
function showError(error, inputs, message) {
  const field = (error.field || '').split(/[.[]/)[0];
  if (error.status === 422 && inputs[field]) {
    inputs[field].classList.add('invalid');
    document.getElementById(`error-${field}`).textContent = error.message;
    inputs[field].focus();
  } else {
    message.replaceChildren(notice('error', error.message));
  }
}

function facts(current) {
  const h = current.health || {};
  const rows = [
    ['State', badge(current.state)],
    ['Since', when(current.state_changed_at)],
    ['Why', current.disabled_reason],
    ['Failures in a row', String(h.failure_streak || 0)],
    ['Last error', h.last_error],
    ['Last success', when(h.last_success_at)],
    ['Next probe', when(h.next_probe_at)],
    ['Signing secret', el('span', { class: 'mono' }, current.secret)],
    ['Created', when(current.created_at)],
  ].filter(([, value]) => value);
  return el('div', { class: 'card' }, el('dl', { class: 'facts' }, rows.map(([label, value]) => [el('dt', {}, label), el('dd', {}, value)])));
}

function actions(current, message) {
  const run = (label, work) => async () => {
    message.replaceChildren(notice('ok', `${label}…`));
    try {
      const text = await work();
      flash = notice('ok', text);
      await webhook(current.id);
    } catch (error) {
      message.replaceChildren(notice('error', error.message));
    }
  };
  const path = `api/v1/webhooks/${current.id}`;
  const active = current.state === 'active';
  return el(
    'div',
    { class: 'actions card', id: 'webhook-actions' },
    el('button', { type: 'button', id: 'send-test', onclick: run('Sending a test', async () => {
      const outcome = await api.post(`${path}/test`);
      return outcome.success ? `Test delivered (HTTP ${outcome.attempt.status_code}, ${outcome.attempt.duration_ms} ms).` : `Test failed: ${outcome.attempt.error_detail || `HTTP ${outcome.attempt.status_code}`}`;
    }) }, 'Send test'),
    active
      ? el('button', { type: 'button', id: 'pause', onclick: run('Pausing', async () => {
        await api.put(path, { ...requestFrom(formInputs(), current), is_active: false });
        return 'Paused: new deliveries are held until it is enabled.';
      }) }, 'Pause')
      : el('button', { type: 'button', id: 'enable', onclick: run('Enabling', async () => {
        await api.post(`${path}/enable`, { release_held: true });
        return 'Enabled: held deliveries are being released, oldest first.';
      }) }, 'Enable and release held'),
    el('button', { type: 'button', id: 'rotate-secret', onclick: run('Rotating the secret', async () => {
      const rotated = await api.post(`${path}/secret/rotate`, { grace_period_secs: 86400 });
      return `New signing secret (the old one still signs for 24 h): ${rotated.secret}`;
    }) }, 'Rotate secret'),
    el('button', { type: 'button', id: 'replay-dead', onclick: run('Replaying dead deliveries', async () => {
      const replay = await api.post('api/v1/webhooks/deliveries/replay', { webhook_id: current.id, status: ['dead'] });
      return `Replay ${replay.id}: ${replay.matched} matched, ${replay.replayed} sent again so far.`;
    }) }, 'Replay dead deliveries'),
    el('a', { class: 'button', href: `#/deliveries?webhook_id=${current.id}&status=held` }, 'Held deliveries'),
  );
}

function formInputs() {
  return Object.fromEntries(FIELDS.map(([name]) => [name, document.getElementById(`field-${name}`)]));
}
