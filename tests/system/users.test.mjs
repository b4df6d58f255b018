// User administration through the API and the CLI, rights, the last-admin
// rule and the audit log.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { Vigil, errorCode } from './lib/server.mjs';

const PW = 'correct-horse-1';
let srv;
let root; // login answer of the only admin

before(async () => {
  srv = await Vigil.start({ users: [{ name: 'root', password: PW, role: 'admin' }] });
  root = await srv.login('root', PW);
});

after(async () => { await srv?.stop(); });

// a crash in one test is reported at the end; later tests get a fresh process
beforeEach(() => srv?.revive());

const T = () => ({ token: root.access_token });

function assertUserShape(u) {
  assert.equal(typeof u.id, 'number');
  assert.equal(typeof u.username, 'string');
  assert.ok(['admin', 'operator', 'viewer'].includes(u.role), `role ${u.role}`);
  assert.equal(typeof u.disabled, 'boolean');
  assert.equal(typeof u.created_at, 'number');
  assert.equal(typeof u.updated_at, 'number');
  assert.ok(u.created_at > 1.6e12, 'created_at in ms');
  for (const k of ['password', 'pwhash', 'password_hash']) assert.equal(u[k], undefined, `user carries ${k}`);
}

test('the last admin cannot be deleted, demoted or disabled (409 last_admin)', async () => {
  const id = root.user.id;
  let r = await srv.del(`/api/v1/users/${id}`, T());
  assert.equal(r.status, 409, r.text);
  assert.equal(errorCode(r), 'last_admin');
  r = await srv.patch(`/api/v1/users/${id}`, { role: 'viewer' }, T());
  assert.equal(r.status, 409, r.text);
  assert.equal(errorCode(r), 'last_admin');
  r = await srv.patch(`/api/v1/users/${id}`, { disabled: true }, T());
  assert.equal(r.status, 409, r.text);
  assert.equal(errorCode(r), 'last_admin');
  const me = await srv.get('/api/v1/me', T());
  assert.equal(me.status, 200);
  assert.equal(me.json.role, 'admin');
  assert.equal(me.json.disabled, false);
});

test('admin creates, lists, reads, changes and deletes a user', async () => {
  let r = await srv.post('/api/v1/users', { username: 'alice', password: PW, role: 'operator' }, T());
  assert.equal(r.status, 201, r.text);
  assertUserShape(r.json);
  assert.equal(r.json.username, 'alice');
  assert.equal(r.json.role, 'operator');
  assert.equal(r.json.disabled, false);
  const id = r.json.id;

  r = await srv.get('/api/v1/users', T());
  assert.equal(r.status, 200);
  assert.ok(Array.isArray(r.json.items));
  assert.equal(typeof r.json.total, 'number');
  assert.ok(r.json.total >= 2);
  r.json.items.forEach(assertUserShape);
  const names = r.json.items.map((u) => u.username);
  assert.ok(names.includes('alice') && names.includes('root'), names.join(','));

  r = await srv.get('/api/v1/users?limit=1', T());
  assert.equal(r.status, 200);
  assert.equal(r.json.items.length, 1);
  assert.ok(r.json.total >= 2);
  const first = r.json.items[0].id;
  r = await srv.get('/api/v1/users?limit=1&offset=1', T());
  assert.equal(r.json.items.length, 1);
  assert.notEqual(r.json.items[0].id, first, 'offset=1 gave the same row');

  r = await srv.get(`/api/v1/users/${id}`, T());
  assert.equal(r.status, 200);
  assert.equal(r.json.username, 'alice');

  r = await srv.patch(`/api/v1/users/${id}`, { role: 'viewer' }, T());
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.role, 'viewer');
  assert.equal((await srv.get(`/api/v1/users/${id}`, T())).json.role, 'viewer');

  r = await srv.patch(`/api/v1/users/${id}`, { password: 'another-password-2' }, T());
  assert.equal(r.status, 200, r.text);
  assert.equal((await srv.post('/api/v1/login', { username: 'alice', password: 'another-password-2' })).status, 200);

  r = await srv.del(`/api/v1/users/${id}`, T());
  assert.equal(r.status, 204, r.text);
  assert.equal((await srv.get(`/api/v1/users/${id}`, T())).status, 404);
  assert.equal((await srv.del(`/api/v1/users/${id}`, T())).status, 404);
  assert.equal((await srv.patch(`/api/v1/users/${id}`, { role: 'viewer' }, T())).status, 404);
  r = await srv.get('/api/v1/users', T());
  assert.ok(!r.json.items.some((u) => u.username === 'alice'));
  assert.equal((await srv.post('/api/v1/login', { username: 'alice', password: 'another-password-2' })).status, 401);
});

