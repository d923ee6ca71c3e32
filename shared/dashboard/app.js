// The dashboard's entry: sign-in with a pasted token, then pages chosen by the URL's hash
// (#/overview, #/webhooks, #/deliveries, #/audit), each a module that renders into <main>.
import * as api from './api.js';
import { el, failed, notice, show } from './dom.js';
import { overview } from './overview.js';
import { webhooks, webhook } from './webhooks.js';
import { deliveries, delivery } from './deliveries.js';
import { audit } from './audit.js';

function signInPage(message) {
  const input = el('textarea', { id: 'token', name: 'token', autocomplete: 'off', spellcheck: 'false', placeholder: 'eyJ…' });
  const submit = async (event) => {
    event.preventDefault();
    api.signIn(input.value);
    try {
      await api.get('api/v1/webhooks', { limit: 1 });
      window.location.hash = '#/overview';
      route();
    } catch (error) {
      api.signOut();
      signInPage(error.status === 401 ? 'That token was refused: it is expired, or not signed with this deployment’s key.' : error.message);
    }
  };
  chrome();
  show(
    el(
      'form',
      { class: 'card signin', onsubmit: submit },
      el('h1', {}, 'Sign in'),
      message ? notice('error', message) : null,
      el('label', { for: 'token' }, 'Management token (a JWT with a webhooks:read, webhooks:write or webhooks:admin role)'),
      input,
      el('p', { class: 'muted' }, 'Locally: hookline token --data hookline.db --role webhooks:admin --sub you. It is kept in this tab only.'),
      el('button', { class: 'primary', type: 'submit', id: 'sign-in' }, 'Sign in'),
    ),
  );
}

/** The header: navigation for a signed-in caller, without what their role cannot use. */
function chrome(page) {
  const signedIn = Boolean(api.token());
  const nav = document.getElementById('nav');
  nav.hidden = !signedIn;
  for (const link of nav.querySelectorAll('a')) {
    link.hidden = link.dataset.role === 'admin' && !api.can.admin();
    link.classList.toggle('current', link.dataset.page === page);
  }
  document.getElementById('sign-out').hidden = !signedIn;
  const roles = api.roles().map((role) => role.replace('webhooks:', '')).join(', ');
  document.getElementById('who').textContent = signedIn ? `${api.subject()} (${roles || 'no role claim'})` : '';
}

const PAGES = [
  [/^#\/webhooks\/new$/, 'webhooks', () => webhook(null)],
  [/^#\/webhooks\/([^/?]+)$/, 'webhooks', (id) => webhook(id)],
  [/^#\/webhooks(\?.*)?$/, 'webhooks', () => webhooks()],
  [/^#\/deliveries\/(dlv_[^/?]+)$/, 'deliveries', (id) => delivery(id)],
  [/^#\/deliveries(\?.*)?$/, 'deliveries', (query) => deliveries(new URLSearchParams((query || '').slice(1)))],
  [/^#\/audit$/, 'audit', () => audit()],
  [/^#\/overview(\?.*)?$/, 'overview', (query) => overview(new URLSearchParams((query || '').slice(1)))],
];

async function route() {
  if (!api.token()) return signInPage();
  const hash = window.location.hash || '#/overview';
  const found = PAGES.find(([pattern]) => pattern.test(hash));
  if (!found) {
    window.location.hash = '#/overview';
    return undefined;
  }
  const [pattern, page, render] = found;
  chrome(page);
  try {
    await render(...hash.match(pattern).slice(1));
  } catch (error) {
    if (error.status === 401) {
      api.signOut();
      return signInPage('Your token expired or was refused; sign in again.');
    }
    failed(error);
  }
  return undefined;
}

document.getElementById('sign-out').addEventListener('click', () => {
  api.signOut();
  window.location.hash = '';
  signInPage();
});
window.addEventListener('hashchange', route);
route();
