// Clips, export packages, `vigil verify PACKAGE.zip`, retention and locks.
//
// One ~10 s recording of two simulated cameras (light settings) serves the
// clip and export checks: clips made and refused, a clip's MP4 against its
// span (ffprobe), an export ZIP read by unzip and its MP4s by ffprobe,
// `vigil verify` passing on it and failing, naming the file, after one
// byte of one MP4 is flipped, and failing the signature after the
// manifest is changed; rights (403 for a viewer who may not see the room,
// 403 on writes for one who may). Then retention: two short recordings
// and the long one, expired by PATCH, against a sweep every second; a
// sweep is known to have run when an unprotected recording is gone, so
// nothing here waits on a fixed time.
//
//   VIGIL_BIN     server under test (default build-asan/vigil)
//   VIGIL_SIMCAM  simulated camera (default tools/vigil-simcam beside VIGIL_BIN)
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { run as runTool, Vigil, Simcam, SIMCAM, errorCode, runCli, sleep, until, near, fetchBytes } from './lib/server.mjs';

// unzip -p hands out file bytes: keep stdout binary.
const run = (cmd, args, timeoutMs) => runTool(cmd, args, timeoutMs, { binary: true });

const PW = 'correct-horse-1';
const FPS = 15;
const FRAME = 1 / FPS;

let camA;
let camB;

before(async () => {
  camA = await Simcam.start(['--video', 'h264', '--audio', 'aac', '--gop', '15', '--label', 'A']);
  camB = await Simcam.start(['--video', 'h264', '--gop', '15', '--label', 'B']);
});

after(async () => {
  await Promise.all([camA?.stop(), camB?.stop()]);
});