test('a second admin may go, and then the last one still may not', async () => {
  const b = await srv.createUser(root.access_token, 'admin2', PW, 'admin');
  let r = await srv.patch(`/api/v1/users/${b.id}`, { role: 'operator' }, T());
  assert.equal(r.status, 200, r.text);
  r = await srv.patch(`/api/v1/users/${b.id}`, { role: 'admin' }, T());
  assert.equal(r.status, 200, r.text);
  r = await srv.del(`/api/v1/users/${b.id}`, T());
  assert.equal(r.status, 204, r.text);
  r = await srv.del(`/api/v1/users/${root.user.id}`, T());
  assert.equal(r.status, 409);
});

test('duplicate username: 409 username_taken', async () => {
  await srv.createUser(root.access_token, 'dup', PW, 'viewer');
  const r = await srv.post('/api/v1/users', { username: 'dup', password: PW, role: 'operator' }, T());
  assert.equal(r.status, 409, r.text);
  assert.equal(errorCode(r), 'username_taken');
  const r2 = await srv.post('/api/v1/users', { username: 'root', password: PW, role: 'admin' }, T());
  assert.equal(r2.status, 409);
});

test('invalid role, short password, bad username: 422 invalid_field', async () => {
  const cases = [
    { username: 'bad-role', password: PW, role: 'superuser' },
    { username: 'short-pw', password: 'short', role: 'viewer' },
    { username: 'seven-pw', password: '1234567', role: 'viewer' },
    { username: 'has space', password: PW, role: 'viewer' },
    { username: 'slash/name', password: PW, role: 'viewer' },
    { username: '', password: PW, role: 'viewer' },
    { username: 'x'.repeat(65), password: PW, role: 'viewer' },
    { username: 'long-pw', password: 'p'.repeat(1025), role: 'viewer' },
  ];
  for (const c of cases) {
    const r = await srv.post('/api/v1/users', c, T());
    assert.equal(r.status, 422, `${JSON.stringify(c).slice(0, 80)}: ${r.status} ${r.text}`);
    assert.equal(errorCode(r), 'invalid_field');
  }
  // the edges that are valid
  for (const c of [
    { username: 'a', password: '12345678', role: 'viewer' },
    { username: 'x'.repeat(64), password: PW, role: 'viewer' },
    { username: 'first.last_2-x@site', password: PW, role: 'viewer' },
  ]) {
    const r = await srv.post('/api/v1/users', c, T());
    assert.equal(r.status, 201, `${c.username}: ${r.status} ${r.text}`);
  }
  const list = await srv.get('/api/v1/users?limit=500', T());
  for (const c of cases) assert.ok(!list.json.items.some((u) => u.username === c.username), `${c.username} was created`);
});

