// Rooms, cameras, groups and room rights through the API: CRUD, who sees
// what (viewers only what is shared with them or their groups; others'
// rooms answer 404), camera passwords never leaving the server, input
// checks, audit rows, room.changed events, and the key file.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Vigil, VIGIL_BIN, errorCode, runCli, freePort, eventsSocket } from './lib/server.mjs';

const PW = 'correct-horse-1';
const CAM_PW = 'Cam-S3cret-pw!';
let srv;
let root; // admin login
let op; // operator login
let vic; // viewer login
let val; // viewer login, member of a group
const sockets = new Set();

before(async () => {
  srv = await Vigil.start({ users: [{ name: 'root', password: PW, role: 'admin' }] });
  root = await srv.login('root', PW);
  await srv.createUser(root.access_token, 'op', PW, 'operator');
  await srv.createUser(root.access_token, 'vic', PW, 'viewer');
  await srv.createUser(root.access_token, 'val', PW, 'viewer');
  op = await srv.login('op', PW);
  vic = await srv.login('vic', PW);
  val = await srv.login('val', PW);
});

after(async () => {
  for (const ws of sockets) ws.terminate();
  await srv?.stop();
});

// a crash in one test is reported at the end; later tests get a fresh process
beforeEach(() => srv?.revive());

const as = (who) => ({ token: who.access_token });
const R = () => as(root);

let seq = 0;
const uniq = (p) => `${p} ${++seq}`;

async function mkRoom(name = uniq('Room'), extra = {}) {
  const r = await srv.post('/api/v1/rooms', { name, ...extra }, R());
  assert.equal(r.status, 201, r.text);
  return r.json;
}

async function mkCamera(roomId, body = {}) {
  const r = await srv.post('/api/v1/cameras', { room_id: roomId, name: uniq('Cam'), url: 'rtsp://127.0.0.1:9/stream1', ...body }, R());
  assert.equal(r.status, 201, r.text);
  return r.json;
}

function assertRoomShape(room) {
  assert.equal(typeof room.id, 'number');
  assert.equal(typeof room.name, 'string');
  assert.equal(typeof room.description, 'string');
  assert.equal(typeof room.disabled, 'boolean');
  assert.ok(room.created_at > 1.6e12);
  assert.ok(room.updated_at >= room.created_at);
  assert.ok(Array.isArray(room.cameras), 'room without cameras array');
}

function assertCameraShape(c) {
  for (const k of ['id', 'room_id', 'position', 'created_at', 'updated_at']) assert.equal(typeof c[k], 'number', k);
  for (const k of ['name', 'url', 'substream_url', 'transport', 'status']) assert.equal(typeof c[k], 'string', k);
  for (const k of ['enabled', 'continuous', 'has_credentials']) assert.equal(typeof c[k], 'boolean', k);
  assert.ok(['connecting', 'online', 'offline', 'error'].includes(c.status));
  assert.ok(['tcp', 'udp'].includes(c.transport));
  for (const k of ['password', 'password_enc', 'username']) assert.equal(c[k], undefined, `camera carries ${k}`);
  assert.ok(!c.url.includes('@'), `url with userinfo: ${c.url}`);
}

const wsConnect = (token) => eventsSocket(srv, token, sockets);

