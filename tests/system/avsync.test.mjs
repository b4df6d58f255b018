// Sound and picture stay together: simulated cameras with --sync-marks
// show a white frame and beep for 20 ms at the same instant every second.
// Vigil records a room of such cameras (H.264 + AAC, H.264 with B-frames
// + AAC, H.264 + G.711 A-law that Vigil transcodes to AAC) while ffmpeg
// records the same cameras (-c copy, its own RTSP client: the reference).
// In the progressive MP4 of each camera (what review plays and downloads)
// every flash is matched with its beep, and the offset between them must
// be the one ffmpeg's file shows for that camera, within a frame's half
// (the camera's own AAC encoder delay is in both), and under 45 ms in
// absolute terms (about where a viewer starts to notice sound ahead of
// the picture, ITU-R BT.1359).
//
//   VIGIL_BIN     server under test (default build-asan/vigil)
//   VIGIL_SIMCAM  simulated camera (default tools/vigil-simcam beside VIGIL_BIN)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Vigil, Simcam, sleep, run, until, fetchBytes } from './lib/server.mjs';

const PW = 'correct-horse-1';
const FPS = 15;
const SECONDS = 8;
const BASE = ['--width', '320', '--height', '240', '--fps', String(FPS), '--gop', String(FPS), '--bitrate', '300', '--sync-marks'];
const CAMERAS = [
  ['aac', [...BASE, '--audio', 'aac', '--label', 'sync aac']],
  ['bframes', [...BASE, '--audio', 'aac', '--bframes', '2', '--label', 'sync B']],
  ['pcma', [...BASE, '--audio', 'pcma', '--label', 'sync pcma']],
];

const cams = {};
let tmp;
let srv;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-avsync-'));
  for (const [name, args] of CAMERAS) cams[name] = await Simcam.start(args, { light: false });
  srv = await Vigil.start({ users: [{ name: 'root', password: PW, role: 'admin' }] });
});

after(async () => {
  await srv?.stop();
  await Promise.all(Object.values(cams).map((c) => c.stop()));
  if (tmp && !process.env.VIGIL_TEST_KEEP) await fs.rm(tmp, { recursive: true, force: true });
});

// Presentation times (s) of the white frames of file's video.
async function flashes(file) {
  const r = await run('ffprobe', ['-v', 'error', '-f', 'lavfi', '-i', `movie=${file},signalstats`,
    '-show_entries', 'frame=pts_time:frame_tags=lavfi.signalstats.YAVG', '-of', 'csv=p=0']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n').map((l) => l.split(',').map(Number))
    .filter(([, y]) => y > 180).map(([t]) => t);
}

// Start times (s) of the beeps of file's audio: the first 5 ms window
// above -40 dBFS after one at silence.
async function beeps(file) {
  const r = await run('ffprobe', ['-v', 'error', '-f', 'lavfi', '-i', `amovie=${file},aresample=48000,asetnsamples=n=240:p=0,astats=metadata=1:reset=1`,
    '-show_entries', 'frame=pts_time:frame_tags=lavfi.astats.Overall.RMS_level', '-of', 'csv=p=0']);
  assert.equal(r.code, 0, r.stderr);
  const out = [];
  let quiet = true;
  for (const line of r.stdout.trim().split('\n')) {
    const [t, level] = line.split(',');
    const loud = level !== '-inf' && Number(level) > -40;
    if (loud && quiet) out.push(Number(t));
    quiet = !loud;
  }
  return out;
}

// The offsets (audio - video, s) of the marks both streams of file show.
async function offsets(file) {
  const v = await flashes(file);
  const a = await beeps(file);
  const out = [];
  for (const t of v) {
    const near = a.filter((x) => Math.abs(x - t) < 0.3);
    if (near.length === 1) out.push(near[0] - t);
  }
  return { v, a, out };
}

const median = (xs) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];

