// Saved views of the Observe page through the API (/api/v1/views): a user
// saves a named set of cameras from any rooms with a layout, reads, edits
// and deletes only their own; cameras they may not view are refused 403 on
// save and left out on read; bad input answers 4xx and changes nothing.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { Vigil, errorCode } from './lib/server.mjs';

const PW = 'correct-horse-1';
let srv;
let root; // admin
let vic; // viewer with one shared room
let val; // another viewer
let roomA; // shared with vic
let roomB; // not shared
let camA1;
let camA2;
let camB1;

before(async () => {
  srv = await Vigil.start({ users: [{ name: 'root', password: PW, role: 'admin' }] });
  root = await srv.login('root', PW);
  const vicUser = await srv.createUser(root.access_token, 'vic', PW, 'viewer');
  await srv.createUser(root.access_token, 'val', PW, 'viewer');
  vic = await srv.login('vic', PW);
  val = await srv.login('val', PW);
  roomA = (await srv.post('/api/v1/rooms', { name: 'Suite A' }, R())).json;
  roomB = (await srv.post('/api/v1/rooms', { name: 'Suite B' }, R())).json;
  // Cameras on a closed loopback port: views need rows, not pictures.
  const cam = async (room, name) => {
    const r = await srv.post('/api/v1/cameras', { room_id: room.id, name, url: 'rtsp://127.0.0.1:9/cam' }, R());
    assert.equal(r.status, 201, r.text);
    return r.json;
  };
  camA1 = await cam(roomA, 'Door');
  camA2 = await cam(roomA, 'Table');
  camB1 = await cam(roomB, 'Ceiling');
  const share = await srv.post(`/api/v1/rooms/${roomA.id}/access`, { user_id: vicUser.id }, R());
  assert.equal(share.status, 201, share.text);
});

after(async () => {
  await srv?.stop();
});

beforeEach(() => srv?.revive());

const as = (who) => ({ token: who.access_token });
const R = () => as(root);

async function listViews(who) {
  const r = await srv.get('/api/v1/views', as(who));
  assert.equal(r.status, 200, r.text);
  return r.json;
}

test('a user saves a view of cameras from several rooms, reads it back in order, edits and deletes it', async () => {
  const r = await srv.post('/api/v1/views', { name: 'Both suites', layout: '3x3', camera_ids: [camB1.id, camA2.id, camA1.id] }, R());
  assert.equal(r.status, 201, r.text);
  const v = r.json;
  assert.equal(typeof v.id, 'number');
  assert.equal(v.name, 'Both suites');
  assert.equal(v.layout, '3x3');
  assert.deepEqual(v.camera_ids, [camB1.id, camA2.id, camA1.id], 'the order given is kept');
  assert.ok(v.created_at > 0 && v.updated_at >= v.created_at);

  const got = await srv.get(`/api/v1/views/${v.id}`, R());
  assert.equal(got.status, 200);
  assert.deepEqual(got.json, v);
  const list = await listViews(root);
  assert.equal(list.total, 1);
  assert.deepEqual(list.items, [v]);

  // PATCH changes what it names and keeps the rest.
  const p = await srv.patch(`/api/v1/views/${v.id}`, { layout: '1' }, R());
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.layout, '1');
  assert.equal(p.json.name, 'Both suites');
  assert.deepEqual(p.json.camera_ids, v.camera_ids);
  const p2 = await srv.patch(`/api/v1/views/${v.id}`, { name: 'Suite A only', camera_ids: [camA1.id] }, R());
  assert.equal(p2.status, 200, p2.text);
  assert.deepEqual(p2.json.camera_ids, [camA1.id]);
  assert.equal((await srv.get(`/api/v1/views/${v.id}`, R())).json.name, 'Suite A only');

  const d = await srv.del(`/api/v1/views/${v.id}`, R());
  assert.equal(d.status, 204);
  assert.equal((await srv.get(`/api/v1/views/${v.id}`, R())).status, 404);
  assert.equal((await listViews(root)).total, 0);

  // Each change is an audit row naming the view and who made it.
  const audit = (await srv.get('/api/v1/audit?limit=100', R())).json.items;
  for (const action of ['view.create', 'view.update', 'view.delete']) {
    const row = audit.find((a) => a.action === action && a.target === `view:${v.id}`);
    assert.ok(row, `audit row ${action}`);
    assert.equal(row.username, 'root');
  }
  const created = audit.find((a) => a.action === 'view.create' && a.target === `view:${v.id}`);
  assert.equal(created.detail.name, 'Both suites');
  assert.equal(created.detail.cameras, 3);
});