async function ffprobe(file) {
  const r = await run('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file]);
  assert.equal(r.code, 0, `ffprobe ${file}: ${r.stderr}`);
  assert.equal(r.stderr.trim(), '', `ffprobe ${file} printed errors:\n${r.stderr}`);
  const info = JSON.parse(r.stdout.toString());
  return { duration: Number(info.format.duration), video: info.streams.find((s) => s.codec_type === 'video') };
}

// The entries of a ZIP's central directory (enough for the tests to find
// where a file's bytes are): [{name, size, dataOffset}].
function zipEntries(buf) {
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  assert.ok(eocd >= 0, 'an end of central directory record');
  let count = buf.readUInt16LE(eocd + 10);
  let cdAt = buf.readUInt32LE(eocd + 16);
  if (cdAt === 0xffffffff) { // ZIP64
    const e64 = Number(buf.readBigUInt64LE(eocd - 20 + 8));
    count = Number(buf.readBigUInt64LE(e64 + 32));
    cdAt = Number(buf.readBigUInt64LE(e64 + 48));
  }
  const out = [];
  let p = cdAt;
  for (let i = 0; i < count; i++) {
    assert.equal(buf.readUInt32LE(p), 0x02014b50);
    const nlen = buf.readUInt16LE(p + 28);
    const xlen = buf.readUInt16LE(p + 30);
    const clen = buf.readUInt16LE(p + 32);
    const name = buf.subarray(p + 46, p + 46 + nlen).toString();
    let size = buf.readUInt32LE(p + 24);
    let off = buf.readUInt32LE(p + 42);
    if (size === 0xffffffff || off === 0xffffffff) {
      const x = p + 46 + nlen + 4;
      size = Number(buf.readBigUInt64LE(x));
      off = Number(buf.readBigUInt64LE(x + 16));
    }
    const dataOffset = off + 30 + buf.readUInt16LE(off + 26) + buf.readUInt16LE(off + 28);
    out.push({ name, size, dataOffset, method: buf.readUInt16LE(p + 10) });
    p += 46 + nlen + xlen + clen;
  }
  return out;
}

describe('clips, export packages and retention', () => {
  let srv;
  let root;
  let vic;  // a viewer who may not see the room
  let val;  // a viewer who may see it
  let room;
  let idA;
  let idB;
  let rec;  // the ~10 s recording
  let clip; // a clip of it, 2..6 s
  let tmp;
  let pkg;  // the export package's path
  const as = (who) => ({ token: who.access_token, timeout: 60000 });
  const auth = (who) => ({ authorization: `Bearer ${who.access_token}` });

  async function record(title, ms) {
    let r = await srv.post(`/api/v1/rooms/${room.id}/record/start`, { title }, as(root));
    assert.equal(r.status, 201, r.text);
    const t0 = Date.now();
    const id = r.json.recording_id;
    await sleep(Math.max(0, ms - (Date.now() - t0)));
    r = await srv.post(`/api/v1/rooms/${room.id}/record/stop`, undefined, as(root));
    assert.equal(r.status, 200, r.text);
    return until(async () => {
      const g = await srv.get(`/api/v1/recordings/${id}`, as(root));
      const segs = g.json.tracks.flatMap((t) => t.segments);
      return segs.length && segs.every((s) => s.state !== 'open') ? g.json : null;
    }, 15000, `segments of ${title} closed`);
  }

  before(async () => {
    srv = await Vigil.start({
      users: [{ name: 'root', password: PW, role: 'admin' }],
      flags: ['--segment-seconds', '4', '--retention-check-seconds', '1'],
    });
    root = await srv.login('root', PW);
    await srv.createUser(root.access_token, 'vic', PW, 'viewer');
    const valUser = await srv.createUser(root.access_token, 'val', PW, 'viewer');
    vic = await srv.login('vic', PW);
    val = await srv.login('val', PW);
    tmp = await fs.mkdtemp(path.join(srv.dataDir, 'out-'));
    let r = await srv.post('/api/v1/rooms', { name: 'Interview 1' }, as(root));
    assert.equal(r.status, 201, r.text);
    room = r.json;
    r = await srv.post(`/api/v1/rooms/${room.id}/access`, { user_id: valUser.id }, as(root));
    assert.equal(r.status, 201, r.text);
    r = await srv.post('/api/v1/cameras', { room_id: room.id, name: 'A', url: camA.url }, as(root));
    assert.equal(r.status, 201, r.text);
    idA = r.json.id;
    r = await srv.post('/api/v1/cameras', { room_id: room.id, name: 'B', url: camB.url }, as(root));
    assert.equal(r.status, 201, r.text);
    idB = r.json.id;
    for (const id of [idA, idB]) {
      await until(async () => (await srv.get(`/api/v1/cameras/${id}`, as(root))).json?.status === 'online', 30000, `camera ${id} online`);
    }
    rec = await record('ten seconds', 10000);
    r = await srv.post(`/api/v1/recordings/${rec.id}/markers`, { time: 3, label: 'door, "opened"', note: 'a, b' }, as(root));
    assert.equal(r.status, 201, r.text);
    r = await srv.post(`/api/v1/recordings/${rec.id}/markers`, { time: 9, label: 'late' }, as(root));
    assert.equal(r.status, 201, r.text);
  });

  after(async () => {
    await srv?.stop();
  });

  test('clips: made, listed, changed, deleted; bad input refused and nothing changes', async () => {
    let r = await srv.post(`/api/v1/recordings/${rec.id}/clips`, { from: 2, to: 6, title: 'the door' }, as(root));
    assert.equal(r.status, 201, r.text);
    clip = r.json;
    assert.equal(clip.recording_id, rec.id);
    assert.equal(clip.from, 2);
    assert.equal(clip.to, 6);
    assert.equal(clip.title, 'the door');
    assert.equal(clip.author, 'root');
    assert.equal(clip.keep, false);

    const bad = [
      [{ from: 6, to: 2 }, 422, 'invalid_span'],
      [{ from: 3, to: 3 }, 422, 'invalid_span'],
      [{ from: -1, to: 2 }, 422, 'invalid_field'],
      [{ from: 'abc', to: 2 }, 422, 'invalid_field'],
      [{ from: 1, to: '5' }, 422, 'invalid_field'],
      [{ from: 1, to: rec.duration + 30 }, 422, 'invalid_span'],
      [{ from: 1 }, 422, 'invalid_field'],
      [{ from: 1, to: 2, keep: 'yes' }, 422, 'invalid_field'],
      [{ from: 1, to: 2, colour: 'red' }, 422, 'invalid_field'],
    ];
    for (const [body, status, code] of bad) {
      r = await srv.post(`/api/v1/recordings/${rec.id}/clips`, body, as(root));
      assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(errorCode(r), code, JSON.stringify(body));
      assert.ok(r.json.error.message.length > 5);
    }
    r = await srv.req('POST', `/api/v1/recordings/${rec.id}/clips`, { ...as(root), raw: '{"from": 1, "to":' });
    assert.equal(r.status, 400, r.text);
    r = await srv.post('/api/v1/recordings/999999/clips', { from: 1, to: 2 }, as(root));
    assert.equal(r.status, 404, r.text);
    r = await srv.get(`/api/v1/recordings/${rec.id}/clips`, as(root));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.items.map((c) => c.id), [clip.id], 'bad input made no clip');

    r = await srv.get(`/api/v1/recordings/${rec.id}`, as(root));
    assert.deepEqual(r.json.clips.map((c) => c.id), [clip.id], 'clips listed in the recording');
    assert.equal(r.json.retention.mode, 'inherit');

    r = await srv.patch(`/api/v1/clips/${clip.id}`, { from: 7, to: 6 }, as(root));
    assert.equal(r.status, 422, r.text);
    r = await srv.patch(`/api/v1/clips/${clip.id}`, { title: 'the door opens' }, as(root));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.title, 'the door opens');
    assert.equal(r.json.from, 2, 'a failed PATCH changed nothing');
    r = await srv.get(`/api/v1/clips/${clip.id}`, as(val));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.title, 'the door opens');

    r = await srv.post(`/api/v1/recordings/${rec.id}/clips`, { from: 0.5, to: 1.5 }, as(root));
    assert.equal(r.status, 201, r.text);
    const gone = r.json.id;
    r = await srv.del(`/api/v1/clips/${gone}`, as(root));
    assert.equal(r.status, 204, r.text);
    r = await srv.get(`/api/v1/clips/${gone}`, as(root));
    assert.equal(r.status, 404, r.text);

    const audit = (await srv.get('/api/v1/audit?limit=100', as(root))).json.items;
    for (const action of ['clip.create', 'clip.update', 'clip.delete'])
      assert.ok(audit.some((a) => a.action === action && a.username === 'root'), `audit row ${action}`);
  });

  test("a clip's MP4 is its span", { timeout: 120000 }, async () => {
    for (const cam of [idA, idB]) {
      const r = await fetchBytes(`${srv.base}/api/v1/clips/${clip.id}/media/${cam}.mp4`, auth(val));
      assert.equal(r.status, 200, r.body.toString().slice(0, 300));
      assert.equal(r.headers.get('content-type'), 'video/mp4');
      const file = path.join(tmp, `clip-${cam}.mp4`);
      await fs.writeFile(file, r.body);
      const p = await ffprobe(file);
      near(p.duration, 4, FRAME, `clip of camera ${cam}: duration`);
      const part = await fetchBytes(`${srv.base}/api/v1/clips/${clip.id}/media/${cam}.mp4`, { ...auth(val), range: 'bytes=100-1099' });
      assert.equal(part.status, 206);
      assert.ok(part.body.equals(r.body.subarray(100, 1100)), 'a range of the clip is the same bytes');
    }
  });

  test('rights: 403 on every clip, media and export URL for a viewer without the room; writes 403 for viewers', async () => {
    const urls = [
      ['GET', `/api/v1/recordings/${rec.id}/clips`],
      ['POST', `/api/v1/recordings/${rec.id}/clips`],
      ['GET', `/api/v1/clips/${clip.id}`],
      ['PATCH', `/api/v1/clips/${clip.id}`],
      ['DELETE', `/api/v1/clips/${clip.id}`],
      ['GET', `/api/v1/clips/${clip.id}/media/${idA}.mp4`],
      ['GET', `/api/v1/clips/${clip.id}/export`],
      ['GET', `/api/v1/recordings/${rec.id}/export`],
      ['POST', `/api/v1/recordings/${rec.id}/export`],
      ['GET', `/api/v1/recordings/${rec.id}/media/${idA}.mp4`],
    ];
    for (const [method, url] of urls) {
      const r = await srv.req(method, url, { ...as(vic), body: method === 'GET' ? undefined : { from: 1, to: 2, title: 'x' } });
      assert.equal(r.status, 403, `${method} ${url}: ${r.text}`);
      assert.equal(errorCode(r), 'forbidden');
    }
    // Seeing the room lets val read, not write.
    let r = await srv.post(`/api/v1/recordings/${rec.id}/clips`, { from: 1, to: 2 }, as(val));
    assert.equal(r.status, 403, r.text);
    r = await srv.patch(`/api/v1/clips/${clip.id}`, { title: 'mine' }, as(val));
    assert.equal(r.status, 403, r.text);
    r = await srv.del(`/api/v1/clips/${clip.id}`, as(val));
    assert.equal(r.status, 403, r.text);
    r = await srv.patch(`/api/v1/recordings/${rec.id}`, { locked: true }, as(val));
    assert.equal(r.status, 403, r.text);
    r = await srv.get(`/api/v1/clips/${clip.id}`, as(root));
    assert.equal(r.json.title, 'the door opens', 'refused writes changed nothing');
    r = await srv.get('/api/v1/clips/1/export');
    assert.equal(r.status, 401);
  });

  test('export package: a stored ZIP that unzip lists, MP4s ffprobe reads, markers, a signed manifest, vigil verify passes', { timeout: 180000 }, async () => {
    const bad = [
      ['?from=abc', 400], ['?from=-2', 400], ['?from=6&to=2', 422], ['?from=2&to=2', 422], ['?to=500', 422],
    ];
    for (const [q, status] of bad) {
      const r = await srv.get(`/api/v1/recordings/${rec.id}/export${q}`, as(root));
      assert.equal(r.status, status, `${q}: ${r.text}`);
      errorCode(r);
    }
    let r = await srv.get('/api/v1/recordings/999999/export', as(root));
    assert.equal(r.status, 404);

    const res = await fetchBytes(`${srv.base}/api/v1/recordings/${rec.id}/export?from=1&to=8`, auth(val));
    assert.equal(res.status, 200, res.body.toString().slice(0, 300));
    assert.equal(res.headers.get('content-type'), 'application/zip');
    assert.equal(Number(res.headers.get('content-length')), res.body.length, 'Content-Length known up front and right');
    assert.match(res.headers.get('content-disposition'), /attachment; filename="recording-\d+\.zip"/);
    pkg = path.join(tmp, 'package.zip');
    await fs.writeFile(pkg, res.body);
    const head = await fetchBytes(`${srv.base}/api/v1/recordings/${rec.id}/export?from=1&to=8`, auth(val), 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers.get('content-length')), res.body.length, 'HEAD announces the same size');
    assert.equal(head.body.length, 0);

    const list = await run('unzip', ['-l', pkg]);
    assert.equal(list.code, 0, list.stderr);
    const names = [`cam-${idA}.mp4`, `cam-${idB}.mp4`, 'markers.json', 'markers.csv', 'manifest.json', 'manifest.sig'];
    for (const n of names) assert.match(list.stdout.toString(), new RegExp(` ${n.replace('.', '\\.')}\\n`), `unzip -l lists ${n}`);
    const t = await run('unzip', ['-t', pkg]);
    assert.equal(t.code, 0, `unzip -t: ${t.stdout}${t.stderr}`);
    assert.match(t.stdout.toString(), /No errors detected/);
    const info = await run('zipinfo', ['-v', pkg]);
    assert.equal(info.code, 0, info.stderr);
    assert.doesNotMatch(info.stdout.toString(), /deflated/, 'stored, not deflated');
    for (const e of zipEntries(res.body)) assert.equal(e.method, 0, `${e.name} stored`);

    for (const cam of [idA, idB]) {
      const out = await run('unzip', ['-p', pkg, `cam-${cam}.mp4`]);
      const file = path.join(tmp, `export-${cam}.mp4`);
      await fs.writeFile(file, out.stdout);
      const p = await ffprobe(file);
      near(p.duration, 7, FRAME, `exported camera ${cam}: duration`);
    }
    const manifest = JSON.parse((await run('unzip', ['-p', pkg, 'manifest.json'])).stdout.toString());
    assert.equal(manifest.format, 'vigil-export/1');
    assert.equal(manifest.recording.id, rec.id);
    assert.equal(manifest.recording.title, 'ten seconds');
    assert.equal(manifest.recording.room, 'Interview 1');
    assert.equal(manifest.exported_by.username, 'val');
    assert.equal(manifest.span.from, 1);
    assert.equal(manifest.span.to, 8);
    assert.deepEqual(manifest.cameras.map((c) => c.camera_id).sort(), [idA, idB].sort());
    assert.equal(Buffer.from(manifest.server.public_key, 'base64').length, 32);
    const entries = zipEntries(res.body);
    for (const f of manifest.files) {
      const e = entries.find((x) => x.name === f.name);
      assert.ok(e, `${f.name} in the ZIP`);
      assert.equal(e.size, f.size);
      const { createHash } = await import('node:crypto');
      assert.equal(createHash('sha256').update(res.body.subarray(e.dataOffset, e.dataOffset + e.size)).digest('hex'), f.sha256, `${f.name} hash`);
    }
    // The signature, checked here with Node's Ed25519 as a second opinion.
    const { createPublicKey, verify } = await import('node:crypto');
    const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(manifest.server.public_key, 'base64')]), format: 'der', type: 'spki' });
    const mEntry = entries.find((x) => x.name === 'manifest.json');
    const sEntry = entries.find((x) => x.name === 'manifest.sig');
    const sig = Buffer.from(res.body.subarray(sEntry.dataOffset, sEntry.dataOffset + sEntry.size).toString().trim(), 'base64');
    assert.ok(verify(null, res.body.subarray(mEntry.dataOffset, mEntry.dataOffset + mEntry.size), key, sig), 'Ed25519 signature of manifest.json');

    const markers = JSON.parse((await run('unzip', ['-p', pkg, 'markers.json'])).stdout.toString());
    assert.equal(markers.length, 1, 'only the marker inside 1..8 s');
    near(markers[0].time, 2, 0.001, 'marker time relative to the export start');
    near(markers[0].recording_time, 3, 0.001, 'marker time in the recording');
    assert.equal(markers[0].label, 'door, "opened"');
    const csv = (await run('unzip', ['-p', pkg, 'markers.csv'])).stdout.toString();
    assert.match(csv, /^time,recording_time,utc,label,color,note,author\r\n2\.000,3\.000,\d{4}-\d\d-\d\dT[^,]+Z,"door, ""opened""","","a, b","root"\r\n$/);

    const v = await runCli(['verify', pkg]);
    assert.equal(v.code, 0, `vigil verify: ${v.stdout}${v.stderr}`);
    assert.match(v.stdout, /signature and 4 file\(s\) verified/);
    // The server names its key; pinned to it, verify passes too.
    const served = await srv.get('/api/v1/signing-key', as(val));
    assert.equal(served.status, 200, served.text);
    assert.equal(served.json.algorithm, 'Ed25519');
    assert.equal(served.json.public_key, manifest.server.public_key);
    assert.equal(served.json.key_id, manifest.server.key_id);
    const pinned = await runCli(['verify', pkg, '--key', served.json.public_key]);
    assert.equal(pinned.code, 0, pinned.stdout);
    assert.equal((await srv.get('/api/v1/signing-key')).status, 401);

    const audit = (await srv.get('/api/v1/audit?limit=100', as(root))).json.items;
    const row = audit.find((a) => a.action === 'recording.export' && a.username === 'val');
    assert.ok(row, 'the export is audited');
    assert.equal(row.target, `recording:${rec.id}`);
  });

  test('vigil verify names a changed file and a changed manifest, and exits 1', async () => {
    const buf = await fs.readFile(pkg);
    const entries = zipEntries(buf);
    const b = entries.find((e) => e.name === `cam-${idB}.mp4`);
    const flipped = Buffer.from(buf);
    flipped[b.dataOffset + Math.floor(b.size / 2)] ^= 0x01;
    const f1 = path.join(tmp, 'flipped.zip');
    await fs.writeFile(f1, flipped);
    let v = await runCli(['verify', f1]);
    assert.equal(v.code, 1, v.stdout);
    assert.match(v.stdout, new RegExp(`cam-${idB}\\.mp4: SHA-256 differs from the manifest`));
    assert.doesNotMatch(v.stdout, new RegExp(`cam-${idA}\\.mp4: SHA`), 'the other camera is fine');
    assert.doesNotMatch(v.stdout, /signature does not match/);

    // Same length, one character of the title changed: the signature fails.
    const m = entries.find((e) => e.name === 'manifest.json');
    const text = buf.subarray(m.dataOffset, m.dataOffset + m.size).toString();
    const at = text.indexOf('ten seconds');
    assert.ok(at > 0);
    const tampered = Buffer.from(buf);
    tampered.write('ten secondz', m.dataOffset + at);
    const f2 = path.join(tmp, 'tampered.zip');
    await fs.writeFile(f2, tampered);
    v = await runCli(['verify', f2]);
    assert.equal(v.code, 1, v.stdout);
    assert.match(v.stdout, /manifest\.json: the signature does not match/);

    // Not a ZIP at all; a package pinned to another key.
    const f3 = path.join(tmp, 'junk.zip');
    await fs.writeFile(f3, 'this is not a zip file at all');
    v = await runCli(['verify', f3]);
    assert.equal(v.code, 1);
    assert.match(v.stdout, /not a readable ZIP archive/);
    v = await runCli(['verify', pkg, '--key', Buffer.alloc(32, 7).toString('base64')]);
    assert.equal(v.code, 1);
    assert.match(v.stdout, /not by the expected/);
  });

  test('a client that goes away mid-package leaves the server well; two packages at once are equal', { timeout: 120000 }, async () => {
    for (let i = 0; i < 3; i++) {
      const ac = new AbortController();
      const res = await fetch(`${srv.base}/api/v1/recordings/${rec.id}/export`, { headers: auth(root), signal: ac.signal });
      assert.equal(res.status, 200);
      const reader = res.body.getReader();
      const first = await reader.read();
      assert.ok(first.value.length > 0);
      ac.abort();
      await reader.closed.catch(() => {});
    }
    const [a, b] = await Promise.all([1, 2].map(() => fetchBytes(`${srv.base}/api/v1/recordings/${rec.id}/export?from=2&to=5`, auth(root))));
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal(a.body.length, b.body.length);
    const ea = zipEntries(a.body);
    const eb = zipEntries(b.body);
    for (const e of ea.filter((x) => x.name.endsWith('.mp4'))) {
      const o = eb.find((x) => x.name === e.name);
      assert.ok(a.body.subarray(e.dataOffset, e.dataOffset + e.size).equals(b.body.subarray(o.dataOffset, o.dataOffset + o.size)), `${e.name} the same in both`);
    }
    assert.equal((await srv.get('/api/v1/health')).status, 200);
  });

  test("a clip's export holds the clip's span", { timeout: 120000 }, async () => {
    const res = await fetchBytes(`${srv.base}/api/v1/clips/${clip.id}/export`, auth(root), 'POST');
    assert.equal(res.status, 200, res.body.toString().slice(0, 300));
    assert.match(res.headers.get('content-disposition'), /clip-\d+\.zip/);
    const file = path.join(tmp, 'clip.zip');
    await fs.writeFile(file, res.body);
    const v = await runCli(['verify', file]);
    assert.equal(v.code, 0, v.stdout);
    const manifest = JSON.parse((await run('unzip', ['-p', file, 'manifest.json'])).stdout.toString());
    assert.equal(manifest.clip.id, clip.id);
    assert.equal(manifest.span.from, 2);
    assert.equal(manifest.span.to, 6);
    const mp4 = path.join(tmp, 'clip-export.mp4');
    await fs.writeFile(mp4, (await run('unzip', ['-p', file, `cam-${idA}.mp4`])).stdout);
    near((await ffprobe(mp4)).duration, 4, FRAME, "the clip package's MP4");
  });

  test('retention: expired recordings go (files, rows, audit); locked, running and kept-clip ones stay', { timeout: 180000 }, async () => {
    // Bad PATCHes change nothing.
    for (const body of [{ retention: { mode: 'sometimes' } }, { retention: { mode: 'days', days: -1 } },
      { retention: { mode: 'until', until: 'tomorrow' } }, { locked: 'yes' }, { colour: 1 }, {}]) {
      const r = await srv.patch(`/api/v1/recordings/${rec.id}`, body, as(root));
      assert.equal(r.status, 422, `${JSON.stringify(body)}: ${r.text}`);
    }
    let r = await srv.get(`/api/v1/recordings/${rec.id}`, as(root));
    assert.equal(r.json.locked, false);
    assert.equal(r.json.retention.mode, 'inherit');
    // Room default: null keeps forever; days are shown.
    r = await srv.patch(`/api/v1/rooms/${room.id}`, { retention_days: 30 }, as(root));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.retention_days, 30);
    r = await srv.get(`/api/v1/recordings/${rec.id}`, as(root));
    assert.equal(r.json.retention.days, 30);
    assert.ok(r.json.retention.expires_at > Date.now() + 29 * 86400000);
    r = await srv.patch(`/api/v1/rooms/${room.id}`, { retention_days: -3 }, as(root));
    assert.equal(r.status, 422);

    // The long recording: locked and expired.
    const past = Date.now() - 60000;
    r = await srv.patch(`/api/v1/recordings/${rec.id}`, { locked: true, retention: { mode: 'until', until: past }, title: 'kept for court' }, as(root));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.locked, true);
    assert.equal(r.json.title, 'kept for court');
    assert.equal(r.json.retention.mode, 'until');
    assert.equal(r.json.retention.until, past);

    const short = await record('short', 2500);
    const shortFiles = short.tracks.flatMap((t) => t.segments.map((s) => s.id));
    assert.ok(shortFiles.length > 0);
    // Where its files are: the index paths are not in the API, so find them
    // by segment start under DATA/media/<camera>/.
    const mediaFiles = async (recording) => {
      const out = [];
      for (const t of recording.tracks) {
        for (const s of t.segments) {
          const d = new Date(s.start);
          const dir = path.join(srv.dataDir, 'media', String(t.camera_id), String(d.getUTCFullYear()),
            String(d.getUTCMonth() + 1).padStart(2, '0'), String(d.getUTCDate()).padStart(2, '0'));
          out.push(path.join(dir, `${s.start}.mp4`));
        }
      }
      return out;
    };
    const shortPaths = await mediaFiles(short);
    for (const p of shortPaths) await fs.access(p);

    // A running recording with a kept clip, expired while it runs.
    r = await srv.post(`/api/v1/rooms/${room.id}/record/start`, { title: 'running' }, as(root));
    assert.equal(r.status, 201, r.text);
    const running = r.json.recording_id;
    await until(async () => (await srv.get(`/api/v1/recordings/${running}`, as(root))).json.duration >= 1.5, 10000, 'running recording past 1.5 s');
    r = await srv.post(`/api/v1/recordings/${running}/clips`, { from: 0, to: 1, title: 'keep me', keep: true }, as(root));
    assert.equal(r.status, 201, r.text);
    const kept = r.json;
    r = await srv.patch(`/api/v1/recordings/${running}`, { retention: { mode: 'until', until: '2020-01-01' } }, as(root));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.retention.until, Date.UTC(2020, 0, 1));

    // The short one expires: a sweep deletes it, and so proves it ran while
    // the locked and the running ones were expired too.
    // Its thumbnail, a picture of the session, is cached now and must go
    // with it.
    const thumbDir = path.join(srv.dataDir, 'cache', 'thumbs');
    const thumbsBefore = new Set(existsSync(thumbDir) ? await fs.readdir(thumbDir) : []);
    r = await srv.get(`/api/v1/recordings/${short.id}/thumbnail.jpg`, as(root));
    assert.equal(r.status, 200, r.text);
    const shortThumbs = (await fs.readdir(thumbDir)).filter((f) => !thumbsBefore.has(f));
    assert.equal(shortThumbs.length, 1, `one cached picture: ${shortThumbs}`);
    r = await srv.patch(`/api/v1/recordings/${short.id}`, { retention: { mode: 'days', days: 0 } }, as(root));
    assert.equal(r.status, 200, r.text);
    await until(async () => (await srv.get(`/api/v1/recordings/${short.id}`, as(root))).status === 404, 30000, 'the expired recording deleted');
    for (const p of shortPaths) await until(async () => !existsSync(p), 10000, `${p} deleted`);
    await until(async () => !existsSync(path.join(thumbDir, shortThumbs[0])), 10000, 'its cached thumbnail deleted');
    assert.equal((await srv.get(`/api/v1/recordings/${rec.id}`, as(root))).status, 200, 'the locked one stays');
    for (const p of await mediaFiles(rec)) await fs.access(p);
    assert.equal((await srv.get(`/api/v1/recordings/${running}`, as(root))).status, 200, 'the running one stays');
    let audit = (await srv.get('/api/v1/audit?limit=200', as(root))).json.items;
    const del = audit.find((a) => a.action === 'recording.delete' && a.target === `recording:${short.id}`);
    assert.ok(del, 'the deletion is audited');
    assert.equal(del.username, 'system');
    assert.equal(del.detail.reason, 'retention');
    for (const action of ['recording.lock', 'recording.retention', 'recording.title'])
      assert.ok(audit.some((a) => a.action === action && a.target === `recording:${rec.id}`), `audit row ${action}`);

    // Stopped, the kept clip still holds it. The long one gets a kept clip
    // of 1..2 s and is unlocked: a sweep then trims it to the segments that
    // clip needs, which proves a sweep ran after the stop.
    r = await srv.post(`/api/v1/rooms/${room.id}/record/stop`, undefined, as(root));
    assert.equal(r.status, 200, r.text);
    r = await srv.post(`/api/v1/recordings/${rec.id}/clips`, { from: 1, to: 2, title: 'evidence', keep: true }, as(root));
    assert.equal(r.status, 201, r.text);
    const evidence = r.json;
    const before = (await srv.get(`/api/v1/recordings/${rec.id}`, as(root))).json;
    const beforeSegs = before.tracks.flatMap((t) => t.segments);
    assert.ok(beforeSegs.length > 2, `the long recording has several files (${beforeSegs.length})`);
    const beforePaths = await mediaFiles(before);
    r = await srv.patch(`/api/v1/recordings/${rec.id}`, { locked: false }, as(root));
    assert.equal(r.status, 200, r.text);
    const after = await until(async () => {
      const g = await srv.get(`/api/v1/recordings/${rec.id}`, as(root));
      assert.equal(g.status, 200, 'a kept clip keeps its recording');
      return g.json.tracks.flatMap((t) => t.segments).length < beforeSegs.length ? g.json : null;
    }, 30000, 'the expired recording trimmed to its kept clip');
    assert.equal(after.retention.kept, true);
    assert.equal(after.retention.trimmed, true);
    const afterPaths = await mediaFiles(after);
    for (const p of afterPaths) await fs.access(p);
    for (const p of beforePaths.filter((x) => !afterPaths.includes(x))) await until(async () => !existsSync(p), 10000, `${p} deleted`);
    for (const t of after.tracks) {
      assert.ok(t.segments.length >= 1, `camera ${t.camera_id} keeps the clip's file`);
      for (const s of t.segments) assert.ok(s.start < rec.start + 2500 + 4000, 'only files near the clip stay');
    }
    // The kept clip still plays, whole.
    const clipMp4 = await fetchBytes(`${srv.base}/api/v1/clips/${evidence.id}/media/${idA}.mp4`, auth(root));
    assert.equal(clipMp4.status, 200, clipMp4.body.toString().slice(0, 300));
    await fs.writeFile(path.join(tmp, 'evidence.mp4'), clipMp4.body);
    near((await ffprobe(path.join(tmp, 'evidence.mp4'))).duration, 1, FRAME, 'the kept clip after the trim');
    assert.equal((await srv.get(`/api/v1/recordings/${running}`, as(root))).status, 200, 'a kept clip keeps its recording');
    audit = (await srv.get('/api/v1/audit?limit=200', as(root))).json.items;
    const trim = audit.find((a) => a.action === 'recording.trim' && a.target === `recording:${rec.id}`);
    assert.ok(trim, 'the trim is audited');
    assert.equal(trim.username, 'system');
    assert.equal(trim.detail.files, beforeSegs.length - after.tracks.flatMap((t) => t.segments).length);
    // Without the keep, both go, clips with them.
    for (const c of [kept, evidence]) {
      r = await srv.patch(`/api/v1/clips/${c.id}`, { keep: false }, as(root));
      assert.equal(r.status, 200, r.text);
    }
    for (const id of [running, rec.id])
      await until(async () => (await srv.get(`/api/v1/recordings/${id}`, as(root))).status === 404, 30000, `recording ${id} deleted once its clip is not kept`);
    assert.equal((await srv.get(`/api/v1/clips/${clip.id}`, as(root))).status, 404, 'clips go with their recording');
    audit = (await srv.get('/api/v1/audit?limit=200', as(root))).json.items;
    assert.ok(audit.some((a) => a.action === 'recording.unlock' && a.target === `recording:${rec.id}`));
  });
});
