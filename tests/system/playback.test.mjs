// A camera of a recording as one MP4 built on the fly:
// GET /api/v1/recordings/{id}/media/{camera_id}.mp4?from=&to=
//
// One 30 s recording of two simulated cameras (H.264+AAC and H.265+AAC,
// light 640x360 at 15 fps, a keyframe a second) serves every check: the
// whole MP4 of each camera read by ffprobe and decoded by ffmpeg; the span
// 7.3..12.8 s with its first presented frame matched, by decoded-frame
// hash, against the whole file's frame at 7.3 s; Range requests against
// the full download; HEAD; the download name; bad input and rights; the
// audit rows. A second, short recording with a 3 s pause checks that the
// pause is left out.
//
//   VIGIL_BIN     server under test (default build-asan/vigil)
//   VIGIL_SIMCAM  simulated camera (default tools/vigil-simcam beside VIGIL_BIN)
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Vigil, Simcam, SIMCAM, errorCode, sleep, run, until, near, fetchBytes } from './lib/server.mjs';

const PW = 'correct-horse-1';
const FPS = 15;
const FRAME = 1 / FPS;

let camA;
let camB;
const ARGS_A = ['--video', 'h264', '--audio', 'aac', '--gop', '15', '--label', 'A'];

before(async () => {
  camA = await Simcam.start(ARGS_A);
  camB = await Simcam.start(['--video', 'h265', '--audio', 'aac', '--gop', '15', '--label', 'B']);
});

after(async () => {
  await Promise.all([camA?.stop(), camB?.stop()]);
});

async function ffprobe(file) {
  const r = await run('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file]);
  assert.equal(r.code, 0, `ffprobe ${file}: ${r.stderr}`);
  assert.equal(r.stderr.trim(), '', `ffprobe ${file} printed errors:\n${r.stderr}`);
  const info = JSON.parse(r.stdout);
  return {
    duration: Number(info.format.duration),
    video: info.streams.find((s) => s.codec_type === 'video'),
    audio: info.streams.find((s) => s.codec_type === 'audio'),
  };
}

// Decoded video frames (edit list applied, as players do): [{t, md5}].
async function frames(file) {
  const r = await run('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:v:0', '-f', 'framemd5', '-']);
  assert.equal(r.code, 0, `ffmpeg framemd5 ${file}: ${r.stderr}`);
  assert.equal(r.stderr.trim(), '', `ffmpeg decoding ${file} printed errors:\n${r.stderr}`);
  const out = [];
  let tb = null;
  for (const line of r.stdout.split('\n')) {
    const m = /^#tb 0: (\d+)\/(\d+)/.exec(line);
    if (m) tb = Number(m[1]) / Number(m[2]);
    if (!line || line.startsWith('#')) continue;
    const f = line.split(',').map((s) => s.trim());
    out.push({ t: Number(f[2]) * tb, md5: f[5] });
  }
  return out;
}