test('views are private: another user neither lists, reads, edits nor deletes them', async () => {
  const mine = (await srv.post('/api/v1/views', { name: 'Vic view', layout: '2x2', camera_ids: [camA1.id] }, as(vic))).json;
  assert.ok(mine?.id, 'vic saves a view of a camera in a room shared with him');
  assert.equal((await listViews(val)).total, 0, 'val lists none of vic\'s');
  assert.equal((await listViews(root)).items.some((x) => x.id === mine.id), false, 'nor does an admin');
  for (const who of [val, root]) {
    assert.equal(errorCode(await srv.get(`/api/v1/views/${mine.id}`, as(who))), 'not_found');
    const p = await srv.patch(`/api/v1/views/${mine.id}`, { name: 'taken over' }, as(who));
    assert.equal(p.status, 404);
    assert.equal((await srv.del(`/api/v1/views/${mine.id}`, as(who))).status, 404);
  }
  const still = await srv.get(`/api/v1/views/${mine.id}`, as(vic));
  assert.equal(still.status, 200);
  assert.equal(still.json.name, 'Vic view', 'unchanged');
  // The same name is free for another user, taken for the same one.
  assert.equal((await srv.post('/api/v1/views', { name: 'Vic view', camera_ids: [camB1.id] }, R())).status, 201);
  const dup = await srv.post('/api/v1/views', { name: 'vic VIEW', camera_ids: [camA2.id] }, as(vic));
  assert.equal(dup.status, 409);
  assert.equal(errorCode(dup), 'name_taken');
  assert.equal((await srv.get('/api/v1/views')).status, 401, 'no token: 401');
});

test('a camera the user may not view is refused 403 on save and left out on read', async () => {
  const before = await listViews(vic);
  for (const camera_ids of [[camB1.id], [camA1.id, camB1.id], [999999]]) {
    const r = await srv.post('/api/v1/views', { name: 'Peek', camera_ids }, as(vic));
    assert.equal(r.status, 403, `${JSON.stringify(camera_ids)}: ${r.text}`);
    assert.equal(errorCode(r), 'camera_forbidden');
  }
  const mine = (await listViews(vic)).items.find((x) => x.name === 'Vic view');
  const p = await srv.patch(`/api/v1/views/${mine.id}`, { camera_ids: [camA1.id, camB1.id] }, as(vic));
  assert.equal(p.status, 403);
  assert.deepEqual(await listViews(vic), before, 'nothing changed');

  // Shared, saved, then unshared: the camera stays stored but is not shown.
  const share = await srv.post(`/api/v1/rooms/${roomB.id}/access`, { user_id: vic.user.id }, R());
  assert.equal(share.status, 201, share.text);
  const both = await srv.post('/api/v1/views', { name: 'Both', camera_ids: [camB1.id, camA1.id] }, as(vic));
  assert.equal(both.status, 201, both.text);
  assert.equal((await srv.del(`/api/v1/rooms/${roomB.id}/access/${share.json.id}`, R())).status, 204);
  const read = await srv.get(`/api/v1/views/${both.json.id}`, as(vic));
  assert.deepEqual(read.json.camera_ids, [camA1.id], 'the unshared camera is left out');
  assert.deepEqual((await listViews(vic)).items.find((x) => x.id === both.json.id).camera_ids, [camA1.id]);
  // Shared again, it is back.
  const again = await srv.post(`/api/v1/rooms/${roomB.id}/access`, { user_id: vic.user.id }, R());
  assert.equal(again.status, 201);
  assert.deepEqual((await srv.get(`/api/v1/views/${both.json.id}`, as(vic))).json.camera_ids, [camB1.id, camA1.id]);
  assert.equal((await srv.del(`/api/v1/rooms/${roomB.id}/access/${again.json.id}`, R())).status, 204);

  // A deleted camera leaves every view it was in.
  const tmp = (await srv.post('/api/v1/cameras', { room_id: roomA.id, name: 'Temp', url: 'rtsp://127.0.0.1:9/cam' }, R())).json;
  const v = (await srv.post('/api/v1/views', { name: 'With temp', camera_ids: [tmp.id, camA2.id] }, R())).json;
  assert.equal((await srv.del(`/api/v1/cameras/${tmp.id}`, R())).status, 204);
  assert.deepEqual((await srv.get(`/api/v1/views/${v.id}`, R())).json.camera_ids, [camA2.id]);
});

