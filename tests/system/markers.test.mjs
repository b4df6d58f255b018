// Review back end against a real recording of a simulated camera: markers
// edited and deleted (PATCH/DELETE /recordings/{id}/markers/{mid}), the
// recordings list's author / marker-text filters and date sort, and
// thumbnails (GET /recordings/{id}/thumbnail.jpg) of an H.264 and an H.265
// camera checked with ffprobe.
//
//   VIGIL_BIN     server under test (default build-asan/vigil)
//   VIGIL_SIMCAM  simulated camera (default tools/vigil-simcam beside VIGIL_BIN)
//
// Light settings (640x360, 15 fps, a GOP a second): two shared cores.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Vigil, Simcam, SIMCAM, errorCode, sleep, eventsSocket, run, until } from './lib/server.mjs';

const PW = 'correct-horse-1';
const sockets = new Set();
const as = (who) => ({ token: who.access_token, timeout: 15000 });

describe('review: markers, library filters, thumbnails', () => {
  let cam;
  let cam265;
  let srv;
  let root;
  let op;
  let vic;
  let room;
  let room2;
  let camId;
  let rec; // stopped recording of room (author root)
  let rec2; // stopped recording of room2 (author op)

  // Records `seconds` in a room as `who`, then stops; returns the recording
  // once its segments are hashed.
  async function record(who, roomId, title, seconds) {
    let r = await srv.post(`/api/v1/rooms/${roomId}/record/start`, { title }, as(who));
    assert.equal(r.status, 201, r.text);
    const id = r.json.recording_id;
    await sleep(seconds * 1000);
    r = await srv.post(`/api/v1/rooms/${roomId}/record/stop`, {}, as(who));
    assert.equal(r.status, 200, r.text);
    return until(async () => {
      const g = await srv.get(`/api/v1/recordings/${id}`, as(who));
      assert.equal(g.status, 200, g.text);
      const segs = g.json.tracks.flatMap((t) => t.segments);
      return segs.length && segs.every((s) => /^[0-9a-f]{64}$/.test(s.sha256 ?? '')) ? g.json : null;
    }, 10000, `recording ${id} hashed`);
  }

  before(async () => {
    cam = await Simcam.start(['--video', 'h264', '--gop', '15', '--label', 'markers']);
    cam265 = await Simcam.start(['--video', 'h265', '--gop', '15', '--label', 'markers h265']);
    srv = await Vigil.start({ users: [{ name: 'root', password: PW, role: 'admin' }], flags: ['--segment-seconds', '4'] });
    root = await srv.login('root', PW);
    await srv.createUser(root.access_token, 'op', PW, 'operator');
    await srv.createUser(root.access_token, 'vic', PW, 'viewer');
    op = await srv.login('op', PW);
    vic = await srv.login('vic', PW);
    let r = await srv.post('/api/v1/rooms', { name: 'Suite A' }, as(root));
    assert.equal(r.status, 201, r.text);
    room = r.json;
    r = await srv.post('/api/v1/rooms', { name: 'Suite B' }, as(root));
    room2 = r.json;
    r = await srv.post('/api/v1/cameras', { room_id: room.id, name: 'wide', url: cam.url }, as(root));
    assert.equal(r.status, 201, r.text);
    camId = r.json.id;
    r = await srv.post('/api/v1/cameras', { room_id: room2.id, name: 'wide', url: cam265.url }, as(root));
    assert.equal(r.status, 201, r.text);
    const cam2Id = r.json.id;
    await until(async () => {
      const c = await Promise.all([camId, cam2Id].map((id) => srv.get(`/api/v1/cameras/${id}`, as(root))));
      return c.every((x) => x.json?.status === 'online');
    }, 20000, 'cameras online');
    rec = await record(root, room.id, 'Debrief one', 5);
    rec2 = await record(op, room2.id, 'Second session', 3);
  });

  after(async () => {
    for (const ws of sockets) ws.terminate();
    await srv?.stop();
    await cam?.stop();
    await cam265?.stop();
  });

  test('a marker is edited: fields change, author and created_at stay, audited, event sent', async () => {
    let r = await srv.post(`/api/v1/recordings/${rec.id}/markers`, { time: 1.5, label: 'door opens', color: '#ff0000' }, as(op));
    assert.equal(r.status, 201, r.text);
    const m = r.json;
    const events = await eventsSocket(srv, root.access_token, sockets);
    await sleep(20); // the updated_at of a change made in the same ms could equal created_at
    r = await srv.patch(`/api/v1/recordings/${rec.id}/markers/${m.id}`,
      { label: 'door closes', color: '#00aa00', note: 'second look', time: 2.25 }, as(root));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.label, 'door closes');
    assert.equal(r.json.color, '#00aa00');
    assert.equal(r.json.note, 'second look');
    assert.equal(r.json.time, 2.25);
    assert.equal(r.json.author, 'op', 'the author stays the one who made it');
    assert.equal(r.json.created_at, m.created_at);
    assert.ok(r.json.updated_at > m.created_at, `updated_at ${r.json.updated_at} after ${m.created_at}`);
    const ev = await events.next((x) => x.type === 'marker.updated');
    assert.equal(ev.marker.id, m.id);
    assert.equal(ev.marker.label, 'door closes');

    // only what is sent changes
    r = await srv.patch(`/api/v1/recordings/${rec.id}/markers/${m.id}`, { note: '' }, as(op));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.note, '');
    assert.equal(r.json.label, 'door closes');
    r = await srv.get(`/api/v1/recordings/${rec.id}`, as(root));
    const stored = r.json.markers.find((x) => x.id === m.id);
    assert.deepEqual({ label: stored.label, color: stored.color, time: stored.time }, { label: 'door closes', color: '#00aa00', time: 2.25 });

    r = await srv.get('/api/v1/audit?limit=20', as(root));
    const row = r.json.items.find((a) => a.action === 'marker.update');
    assert.ok(row, `no marker.update audit row: ${r.text.slice(0, 500)}`);
    assert.equal(row.target, `recording:${rec.id}`);
    assert.equal(row.username, 'op');
  });

  test('a marker is deleted: 204, gone from the list, audited, event sent; again 404', async () => {
    let r = await srv.post(`/api/v1/recordings/${rec.id}/markers`, { time: 3, label: 'to delete' }, as(root));
    assert.equal(r.status, 201, r.text);
    const m = r.json;
    const events = await eventsSocket(srv, root.access_token, sockets);
    r = await srv.del(`/api/v1/recordings/${rec.id}/markers/${m.id}`, as(op));
    assert.equal(r.status, 204, r.text);
    const ev = await events.next((x) => x.type === 'marker.deleted');
    assert.equal(ev.marker.id, m.id);
    r = await srv.get(`/api/v1/recordings/${rec.id}/markers`, as(root));
    assert.ok(!r.json.items.some((x) => x.id === m.id), 'deleted marker still listed');
    r = await srv.del(`/api/v1/recordings/${rec.id}/markers/${m.id}`, as(op));
    assert.equal(r.status, 404, r.text);
    assert.equal(errorCode(r), 'not_found');
    r = await srv.get('/api/v1/audit?limit=20', as(root));
    const row = r.json.items.find((a) => a.action === 'marker.delete');
    assert.ok(row, 'no marker.delete audit row');
    assert.equal(JSON.parse(typeof row.detail === 'string' ? row.detail : JSON.stringify(row.detail)).label, 'to delete');
  });

  test('bad edits answer 4xx and change nothing', async () => {
    let r = await srv.post(`/api/v1/recordings/${rec.id}/markers`, { time: 1, label: 'keep me', color: '#123456', note: 'n' }, as(root));
    assert.equal(r.status, 201, r.text);
    const m = r.json;
    const url = `/api/v1/recordings/${rec.id}/markers/${m.id}`;
    const bad = [
      [{ time: -1 }, 422], [{ time: 'soon' }, 422], [{ time: rec.duration + 60 }, 422],
      [{ label: '' }, 422], [{ label: null }, 422], [{ label: 'x'.repeat(201) }, 422],
      [{ color: 'red' }, 422], [{ color: '#12345g' }, 422], [{ note: 'x'.repeat(4097) }, 422],
      [{ author: 'someone else' }, 422], [{ label: 'ok', created_at: 1 }, 422],
    ];
    for (const [body, status] of bad) {
      r = await srv.patch(url, body, as(root));
      assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 80)}: ${r.text}`);
      assert.equal(errorCode(r), 'invalid_field');
    }
    r = await srv.req('PATCH', url, { ...as(root), raw: '{"label": ' });
    assert.equal(r.status, 400, r.text);
    r = await srv.req('PATCH', url, { ...as(root), raw: '[1]' });
    assert.equal(r.status, 400, r.text);
    // a marker of another recording, a non-numeric id, an unknown id
    for (const p of [`/api/v1/recordings/${rec2.id}/markers/${m.id}`, `/api/v1/recordings/${rec.id}/markers/abc`,
      `/api/v1/recordings/${rec.id}/markers/99999`, `/api/v1/recordings/${rec.id}/markers/${m.id}/x`]) {
      r = await srv.patch(p, { label: 'moved' }, as(root));
      assert.equal(r.status, 404, `${p}: ${r.text}`);
    }
    r = await srv.req('PUT', url, { ...as(root), body: { label: 'x' } });
    assert.equal(r.status, 405, r.text);
    r = await srv.get(url, as(root));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual({ label: r.json.label, color: r.json.color, note: r.json.note, time: r.json.time, updated_at: r.json.updated_at },
      { label: 'keep me', color: '#123456', note: 'n', time: 1, updated_at: m.updated_at });
  });

  test('no rights: no token 401; a viewer of another room 404; nothing changes', async () => {
    let r = await srv.post(`/api/v1/recordings/${rec.id}/markers`, { time: 1, label: 'private' }, as(root));
    const m = r.json;
    const url = `/api/v1/recordings/${rec.id}/markers/${m.id}`;
    r = await srv.patch(url, { label: 'anon' });
    assert.equal(r.status, 401, r.text);
    r = await srv.del(url);
    assert.equal(r.status, 401, r.text);
    r = await srv.patch(url, { label: 'viewer' }, as(vic));
    assert.equal(r.status, 404, r.text);
    r = await srv.del(url, as(vic));
    assert.equal(r.status, 404, r.text);
    r = await srv.get(url, as(root));
    assert.equal(r.json.label, 'private');
    // once the room is shared, the viewer may edit like adding
    r = await srv.post(`/api/v1/rooms/${room.id}/access`, { user_id: vic.user.id }, as(root));
    assert.equal(r.status, 201, r.text);
    r = await srv.patch(url, { label: 'seen by vic' }, as(vic));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.author, 'root');
    r = await srv.req('DELETE', `/api/v1/rooms/${room.id}/access`, { ...as(root), body: { user_id: vic.user.id } });
    assert.equal(r.status, 204, r.text);
  });

  test('thumbnails: a real JPEG of the asked width, cached on disk, 4xx for bad input', async () => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-thumb-'));
    const fetchJpeg = async (qs, who = root) => {
      const res = await fetch(`${srv.base}/api/v1/recordings/${rec.id}/thumbnail.jpg${qs}`,
        { headers: { authorization: `Bearer ${who.access_token}` }, signal: AbortSignal.timeout(30000) });
      return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
    };
    const probe = async (buf, name) => {
      const f = path.join(tmp, name);
      await fs.writeFile(f, buf);
      const r = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', f]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr.trim(), '', r.stderr);
      return JSON.parse(r.stdout).streams[0];
    };
    try {
      let r = await fetchJpeg('');
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(r.headers.get('content-type'), 'image/jpeg');
      assert.match(r.headers.get('cache-control') ?? '', /max-age=\d+/);
      let s = await probe(r.body, 'default.jpg');
      assert.deepEqual({ codec: s.codec_name, width: s.width, height: s.height }, { codec: 'mjpeg', width: 320, height: 180 });
      const first = r.body;

      r = await fetchJpeg(`?camera=${camId}&t=2.5&width=160`);
      assert.equal(r.status, 200, r.body.toString());
      s = await probe(r.body, 'small.jpg');
      assert.deepEqual({ codec: s.codec_name, width: s.width, height: s.height }, { codec: 'mjpeg', width: 160, height: 90 });

      // the same picture again comes from the cache file, byte for byte
      r = await fetchJpeg('?t=0');
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(first), 'same keyframe, same width: same bytes');
      // an H.265 recording too
      const res = await fetch(`${srv.base}/api/v1/recordings/${rec2.id}/thumbnail.jpg?width=200&t=1`,
        { headers: { authorization: `Bearer ${root.access_token}` }, signal: AbortSignal.timeout(30000) });
      assert.equal(res.status, 200);
      s = await probe(Buffer.from(await res.arrayBuffer()), 'h265.jpg');
      assert.deepEqual({ codec: s.codec_name, width: s.width, height: s.height }, { codec: 'mjpeg', width: 200, height: 112 });

      const cached = await fs.readdir(path.join(srv.dataDir, 'cache', 'thumbs'));
      assert.ok(cached.filter((f) => f.endsWith('.jpg')).length >= 2, `cache: ${cached}`);

      for (const [qs, status] of [['?t=-1', 400], ['?t=abc', 400], ['?t=nan', 400], ['?width=8', 400],
        ['?width=5000', 400], ['?width=100.5', 400], [`?t=${rec.duration + 30}`, 400], ['?camera=99999', 404],
        ['?camera=0', 400]]) {
        r = await srv.get(`/api/v1/recordings/${rec.id}/thumbnail.jpg${qs}`, as(root));
        assert.equal(r.status, status, `${qs}: ${r.text}`);
        errorCode(r);
      }
      r = await srv.get('/api/v1/recordings/99999/thumbnail.jpg', as(root));
      assert.equal(r.status, 404, r.text);
      r = await srv.get(`/api/v1/recordings/${rec.id}/thumbnail.jpg`);
      assert.equal(r.status, 401, r.text);
      r = await srv.get(`/api/v1/recordings/${rec.id}/thumbnail.jpg`, as(vic));
      assert.equal(r.status, 404, `a viewer of another room: ${r.text}`);
      r = await srv.post(`/api/v1/recordings/${rec.id}/thumbnail.jpg`, {}, as(root));
      assert.equal(r.status, 405, r.text);
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  });

  test('the list filters by author and marker text and sorts by date', async () => {
    let r = await srv.post(`/api/v1/recordings/${rec2.id}/markers`, { time: 1, label: 'Witness arrives', note: 'blue coat' }, as(op));
    assert.equal(r.status, 201, r.text);
    const ids = async (qs) => {
      const l = await srv.get(`/api/v1/recordings?${qs}`, as(root));
      assert.equal(l.status, 200, l.text);
      assert.equal(l.json.total, l.json.items.length, l.text);
      return l.json.items.map((x) => x.id);
    };
    assert.deepEqual(await ids('author=OP'), [rec2.id]);
    assert.deepEqual(await ids('author=root'), [rec.id]);
    assert.deepEqual(await ids('author=nobody'), []);
    assert.deepEqual(await ids('marker=witness'), [rec2.id], 'label, case-insensitive');
    assert.deepEqual(await ids('marker=BLUE%20coat'), [rec2.id], 'note');
    assert.deepEqual(await ids('marker=witness&room_id=' + room.id), []);
    assert.deepEqual(await ids('sort=date_desc'), [rec2.id, rec.id]);
    assert.deepEqual(await ids('sort=date_asc'), [rec.id, rec2.id]);
    assert.deepEqual(await ids(''), [rec2.id, rec.id], 'newest first by default');
    const l = await srv.get('/api/v1/recordings?sort=date_asc&limit=1&offset=1', as(root));
    assert.deepEqual(l.json.items.map((x) => x.id), [rec2.id]);
    assert.equal(l.json.total, 2);
    r = await srv.get('/api/v1/recordings?sort=title', as(root));
    assert.equal(r.status, 400, r.text);
    assert.equal(errorCode(r), 'invalid_parameter');
    // a viewer finds nothing in rooms not shared with them, whatever the filter
    r = await srv.get('/api/v1/recordings?marker=witness', as(vic));
    assert.equal(r.json.total, 0);
  });
});
