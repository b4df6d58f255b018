// LL-HLS of a live camera: /live/{id}/index.m3u8 with its init segment,
// parts and segments, as a player reads them: the playlist's tags, part
// durations within PART-TARGET, the preload hint, blocking reloads that
// wait for the part they name, and media that ffprobe and ffmpeg decode.
//
//   VIGIL_BIN     server under test (default build-asan/vigil)
//   VIGIL_SIMCAM  simulated camera (default tools/vigil-simcam beside VIGIL_BIN)
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Vigil, Simcam, SIMCAM, freePort, sleep } from './lib/server.mjs';

const PW = 'correct-horse-1';
const as = (who) => ({ token: who.access_token, timeout: 15000 });

// Parses a media playlist into {tags: Map(name -> [values]), segments:
// [{msn, pdt, parts: [{duration, uri, independent}], duration, uri}],
// hint, msn}.
function parsePlaylist(text) {
  const lines = text.split('\n');
  assert.equal(lines[0], '#EXTM3U', text);
  const tags = new Map();
  const attrs = (v) => Object.fromEntries([...v.matchAll(/([A-Z-]+)=("[^"]*"|[^,]*)/g)].map((m) => [m[1], m[2].replace(/^"|"$/g, '')]));
  const segments = [];
  let msn;
  let cur = null;
  let hint;
  let disc = false;
  for (const line of lines.slice(1)) {
    if (!line) continue;
    const m = /^#(EXT[A-Z0-9-]*)(?::(.*))?$/.exec(line);
    if (!m) { // a segment URI closes the segment
      cur.uri = line;
      segments.push(cur);
      cur = null;
      continue;
    }
    const [, name, value] = m;
    if (!tags.has(name)) tags.set(name, []);
    tags.get(name).push(value);
    if (name === 'EXT-X-MEDIA-SEQUENCE') msn = Number(value);
    if (name === 'EXT-X-PROGRAM-DATE-TIME') {
      if (cur) segments.push(cur); // open segment cannot precede another
      cur = { msn: msn + segments.length, pdt: Date.parse(value), parts: [], discontinuity: disc };
      disc = false;
    }
    if (name === 'EXT-X-DISCONTINUITY') disc = true;
    if (name === 'EXT-X-PART') {
      const a = attrs(value);
      cur.parts.push({ duration: Number(a.DURATION), uri: a.URI, independent: a.INDEPENDENT === 'YES' });
    }
    if (name === 'EXTINF') cur.duration = Number(value.split(',')[0]);
    if (name === 'EXT-X-PRELOAD-HINT') hint = attrs(value);
  }
  const open = cur;
  return { tags, segments, open, hint, msn, attrs };
}

function curl(url, ms = 20000) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    fetch(url, { signal: AbortSignal.timeout(ms) }).then(async (r) => {
      const body = Buffer.from(await r.arrayBuffer());
      resolve({ status: r.status, body, text: body.toString('latin1'), ms: Date.now() - t0, at: Date.now(), type: r.headers.get('content-type') });
    }, reject);
  });
}