test('bad input answers 4xx with an error body and changes nothing', async () => {
  const before = await listViews(root);
  const cases = [
    [{ camera_ids: [camA1.id] }, 422, 'no name'],
    [{ name: '   ', camera_ids: [camA1.id] }, 422, 'blank name'],
    [{ name: 'x'.repeat(129), camera_ids: [camA1.id] }, 422, 'name past 128 bytes'],
    [{ name: 'y'.repeat(100000), camera_ids: [camA1.id] }, 422, 'a huge name'],
    [{ name: 'Ctl\u0001', camera_ids: [camA1.id] }, 422, 'control character'],
    [{ name: 42, camera_ids: [camA1.id] }, 422, 'name not a string'],
    [{ name: 'Bad layout', layout: '5x5', camera_ids: [camA1.id] }, 422, 'unknown layout'],
    [{ name: 'Bad layout', layout: 4, camera_ids: [camA1.id] }, 422, 'layout not a string'],
    [{ name: 'No cams' }, 422, 'no camera_ids'],
    [{ name: 'No cams', camera_ids: [] }, 422, 'empty camera_ids'],
    [{ name: 'Too many', camera_ids: Array.from({ length: 17 }, (_, i) => i + 1) }, 422, '17 cameras'],
    [{ name: 'Twice', camera_ids: [camA1.id, camA1.id] }, 422, 'a camera twice'],
    [{ name: 'Neg', camera_ids: [-1] }, 422, 'negative id'],
    [{ name: 'Str', camera_ids: [String(camA1.id)] }, 422, 'id as text'],
    [{ name: 'Frac', camera_ids: [1.5] }, 422, 'fractional id'],
    [{ name: 'Obj', camera_ids: { 0: camA1.id } }, 422, 'camera_ids not a list'],
    [{ name: 'Extra', camera_ids: [camA1.id], owner: 1 }, 422, 'unknown field'],
    [{ name: 'Unknown cam', camera_ids: [123456789] }, 403, 'unknown camera'],
  ];
  for (const [body, status, what] of cases) {
    const r = await srv.post('/api/v1/views', body, R());
    assert.equal(r.status, status, `${what}: ${r.text.slice(0, 300)}`);
    errorCode(r);
  }
  const raw = await srv.req('POST', '/api/v1/views', { raw: '{"name": "x", "camera_ids": [1', ...R() });
  assert.equal(raw.status, 400, 'malformed JSON');
  assert.equal((await srv.req('POST', '/api/v1/views', { raw: '[1]', ...R() })).status, 400, 'not an object');
  assert.equal((await srv.req('PUT', '/api/v1/views', R())).status, 405);
  assert.equal((await srv.get('/api/v1/views/abc', R())).status, 404);
  assert.equal((await srv.get('/api/v1/views/99999999999999999999', R())).status, 404);
  assert.equal((await srv.get('/api/v1/views?limit=0', R())).status, 400);

  const v = (await srv.post('/api/v1/views', { name: 'Target', camera_ids: [camA1.id] }, R())).json;
  for (const [body, status, what] of [
    [{}, 422, 'nothing to change'],
    [{ layout: '2x3' }, 422, 'bad layout'],
    [{ camera_ids: [] }, 422, 'no cameras'],
    [{ name: '' }, 422, 'empty name'],
    [{ name: 'Vic view', camera_ids: [camA1.id, 'x'] }, 422, 'bad id in list'],
  ]) {
    const r = await srv.patch(`/api/v1/views/${v.id}`, body, R());
    assert.equal(r.status, status, `PATCH ${what}: ${r.text}`);
  }
  const after = await srv.get(`/api/v1/views/${v.id}`, R());
  assert.deepEqual(after.json, v, 'the view is as saved');
  const all = await listViews(root);
  assert.equal(all.total, before.total + 1, 'only the one good view was added');
});