test('admin creates, lists, reads, changes and deletes rooms', async () => {
  const name = uniq('Interview');
  let r = await srv.post('/api/v1/rooms', { name, description: 'Ground floor' }, R());
  assert.equal(r.status, 201, r.text);
  assertRoomShape(r.json);
  assert.equal(r.json.name, name);
  assert.equal(r.json.description, 'Ground floor');
  assert.equal(r.json.disabled, false);
  assert.deepEqual(r.json.cameras, []);
  const id = r.json.id;

  r = await srv.post('/api/v1/rooms', { name: name.toUpperCase() }, R());
  assert.equal(r.status, 409, r.text);
  assert.equal(errorCode(r), 'name_taken');

  const cam = await mkCamera(id);
  r = await srv.get(`/api/v1/rooms/${id}`, R());
  assert.equal(r.status, 200);
  assertRoomShape(r.json);
  assert.equal(r.json.cameras.length, 1);
  assert.equal(r.json.cameras[0].id, cam.id);
  assertCameraShape(r.json.cameras[0]);

  r = await srv.get('/api/v1/rooms', R());
  assert.equal(r.status, 200);
  assert.equal(typeof r.json.total, 'number');
  r.json.items.forEach(assertRoomShape);
  const listed = r.json.items.find((x) => x.id === id);
  assert.ok(listed, 'new room not listed');
  assert.equal(listed.cameras.length, 1);

  r = await srv.get('/api/v1/rooms?limit=1', R());
  assert.equal(r.json.items.length, 1);

  r = await srv.patch(`/api/v1/rooms/${id}`, { name: `${name} B`, disabled: true }, R());
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.name, `${name} B`);
  assert.equal(r.json.disabled, true);
  assert.equal(r.json.description, 'Ground floor', 'untouched field kept');

  r = await srv.del(`/api/v1/rooms/${id}`, R());
  assert.equal(r.status, 204, r.text);
  r = await srv.get(`/api/v1/rooms/${id}`, R());
  assert.equal(r.status, 404);
  r = await srv.get(`/api/v1/cameras/${cam.id}`, R());
  assert.equal(r.status, 404, 'the camera went with its room');
});

test('bad room input: 422 naming the field, 404 for unknown ids, 405 for wrong methods', async () => {
  const cases = [
    [{}, 'name'],
    [{ name: 12 }, 'name'],
    [{ name: '' }, 'name'],
    [{ name: '   ' }, 'name'],
    [{ name: 'x'.repeat(129) }, 'name'],
    [{ name: 'a\nb' }, 'name'],
    [{ name: 'ok', description: 5 }, 'description'],
    [{ name: 'ok', description: 'd'.repeat(4097) }, 'description'],
    [{ name: 'ok', disabled: 'yes' }, 'disabled'],
    [{ name: 'ok', colour: 'red' }, 'colour'],
  ];
  for (const [body, field] of cases) {
    const r = await srv.post('/api/v1/rooms', body, R());
    assert.equal(r.status, 422, `${JSON.stringify(body).slice(0, 80)}: ${r.text}`);
    assert.equal(errorCode(r), 'invalid_field');
    assert.match(r.json.error.message, new RegExp(field), r.text);
  }
  let r = await srv.post('/api/v1/rooms', { name: 'x'.repeat(128) }, R());
  assert.equal(r.status, 201, '128 bytes is allowed');
  r = await srv.req('POST', '/api/v1/rooms', { ...R(), raw: '{"name": ' });
  assert.equal(r.status, 400);
  r = await srv.get('/api/v1/rooms/999999', R());
  assert.equal(r.status, 404);
  assert.equal(errorCode(r), 'not_found');
  r = await srv.get('/api/v1/rooms/abc', R());
  assert.equal(r.status, 404);
  r = await srv.patch('/api/v1/rooms/999999', { name: 'z' }, R());
  assert.equal(r.status, 404);
  r = await srv.req('PUT', '/api/v1/rooms', R());
  assert.equal(r.status, 405);
  const room = await mkRoom();
  r = await srv.patch(`/api/v1/rooms/${room.id}`, {}, R());
  assert.equal(r.status, 422);
  r = await srv.get('/api/v1/rooms');
  assert.equal(r.status, 401);
});