describe('LL-HLS', () => {
  let srv;
  let cam;
  let admin;
  let camera;
  let grant;
  let base;
  let tmp;
  let lastBeforeDrop = 0;
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-hls-'));
    cam = await Simcam.start(['--video', 'h264', '--audio', 'aac', '--width', '320', '--height', '240', '--fps', '15', '--gop', '15']);
    const mediaPort = await freePort();
    srv = await Vigil.start({ flags: ['--media-port', String(mediaPort)] });
    await srv.addUser('root', PW, 'admin');
    admin = await srv.login('root', PW);
    let r = await srv.post('/api/v1/rooms', { name: 'HLS room' }, as(admin));
    r = await srv.post('/api/v1/cameras', { room_id: r.json.id, name: 'Wide', url: cam.url }, as(admin));
    camera = r.json;
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline) {
      r = await srv.get(`/api/v1/cameras/${camera.id}`, as(admin));
      if (r.json.status === 'online') break;
      await sleep(200);
    }
    assert.equal(r.json.status, 'online', r.text);
    r = await srv.get(`/api/v1/cameras/${camera.id}/live`, as(admin));
    grant = r.json.grant;
    base = `http://127.0.0.1:${mediaPort}/live/${camera.id}`;
  });
  after(async () => {
    await srv?.stop();
    await cam?.stop();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  test('no grant: 401; a bad name: 404; a bad _HLS_msn: 400', { timeout: 20000 }, async () => {
    assert.equal((await curl(`${base}/index.m3u8`)).status, 401);
    assert.equal((await curl(`${base}/init.mp4?grant=${grant}x`)).status, 401);
    assert.equal((await curl(`${base}/p1.mp4?grant=${grant}`)).status, 404);
    assert.equal((await curl(`${base}/index.m3u8?grant=${grant}&_HLS_msn=abc`)).status, 400);
    assert.equal((await curl(`${base}/index.m3u8?grant=${grant}&_HLS_part=1`)).status, 400);
  });

  test('the playlist holds the LL-HLS tags, parts within PART-TARGET, a preload hint, the grant in every URI', { timeout: 40000 }, async () => {
    let r = await curl(`${base}/index.m3u8?grant=${grant}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.type, 'application/vnd.apple.mpegurl');
    // wait until a few segments exist
    let pl;
    const deadline = Date.now() + 20000;
    do {
      await sleep(500);
      r = await curl(`${base}/index.m3u8?grant=${grant}`);
      pl = parsePlaylist(r.text);
    } while (pl.segments.length < 3 && Date.now() < deadline);
    assert.ok(pl.segments.length >= 3, r.text);
    const one = (n) => { assert.ok(pl.tags.has(n), `${n} missing:\n${r.text}`); return pl.tags.get(n)[0]; };
    assert.ok(Number(one('EXT-X-VERSION')) >= 9);
    const target = Number(one('EXT-X-TARGETDURATION'));
    const ctl = pl.attrs(one('EXT-X-SERVER-CONTROL'));
    assert.equal(ctl['CAN-BLOCK-RELOAD'], 'YES');
    const partTarget = Number(pl.attrs(one('EXT-X-PART-INF'))['PART-TARGET']);
    assert.ok(partTarget >= 0.2 && partTarget <= 0.5, `PART-TARGET ${partTarget}`);
    assert.ok(Number(ctl['PART-HOLD-BACK']) >= 2 * partTarget, r.text);
    assert.match(pl.attrs(one('EXT-X-MAP')).URI, new RegExp(`^init\\.mp4\\?grant=${grant.replace(/\./g, '\\.')}$`));
    assert.ok(pl.hint && pl.hint.TYPE === 'PART' && pl.hint.URI.endsWith(`?grant=${grant}`), r.text);
    let parts = 0;
    for (const s of [...pl.segments, ...(pl.open ? [pl.open] : [])]) {
      if (s.duration !== undefined) {
        assert.ok(Math.round(s.duration) <= target, `EXTINF ${s.duration} > ${target}`);
        assert.ok(s.uri.endsWith(`?grant=${grant}`), s.uri);
        assert.ok(Number.isFinite(s.pdt), 'EXT-X-PROGRAM-DATE-TIME');
      }
      if (s.parts.length) {
        assert.ok(s.parts[0].independent, `the first part of segment ${s.msn} starts with a keyframe`);
        if (s.duration !== undefined) {
          const sum = s.parts.reduce((a, p) => a + p.duration, 0);
          assert.ok(Math.abs(sum - s.duration) < 0.01, `parts ${sum} vs EXTINF ${s.duration}`);
        }
      }
      for (const p of s.parts) {
        parts++;
        assert.ok(p.duration > 0 && p.duration <= partTarget + 1e-6, `part ${p.uri} lasts ${p.duration} > ${partTarget}`);
        assert.ok(p.uri.endsWith(`?grant=${grant}`), p.uri);
      }
      // segments about a GOP (1 s at --gop 15 --fps 15)
      if (s.duration !== undefined) assert.ok(s.duration >= 0.9 && s.duration <= 2.1, `segment ${s.msn} lasts ${s.duration}`);
    }
    assert.ok(parts >= 6, r.text);
    // the hint names the part after the newest one
    const last = pl.open ?? pl.segments.at(-1);
    const expected = pl.open ? `p${last.msn}.${last.parts.length}.mp4` : `p${last.msn + 1}.0.mp4`;
    assert.equal(pl.hint.URI.split('?')[0], expected, r.text);
    // MSN grows over time
    await sleep(2500);
    const later = parsePlaylist((await curl(`${base}/index.m3u8?grant=${grant}`)).text);
    assert.ok(later.msn > pl.msn || later.segments.at(-1).msn > pl.segments.at(-1).msn, 'media sequence does not advance');
  });

  test('a blocking reload waits for the part it names and answers when it appears', { timeout: 40000 }, async () => {
    const pl = parsePlaylist((await curl(`${base}/index.m3u8?grant=${grant}`)).text);
    const [, m, p] = /^p(\d+)\.(\d+)\.mp4/.exec(pl.hint.URI);
    // ask for the part after the hinted one: it cannot exist yet
    const msn = Number(m);
    const part = Number(p) + 1;
    const asked = Date.now();
    const r = await curl(`${base}/index.m3u8?grant=${grant}&_HLS_msn=${msn}&_HLS_part=${part}`);
    assert.equal(r.status, 200, r.text);
    const got = parsePlaylist(r.text);
    const has = (s, k) => s && s.msn === msn && s.parts.length > k;
    const found = has(got.open, part) || got.segments.some((s) => has(s, part)) || (got.open ?? got.segments.at(-1)).msn > msn;
    assert.ok(found, `answer lacks p${msn}.${part}:\n${r.text}`);
    // it waited: two parts (~2/3 s at PART-TARGET 0.334) cannot all be there at once
    assert.ok(r.at - asked >= 150, `answered after ${r.at - asked} ms: did not block`);
    // too far ahead: 400 at once
    const far = await curl(`${base}/index.m3u8?grant=${grant}&_HLS_msn=${msn + 5}`);
    assert.equal(far.status, 400);
  });

  test('a preload-hinted part is held until complete, then served whole', { timeout: 30000 }, async () => {
    const pl = parsePlaylist((await curl(`${base}/index.m3u8?grant=${grant}`)).text);
    const asked = Date.now();
    const r = await curl(`${base}/${pl.hint.URI}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.subarray(4, 8).toString('latin1'), 'moof');
    assert.ok(r.at - asked >= 20, `the hinted part came after ${r.at - asked} ms: was it there already?`);
    // and the next playlist lists it
    const after = (await curl(`${base}/index.m3u8?grant=${grant}`)).text;
    assert.ok(after.includes(`URI="${pl.hint.URI}"`), `${pl.hint.URI} not listed:\n${after}`);
  });

  test('init + the parts of three segments decode in ffprobe (h264 + aac, about 3 s)', { timeout: 40000 }, async () => {
    let pl;
    const deadline = Date.now() + 15000;
    do {
      pl = parsePlaylist((await curl(`${base}/index.m3u8?grant=${grant}`)).text);
      if (pl.segments.filter((s) => s.parts.length).length >= 3) break;
      await sleep(500);
    } while (Date.now() < deadline);
    const full = pl.segments.filter((s) => s.parts.length && s.duration !== undefined).slice(-3);
    assert.equal(full.length, 3);
    const bufs = [(await curl(`${base}/init.mp4?grant=${grant}`)).body];
    let want = 0;
    for (const s of full) {
      for (const p of s.parts) {
        const r = await curl(`${base}/${p.uri}`);
        assert.equal(r.status, 200, p.uri);
        bufs.push(r.body);
      }
      want += s.duration;
      // the whole segment is its parts, byte for byte
      const whole = await curl(`${base}/${s.uri}`);
      assert.equal(whole.status, 200);
      assert.ok(whole.body.equals(Buffer.concat(bufs.slice(bufs.length - s.parts.length))), `s${s.msn}.mp4 differs from its parts`);
    }
    const file = path.join(tmp, 'parts.mp4');
    await fs.writeFile(file, Buffer.concat(bufs));
    const p = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height,start_time,duration:format=duration', '-of', 'json', file], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
    assert.equal(p.stderr.trim(), '', p.stderr);
    const info = JSON.parse(p.stdout);
    const v = info.streams.find((s) => s.codec_name === 'h264');
    assert.ok(v && v.width === 320 && v.height === 240, p.stdout);
    assert.ok(info.streams.some((s) => s.codec_name === 'aac'), p.stdout);
    // a fragmented file's stream duration runs from 0 to its end: take its start off
    const dur = Number(v.duration) - Number(v.start_time);
    assert.ok(Math.abs(dur - want) < 0.2, `ffprobe says ${dur} s of video, the playlist ${want} s: ${p.stdout}`);
  });

  test("Debian's ffmpeg plays the playlist: 3 s of it decode", { timeout: 60000 }, async () => {
    const out = path.join(tmp, 'ffmpeg.mkv');
    const r = await new Promise((resolve) => {
      const p = spawn('ffmpeg', ['-nostdin', '-v', 'error', '-i', `${base}/index.m3u8?grant=${grant}`, '-t', '3', '-c', 'copy', '-y', out], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d) => { err += d; });
      const timer = setTimeout(() => p.kill('SIGKILL'), 50000);
      p.on('close', (code) => { clearTimeout(timer); resolve({ code, err }); });
    });
    assert.equal(r.code, 0, r.err);
    const p = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,nb_read_frames', '-of', 'json', out], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
    const v = JSON.parse(p.stdout).streams[0];
    assert.equal(v.codec_name, 'h264');
    assert.equal(v.width, 320);
    // 3 s at 15 fps, give or take a frame at each end
    assert.ok(Number(v.nb_read_frames) >= 43, `ffmpeg took ${v.nb_read_frames} frames`);
  });

  // last: it stops the camera
  test('a held reload whose part never comes (the camera stopped) gets 503, and the server lives on', { timeout: 60000 }, async () => {
    const pl = parsePlaylist((await curl(`${base}/index.m3u8?grant=${grant}`)).text);
    const last = pl.open ?? pl.segments.at(-1);
    lastBeforeDrop = last.msn;
    const asked = Date.now();
    const held = curl(`${base}/index.m3u8?grant=${grant}&_HLS_msn=${last.msn + 2}`, 40000);
    await sleep(300); // the request is in and held (two segments ahead)
    await cam.stop();
    const r = await held;
    assert.equal(r.status, 503, r.text);
    assert.ok(r.at - asked >= 300, `answered after ${r.at - asked} ms: it was not held`);
    assert.equal((await srv.get('/api/v1/health')).status, 200);
  });

  // after the one above: the camera comes back on the same address
  test('the camera back after a drop: the playlist marks the discontinuity, the init gets a new URI, the new media decodes', { timeout: 90000 }, async () => {
    const oldLast = lastBeforeDrop; // the newest segment before the camera stopped
    assert.ok(oldLast > 0);
    cam = await Simcam.start(['--video', 'h264', '--audio', 'aac', '--width', '320', '--height', '240', '--fps', '15', '--gop', '15'], { port: cam.port });
    let pl;
    let text = '';
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
      const r = await curl(`${base}/index.m3u8?grant=${grant}`);
      if (r.status === 200) {
        text = r.text;
        pl = parsePlaylist(text);
        if (pl.segments.length >= 2 && pl.segments[0].msn > oldLast) break;
      }
      await sleep(500);
    }
    assert.ok(pl && pl.segments.length >= 2 && pl.segments[0].msn > oldLast, `no new segments after the camera came back:\n${text}`);
    // sequence numbers go on; the first new segment says it is not continuous
    assert.ok(pl.segments[0].discontinuity, text);
    assert.equal(pl.segments.filter((s) => s.discontinuity).length, 1, text);
    assert.ok(pl.tags.has('EXT-X-DISCONTINUITY-SEQUENCE'), text);
    const map = pl.attrs(pl.tags.get('EXT-X-MAP')[0]).URI;
    assert.match(map, new RegExp(`^init\\.mp4\\?v=\\d+&grant=${grant.replace(/\./g, '\\.')}$`), 'the new init has a new URI');
    const init = await curl(`${base}/${map}`);
    assert.equal(init.status, 200);
    const bodies = [init.body];
    for (const p of pl.segments[0].parts) {
      const r = await curl(`${base}/${p.uri}`);
      assert.equal(r.status, 200, p.uri);
      bodies.push(r.body);
    }
    const file = path.join(tmp, 'after-drop.mp4');
    await fs.writeFile(file, Buffer.concat(bodies));
    const probe = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,nb_read_frames', '-of', 'json', file], { encoding: 'utf8' });
    assert.equal(probe.status, 0, probe.stderr);
    const v = JSON.parse(probe.stdout).streams[0];
    assert.equal(v.codec_name, 'h264');
    assert.ok(Number(v.nb_read_frames) >= 10, `${v.nb_read_frames} frames decode in the first segment after the drop`);
  });
});
