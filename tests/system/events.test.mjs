// The events WebSocket: hello, user.changed to admins and to the user
// concerned only, refusal without a token, close 4001 when the session ends.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Vigil, sleep, within } from './lib/server.mjs';

const PW = 'correct-horse-1';
let srv;
let admin;
const open = new Set();

before(async () => {
  srv = await Vigil.start({ users: [{ name: 'admin', password: PW, role: 'admin' }] });
  admin = await srv.login('admin', PW);
});

after(async () => {
  for (const c of open) c.ws.terminate();
  await srv?.stop();
});

// a crash in one test is reported at the end; later tests get a fresh process
beforeEach(() => srv?.revive());

// A client that queues the JSON messages it receives.
class Client {
  constructor(ws) {
    this.ws = ws;
    this.msgs = [];
    this.waiters = [];
    this.closeInfo = null;
    ws.on('message', (data, isBinary) => {
      this.msgs.push(isBinary ? { binary: data } : JSON.parse(data.toString()));
      this.wake();
    });
    ws.on('close', (code, reason) => { this.closeInfo = { code, reason: reason.toString() }; open.delete(this); this.wake(); });
    ws.on('error', () => {});
  }

  wake() { const w = this.waiters; this.waiters = []; for (const f of w) f(); }

  // Next message matching pred (earlier non-matching ones are dropped).
  async next(pred = () => true, ms = 5000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.msgs.findIndex(pred);
      if (i >= 0) { const m = this.msgs[i]; this.msgs.splice(0, i + 1); return m; }
      if (this.closeInfo) throw new Error(`socket closed (${JSON.stringify(this.closeInfo)}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching message in ${ms} ms; got ${JSON.stringify(this.msgs)}`);
      await new Promise((r) => { const t = setTimeout(r, left); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  async closed(ms = 5000) {
    const deadline = Date.now() + ms;
    while (!this.closeInfo) {
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise((r) => { const t = setTimeout(r, left); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
    return this.closeInfo;
  }
}

function wsUrl(token) {
  const q = token === undefined ? '' : `?access_token=${encodeURIComponent(token)}`;
  return `ws://127.0.0.1:${srv.port}/api/v1/events${q}`;
}

// Opens a socket; resolves the Client once open, rejects with the HTTP
// status when the upgrade is refused.
function connect(token, opts = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(token), opts);
    const c = new Client(ws);
    ws.once('open', () => { open.add(c); resolve(c); });
    ws.once('unexpected-response', (req, res) => {
      const e = new Error(`upgrade refused: ${res.statusCode}`);
      e.status = res.statusCode;
      res.resume();
      ws.terminate();
      reject(e);
    });
    ws.once('error', reject);
  });
}

test('hello with the user right after the upgrade', async () => {
  const c = await connect(admin.access_token);
  const m = await c.next();
  assert.equal(m.type, 'hello');
  assert.equal(m.user.username, 'admin');
  assert.equal(m.user.role, 'admin');
  assert.equal(m.user.id, admin.user.id);
  c.ws.close();
});

test('the session cookie also opens the socket', async () => {
  const c = await connect(undefined, { headers: { cookie: admin.cookie } });
  const m = await c.next();
  assert.equal(m.type, 'hello');
  assert.equal(m.user.username, 'admin');
  c.ws.close();
});

test('no token or a bad token: the upgrade is refused with 401', async () => {
  await assert.rejects(connect(undefined), (e) => e.status === 401);
  await assert.rejects(connect('not-a-token'), (e) => e.status === 401);
});

test('user.changed goes to admins and to the user concerned, not to other users', async () => {
  const viewer = await srv.createUser(admin.access_token, 'watcher', PW, 'viewer');
  const vl = await srv.login('watcher', PW);
  const a = await connect(admin.access_token);
  const v = await connect(vl.access_token);
  assert.equal((await a.next()).type, 'hello');
  const vh = await v.next();
  assert.equal(vh.type, 'hello');
  assert.equal(vh.user.username, 'watcher');

  // a change about someone else: the admin hears it, the viewer does not
  const before = Date.now();
  const made = await srv.createUser(admin.access_token, 'newcomer', PW, 'operator');
  const m = await a.next((x) => x.type === 'user.changed');
  assert.equal(m.action, 'created');
  assert.equal(m.user.username, 'newcomer');
  assert.equal(m.user.id, made.id);
  assert.equal(m.user.role, 'operator');
  assert.equal(m.user.pwhash, undefined);
  assert.equal(typeof m.at, 'number');
  assert.ok(m.at >= before - 1000 && m.at <= Date.now() + 1000, `at ${m.at}`);

  const p = await srv.patch(`/api/v1/users/${made.id}`, { role: 'viewer' }, { token: admin.access_token });
  assert.equal(p.status, 200);
  const m2 = await a.next((x) => x.type === 'user.changed');
  assert.equal(m2.action, 'updated');
  assert.equal(m2.user.role, 'viewer');

  assert.equal((await srv.del(`/api/v1/users/${made.id}`, { token: admin.access_token })).status, 204);
  const m3 = await a.next((x) => x.type === 'user.changed');
  assert.equal(m3.action, 'deleted');
  assert.equal(m3.user.id, made.id);

  await sleep(1000);
  assert.deepEqual(v.msgs, [], 'the viewer received changes about another user');

  // a change about the viewer: the viewer hears it too
  const p2 = await srv.patch(`/api/v1/users/${viewer.id}`, { role: 'operator' }, { token: admin.access_token });
  assert.equal(p2.status, 200);
  const mv = await v.next((x) => x.type === 'user.changed');
  assert.equal(mv.action, 'updated');
  assert.equal(mv.user.id, viewer.id);
  assert.equal(mv.user.role, 'operator');
  const ma = await a.next((x) => x.type === 'user.changed');
  assert.equal(ma.user.id, viewer.id);
  a.ws.close();
  v.ws.close();
});

test('logout closes the socket with code 4001', async () => {
  const l = await srv.login('admin', PW);
  const c = await connect(l.access_token);
  assert.equal((await c.next()).type, 'hello');
  const r = await srv.post('/api/v1/logout', undefined, { token: l.access_token });
  assert.equal(r.status, 204);
  const info = await c.closed(5000);
  assert.ok(info, 'socket still open 5 s after logout');
  assert.equal(info.code, 4001);
});

test('disabling a user closes their socket with code 4001', async () => {
  const u = await srv.createUser(admin.access_token, 'soon-disabled', PW, 'viewer');
  const l = await srv.login('soon-disabled', PW);
  const c = await connect(l.access_token);
  assert.equal((await c.next()).type, 'hello');
  const r = await srv.patch(`/api/v1/users/${u.id}`, { disabled: true }, { token: admin.access_token });
  assert.equal(r.status, 200);
  const info = await c.closed(5000);
  assert.ok(info, 'socket still open 5 s after the user was disabled');
  assert.equal(info.code, 4001);
});

test('the socket answers a ping with a pong and ignores client text', async () => {
  const c = await connect(admin.access_token);
  assert.equal((await c.next()).type, 'hello');
  c.ws.send('{"type":"whatever"}');
  const pong = new Promise((resolve) => c.ws.once('pong', (d) => resolve(d.toString())));
  c.ws.ping('abc');
  const got = await within(pong, 3000);
  assert.equal(got, 'abc', 'no pong with the ping payload');
  assert.equal(c.closeInfo, null);
  c.ws.close(1000);
  const info = await c.closed(3000);
  assert.ok(info, 'no close handshake');
  assert.equal(info.code, 1000);
});
