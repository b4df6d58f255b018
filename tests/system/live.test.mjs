// Live video over WebSocket: /live/{camera_id} on the web and the media
// listener, with the login token or a signed grant; the bytes it sends are
// a fragmented MP4 that ffprobe decodes.
//
//   VIGIL_BIN     server under test (default build-asan/vigil)
//   VIGIL_SIMCAM  simulated camera (default tools/vigil-simcam beside VIGIL_BIN)
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { Vigil, Simcam, SIMCAM, freePort, sleep } from './lib/server.mjs';

const SKIP = !existsSync(SIMCAM) && `${SIMCAM} not built`;
const PW = 'correct-horse-1';
const as = (who) => ({ token: who.access_token, timeout: 15000 });

// Opens a live socket and collects its messages for ms; resolves
// {status (on refusal), texts, binaries}.
function watch(url, ms) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    const texts = [];
    const binaries = [];
    const done = (extra) => { clearTimeout(timer); ws.terminate(); resolve({ texts, binaries, ...extra }); };
    const timer = setTimeout(() => done({}), ms);
    ws.on('message', (d, isBinary) => { if (isBinary) binaries.push(Buffer.from(d)); else texts.push(d.toString()); });
    ws.on('unexpected-response', (req, res) => done({ status: res.statusCode }));
    ws.on('error', () => {});
  });
}

const boxType = (b) => b.subarray(4, 8).toString('latin1');

describe('live video', { skip: SKIP }, () => {
  let srv;
  let cam;
  let admin;
  let camera;
  let mediaPort;
  before(async () => {
    cam = await Simcam.start(['--video', 'h264', '--audio', 'aac', '--width', '320', '--height', '240', '--fps', '10', '--gop', '10'], { light: false });
    mediaPort = await freePort();
    srv = await Vigil.start({ flags: ['--media-port', String(mediaPort)] });
    await srv.addUser('root', PW, 'admin');
    await srv.addUser('vera', PW, 'viewer');
    admin = await srv.login('root', PW);
    let r = await srv.post('/api/v1/rooms', { name: 'Live room' }, as(admin));
    r = await srv.post('/api/v1/cameras', { room_id: r.json.id, name: 'Wide', url: cam.url }, as(admin));
    camera = r.json;
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline) {
      r = await srv.get(`/api/v1/cameras/${camera.id}`, as(admin));
      if (r.json.status === 'online') break;
      await sleep(200);
    }
    assert.equal(r.json.status, 'online', r.text);
    await sleep(1200); // a whole GOP for the catch-up
  });
  after(async () => {
    await srv?.stop();
    await cam?.stop();
  });

  test('the MIME type, an init segment, then fragments that ffprobe decodes', { timeout: 30000 }, async () => {
    const got = await watch(`ws://127.0.0.1:${srv.port}/live/${camera.id}?access_token=${admin.access_token}`, 3000);
    assert.equal(got.status, undefined, `refused: ${got.status}`);
    assert.match(got.texts[0], /^video\/mp4; codecs="avc1\.[0-9a-f]{6},mp4a\.40\.2"$/);
    assert.ok(got.binaries.length >= 10, `only ${got.binaries.length} binary messages in 3 s at 10 fps`);
    assert.equal(boxType(got.binaries[0]), 'ftyp');
    for (const b of got.binaries.slice(1)) assert.equal(boxType(b), 'moof');
    const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-live-')), 'live.mp4');
    await fs.writeFile(file, Buffer.concat(got.binaries));
    const p = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', file], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
    assert.equal(p.stderr.trim(), '', `ffprobe errors: ${p.stderr}`);
    const streams = JSON.parse(p.stdout).streams;
    const video = streams.find((s) => s.codec_name === 'h264');
    assert.ok(video && video.width === 320 && video.height === 240, p.stdout);
    assert.ok(Number(video.nb_read_frames) >= 25, `decoded ${video.nb_read_frames} frames`);
    assert.ok(streams.some((s) => s.codec_name === 'aac'), p.stdout);
    await fs.rm(path.dirname(file), { recursive: true, force: true });
  });

  test('no token: 401 before any video byte; a camera the viewer may not see: 404', { timeout: 20000 }, async () => {
    let got = await watch(`ws://127.0.0.1:${srv.port}/live/${camera.id}`, 2000);
    assert.equal(got.status, 401);
    assert.equal(got.binaries.length, 0);
    const vera = await srv.login('vera', PW);
    got = await watch(`ws://127.0.0.1:${srv.port}/live/${camera.id}?access_token=${vera.access_token}`, 2000);
    assert.equal(got.status, 404);
    got = await watch(`ws://127.0.0.1:${srv.port}/live/99999?access_token=${admin.access_token}`, 2000);
    assert.equal(got.status, 404);
  });

  test('a signed grant opens the stream on the media listener; a changed or foreign one does not', { timeout: 30000 }, async () => {
    const r = await srv.get(`/api/v1/cameras/${camera.id}/live`, as(admin));
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.expires_at > Date.now(), r.text);
    assert.equal(r.json.ws, `/live/${camera.id}?grant=${r.json.grant}`);
    let got = await watch(`ws://127.0.0.1:${mediaPort}${r.json.ws}`, 2500);
    assert.equal(got.status, undefined, `refused: ${got.status}`);
    assert.equal(boxType(got.binaries[0]), 'ftyp');
    assert.ok(got.binaries.length >= 5, `${got.binaries.length} binary messages`);
    const g = r.json.grant;
    const tampered = g.slice(0, -2) + (g.endsWith('AA') ? 'BB' : 'AA');
    got = await watch(`ws://127.0.0.1:${mediaPort}/live/${camera.id}?grant=${tampered}`, 1500);
    assert.equal(got.status, 401);
    got = await watch(`ws://127.0.0.1:${mediaPort}/live/${camera.id + 1}?grant=${g}`, 1500);
    assert.equal(got.status, 401);
    const vera = await srv.login('vera', PW);
    const rv = await srv.get(`/api/v1/cameras/${camera.id}/live`, as(vera));
    assert.equal(rv.status, 404, 'a viewer without the room gets no grant');
  });
});
