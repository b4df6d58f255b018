// First-run setup, login, tokens, cookies and CSRF, logout, throttling,
// disabled accounts, session expiry and bad input to login.
import { test, before, after, beforeEach, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Vigil, RawConn, errorCode, sleep } from './lib/server.mjs';

const PW = 'correct-horse-1';

describe('first-run setup', () => {
  let srv;
  before(async () => { srv = await Vigil.start(); });
  after(async () => { await srv?.stop(); });
  beforeEach(() => srv?.revive());

  test('fresh server needs setup; POST creates an admin (201) once; then 409', async () => {
    let r = await srv.get('/api/v1/setup');
    assert.equal(r.status, 200);
    assert.equal(r.json.needs_setup, true);

    r = await srv.post('/api/v1/setup', { username: 'first', password: PW });
    assert.equal(r.status, 201, r.text);
    assert.equal(typeof r.json.access_token, 'string');
    assert.equal(r.json.user.username, 'first');
    assert.equal(r.json.user.role, 'admin');

    const me = await srv.get('/api/v1/me', { token: r.json.access_token });
    assert.equal(me.status, 200);
    assert.equal(me.json.username, 'first');
    assert.equal(me.json.role, 'admin');

    r = await srv.get('/api/v1/setup');
    assert.equal(r.status, 200);
    assert.equal(r.json.needs_setup, false);

    r = await srv.post('/api/v1/setup', { username: 'second', password: PW });
    assert.equal(r.status, 409, r.text);
    errorCode(r);
    // and no second admin came into being
    assert.equal((await srv.post('/api/v1/login', { username: 'second', password: PW })).status, 401);
  });
});

