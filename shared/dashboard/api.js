// The API as the dashboard calls it: relative URLs (so a stage prefix such as /prod/ works),
// the pasted token from sessionStorage, errors as {status, code, detail, field}.
const TOKEN_KEY = 'hookline.token';
const base = new URL('.', window.location.href);

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
    this.field = body && body.field;
  }
}

export function token() {
  return window.sessionStorage.getItem(TOKEN_KEY);
}

export function signIn(value) {
  window.sessionStorage.setItem(TOKEN_KEY, value.trim());
}

export function signOut() {
  window.sessionStorage.removeItem(TOKEN_KEY);
}

/** The token's claims, decoded for display only (the API verifies the token). */
function claims() {
  const parts = (token() || '').split('.');
  if (parts.length !== 3) return {};
  try {
    return JSON.parse(atob(parts[1].replace(/-/g, '+').replace(/_/g, '/')));
  } catch (_) {
    return {};
  }
}

/** The roles the token claims (`webhooks:read`, `…:write`, `…:admin`); the API checks them again. */
export function roles() {
  const claimed = claims().roles;
  return Array.isArray(claimed) ? claimed : [];
}

export function subject() {
  return claims().sub || '';
}

export const can = {
  write: () => roles().some((r) => r === 'webhooks:write' || r === 'webhooks:admin'),
  admin: () => roles().includes('webhooks:admin'),
};

/** `path` relative to the dashboard, e.g. `api/v1/webhooks`; `query` an object of parameters. */
export async function call(method, path, { query, body } = {}) {
  const url = new URL(path, base);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, value);
  }
  const headers = { authorization: `Bearer ${token()}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch (_) {
    parsed = { detail: text };
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

export const get = (path, query) => call('GET', path, { query });
export const post = (path, body) => call('POST', path, { body });
export const put = (path, body) => call('PUT', path, { body });