test('each camera\'s flash and beep are as close in Vigil\'s recording as in ffmpeg\'s, and under 45 ms apart', { timeout: 120000 }, async (ctx) => {
  const root = await srv.login('root', PW);
  const as = { token: root.access_token, timeout: 15000 };
  let r = await srv.post('/api/v1/rooms', { name: 'Sync' }, as);
  assert.equal(r.status, 201, r.text);
  const room = r.json;
  const ids = {};
  for (const [name] of CAMERAS) {
    r = await srv.post('/api/v1/cameras', { room_id: room.id, name, url: cams[name].url }, as);
    assert.equal(r.status, 201, r.text);
    ids[name] = r.json.id;
  }
  for (const [name, cid] of Object.entries(ids))
    await until(async () => {
      const g = await srv.get(`/api/v1/cameras/${cid}`, as);
      return g.json?.status === 'online' ? g.json : { ok: false, seen: g.json?.status };
    }, 20000, `camera ${name} online`);

  // ffmpeg records the same cameras over the same seconds
  const refs = {};
  const procs = CAMERAS.map(([name]) => {
    refs[name] = path.join(tmp, `ffmpeg-${name}.mkv`); // Matroska holds G.711 as it came
    return new Promise((resolve) => {
      const p = spawn('ffmpeg', ['-nostdin', '-v', 'error', '-rtsp_transport', 'tcp', '-i', cams[name].url,
        '-t', String(SECONDS), '-c', 'copy', '-y', refs[name]], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d) => { err += d; });
      const timer = setTimeout(() => p.kill('SIGKILL'), 60000);
      p.on('close', (code) => { clearTimeout(timer); resolve({ name, code, err }); });
    });
  });
  r = await srv.post(`/api/v1/rooms/${room.id}/record/start`, { title: 'sync' }, as);
  assert.equal(r.status, 201, r.text);
  const id = r.json.recording_id;
  await sleep(SECONDS * 1000);
  r = await srv.post(`/api/v1/rooms/${room.id}/record/stop`, undefined, as);
  assert.equal(r.status, 200, r.text);
  for (const p of await Promise.all(procs)) assert.equal(p.code, 0, `ffmpeg ${p.name}: ${p.err}`);

  const failures = [];
  for (const [name, cid] of Object.entries(ids)) {
    const g = await fetchBytes(`${srv.base}/api/v1/recordings/${id}/media/${cid}.mp4`, { authorization: `Bearer ${root.access_token}` });
    assert.equal(g.status, 200, g.body.toString().slice(0, 300));
    const file = path.join(tmp, `vigil-${name}.mp4`);
    await fs.writeFile(file, g.body);
    const mine = await offsets(file);
    const ref = await offsets(refs[name]);
    const segs = (await fs.readdir(path.join(srv.dataDir, 'media', String(cid)), { recursive: true })).filter((f) => f.endsWith('.mp4'));
    const seg = segs.length ? await offsets(path.join(srv.dataDir, 'media', String(cid), segs.sort()[0])) : { out: [] };
    ctx.diagnostic(`${name}: vigil ${mine.out.length} marks, offsets ms ${mine.out.map((x) => Math.round(x * 1000)).join(' ')}; ` +
      `its first segment file ${seg.out.map((x) => Math.round(x * 1000)).join(' ')}; ` +
      `ffmpeg ${ref.out.length} marks, ${ref.out.map((x) => Math.round(x * 1000)).join(' ')}`);
    assert.ok(mine.out.length >= SECONDS - 3, `${name}: ${mine.out.length} marks matched in Vigil's file (flashes ${mine.v}, beeps ${mine.a})`);
    assert.ok(ref.out.length >= SECONDS - 3, `${name}: ${ref.out.length} marks matched in ffmpeg's file (flashes ${ref.v}, beeps ${ref.a})`);
    const m = median(mine.out);
    const f = median(ref.out);
    assert.ok(Math.abs(m - f) <= 0.5 / FPS, `${name}: sound ${Math.round(m * 1000)} ms after the picture in Vigil's file, ${Math.round(f * 1000)} ms in ffmpeg's`);
    assert.ok(Math.abs(m) < 0.045, `${name}: sound ${Math.round(m * 1000)} ms after the picture`);
    // no drift within the recording: every mark within a frame of the median
    for (const x of mine.out) assert.ok(Math.abs(x - m) <= 1 / FPS, `${name}: a mark ${Math.round(x * 1000)} ms off, the median ${Math.round(m * 1000)} ms`);
  }
});
