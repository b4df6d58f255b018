// Fetch wrapper for /api/v1: JSON in and out, the session cookie, the
// X-CSRF-Token header on writes, and one error type for every failure.
//
// The CSRF token lives only in this module's memory; the session itself is
// the HttpOnly cookie, so nothing secret is ever written to storage.

let csrfToken = null;
let unauthorizedHandler = null;

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function setCsrfToken(token) {
  csrfToken = token || null;
}

// fn(err) is called when a call answers 401, so the app can go back to the
// login page when a session ends under it.
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (WRITES.has(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken;

  let res;
  try {
    res = await fetch('/api/v1' + path, init);
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check the connection and try again.');
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const e = (data && data.error) || {};
    const err = new ApiError(res.status, e.code || `http_${res.status}`,
      sentence(e.message) || `The server answered ${res.status} ${res.statusText}.`);
    if (e.field) err.field = e.field;
    if (res.status === 401 && unauthorizedHandler) unauthorizedHandler(err);
    throw err;
  }
  return data;
}

// The server's messages are lower-case phrases ("the username x is taken").
function sentence(text) {
  if (typeof text !== 'string' || !text) return '';
  const s = text[0].toUpperCase() + text.slice(1);
  return /[.!?]$/.test(s) ? s : s + '.';
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);