test('viewers see only rooms shared with them or their groups; others answer 404', async () => {
  const shared = await mkRoom(uniq('Shared'));
  const viaGroup = await mkRoom(uniq('Group room'));
  const hidden = await mkRoom(uniq('Hidden'));
  const cam = await mkCamera(hidden.id);

  const ids = async (who) => (await srv.get('/api/v1/rooms?limit=500', as(who))).json.items.map((x) => x.id);
  assert.ok(!(await ids(vic)).includes(shared.id));

  let r = await srv.post(`/api/v1/rooms/${shared.id}/access`, { user_id: vic.user.id }, R());
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.user_id, vic.user.id);
  assert.equal(r.json.group_id, null);
  assert.equal(r.json.name, 'vic');
  r = await srv.post(`/api/v1/rooms/${shared.id}/access`, { user_id: vic.user.id }, R());
  assert.equal(r.status, 409, 'shared twice');

  // share through a group
  r = await srv.post('/api/v1/groups', { name: uniq('Detectives') }, R());
  assert.equal(r.status, 201, r.text);
  const group = r.json;
  r = await srv.post(`/api/v1/rooms/${viaGroup.id}/access`, { group_id: group.id }, R());
  assert.equal(r.status, 201, r.text);
  const groupAccess = r.json;
  assert.ok(!(await ids(val)).includes(viaGroup.id), 'not a member yet');
  r = await srv.post(`/api/v1/groups/${group.id}/members`, { user_id: val.user.id }, R());
  assert.equal(r.status, 201, r.text);

  const vicIds = await ids(vic);
  assert.ok(vicIds.includes(shared.id));
  assert.ok(!vicIds.includes(viaGroup.id) && !vicIds.includes(hidden.id), JSON.stringify(vicIds));
  const valIds = await ids(val);
  assert.ok(valIds.includes(viaGroup.id));
  assert.ok(!valIds.includes(shared.id) && !valIds.includes(hidden.id));
  r = await srv.get('/api/v1/rooms?limit=500', as(vic));
  assert.equal(r.json.total, vicIds.length, 'total counts only visible rooms');

  // admins and operators see everything
  for (const who of [root, op]) {
    const all = await ids(who);
    for (const room of [shared, viaGroup, hidden]) assert.ok(all.includes(room.id));
  }

  // by id: visible ones 200, hidden ones 404 exactly like a missing room
  assert.equal((await srv.get(`/api/v1/rooms/${shared.id}`, as(vic))).status, 200);
  assert.equal((await srv.get(`/api/v1/rooms/${viaGroup.id}`, as(val))).status, 200);
  const h = await srv.get(`/api/v1/rooms/${hidden.id}`, as(vic));
  const missing = await srv.get('/api/v1/rooms/987654', as(vic));
  assert.equal(h.status, 404);
  assert.equal(h.json.error.code, missing.json.error.code);
  assert.equal((await srv.get(`/api/v1/cameras/${cam.id}`, as(vic))).status, 404);
  assert.equal((await srv.get(`/api/v1/cameras/${cam.id}`, as(op))).status, 200);
  assert.equal((await srv.patch(`/api/v1/rooms/${hidden.id}`, { name: 'mine' }, as(vic))).status, 404);
  assert.equal((await srv.get(`/api/v1/rooms/${hidden.id}/access`, as(vic))).status, 404);

  // writes by non-admins: 403
  for (const who of [vic, op]) {
    r = await srv.post('/api/v1/rooms', { name: uniq('Nope') }, as(who));
    assert.equal(r.status, 403, r.text);
    r = await srv.post('/api/v1/cameras', { room_id: shared.id, name: 'x', url: 'rtsp://h/' }, as(who));
    assert.equal(r.status, 403, r.text);
  }
  r = await srv.patch(`/api/v1/rooms/${shared.id}`, { name: 'mine' }, as(vic));
  assert.equal(r.status, 403);
  r = await srv.del(`/api/v1/rooms/${shared.id}`, as(vic));
  assert.equal(r.status, 403);
  r = await srv.post(`/api/v1/rooms/${shared.id}/access`, { user_id: val.user.id }, as(vic));
  assert.equal(r.status, 403);
  r = await srv.get('/api/v1/groups', as(vic));
  assert.equal(r.status, 403);

  // the access list, and removing rights by id and by body
  r = await srv.get(`/api/v1/rooms/${viaGroup.id}/access`, R());
  assert.equal(r.status, 200);
  assert.equal(r.json.total, 1);
  assert.equal(r.json.items[0].group_id, group.id);
  r = await srv.del(`/api/v1/rooms/${viaGroup.id}/access/${groupAccess.id}`, R());
  assert.equal(r.status, 204, r.text);
  assert.ok(!(await ids(val)).includes(viaGroup.id));
  r = await srv.del(`/api/v1/rooms/${viaGroup.id}/access/${groupAccess.id}`, R());
  assert.equal(r.status, 404);
  r = await srv.req('DELETE', `/api/v1/rooms/${shared.id}/access`, { ...R(), body: { user_id: vic.user.id } });
  assert.equal(r.status, 204, r.text);
  assert.equal((await srv.get(`/api/v1/rooms/${shared.id}`, as(vic))).status, 404);
  r = await srv.req('DELETE', `/api/v1/rooms/${shared.id}/access`, { ...R(), body: { user_id: vic.user.id } });
  assert.equal(r.status, 404);

  // bad rights
  for (const body of [{}, { user_id: vic.user.id, group_id: group.id }, { user_id: 'x' }, { user_id: -1 }, { user_id: 999999 }, { group_id: 999999 }]) {
    r = await srv.post(`/api/v1/rooms/${shared.id}/access`, body, R());
    assert.equal(r.status, 422, `${JSON.stringify(body)}: ${r.text}`);
  }
});

