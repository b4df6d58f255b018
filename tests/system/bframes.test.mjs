// Cameras that send B-frames (vigil-simcam --bframes 2): frames come in
// decode order with presentation times only (RTP), and Vigil derives the
// decode times (src/ingest/reorder.c). A 6 s recording must keep every
// frame: each segment file decodes without an error and gives as many
// frames as the segment index says, about 6 s x 15 fps in all, with
// B-frames still in it, decode times rising and never after presentation
// times; the progressive MP4 of the recording holds and decodes the same
// frames (its edit list hides the pre-roll before the start, as for any
// camera). Live view gets fragments with the B-frames that decode too.
//
//   VIGIL_BIN     server under test (default build-asan/vigil)
//   VIGIL_SIMCAM  simulated camera (default tools/vigil-simcam beside VIGIL_BIN)
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { Vigil, Simcam, sleep, run, until } from './lib/server.mjs';

const PW = 'correct-horse-1';
const FPS = 15;
const SECONDS = 6;

const CAMERAS = [
  ['h264', ['--video', 'h264', '--audio', 'aac', '--gop', '15', '--bframes', '2', '--label', 'B-frames h264']],
  ['h265', ['--video', 'h265', '--audio', 'none', '--gop', '15', '--bframes', '2', '--label', 'B-frames h265']],
];

const cams = {};
let tmp;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-bframes-'));
  for (const [name, args] of CAMERAS) cams[name] = await Simcam.start(args);
});