test('viewer and operator cannot list or create users (403); a user reads themself, not others', async () => {
  const v = await srv.createUser(root.access_token, 'vic', PW, 'viewer');
  const o = await srv.createUser(root.access_token, 'oscar', PW, 'operator');
  const vl = await srv.login('vic', PW);
  const ol = await srv.login('oscar', PW);
  for (const l of [vl, ol]) {
    const t = { token: l.access_token };
    let r = await srv.get('/api/v1/users', t);
    assert.equal(r.status, 403, `${l.user.username} list: ${r.status}`);
    errorCode(r);
    r = await srv.post('/api/v1/users', { username: `made-by-${l.user.username}`, password: PW, role: 'admin' }, t);
    assert.equal(r.status, 403, `${l.user.username} create: ${r.status}`);
    r = await srv.get(`/api/v1/users/${l.user.id}`, t);
    assert.equal(r.status, 200, `${l.user.username} self: ${r.status}`);
    assert.equal(r.json.username, l.user.username);
    r = await srv.get(`/api/v1/users/${root.user.id}`, t);
    assert.equal(r.status, 403, `${l.user.username} reads root: ${r.status}`);
    r = await srv.del(`/api/v1/users/${root.user.id}`, t);
    assert.equal(r.status, 403);
    r = await srv.get('/api/v1/audit', t);
    assert.equal(r.status, 403, `${l.user.username} audit: ${r.status}`);
  }
  // a user may not raise their own role or enable/disable themselves...
  let r = await srv.patch(`/api/v1/users/${v.id}`, { role: 'admin' }, { token: vl.access_token });
  assert.equal(r.status, 403, r.text);
  assert.equal((await srv.get(`/api/v1/users/${v.id}`, T())).json.role, 'viewer');
  // ...nor touch someone else's password
  r = await srv.patch(`/api/v1/users/${o.id}`, { password: 'stolen-password-1' }, { token: vl.access_token });
  assert.equal(r.status, 403, r.text);
  assert.equal((await srv.post('/api/v1/login', { username: 'oscar', password: 'stolen-password-1' })).status, 401);
  // ...but may change their own password
  r = await srv.patch(`/api/v1/users/${v.id}`, { password: 'vics-new-password' }, { token: vl.access_token });
  assert.equal(r.status, 200, r.text);
  assert.equal((await srv.post('/api/v1/login', { username: 'vic', password: 'vics-new-password' })).status, 200);
  assert.equal((await srv.post('/api/v1/login', { username: 'vic', password: PW })).status, 401);
});

test('changing a password ends that user\'s other sessions', async () => {
  const u = await srv.createUser(root.access_token, 'pwchange', PW, 'operator');
  const l = await srv.login('pwchange', PW);
  assert.equal((await srv.get('/api/v1/me', { token: l.access_token })).status, 200);
  const r = await srv.patch(`/api/v1/users/${u.id}`, { password: 'new-password-123' }, T());
  assert.equal(r.status, 200, r.text);
  assert.equal((await srv.get('/api/v1/me', { token: l.access_token })).status, 401);
});

test('audit log: login, login.failed, user.create/update/delete with username and addr, newest first', async () => {
  // make sure each action happened at least once in this test
  await srv.post('/api/v1/login', { username: 'root', password: 'wrong-password-x' });
  const l = await srv.login('root', PW);
  const u = await srv.createUser(l.access_token, 'audited', PW, 'viewer');
  assert.equal((await srv.patch(`/api/v1/users/${u.id}`, { role: 'operator' }, { token: l.access_token })).status, 200);
  assert.equal((await srv.del(`/api/v1/users/${u.id}`, { token: l.access_token })).status, 204);

  const r = await srv.get('/api/v1/audit?limit=500', T());
  assert.equal(r.status, 200, r.text);
  assert.ok(Array.isArray(r.json.items));
  assert.equal(typeof r.json.total, 'number');
  const rows = r.json.items;
  for (const row of rows) {
    for (const k of ['id', 'at', 'action']) assert.ok(k in row, `row without ${k}: ${JSON.stringify(row)}`);
    assert.ok(row.at > 1.6e12, 'at in ms');
  }
  for (let i = 1; i < rows.length; i++) {
    assert.ok(rows[i - 1].at >= rows[i].at, 'not newest first');
    assert.ok(rows[i - 1].id > rows[i].id, 'ids not descending');
  }
  const find = (pred, what) => {
    const row = rows.find(pred);
    assert.ok(row, `no audit row for ${what}; actions: ${[...new Set(rows.map((x) => x.action))].join(',')}`);
    assert.match(row.addr ?? '', /127\.0\.0\.1/, `${what}: addr ${row.addr}`);
    return row;
  };
  let row = find((x) => x.action === 'login' && x.username === 'root', 'login');
  assert.equal(row.user_id, root.user.id);
  row = find((x) => x.action === 'login.failed' && x.username === 'root', 'login.failed');
  for (const action of ['user.create', 'user.update', 'user.delete']) {
    row = find((x) => x.action === action && x.username === 'root' && String(x.target ?? '').includes(String(u.id)), action);
    assert.equal(row.user_id, root.user.id);
  }
  // the failed login carries no secret
  assert.ok(!JSON.stringify(rows).includes('wrong-password-x'), 'audit holds a tried password');
  assert.ok(!JSON.stringify(rows).includes(PW), 'audit holds a password');
});