test('camera passwords never leave the server; URLs lose their userinfo', async () => {
  const room = await mkRoom();
  let r = await srv.post('/api/v1/cameras', {
    room_id: room.id, name: 'Wide', url: 'rtsp://127.0.0.1:9/Streaming/101', username: 'admin', password: CAM_PW,
    transport: 'udp', substream_url: 'rtsp://127.0.0.1:9/Streaming/102', continuous: true,
  }, R());
  assert.equal(r.status, 201, r.text);
  assertCameraShape(r.json);
  const cam = r.json;
  assert.equal(cam.has_credentials, true);
  assert.equal(cam.transport, 'udp');
  assert.equal(cam.continuous, true);
  assert.equal(cam.enabled, true);
  assert.ok(['connecting', 'offline'].includes(cam.status), cam.status); // nothing listens on 127.0.0.1:9
  assert.equal(cam.url, 'rtsp://127.0.0.1:9/Streaming/101');
  assert.ok(!r.text.includes(CAM_PW));

  // credentials written into the URL are moved out of it
  r = await srv.post('/api/v1/cameras', { room_id: room.id, name: 'Close', url: `rtsp://bob:${encodeURIComponent(CAM_PW)}@127.0.0.1:9/live` }, R());
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.url, 'rtsp://127.0.0.1:9/live');
  assert.equal(r.json.has_credentials, true);
  const cam2 = r.json;

  r = await srv.patch(`/api/v1/cameras/${cam.id}`, { name: 'Wide angle', password: `${CAM_PW}-2`, position: 5 }, R());
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.name, 'Wide angle');
  assert.equal(r.json.position, 5);

  const answers = [
    await srv.get(`/api/v1/cameras/${cam.id}`, R()),
    await srv.get(`/api/v1/cameras/${cam2.id}`, R()),
    await srv.get(`/api/v1/rooms/${room.id}`, R()),
    await srv.get('/api/v1/rooms?limit=500', R()),
    await srv.get('/api/v1/audit?limit=500', R()),
  ];
  for (const a of answers) {
    assert.equal(a.status, 200, a.text);
    assert.ok(!a.text.includes(CAM_PW), `password in ${a.text.slice(0, 200)}`);
    assert.ok(!a.text.includes(encodeURIComponent(CAM_PW)));
  }
  const inRoom = answers[2].json.cameras;
  assert.deepEqual(inRoom.map((c) => c.name), ['Close', 'Wide angle'], 'ordered by position');
  inRoom.forEach(assertCameraShape);

  // nor is it in the database file in the clear
  const db = await fs.readFile(path.join(srv.dataDir, 'vigil.db')).catch(() => Buffer.alloc(0));
  const wal = await fs.readFile(path.join(srv.dataDir, 'vigil.db-wal')).catch(() => Buffer.alloc(0));
  assert.ok(!db.includes(CAM_PW) && !wal.includes(CAM_PW), 'password stored in the clear');

  // clearing the credentials
  r = await srv.patch(`/api/v1/cameras/${cam2.id}`, { username: '', password: null }, R());
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.has_credentials, false);

  r = await srv.del(`/api/v1/cameras/${cam2.id}`, R());
  assert.equal(r.status, 204);
  assert.equal((await srv.get(`/api/v1/cameras/${cam2.id}`, R())).status, 404);
});