after(async () => {
  await Promise.all(Object.values(cams).map((c) => c.stop()));
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

const as = (who) => ({ token: who.access_token, timeout: 15000 });

async function mediaFiles(dir) {
  const out = [];
  async function walk(d) {
    let ents;
    try { ents = await fs.readdir(d, { withFileTypes: true }); } catch { return; }
    for (const e of ents) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(p);
    }
  }
  await walk(dir);
  return out;
}

// Frames ffmpeg decodes from the file's video (edit list applied), with
// no error printed; and whether the file holds B-frames (a packet shown
// after a later one: pts > dts).
async function decode(file) {
  const r = await run('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0',
    '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file]);
  assert.equal(r.code, 0, `ffprobe ${file}: exit ${r.code}\n${r.stderr}`);
  assert.equal(r.stderr.trim(), '', `ffprobe ${file} printed errors:\n${r.stderr}`);
  const f = await run('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:v:0', '-f', 'null', '-']);
  assert.equal(f.code, 0, `ffmpeg ${file}: ${f.stderr}`);
  assert.equal(f.stderr.trim(), '', `ffmpeg decoding ${file} printed errors:\n${f.stderr}`);
  const p = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts,dts',
    '-of', 'csv=p=0', file]);
  assert.equal(p.code, 0, p.stderr);
  const pk = p.stdout.trim().split('\n').filter(Boolean).map((l) => l.split(',').map(Number));
  const dts = pk.map((x) => x[1]);
  for (let i = 1; i < dts.length; i++) assert.ok(dts[i] > dts[i - 1], `${file}: dts ${dts[i - 1]} then ${dts[i]}`);
  for (const [pts, d] of pk) assert.ok(d <= pts, `${file}: dts ${d} after pts ${pts}`);
  const n = await run('ffprobe', ['-v', 'error', '-ignore_editlist', '1', '-count_frames', '-select_streams', 'v:0',
    '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file]);
  assert.equal(n.code, 0, n.stderr);
  assert.equal(n.stderr.trim(), '', `ffprobe ${file} printed errors:\n${n.stderr}`);
  return { frames: Number(r.stdout.trim()), all: Number(n.stdout.trim()), reordered: pk.some(([pts, d], i) => i > 0 && pts < pk[i - 1][0]), packets: pk.length };
}

describe('cameras with B-frames', () => {
  let srv;
  let root;
  let room;
  const ids = {};

  before(async () => {
    srv = await Vigil.start({ users: [{ name: 'root', password: PW, role: 'admin' }], flags: ['--segment-seconds', '4'] });
    root = await srv.login('root', PW);
    let r = await srv.post('/api/v1/rooms', { name: 'B-frames' }, as(root));
    assert.equal(r.status, 201, r.text);
    room = r.json;
    for (const [name] of CAMERAS) {
      r = await srv.post('/api/v1/cameras', { room_id: room.id, name, url: cams[name].url }, as(root));
      assert.equal(r.status, 201, r.text);
      ids[name] = r.json.id;
    }
  });

  after(async () => {
    await srv?.stop();
  });

  test('live view: fragments with B-frames that decode without an error', { timeout: 60000 }, async (ctx) => {
    for (const [name, cid] of Object.entries(ids)) {
      await until(async () => {
        const r = await srv.get(`/api/v1/cameras/${cid}`, as(root));
        return r.json?.status === 'online' ? r.json : { ok: false, seen: r.json?.status };
      }, 20000, `camera ${name} online`);
      const binaries = await new Promise((resolve) => {
        const got = [];
        const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/live/${cid}?access_token=${root.access_token}`);
        ws.on('message', (d, isBinary) => { if (isBinary) got.push(Buffer.from(d)); });
        ws.on('error', () => {});
        setTimeout(() => { ws.terminate(); resolve(got); }, 3000);
      });
      assert.ok(binaries.length >= 10, `${name}: ${binaries.length} binary messages in 3 s`);
      const file = path.join(tmp, `live-${cid}.mp4`);
      await fs.writeFile(file, Buffer.concat(binaries));
      const d = await decode(file);
      ctx.diagnostic(`${name}: live: ${binaries.length} messages, ${d.packets} frames, ${d.all} decoded`);
      assert.equal(d.all, d.packets, `${name}: live: ${d.all} of ${d.packets} frames decode`);
      assert.ok(d.packets >= 15, `${name}: live: ${d.packets} frames in 3 s at ${FPS} fps`);
      assert.ok(d.reordered, `${name}: live: no B-frames`);
    }
  });

  test(`${SECONDS} s recorded: every frame in the segments and in the progressive MP4`, { timeout: 120000 }, async (ctx) => {
    for (const name of Object.keys(ids)) {
      await until(async () => {
        const r = await srv.get(`/api/v1/cameras/${ids[name]}`, as(root));
        return r.json?.status === 'online' ? r.json : { ok: false, seen: r.json?.status };
      }, 20000, `camera ${name} online`);
    }
    let r = await srv.post(`/api/v1/rooms/${room.id}/record/start`, { title: 'B-frames' }, as(root));
    assert.equal(r.status, 201, r.text);
    const id = r.json.recording_id;
    const t0 = Date.now();
    await sleep(SECONDS * 1000);
    r = await srv.post(`/api/v1/rooms/${room.id}/record/stop`, undefined, as(root));
    const elapsed = (Date.now() - t0) / 1000;
    assert.equal(r.status, 200, r.text);
    let rec;
    await until(async () => {
      const g = await srv.get(`/api/v1/recordings/${id}`, as(root));
      rec = g.json;
      const open = rec.tracks.flatMap((t) => t.segments).filter((s) => !/^[0-9a-f]{64}$/.test(s.sha256 ?? ''));
      return open.length ? { ok: false, seen: open } : rec;
    }, 5000, 'segments hashed');
    for (const [name, cid] of Object.entries(ids)) {
      const t = rec.tracks.find((x) => x.camera_id === cid);
      assert.ok(t, `no track for ${name}: ${JSON.stringify(rec.tracks)}`);
      assert.equal(t.gaps.length, 0, `${name}: gaps ${JSON.stringify(t.gaps)}`);
      const byHash = new Map();
      for (const f of await mediaFiles(path.join(srv.dataDir, 'media', String(cid))))
        byHash.set(createHash('sha256').update(await fs.readFile(f)).digest('hex'), f);
      let total = 0;
      let reordered = false;
      for (const seg of t.segments) {
        const file = byHash.get(seg.sha256);
        assert.ok(file, `${name}: no file for segment ${JSON.stringify(seg)}`);
        const d = await decode(file);
        assert.equal(d.frames, seg.frames, `${name}: ${file} decodes ${d.frames} frames, the index says ${seg.frames}`);
        assert.equal(d.packets, seg.frames, `${name}: ${file} holds ${d.packets} packets, the index says ${seg.frames}`);
        total += d.frames;
        reordered ||= d.reordered;
      }
      ctx.diagnostic(`${name}: ${t.segments.length} segments, ${total} frames for ${elapsed.toFixed(2)} s recorded`);
      assert.ok(reordered, `${name}: no B-frames left in the recording`);
      // the start brings up to a GOP (1 s) of pre-roll; a frame or two may
      // still be on the way at the stop
      assert.ok(total >= (elapsed - 0.5) * FPS, `${name}: ${total} frames for ${elapsed.toFixed(2)} s at ${FPS} fps`);
      assert.ok(total <= (elapsed + 1.5) * FPS, `${name}: ${total} frames for ${elapsed.toFixed(2)} s at ${FPS} fps`);

      const res = await fetch(`${srv.base}/api/v1/recordings/${id}/media/${cid}.mp4`,
        { headers: { authorization: `Bearer ${root.access_token}` }, signal: AbortSignal.timeout(60000) });
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(res.status, 200, body.toString().slice(0, 300));
      const file = path.join(tmp, `full-${cid}.mp4`);
      await fs.writeFile(file, body);
      const d = await decode(file);
      ctx.diagnostic(`${name}: progressive MP4: ${d.packets} packets, ${d.all} frames decoded, ${d.frames} shown by the edit list`);
      // every frame of the segments is in it and decodes; the edit list
      // hides the pre-roll before the recording's start, as for any camera
      assert.equal(d.packets, total, `${name}: the progressive MP4 holds ${d.packets} frames, the segments ${total}`);
      assert.equal(d.all, total, `${name}: the progressive MP4 decodes ${d.all} frames, the segments ${total}`);
      assert.ok(d.frames <= total && d.frames >= (elapsed - 0.5) * FPS,
        `${name}: the progressive MP4 shows ${d.frames} frames for ${elapsed.toFixed(2)} s at ${FPS} fps`);
      assert.ok(d.reordered, `${name}: no B-frames in the progressive MP4`);
    }
  });
});