test('CLI: user add, user list, user disable act on the running server\'s data', async () => {
  let r = await srv.cli(['user', 'add', 'cli-user', '--role', 'operator', '--password-stdin'], { input: 'cli-password-1\n' });
  assert.equal(r.code, 0, r.stderr);
  r = await srv.cli(['user', 'list']);
  assert.equal(r.code, 0, r.stderr);
  const line = r.stdout.split('\n').find((x) => /\bcli-user\b/.test(x));
  assert.ok(line, `user list does not show cli-user:\n${r.stdout}`);
  assert.match(line, /operator/);
  assert.match(r.stdout, /\broot\b/);

  const l = await srv.post('/api/v1/login', { username: 'cli-user', password: 'cli-password-1' });
  assert.equal(l.status, 200, l.text);
  assert.equal(l.json.user.role, 'operator');
  const api = await srv.get('/api/v1/users?limit=500', T());
  assert.ok(api.json.items.some((u) => u.username === 'cli-user'));

  r = await srv.cli(['user', 'add', 'cli-user', '--role', 'operator', '--password-stdin'], { input: 'cli-password-1\n' });
  assert.notEqual(r.code, 0, 'adding a taken name succeeded');

  r = await srv.cli(['user', 'disable', 'cli-user']);
  assert.equal(r.code, 0, r.stderr);
  const l2 = await srv.post('/api/v1/login', { username: 'cli-user', password: 'cli-password-1' });
  assert.equal(l2.status, 401);
  assert.equal((await srv.get('/api/v1/me', { token: l.json.access_token })).status, 401, 'session of a CLI-disabled user still works');
  r = await srv.cli(['user', 'list']);
  const line2 = r.stdout.split('\n').find((x) => /\bcli-user\b/.test(x));
  assert.match(line2 ?? '', /disabled/i, `user list does not mark cli-user disabled:\n${r.stdout}`);
});

test('concurrent logins and creates all succeed', async () => {
  const names = Array.from({ length: 12 }, (_, i) => `par-${i}`);
  const created = await Promise.all(names.map((n) => srv.post('/api/v1/users', { username: n, password: PW, role: 'viewer' }, T())));
  assert.deepEqual(created.map((r) => r.status), names.map(() => 201), created.map((r) => r.text).join('\n'));
  assert.equal(new Set(created.map((r) => r.json.id)).size, names.length, 'ids not unique');
  const logins = await Promise.all(names.map((n) => srv.post('/api/v1/login', { username: n, password: PW })));
  assert.deepEqual(logins.map((r) => r.status), names.map(() => 200));
  const mes = await Promise.all(logins.map((l) => srv.get('/api/v1/me', { token: l.json.access_token })));
  assert.deepEqual(mes.map((r) => r.json?.username), names, 'a token answered for another user');
  const list = await srv.get('/api/v1/users?limit=500', T());
  for (const n of names) assert.ok(list.json.items.some((u) => u.username === n), `${n} missing`);
});