test('bad camera input: non-RTSP URLs, missing hosts, wrong types, unknown rooms, duplicates', async () => {
  const room = await mkRoom();
  const base = { room_id: room.id, name: 'Cam', url: 'rtsp://127.0.0.1:9/s' };
  const cases = [
    [{ url: 'http://10.0.0.9/s' }, 'url'],
    [{ url: 'rtmp://10.0.0.9/s' }, 'url'],
    [{ url: 'file:///etc/passwd' }, 'url'],
    [{ url: 'rtsp://' }, 'url'],
    [{ url: 'rtsp:///path' }, 'url'],
    [{ url: 'rtsp://user:pw@/path' }, 'url'],
    [{ url: 'rtsp://host:0/x' }, 'url'],
    [{ url: 'rtsp://host:99999/x' }, 'url'],
    [{ url: 'rtsp://ho st/x' }, 'url'],
    [{ url: `rtsp://h/${'a'.repeat(1020)}` }, 'url'],
    [{ url: 7 }, 'url'],
    [{ substream_url: 'http://x/' }, 'substream_url'],
    [{ transport: 'sctp' }, 'transport'],
    [{ enabled: 1 }, 'enabled'],
    [{ continuous: 'no' }, 'continuous'],
    [{ name: 'n'.repeat(129) }, 'name'],
    [{ name: null }, 'name'],
    [{ room_id: '1' }, 'room_id'],
    [{ room_id: 999999 }, 'room_id'],
    [{ password: 'p'.repeat(257) }, 'password'],
    [{ username: ['a'] }, 'username'],
    [{ secret: 1 }, 'secret'],
  ];
  for (const [over, field] of cases) {
    const r = await srv.post('/api/v1/cameras', { ...base, ...over }, R());
    assert.equal(r.status, 422, `${JSON.stringify(over).slice(0, 80)}: ${r.text}`);
    assert.equal(errorCode(r), 'invalid_field');
    assert.match(r.json.error.message, new RegExp(field), r.text);
  }
  let r = await srv.post('/api/v1/cameras', { ...base, url: 'RTSPS://[fe80::1]:322/live?x=1' }, R());
  assert.equal(r.status, 201, r.text);
  r = await srv.post('/api/v1/cameras', { ...base, name: 'CAM' }, R());
  assert.equal(r.status, 409, r.text);
  assert.equal(errorCode(r), 'name_taken');
  r = await srv.get('/api/v1/cameras/999999', R());
  assert.equal(r.status, 404);
  r = await srv.patch('/api/v1/cameras/999999', { name: 'x' }, R());
  assert.equal(r.status, 404);
  r = await srv.patch(`/api/v1/cameras/${(await mkCamera(room.id)).id}`, { url: 'http://nope/' }, R());
  assert.equal(r.status, 422);
});

test('a room with recordings cannot be deleted (409)', async () => {
  const room = await mkRoom();
  execFileSync('sqlite3', [path.join(srv.dataDir, 'vigil.db'),
    `PRAGMA busy_timeout=5000; INSERT INTO recordings (room_id, state, started_at, created_at) VALUES (${room.id}, 'stopped', 1, 1);`]);
  const r = await srv.del(`/api/v1/rooms/${room.id}`, R());
  assert.equal(r.status, 409, r.text);
  assert.equal(errorCode(r), 'room_has_recordings');
  assert.equal((await srv.get(`/api/v1/rooms/${room.id}`, R())).status, 200);
});

test('groups: CRUD and members', async () => {
  const name = uniq('Nurses');
  let r = await srv.post('/api/v1/groups', { name, description: 'ward 3' }, R());
  assert.equal(r.status, 201, r.text);
  const g = r.json;
  assert.equal(g.member_count, 0);
  r = await srv.post('/api/v1/groups', { name: name.toLowerCase() }, R());
  assert.equal(r.status, 409);
  r = await srv.post('/api/v1/groups', { name: 3 }, R());
  assert.equal(r.status, 422);
  r = await srv.post(`/api/v1/groups/${g.id}/members`, { user_id: vic.user.id }, R());
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.username, 'vic');
  r = await srv.post(`/api/v1/groups/${g.id}/members`, { user_id: vic.user.id }, R());
  assert.equal(r.status, 409);
  r = await srv.post(`/api/v1/groups/${g.id}/members`, { user_id: 999999 }, R());
  assert.equal(r.status, 422);
  r = await srv.get(`/api/v1/groups/${g.id}/members`, R());
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.items.map((u) => u.username), ['vic']);
  assert.equal(r.json.items[0].pwhash, undefined);
  r = await srv.get(`/api/v1/groups/${g.id}`, R());
  assert.equal(r.json.member_count, 1);
  r = await srv.patch(`/api/v1/groups/${g.id}`, { description: 'ward 4' }, R());
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.description, 'ward 4');
  assert.equal(r.json.name, name);
  r = await srv.get('/api/v1/groups', R());
  assert.ok(r.json.items.some((x) => x.id === g.id));
  r = await srv.del(`/api/v1/groups/${g.id}/members/${vic.user.id}`, R());
  assert.equal(r.status, 204);
  r = await srv.del(`/api/v1/groups/${g.id}/members/${vic.user.id}`, R());
  assert.equal(r.status, 404);
  r = await srv.del(`/api/v1/groups/${g.id}`, R());
  assert.equal(r.status, 204);
  r = await srv.get(`/api/v1/groups/${g.id}`, R());
  assert.equal(r.status, 404);
});