describe('recorded media as MP4', () => {
  let srv;
  let root;
  let vic;
  let room;
  let idA;
  let idB;
  let rec;          // the 30 s recording
  const full = {};  // camera id -> {file, body}
  let tmp;
  const as = (who) => ({ token: who.access_token, timeout: 20000 });
  const media = (camera, q = '', id = rec.id) => `${srv.base}/api/v1/recordings/${id}/media/${camera}.mp4${q}`;
  const auth = (who) => ({ authorization: `Bearer ${who.access_token}` });

  before(async () => {
    srv = await Vigil.start({ users: [{ name: 'root', password: PW, role: 'admin' }], flags: ['--segment-seconds', '10'] });
    root = await srv.login('root', PW);
    await srv.createUser(root.access_token, 'vic', PW, 'viewer');
    vic = await srv.login('vic', PW);
    tmp = await fs.mkdtemp(path.join(srv.dataDir, 'out-'));
    let r = await srv.post('/api/v1/rooms', { name: 'Review room' }, as(root));
    assert.equal(r.status, 201, r.text);
    room = r.json;
    r = await srv.post('/api/v1/cameras', { room_id: room.id, name: 'A', url: camA.url }, as(root));
    assert.equal(r.status, 201, r.text);
    idA = r.json.id;
    r = await srv.post('/api/v1/cameras', { room_id: room.id, name: 'B', url: camB.url }, as(root));
    assert.equal(r.status, 201, r.text);
    idB = r.json.id;
    for (const id of [idA, idB]) {
      await until(async () => (await srv.get(`/api/v1/cameras/${id}`, as(root))).json?.status === 'online', 30000, `camera ${id} online`);
    }
    r = await srv.post(`/api/v1/rooms/${room.id}/record/start`, { title: 'thirty seconds' }, as(root));
    assert.equal(r.status, 201, r.text);
    const t0 = Date.now();
    const id = r.json.recording_id;
    await sleep(30000 - (Date.now() - t0));
    r = await srv.post(`/api/v1/rooms/${room.id}/record/stop`, undefined, as(root));
    assert.equal(r.status, 200, r.text);
    rec = await until(async () => {
      const g = await srv.get(`/api/v1/recordings/${id}`, as(root));
      const segs = g.json.tracks.flatMap((t) => t.segments);
      return segs.length && segs.every((s) => s.state !== 'open') ? g.json : null;
    }, 10000, 'segments closed');
  });

  after(async () => {
    await srv?.stop();
  });

  test('the whole recording of each camera: 30 s, the right codecs, every frame decodes', { timeout: 120000 }, async (ctx) => {
    near(rec.duration, 30, 0.5, 'recorded seconds');
    for (const [cam, vcodec] of [[idA, 'h264'], [idB, 'hevc']]) {
      const t = Date.now();
      const r = await fetchBytes(media(cam), auth(root));
      ctx.diagnostic(`camera ${cam}: ${r.body.length} bytes in ${Date.now() - t} ms`);
      assert.equal(r.status, 200, r.body.toString().slice(0, 300));
      assert.equal(r.headers.get('content-type'), 'video/mp4');
      assert.equal(r.headers.get('accept-ranges'), 'bytes');
      assert.equal(Number(r.headers.get('content-length')), r.body.length);
      assert.equal(r.headers.get('x-vigil-gaps'), null, 'no gaps in a steady recording');
      assert.equal(r.body.subarray(4, 8).toString(), 'ftyp');
      assert.equal(r.body.subarray(r.body.readUInt32BE(0) + 4, r.body.readUInt32BE(0) + 8).toString(), 'moov', 'moov first');
      const file = path.join(tmp, `full-${cam}.mp4`);
      await fs.writeFile(file, r.body);
      full[cam] = { file, body: r.body };
      const p = await ffprobe(file);
      near(p.duration, 30, 0.5, `camera ${cam} duration`);
      near(p.duration, rec.duration, 0.5, `camera ${cam} duration against the recording's`);
      assert.equal(p.video?.codec_name, vcodec);
      assert.equal(p.video.width, 640);
      assert.equal(p.audio?.codec_name, 'aac');
      // Every frame the recorder indexed decodes (less the pre-roll before
      // the start that the edit list hides, at most a GOP of 1 s); a camera
      // starved of CPU on a loaded machine may send somewhat fewer than its
      // nominal rate, never a fraction of it.
      const f = await frames(file);
      const indexed = rec.tracks.find((x) => x.camera_id === cam).segments.reduce((n, g) => n + g.frames, 0);
      assert.ok(f.length <= indexed && f.length >= indexed - FPS - 1,
        `camera ${cam}: ${f.length} frames decode, ${indexed} indexed`);
      assert.ok(f.length >= p.duration * FPS * 0.85, `camera ${cam}: ${f.length} frames in ${p.duration} s at ${FPS} fps`);
      near(f[0].t, 0, FRAME, `camera ${cam} first frame time`);
    }
  });

  test('from=7.3&to=12.8: 5.5 s starting on the frame of 7.3 s', { timeout: 120000 }, async () => {
    for (const cam of [idA, idB]) {
      const r = await fetchBytes(media(cam, '?from=7.3&to=12.8'), auth(root));
      assert.equal(r.status, 200, r.body.toString().slice(0, 300));
      const file = path.join(tmp, `span-${cam}.mp4`);
      await fs.writeFile(file, r.body);
      const p = await ffprobe(file);
      near(p.duration, 5.5, FRAME, `camera ${cam} span duration`);
      near(Number(p.video.duration), 5.5, FRAME, `camera ${cam} video stream duration`);
      const span = await frames(file);
      const whole = await frames(full[cam].file);
      near(span[0].t, 0, FRAME / 2, `camera ${cam}: first presented frame at`);
      // the picture under 7.3 s (shown from 0) and every frame that starts
      // before 5.5 s: 83 or 84 at 15 fps, whatever the phase; one more or
      // less for a camera clock that jittered under load
      near(span.length, 83.5, 1.5, `camera ${cam}: decoded frames of the span`);
      // The span's first picture is the whole file's picture at 7.3 s, and
      // the ones after it follow in order.
      const at = whole.findIndex((w) => w.md5 === span[0].md5 && Math.abs(w.t - 7.3) <= 2 * FRAME);
      assert.ok(at >= 0, `camera ${cam}: the span's first picture is not one of the whole file's near 7.3 s`);
      near(whole[at].t, 7.3, FRAME, `camera ${cam}: time of the span's first picture in the whole file`);
      for (let i = 1; i < 10; i++) assert.equal(span[i].md5, whole[at + i].md5, `camera ${cam}: picture ${i} of the span`);
      const last = whole.findIndex((w) => w.md5 === span[span.length - 1].md5 && Math.abs(w.t - 12.8) <= 2 * FRAME);
      assert.ok(last >= 0, `camera ${cam}: the span's last picture is the whole file's near 12.8 s`);
    }
  });

  test('Range requests give the same bytes as the whole download', { timeout: 60000 }, async () => {
    const { body } = full[idA];
    const size = body.length;
    const etags = new Set();
    for (let i = 0; i < 20; i++) {
      const a = Math.floor(Math.random() * size);
      const b = Math.min(size - 1, a + Math.floor(Math.random() * (i % 2 ? 2_000_000 : 5000)));
      const r = await fetchBytes(media(idA), { ...auth(root), range: `bytes=${a}-${b}` });
      assert.equal(r.status, 206);
      assert.equal(r.headers.get('content-range'), `bytes ${a}-${b}/${size}`);
      assert.ok(r.body.equals(body.subarray(a, b + 1)), `bytes ${a}-${b}`);
      etags.add(r.headers.get('etag'));
    }
    assert.equal(etags.size, 1, `one file behind the 20 ranges: ${[...etags]}`);
    // Ten ranges at once (a player seeking while another plays): every
    // one right, from one shared build read by several threads.
    const many = await Promise.all(Array.from({ length: 10 }, (_, i) => {
      const a = Math.floor((size / 10) * i);
      const b = Math.min(size - 1, a + 1_000_000);
      return fetchBytes(media(idA), { ...auth(root), range: `bytes=${a}-${b}` }).then((r) => ({ r, a, b }));
    }));
    for (const { r, a, b } of many) {
      assert.equal(r.status, 206);
      assert.ok(r.body.equals(body.subarray(a, b + 1)), `concurrent bytes ${a}-${b}`);
    }
    // Six first requests of a span nobody asked for yet, at once (they
    // wait for one build): the same file as a whole download of it after.
    const q = '?from=2.5&to=9.5';
    const first = await Promise.all(Array.from({ length: 6 }, (_, i) =>
      fetchBytes(media(idA, q), { ...auth(root), range: `bytes=${i * 1000}-${i * 1000 + 999}` })));
    const spanWhole = await fetchBytes(media(idA, q), auth(root));
    assert.equal(spanWhole.status, 200);
    first.forEach((r, i) => {
      assert.equal(r.status, 206, `first request ${i}`);
      assert.equal(r.headers.get('etag'), spanWhole.headers.get('etag'), `first request ${i}: same file`);
      assert.ok(r.body.equals(spanWhole.body.subarray(i * 1000, i * 1000 + 1000)), `first request ${i}: bytes`);
    });
    let r = await fetchBytes(media(idA), { ...auth(root), range: 'bytes=-1000' });
    assert.equal(r.status, 206);
    assert.ok(r.body.equals(body.subarray(size - 1000)));
    r = await fetchBytes(media(idA), { ...auth(root), range: `bytes=${size - 10}-` });
    assert.equal(r.status, 206);
    assert.ok(r.body.equals(body.subarray(size - 10)));
    r = await fetchBytes(media(idA), { ...auth(root), range: `bytes=${size}-` });
    assert.equal(r.status, 416);
    assert.equal(r.headers.get('content-range'), `bytes */${size}`);
    // a stale If-Range gets the whole file
    r = await fetchBytes(media(idA), { ...auth(root), range: 'bytes=0-9', 'if-range': '"stale"' });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, size);
    const etag = r.headers.get('etag');
    r = await fetchBytes(media(idA), { ...auth(root), range: 'bytes=0-9', 'if-range': etag });
    assert.equal(r.status, 206);
    r = await fetchBytes(media(idA), auth(root), 'HEAD');
    assert.equal(r.status, 200);
    assert.equal(Number(r.headers.get('content-length')), size);
    assert.equal(r.body.length, 0);
    r = await fetchBytes(media(idB, '?download=1'), { ...auth(root), range: 'bytes=0-99' });
    assert.equal(r.status, 206);
    assert.match(r.headers.get('content-disposition') ?? '', new RegExp(`^attachment; filename="recording-${rec.id}-camera-${idB}\\.mp4"$`));
  });

  test('bad input, unknown things and missing rights are refused with a clear message', { timeout: 30000 }, async () => {
    const cases = [
      ['?from=12&to=5', 400, /before/],
      ['?from=-1', 400, /seconds >= 0/],
      ['?from=abc', 400, /from must be a number/],
      ['?to=nan', 400, /to must be a number/],
      ['?from=inf', 400, /from must be a number/],
      ['?from=1e400', 400, /from must be a number/],
      ['?from=31', 400, /not inside the recording/],
      ['?to=40', 400, /past the end/],
    ];
    for (const [q, status, msg] of cases) {
      const r = await srv.get(`/api/v1/recordings/${rec.id}/media/${idA}.mp4${q}`, as(root));
      assert.equal(r.status, status, `${q}: ${r.text}`);
      assert.match(r.json?.error?.message ?? '', msg, `${q}: ${r.text}`);
    }
    let r = await srv.get(`/api/v1/recordings/${rec.id}/media/999999.mp4`, as(root));
    assert.equal(r.status, 404, r.text);
    assert.match(r.json.error.message, /not in recording/);
    r = await srv.get(`/api/v1/recordings/999999/media/${idA}.mp4`, as(root));
    assert.equal(r.status, 404, r.text);
    r = await srv.get(`/api/v1/recordings/${rec.id}/media/${idA}.avi`, as(root));
    assert.equal(r.status, 404, r.text);
    r = await srv.post(`/api/v1/recordings/${rec.id}/media/${idA}.mp4`, {}, as(root));
    assert.equal(r.status, 405, r.text);
    r = await srv.get(`/api/v1/recordings/${rec.id}/media/${idA}.mp4`, as(vic));
    assert.equal(r.status, 403, r.text);
    assert.equal(errorCode(r), 'forbidden');
    r = await srv.get(`/api/v1/recordings/${rec.id}/media/${idA}.mp4`, { timeout: 20000 });
    assert.equal(r.status, 401, r.text);
  });

  test('every view and download is in the audit log', { timeout: 30000 }, async () => {
    const r = await srv.get('/api/v1/audit?limit=500', as(root));
    assert.equal(r.status, 200, r.text);
    const rows = r.json.items.filter((x) => x.action === 'recording.media' || x.action === 'recording.download');
    const span = rows.find((x) => x.action === 'recording.media' && x.detail?.camera_id === idA && x.detail.from === 7.3);
    assert.ok(span, `no audit row for the 7.3..12.8 view: ${JSON.stringify(rows)}`);
    assert.equal(span.target, `recording:${rec.id}`);
    assert.equal(span.username, 'root');
    assert.equal(span.detail.to, 12.8);
    assert.ok(rows.some((x) => x.action === 'recording.media' && x.detail.camera_id === idB && x.detail.from === 0 && Math.abs(x.detail.to - rec.duration) < 0.01));
    assert.ok(rows.some((x) => x.action === 'recording.download' && x.detail.camera_id === idB));
    // refused requests wrote nothing
    assert.ok(!rows.some((x) => x.username === 'vic'));
  });

  test('a 3 s pause is left out of the MP4', { timeout: 90000 }, async () => {
    let r = await srv.post(`/api/v1/rooms/${room.id}/record/start`, { title: 'with a pause' }, as(root));
    assert.equal(r.status, 201, r.text);
    const id = r.json.recording_id;
    const t0 = Date.now();
    await sleep(5000);
    r = await srv.post(`/api/v1/rooms/${room.id}/record/pause`, undefined, as(root));
    assert.equal(r.status, 200, r.text);
    const p0 = Date.now();
    await sleep(3000);
    r = await srv.post(`/api/v1/rooms/${room.id}/record/resume`, undefined, as(root));
    assert.equal(r.status, 200, r.text);
    const p1 = Date.now();
    await sleep(3000);
    // While it runs: what is on disk so far (closed files and the open one
    // up to its last whole fragment, at most about a second behind).
    const q0 = Date.now();
    const live = await fetchBytes(media(idA, '', id), auth(root));
    const q1 = Date.now();
    assert.equal(live.status, 200, live.body.toString().slice(0, 300));
    const liveFile = path.join(tmp, 'running.mp4');
    await fs.writeFile(liveFile, live.body);
    const lp = await ffprobe(liveFile);
    // Recorded so far, bounded by this client's clock: the session up to
    // the request minus the pause, give or take the answer times of start,
    // pause and resume (1.5 s allowed) and, below, what is not on disk yet
    // (a fragment in flight, the wait for a keyframe after the resume).
    const upper = (q1 - t0 - (p1 - p0)) / 1000 + 1.5;
    const lower = (q0 - t0 - (p1 - p0)) / 1000 - 1.5 - 2.5;
    assert.ok(lp.duration >= lower && lp.duration <= upper, `running: ${lp.duration} s, want ${lower.toFixed(2)}..${upper.toFixed(2)}`);
    const liveDuration = Number(live.headers.get('x-vigil-duration'));
    near(liveDuration, lp.duration, 0.1, 'X-Vigil-Duration of the running recording against ffprobe');
    await sleep(2000);
    // Builds are cached: the same URL after new frames reached the open
    // file must not be served from the earlier build.
    const later = await fetchBytes(media(idA, '', id), { ...auth(root), range: 'bytes=0-99' });
    assert.equal(later.status, 206);
    const laterDuration = Number(later.headers.get('x-vigil-duration'));
    assert.ok(laterDuration > liveDuration, `X-Vigil-Duration ${laterDuration} s after 2 s more of recording, ${liveDuration} s before`);
    assert.notEqual(later.headers.get('etag'), live.headers.get('etag'));
    assert.ok(Number(later.headers.get('content-range').split('/')[1]) > live.body.length, 'the file grew');
    r = await srv.post(`/api/v1/rooms/${room.id}/record/stop`, undefined, as(root));
    assert.equal(r.status, 200, r.text);
    const t1 = Date.now();
    const got = await until(async () => {
      const g = await srv.get(`/api/v1/recordings/${id}`, as(root));
      const segs = g.json.tracks.flatMap((t) => t.segments);
      return segs.length && segs.every((s) => s.state !== 'open') ? g.json : null;
    }, 10000, 'segments closed');
    assert.equal(got.spans.length, 2, JSON.stringify(got.spans));
    const m = await fetchBytes(media(idA, '', id), auth(root));
    assert.equal(m.status, 200);
    const file = path.join(tmp, 'paused.mp4');
    await fs.writeFile(file, m.body);
    const p = await ffprobe(file);
    // The client's own clock bounds the pause from below (p1 - p0 includes
    // two answer times, so the server's pause is at most that).
    const wall = (t1 - t0) / 1000;
    near(p.duration, got.duration, 0.5, 'MP4 duration against the recorded seconds');
    assert.ok(p.duration <= wall - 2.5, `MP4 ${p.duration} s is not ~3 s shorter than the ${wall} s session (pause ${(p1 - p0) / 1000} s)`);
    // No picture from the pause: frames are as many as the MP4's seconds
    // allow, and no 3 s hole sits in the timeline.
    const f = await frames(file);
    assert.ok(f.length <= p.duration * FPS + 2, `${f.length} frames in ${p.duration} s`);
    let hole = 0;
    for (let i = 1; i < f.length; i++) hole = Math.max(hole, f[i].t - f[i - 1].t);
    assert.ok(hole < 2, `largest hole between frames ${hole.toFixed(3)} s`);
    // A span across the pause (paused about 5 s in): 3 s of recording time.
    const x = await fetchBytes(media(idA, '?from=4&to=7', id), auth(root));
    assert.equal(x.status, 200);
    const xf = path.join(tmp, 'across.mp4');
    await fs.writeFile(xf, x.body);
    near((await ffprobe(xf)).duration, 3, FRAME, 'a 4..7 s span across the pause');
    const xs = await frames(xf);
    let xhole = 0;
    for (let i = 1; i < xs.length; i++) xhole = Math.max(xhole, xs[i].t - xs[i - 1].t);
    assert.ok(xhole < 2, `largest hole in the span across the pause ${xhole.toFixed(3)} s`);
  });

  test('a camera drop is kept as time and named in X-Vigil-Gaps', { timeout: 90000 }, async () => {
    let r = await srv.post(`/api/v1/rooms/${room.id}/record/start`, { title: 'with a drop' }, as(root));
    assert.equal(r.status, 201, r.text);
    const id = r.json.recording_id;
    const t0 = Date.now();
    await sleep(4000);
    const port = camA.port;
    await camA.kill9();
    const k = Date.now();
    await until(async () => (await srv.get(`/api/v1/cameras/${idA}`, as(root))).json?.status !== 'online', 15000, 'camera A seen offline');
    await sleep(Math.max(0, 3000 - (Date.now() - k)));
    camA = await Simcam.start(ARGS_A, { port });
    await until(async () => (await srv.get(`/api/v1/cameras/${idA}`, as(root))).json?.status === 'online', 30000, 'camera A back');
    const back = Date.now();
    await sleep(4000);
    r = await srv.post(`/api/v1/rooms/${room.id}/record/stop`, undefined, as(root));
    assert.equal(r.status, 200, r.text);
    const got = await until(async () => {
      const g = await srv.get(`/api/v1/recordings/${id}`, as(root));
      const segs = g.json.tracks.flatMap((t) => t.segments);
      return segs.length && segs.every((x) => x.state !== 'open') ? g.json : null;
    }, 10000, 'segments closed');
    const m = await fetchBytes(media(idA, '', id), auth(root));
    assert.equal(m.status, 200);
    const gaps = m.headers.get('x-vigil-gaps');
    const g = /^(\d+\.\d{3})-(\d+\.\d{3})$/.exec(gaps ?? '');
    assert.ok(g, `X-Vigil-Gaps: ${gaps}`);
    const [gs, ge] = [Number(g[1]), Number(g[2])];
    // The hole starts when the camera was killed (this client's clock, a
    // frame and the answer times of start either side) and ends after it
    // was back online here (the server saw it first), at a keyframe.
    assert.ok(gs >= (k - t0) / 1000 - 1.5 && gs <= (k - t0) / 1000 + 0.5, `gap starts at ${gs}, camera killed at ${(k - t0) / 1000}`);
    assert.ok(ge - gs >= 2.5, `gap ${gs}-${ge} shorter than the 3 s outage`);
    assert.ok(ge <= (back - t0) / 1000 + 1.5, `gap ends at ${ge}, camera online at ${(back - t0) / 1000}`);
    const file = path.join(tmp, 'drop.mp4');
    await fs.writeFile(file, m.body);
    const p = await ffprobe(file);
    near(p.duration, got.duration, 0.5, 'true timing: the MP4 lasts as long as the recording');
    const f = await frames(file);
    let hole = 0;
    for (let i = 1; i < f.length; i++) hole = Math.max(hole, f[i].t - f[i - 1].t);
    near(hole, ge - gs, 2 * FRAME, 'the picture before the hole stays up for the hole');
    const b = await fetchBytes(media(idB, '', id), auth(root));
    assert.equal(b.status, 200);
    assert.equal(b.headers.get('x-vigil-gaps'), null, 'camera B did not drop');
  });
});
