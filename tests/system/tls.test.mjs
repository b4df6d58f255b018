// HTTPS: the API over TLS, old protocol versions refused, Secure cookies,
// and plain HTTP redirected to HTTPS.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import tls from 'node:tls';
import { Vigil, simpleGet, rawRequest } from './lib/server.mjs';

const PW = 'correct-horse-1';
let srv;

before(async () => {
  srv = await Vigil.start({ tls: true, users: [{ name: 'admin', password: PW, role: 'admin' }] });
});

after(async () => { await srv?.stop(); });

// a crash in one test is reported at the end; later tests get a fresh process
beforeEach(() => srv?.revive());

function httpsRequest(method, p, { body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request({
      host: '127.0.0.1', port: srv.httpsPort, path: p, method, rejectUnauthorized: false, agent: false,
      headers: { ...headers, ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}) },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json, socket: res.socket });
      });
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(data);
  });
}

// Handshake with the given options; resolves {ok, protocol} or {ok: false, error}.
function handshake(opts) {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: srv.httpsPort, rejectUnauthorized: false, ...opts });
    s.setTimeout(5000, () => { s.destroy(); resolve({ ok: false, error: new Error('timeout') }); });
    s.once('secureConnect', () => { const protocol = s.getProtocol(); s.end(); resolve({ ok: true, protocol }); });
    s.once('error', (error) => resolve({ ok: false, error }));
  });
}

test('GET /api/v1/health over HTTPS: 200', async () => {
  const r = await httpsRequest('GET', '/api/v1/health');
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'ok');
});

test('TLS 1.2 and 1.3 are accepted; TLS 1.1 and 1.0 are refused by the server', async () => {
  const old = { minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' };
  const t12 = await handshake({ ...old, maxVersion: 'TLSv1.2' });
  assert.ok(t12.ok, `TLS 1.2: ${t12.error?.message}`);
  assert.equal(t12.protocol, 'TLSv1.2');
  const t13 = await handshake({ minVersion: 'TLSv1.3' });
  assert.ok(t13.ok, `TLS 1.3: ${t13.error?.message}`);
  for (const v of ['TLSv1.1', 'TLSv1']) {
    const r = await handshake({ ...old, maxVersion: v });
    assert.ok(!r.ok, `${v} handshake succeeded (${r.protocol})`);
    // the refusal must come from the server, not from this client refusing to offer it
    assert.notEqual(r.error.code, 'ERR_SSL_NO_PROTOCOLS_AVAILABLE', r.error.message);
  }
});

test('login over HTTPS sets the session cookie with Secure', async () => {
  const r = await httpsRequest('POST', '/api/v1/login', { body: { username: 'admin', password: PW } });
  assert.equal(r.status, 200, r.text);
  const sc = (r.headers['set-cookie'] ?? []).find((c) => c.startsWith('vigil_session='));
  assert.ok(sc, 'no vigil_session cookie');
  assert.match(sc, /;\s*Secure/i);
  assert.match(sc, /;\s*HttpOnly/i);
  assert.match(sc, /;\s*SameSite=Strict/i);
  const me = await httpsRequest('GET', '/api/v1/me', { headers: { cookie: sc.split(';')[0] } });
  assert.equal(me.status, 200);
  assert.equal(me.json.username, 'admin');
});

test('plain HTTP answers 301/308 to the same path on https', async () => {
  for (const p of ['/api/v1/health', '/index.html?x=1']) {
    const r = await simpleGet(`http://127.0.0.1:${srv.port}${p}`);
    assert.ok([301, 308].includes(r.status), `${p}: ${r.status}`);
    const loc = r.headers.location ?? '';
    assert.match(loc, /^https:\/\//, `Location: ${loc}`);
    assert.ok(loc.endsWith(`:${srv.httpsPort}${p}`), `Location ${loc} is not this path on port ${srv.httpsPort}`);
  }
  // no API answer leaks over plain HTTP
  const body = JSON.stringify({ username: 'admin', password: PW });
  const r = await rawRequest(srv.port, 'POST /api/v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n'
    + `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`, { timeout: 3000 });
  assert.match(r.text, /^HTTP\/1\.1 (301|308|307|400|403) /, r.text.slice(0, 100));
  assert.ok(!r.text.includes('access_token'), 'login answered over plain HTTP');
});