test('every change leaves an audit row', async () => {
  const room = await mkRoom();
  const cam = await mkCamera(room.id, { password: CAM_PW });
  await srv.patch(`/api/v1/cameras/${cam.id}`, { enabled: false }, R());
  await srv.post(`/api/v1/rooms/${room.id}/access`, { user_id: vic.user.id }, R());
  await srv.patch(`/api/v1/rooms/${room.id}`, { description: 'new' }, R());
  await srv.del(`/api/v1/cameras/${cam.id}`, R());
  const r = await srv.get('/api/v1/audit?limit=50', R());
  const rows = r.json.items;
  const has = (action, target) => rows.some((x) => x.action === action && x.target === target && x.username === 'root');
  assert.ok(has('room.create', `room:${room.id}`));
  assert.ok(has('room.update', `room:${room.id}`));
  assert.ok(has('room.access.add', `room:${room.id}`));
  assert.ok(has('camera.create', `camera:${cam.id}`));
  assert.ok(has('camera.update', `camera:${cam.id}`));
  assert.ok(has('camera.delete', `camera:${cam.id}`));
  const upd = rows.find((x) => x.action === 'camera.update' && x.target === `camera:${cam.id}`);
  assert.deepEqual(upd.detail.fields, ['enabled']);
  assert.ok(!r.text.includes(CAM_PW));
});

test('room.changed reaches admins, and viewers only for rooms they may see', async () => {
  const admin = await wsConnect(root.access_token);
  const viewer = await wsConnect(vic.access_token);
  await admin.next((m) => m.type === 'hello');
  await viewer.next((m) => m.type === 'hello');

  const room = await mkRoom(uniq('Evented'));
  const ev = await admin.next((m) => m.type === 'room.changed' && m.room_id === room.id);
  assert.equal(ev.action, 'created');
  assert.equal(ev.room.name, room.name);
  assert.ok(ev.at > 1.6e12);

  // share it: now the viewer hears of it
  await srv.post(`/api/v1/rooms/${room.id}/access`, { user_id: vic.user.id }, R());
  const ve = await viewer.next((m) => m.type === 'room.changed' && m.room_id === room.id);
  assert.equal(ve.room.id, room.id);
  const cam = await mkCamera(room.id, { password: CAM_PW });
  const ce = await viewer.next((m) => m.type === 'camera.changed' && m.camera_id === cam.id);
  assert.equal(ce.action, 'created');
  assert.ok(!JSON.stringify(ce).includes(CAM_PW));

  // a room not shared with them: the admin hears, the viewer does not
  const secret = await mkRoom(uniq('Private'));
  await admin.next((m) => m.type === 'room.changed' && m.room_id === secret.id);
  await srv.patch(`/api/v1/rooms/${room.id}`, { description: 'marker' }, R());
  await viewer.next((m) => m.type === 'room.changed' && m.room_id === room.id && m.room.description === 'marker');
  assert.ok(!viewer.msgs.some((m) => m.room_id === secret.id), 'viewer told of a room it may not see');
  assert.ok(!JSON.stringify(viewer.msgs).includes(secret.name));

  await srv.del(`/api/v1/rooms/${secret.id}`, R());
  const de = await admin.next((m) => m.type === 'room.changed' && m.room_id === secret.id && m.action === 'deleted');
  assert.equal(de.room, undefined);
  admin.ws.close();
  viewer.ws.close();
});