describe('login, tokens, cookies', () => {
  let srv;
  let admin;
  before(async () => {
    srv = await Vigil.start({ users: [{ name: 'admin', password: PW, role: 'admin' }] });
    admin = await srv.login('admin', PW);
  });
  after(async () => { await srv?.stop(); });
  beforeEach(() => srv?.revive());

  test('setup is closed once a user exists', async () => {
    const r = await srv.get('/api/v1/setup');
    assert.equal(r.json.needs_setup, false);
    const p = await srv.post('/api/v1/setup', { username: 'intruder', password: PW });
    assert.equal(p.status, 409);
  });

  test('login answers token, expiry, CSRF token, user and an HttpOnly SameSite=Strict cookie', async () => {
    const r = await srv.post('/api/v1/login', { username: 'admin', password: PW });
    assert.equal(r.status, 200, r.text);
    const j = r.json;
    assert.equal(typeof j.access_token, 'string');
    assert.ok(j.access_token.length >= 20, 'token too short');
    assert.equal(typeof j.expires_at, 'number');
    assert.ok(j.expires_at > Date.now(), 'expires_at not in the future (ms)');
    assert.ok(j.expires_at < Date.now() + 400 * 86400e3, 'expires_at absurd (ms expected)');
    assert.equal(typeof j.csrf_token, 'string');
    assert.ok(j.csrf_token.length >= 16);
    assert.equal(typeof j.user.id, 'number');
    assert.equal(j.user.username, 'admin');
    assert.equal(j.user.role, 'admin');
    assert.equal(j.user.pwhash, undefined);
    assert.equal(j.user.password, undefined);
    const sc = r.setCookies.find((c) => c.startsWith('vigil_session='));
    assert.ok(sc, `no vigil_session cookie: ${JSON.stringify(r.setCookies)}`);
    assert.match(sc, /;\s*HttpOnly/i);
    assert.match(sc, /;\s*SameSite=Strict/i);
    assert.match(sc, /;\s*Path=\//i);
    assert.doesNotMatch(sc, /;\s*Secure/i, 'Secure cookie over plain HTTP');
    assert.ok(sc.split(';')[0].length > 'vigil_session='.length + 10, 'empty cookie value');
  });

  test('wrong password and unknown user: 401 bad_credentials, same body', async () => {
    const a = await srv.post('/api/v1/login', { username: 'admin', password: 'wrong-password' });
    const b = await srv.post('/api/v1/login', { username: 'nobody-here', password: 'wrong-password' });
    assert.equal(a.status, 401);
    assert.equal(b.status, 401);
    assert.equal(errorCode(a), 'bad_credentials');
    assert.deepEqual(a.json, b.json);
    assert.equal(a.setCookies.length, 0);
  });

  test('/me with bearer, with ?access_token=, with the cookie; without a token 401', async () => {
    const l = await srv.login('admin', PW);
    for (const opts of [{ token: l.access_token }, { qtoken: l.access_token }, { cookie: l.cookie }]) {
      const r = await srv.get('/api/v1/me', opts);
      assert.equal(r.status, 200, `${JSON.stringify(Object.keys(opts))}: ${r.text}`);
      assert.equal(r.json.username, 'admin');
      assert.equal(r.json.role, 'admin');
      assert.equal(r.json.id, l.user.id);
    }
    const byCookie = await srv.get('/api/v1/me', { cookie: l.cookie });
    assert.equal(byCookie.json.csrf_token, l.csrf_token, '/me by cookie carries the csrf_token');

    const none = await srv.get('/api/v1/me');
    assert.equal(none.status, 401);
    errorCode(none);
    const bad = await srv.get('/api/v1/me', { token: 'not-a-real-token' });
    assert.equal(bad.status, 401);
    const badCookie = await srv.get('/api/v1/me', { cookie: 'vigil_session=garbage' });
    assert.equal(badCookie.status, 401);
  });

  test('logout: 204, then the token and the cookie stop working', async () => {
    const l = await srv.login('admin', PW);
    assert.equal((await srv.get('/api/v1/me', { token: l.access_token })).status, 200);
    const r = await srv.post('/api/v1/logout', undefined, { token: l.access_token });
    assert.equal(r.status, 204);
    assert.equal((await srv.get('/api/v1/me', { token: l.access_token })).status, 401);
    assert.equal((await srv.get('/api/v1/me', { qtoken: l.access_token })).status, 401);
    assert.equal((await srv.get('/api/v1/me', { cookie: l.cookie })).status, 401);
    // other sessions of the same user live on
    assert.equal((await srv.get('/api/v1/me', { token: admin.access_token })).status, 200);
  });

  test('cookie logout: the cookie stops working', async () => {
    const l = await srv.login('admin', PW);
    const r = await srv.post('/api/v1/logout', undefined, { cookie: l.cookie, csrf: l.csrf_token });
    assert.equal(r.status, 204, r.text);
    assert.equal((await srv.get('/api/v1/me', { cookie: l.cookie })).status, 401);
    assert.equal((await srv.get('/api/v1/me', { token: l.access_token })).status, 401);
  });

  test('cookie-authenticated write needs X-CSRF-Token', async () => {
    const l = await srv.login('admin', PW);
    const body = { username: 'csrf-victim', password: PW, role: 'viewer' };
    let r = await srv.post('/api/v1/users', body, { cookie: l.cookie });
    assert.equal(r.status, 403, r.text);
    errorCode(r);
    r = await srv.post('/api/v1/users', body, { cookie: l.cookie, csrf: 'wrong-csrf-token-value' });
    assert.equal(r.status, 403, r.text);
    // nothing was created by the refused calls
    let list = await srv.get('/api/v1/users', { token: admin.access_token });
    assert.ok(!list.json.items.some((u) => u.username === 'csrf-victim'));
    r = await srv.post('/api/v1/users', body, { cookie: l.cookie, csrf: l.csrf_token });
    assert.equal(r.status, 201, r.text);
    list = await srv.get('/api/v1/users', { token: admin.access_token });
    assert.ok(list.json.items.some((u) => u.username === 'csrf-victim'));
    // bearer writes need no CSRF token
    r = await srv.post('/api/v1/users', { ...body, username: 'bearer-made' }, { token: admin.access_token });
    assert.equal(r.status, 201, r.text);
  });

  test('bad JSON body: 400; wrong types: 400 or 422', async () => {
    let r = await srv.req('POST', '/api/v1/login', { raw: '{"username": "admin", "password": ' });
    assert.equal(r.status, 400, r.text);
    errorCode(r);
    r = await srv.req('POST', '/api/v1/login', { raw: '' });
    assert.ok([400, 422].includes(r.status), `empty body: ${r.status}`);
    r = await srv.req('POST', '/api/v1/login', { raw: '[1,2,3]' });
    assert.ok([400, 422].includes(r.status), `array body: ${r.status}`);
    r = await srv.post('/api/v1/login', { username: 5, password: PW });
    assert.ok([400, 422].includes(r.status), `number username: ${r.status} ${r.text}`);
    errorCode(r);
    r = await srv.post('/api/v1/login', { username: 'admin', password: ['x'] });
    assert.ok([400, 422].includes(r.status), `array password: ${r.status} ${r.text}`);
    r = await srv.post('/api/v1/login', { username: 'admin' });
    assert.ok([400, 422].includes(r.status), `missing password: ${r.status} ${r.text}`);
  });

  test('a 2 MB login body: 413', async () => {
    const pad = 'x'.repeat(2 * 1024 * 1024);
    const body = JSON.stringify({ username: 'admin', password: pad });
    const c = await RawConn.open(srv.port);
    try {
      c.write(`POST /api/v1/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
      c.write(body); // the server may answer and close before it has read it all
      const r = await c.readResponse({ timeout: 10000 });
      assert.equal(r.status, 413, r.text);
    } finally {
      c.close();
    }
    assert.equal((await srv.get('/api/v1/health')).status, 200);
  });

  test('disabled user cannot log in (401) and their token stops working', async () => {
    const u = await srv.createUser(admin.access_token, 'to-disable', PW, 'operator');
    const l = await srv.login('to-disable', PW);
    assert.equal((await srv.get('/api/v1/me', { token: l.access_token })).status, 200);
    const p = await srv.patch(`/api/v1/users/${u.id}`, { disabled: true }, { token: admin.access_token });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.disabled, true);
    assert.equal((await srv.get('/api/v1/me', { token: l.access_token })).status, 401);
    const r = await srv.post('/api/v1/login', { username: 'to-disable', password: PW });
    assert.equal(r.status, 401);
    assert.equal(errorCode(r), 'bad_credentials');
  });

  // last in this server: it spends the failures of one account
  test('per-account throttling: after 5 failures even the right password gets 429 with Retry-After', async () => {
    await srv.createUser(admin.access_token, 'throttled', PW, 'viewer');
    await srv.createUser(admin.access_token, 'bystander', PW, 'viewer');
    for (let i = 0; i < 5; i++) {
      const r = await srv.post('/api/v1/login', { username: 'throttled', password: `wrong-${i}-password` });
      assert.equal(r.status, 401, `failure ${i + 1}: ${r.status}`);
    }
    const r = await srv.post('/api/v1/login', { username: 'throttled', password: PW });
    assert.equal(r.status, 429, r.text);
    assert.equal(errorCode(r), 'too_many_attempts');
    const ra = r.headers.get('retry-after');
    assert.match(ra ?? '', /^\d+$/, `Retry-After: ${ra}`);
    assert.ok(Number(ra) > 0 && Number(ra) <= 900, `Retry-After: ${ra}`);
    assert.equal(r.json.access_token, undefined);
    // another account from the same address is not affected
    const b = await srv.post('/api/v1/login', { username: 'bystander', password: PW });
    assert.equal(b.status, 200, b.text);
  });
});

describe('session expiry', () => {
  let srv;
  before(async () => {
    srv = await Vigil.start({ users: [{ name: 'admin', password: PW }], flags: ['--session-ttl-s', '2'] });
  });
  after(async () => { await srv?.stop(); });
  beforeEach(() => srv?.revive());

  test('with --session-ttl-s 2 a token works, and 3 s later it is refused', async () => {
    const l = await srv.login('admin', PW);
    assert.ok(l.expires_at <= Date.now() + 3000, `expires_at ${l.expires_at} is not ~2 s ahead`);
    assert.equal((await srv.get('/api/v1/me', { token: l.access_token })).status, 200);
    await sleep(3000);
    assert.equal((await srv.get('/api/v1/me', { token: l.access_token })).status, 401);
    assert.equal((await srv.get('/api/v1/me', { cookie: l.cookie })).status, 401);
  });
});

describe('per-address throttling', () => {
  let srv;
  before(async () => {
    srv = await Vigil.start({
      users: [{ name: 'admin', password: PW }],
      flags: ['--login-max-failures-addr', '3'],
    });
  });
  after(async () => { await srv?.stop(); });
  beforeEach(() => srv?.revive());

  test('with --login-max-failures-addr 3, failures across names block the address (429)', async () => {
    for (const name of ['ghost-a', 'ghost-b', 'admin']) {
      const r = await srv.post('/api/v1/login', { username: name, password: 'not-the-password' });
      assert.equal(r.status, 401, `${name}: ${r.status}`);
    }
    const r = await srv.post('/api/v1/login', { username: 'admin', password: PW });
    assert.equal(r.status, 429, r.text);
    assert.equal(errorCode(r), 'too_many_attempts');
    assert.match(r.headers.get('retry-after') ?? '', /^\d+$/);
  });
});