test('the key file: created 0600; a key open to others stops the server with the reason', async () => {
  const st = await fs.stat(path.join(srv.dataDir, 'secret.key'));
  assert.equal(st.size, 32);
  assert.equal(st.mode & 0o777, 0o600);

  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-key-'));
  const key = path.join(dir, 'secret.key');
  const serve = async () => runCli(['serve', '--data', dir, '--bind', '127.0.0.1', '--http-port', String(await freePort()),
    '--https-port', '0', '--media-port', '0'], { timeout: 20000 });
  try {
    await fs.writeFile(key, Buffer.alloc(32, 1));
    await fs.chmod(key, 0o644);
    let r = await serve();
    assert.notEqual(r.code, 0, 'started with a key open to others');
    assert.match(r.stderr, /secret\.key is open to group or others.*chmod 600/s);
    await fs.chmod(key, 0o600);
    await fs.writeFile(key, Buffer.alloc(16, 1));
    r = await serve();
    assert.notEqual(r.code, 0, 'started with a short key');
    assert.match(r.stderr, /secret\.key is 16 bytes, not 32/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

// The simulated camera, built beside the binary under test.
const SIMCAM = process.env.VIGIL_SIMCAM ?? path.join(path.dirname(VIGIL_BIN), 'tools', 'vigil-simcam');

function startSimcam(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(SIMCAM, ['--port', '0', '--width', '640', '--height', '360', '--fps', '15', '--bitrate', '500', ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let log = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`simcam not ready:\n${log}`)); }, 10000);
    proc.stderr.on('data', (d) => { log += d; });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /^simcam ready (rtsp:\/\/\S+)$/m.exec(out);
      if (m) { clearTimeout(timer); resolve({ proc, url: m[1] }); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`simcam exited ${code}:\n${log}`)); });
  });
}

test('camera connection tests against a simulated camera', { skip: !existsSync(SIMCAM) && `${SIMCAM} not built` }, async () => {
  const cam = await startSimcam(['--video', 'h264', '--audio', 'aac', '--user', 'installer', '--password', CAM_PW, '--auth', 'digest']);
  try {
    // before saving: right credentials
    let r = await srv.post('/api/v1/cameras/test', { url: cam.url, username: 'installer', password: CAM_PW }, R());
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.ok, true, r.text);
    assert.equal(typeof r.json.message, 'string');
    assert.equal(r.json.video.codec, 'h264');
    assert.equal(r.json.video.width, 640);
    assert.equal(r.json.video.height, 360);
    assert.equal(r.json.audio.codec, 'aac');
    assert.ok(!r.text.includes(CAM_PW));

    // a saved camera with the wrong password
    const room = await mkRoom();
    const saved = await mkCamera(room.id, { url: cam.url, username: 'installer', password: 'wrong-one' });
    r = await srv.post(`/api/v1/cameras/${saved.id}/test`, undefined, R());
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.ok, false);
    assert.equal(r.json.error, 'unauthorized', r.text);
    // fixed, through the stored (sealed) password
    r = await srv.patch(`/api/v1/cameras/${saved.id}`, { password: CAM_PW }, R());
    assert.equal(r.status, 200);
    r = await srv.post(`/api/v1/cameras/${saved.id}/test`, undefined, R());
    assert.equal(r.json.ok, true, r.text);

    // nothing listening
    r = await srv.post('/api/v1/cameras/test', { url: `rtsp://127.0.0.1:${await freePort()}/cam` }, R());
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.ok, false);
    assert.equal(r.json.error, 'unreachable', r.text);

    // rights and input
    r = await srv.post('/api/v1/cameras/test', { url: cam.url }, as(vic));
    assert.equal(r.status, 403);
    r = await srv.post(`/api/v1/cameras/${saved.id}/test`, undefined, as(vic));
    assert.equal(r.status, 404, 'a camera of a room the viewer may not see');
    r = await srv.post(`/api/v1/cameras/${saved.id}/test`, undefined, as(op));
    assert.equal(r.status, 403);
    r = await srv.post('/api/v1/cameras/test', { url: 'http://127.0.0.1/' }, R());
    assert.equal(r.status, 422);
    r = await srv.get('/api/v1/cameras/test', R());
    assert.equal(r.status, 405);

    r = await srv.get('/api/v1/audit?limit=20', R());
    assert.ok(r.json.items.some((x) => x.action === 'camera.test' && x.target === `camera:${saved.id}`));
  } finally {
    cam.proc.removeAllListeners('exit');
    cam.proc.kill('SIGKILL');
  }
});
