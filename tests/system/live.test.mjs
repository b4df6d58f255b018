// Live video over WebSocket: /live/{camera_id} on the web and the media
// listener, with the login token or a signed grant; the bytes it sends are
// a fragmented MP4 that ffprobe decodes.
//
//   VIGIL_BIN     server under test (default build-asan/vigil)
//   VIGIL_SIMCAM  simulated camera (default tools/vigil-simcam beside VIGIL_BIN)
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { createHash, randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { Vigil, Simcam, SIMCAM, freePort, sleep, within, simpleGet, rawRequest } from './lib/server.mjs';

const PW = 'correct-horse-1';
const as = (who) => ({ token: who.access_token, timeout: 15000 });

// Opens a live socket and collects its messages for ms; resolves
// {status (on refusal), texts, binaries}.
function watch(url, ms, opts = {}) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, opts);
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

describe('live video', () => {
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
    const asked = Date.now();
    assert.ok(r.json.expires_at > asked && r.json.expires_at <= asked + 300000, `a short grant: ${r.text}`);
    assert.equal(r.json.ws, `/live/${camera.id}?grant=${r.json.grant}`);
    // an HLS player reloads one playlist URL all session: its grant lasts 8 h
    const h = await srv.get(`/api/v1/cameras/${camera.id}/live?for=hls`, as(admin));
    assert.equal(h.status, 200, h.text);
    assert.ok(Math.abs(h.json.expires_at - (Date.now() + 8 * 3600e3)) < 60000, `HLS grant expires ${h.json.expires_at}`);
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

// ---- fan-out, slow viewers, substreams, the media listener ----------------

// moof: the mfhd sequence number, and whether the first video sample is a
// sync sample (the first traf is the video track's).
const seqOf = (b) => b.readUInt32BE(20);
function keyframeFirst(b) {
  const i = b.indexOf('trun', 8, 'latin1');
  return i > 0 && (b.readUInt32BE(i + 24) & 0x00010000) === 0;
}
const sha = (b) => createHash('sha256').update(b).digest('hex');

// A WebSocket viewer on a raw TCP socket, so a test can stop reading it
// (pause) the way a stalled network does. Collects {opcode, data, at}.
class RawViewer {
  constructor(port, p) {
    this.msgs = [];
    this.closeCode = null;
    this.status = null;
    this.buf = Buffer.alloc(0);
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.on('error', () => {});
    this.ended = new Promise((resolve) => this.sock.on('close', resolve));
    this.sock.write(`GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
      + `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    this.sock.on('data', (d) => this.feed(d));
  }

  feed(d) {
    this.buf = Buffer.concat([this.buf, d]);
    if (this.status === null) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.status = Number(this.buf.subarray(9, 12).toString());
      this.buf = this.buf.subarray(end + 4);
    }
    for (;;) {
      if (this.buf.length < 2) return;
      const opcode = this.buf[0] & 15;
      let len = this.buf[1] & 127;
      let off = 2;
      if (len === 126) { if (this.buf.length < 4) return; len = this.buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (this.buf.length < 10) return; len = Number(this.buf.readBigUInt64BE(2)); off = 10; }
      if (this.buf.length < off + len) return;
      const data = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      if (opcode === 8) this.closeCode = data.length >= 2 ? data.readUInt16BE(0) : 1005;
      else this.msgs.push({ opcode, data, at: Date.now() });
    }
  }

  get fragments() { return this.msgs.filter((m) => m.opcode === 2 && m.data.subarray(4, 8).toString('latin1') === 'moof'); }
  pause() { this.sock.pause(); }
  resume() { this.sock.resume(); }
  destroy() { this.sock.destroy(); }
}

async function waitOnline(srv, who, id) {
  let r;
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    r = await srv.get(`/api/v1/cameras/${id}`, as(who));
    if (r.json.status === 'online') return r.json;
    await sleep(200);
  }
  assert.fail(`camera ${id} not online: ${r?.text}`);
}

describe('live fan-out and slow viewers', () => {
  let srv;
  let cam;
  let sub;
  let admin;
  let camera;
  let plain;
  before(async () => {
    // a camera busy enough to fill a stalled socket's kernel buffers soon
    cam = await Simcam.start(['--video', 'h264', '--audio', 'aac', '--fps', '15', '--gop', '15', '--bitrate', '2500']);
    sub = await Simcam.start(['--video', 'h264', '--width', '320', '--height', '180', '--fps', '15', '--gop', '15']);
    srv = await Vigil.start({ flags: ['--live-skip-bytes', '65536', '--live-stuck-ms', '4000'] });
    await srv.addUser('root', PW, 'admin');
    admin = await srv.login('root', PW);
    let r = await srv.post('/api/v1/rooms', { name: 'Fan-out room' }, as(admin));
    const room = r.json.id;
    r = await srv.post('/api/v1/cameras', { room_id: room, name: 'Main', url: cam.url, substream_url: sub.url }, as(admin));
    camera = r.json;
    r = await srv.post('/api/v1/cameras', { room_id: room, name: 'Plain', url: cam.url }, as(admin));
    plain = r.json;
    await waitOnline(srv, admin, camera.id);
    await waitOnline(srv, admin, plain.id);
    await sleep(1200);
  });
  after(async () => {
    await srv?.stop();
    await cam?.stop();
    await sub?.stop();
  });

  test('50 viewers at once all receive the same fragments', { timeout: 60000 }, async () => {
    const url = `ws://127.0.0.1:${srv.port}/live/${camera.id}?access_token=${admin.access_token}`;
    const all = await Promise.all(Array.from({ length: 50 }, () => watch(url, 4000)));
    const seqs = [];
    for (const [i, got] of all.entries()) {
      assert.equal(got.status, undefined, `viewer ${i} refused`);
      assert.equal(boxType(got.binaries[0]), 'ftyp');
      // after the catch-up fragment: the hub's fragments, every one, in order
      const live = got.binaries.slice(2);
      assert.ok(live.length >= 20, `viewer ${i}: ${live.length} fragments in 4 s at 15 fps`);
      for (let k = 1; k < live.length; k++) assert.equal(seqOf(live[k]), seqOf(live[k - 1]) + 1, `viewer ${i} skipped`);
      seqs.push(new Map(live.map((b) => [seqOf(b), sha(b)])));
    }
    // the fragments every viewer has are byte-identical across viewers
    const common = [...seqs[0].keys()].filter((s) => seqs.every((m) => m.has(s)));
    assert.ok(common.length >= 15, `only ${common.length} fragments common to all 50`);
    for (const s of common) for (const m of seqs) assert.equal(m.get(s), seqs[0].get(s), `fragment ${s} differs`);
    assert.equal(new Set(all.map((g) => sha(g.binaries[0]))).size, 1, 'init segments differ');
  });

  test('a viewer that stops reading skips to a keyframe, one that stays stuck is dropped; the others get every fragment', { timeout: 90000 }, async () => {
    const stats = async () => (await srv.get('/live/stats', as(admin))).json;
    const base = await stats();
    const url = `ws://127.0.0.1:${srv.port}/live/${camera.id}?access_token=${admin.access_token}`;
    // steady viewers, counted throughout
    const steady = Array.from({ length: 5 }, () => {
      const v = { ws: new WebSocket(url), frags: [] };
      v.ws.on('message', (d, bin) => { if (bin && d.subarray(4, 8).toString('latin1') === 'moof') v.frags.push({ seq: seqOf(d), at: Date.now() }); });
      v.ws.on('error', () => {});
      return v;
    });
    const path_ = `/live/${camera.id}?access_token=${admin.access_token}`;
    const skipper = new RawViewer(srv.port, path_);
    const stuck = new RawViewer(srv.port, path_);
    await sleep(1500);
    assert.equal(skipper.status, 101);
    assert.ok(stuck.fragments.length > 5, 'no fragments before the stall');
    const s0 = await stats();
    const t0 = Date.now();
    skipper.pause();
    stuck.pause();
    // the skipper resumes as soon as the server has skipped it: both paused
    // viewers are skipped (on sender threads of their own, perhaps, so one
    // may be counted a moment before the other)
    let s;
    let deadline = Date.now() + 40000;
    do { await sleep(100); s = await stats(); } while (s.skips < base.skips + 2 && Date.now() < deadline);
    assert.ok(s.skips >= base.skips + 2, `the two paused viewers were not both skipped in 40 s: ${JSON.stringify(s)}`);
    const before = skipper.fragments.length;
    skipper.resume();
    deadline = Date.now() + 40000;
    do { await sleep(100); s = await stats(); } while (s.drops === base.drops && Date.now() < deadline);
    const t1 = Date.now();
    assert.ok(s.drops > base.drops, `nobody was dropped: ${JSON.stringify(s)}`);
    // what the hub made meanwhile (this camera's hub is the only one watched)
    const made = s.fragments - s0.fragments;
    // the stuck viewer, reading again, finds its stream ended
    stuck.resume();
    await within(stuck.ended, 20000);
    assert.ok(stuck.sock.destroyed || stuck.closeCode === 1008, 'the stuck viewer is still connected');
    // the skipper saw a jump forward landing on a keyframe, and stays
    await sleep(1500);
    const f = skipper.fragments;
    assert.ok(f.length > before, 'the skipper got nothing after resuming');
    let jump = -1;
    for (let k = 2; k < f.length; k++) if (seqOf(f[k].data) > seqOf(f[k - 1].data) + 1) { jump = k; break; }
    assert.ok(jump > 0, 'no skipped fragments in the skipper\'s stream');
    assert.ok(keyframeFirst(f[jump].data), 'the skipper resumed on a non-keyframe');
    assert.equal(skipper.closeCode, null, 'the skipper was closed');
    assert.ok(!skipper.sock.destroyed, 'the skipper was disconnected');
    // the steady viewers got every fragment the hub made while this went on,
    // so their rate is the camera's (bounds from the client's own clock)
    const secs = (t1 - t0) / 1000;
    for (const [i, v] of steady.entries()) {
      const during = v.frags.filter((x) => x.at >= t0 && x.at <= t1);
      for (let k = 1; k < during.length; k++) assert.equal(during[k].seq, during[k - 1].seq + 1, `steady viewer ${i} lost fragments`);
      assert.ok(during.length >= made - 3, `steady viewer ${i}: ${during.length} fragments in ${secs} s, the hub made ${made}`);
      v.ws.terminate();
    }
    skipper.destroy();
  });

  test('?quality=sub serves the substream; a camera without one falls back to main and says so', { timeout: 60000 }, async () => {
    let got = await watch(`ws://127.0.0.1:${srv.port}/live/${camera.id}?quality=sub&access_token=${admin.access_token}`, 5000);
    assert.equal(got.status, undefined);
    let first = JSON.parse(got.texts[0]);
    assert.equal(first.quality, 'sub');
    assert.equal(first.fallback, false);
    assert.match(first.mime, /^video\/mp4; codecs="avc1\./);
    assert.ok(got.binaries.length >= 10, `${got.binaries.length} messages from the substream`);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-sub-'));
    const probe = async (bins) => {
      const file = path.join(dir, 'x.mp4');
      await fs.writeFile(file, Buffer.concat(bins));
      const p = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', file], { encoding: 'utf8' });
      assert.equal(p.status, 0, p.stderr);
      return JSON.parse(p.stdout).streams.find((x) => x.codec_name === 'h264');
    };
    let v = await probe(got.binaries);
    assert.deepEqual([v.width, v.height], [320, 180], 'not the substream');
    // the camera without a substream: main, and the message says so
    got = await watch(`ws://127.0.0.1:${srv.port}/live/${plain.id}?quality=sub&access_token=${admin.access_token}`, 3000);
    first = JSON.parse(got.texts[0]);
    assert.equal(first.quality, 'main');
    assert.equal(first.fallback, true);
    v = await probe(got.binaries);
    assert.deepEqual([v.width, v.height], [640, 360], 'not the main stream');
    // without ?quality the first message stays the bare MIME type
    got = await watch(`ws://127.0.0.1:${srv.port}/live/${camera.id}?access_token=${admin.access_token}`, 1500);
    assert.match(got.texts[0], /^video\/mp4; codecs=/);
    got = await watch(`ws://127.0.0.1:${srv.port}/live/${camera.id}?quality=best&access_token=${admin.access_token}`, 1500);
    assert.equal(got.status, 400);
    await fs.rm(dir, { recursive: true, force: true });
    // the substream session ends with its last viewer
    await sleep(500);
    const s = (await srv.get('/live/stats', as(admin))).json;
    assert.equal(s.viewers, 0, JSON.stringify(s));
  });
});

describe('the media listener and its TLS twin', () => {
  let srv;
  let cam;
  let admin;
  let camera;
  let mediaPort;
  let tlsPort;
  let grant;
  let certDir;
  before(async () => {
    cam = await Simcam.start(['--video', 'h264', '--width', '320', '--height', '240', '--fps', '10', '--gop', '10']);
    mediaPort = await freePort();
    tlsPort = await freePort();
    // TLS on the media listener only: the web port stays plain HTTP
    certDir = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-media-tls-'));
    const cert = path.join(certDir, 'cert.pem');
    const key = path.join(certDir, 'key.pem');
    const o = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert], { encoding: 'utf8' });
    assert.equal(o.status, 0, o.stderr);
    srv = await Vigil.start({ flags: ['--media-port', String(mediaPort), '--media-tls-port', String(tlsPort), '--tls-cert', cert, '--tls-key', key, '--header-timeout-ms', '1500'] });
    await srv.addUser('root', PW, 'admin');
    admin = await srv.login('root', PW);
    let r = await srv.post('/api/v1/rooms', { name: 'Media room' }, as(admin));
    r = await srv.post('/api/v1/cameras', { room_id: r.json.id, name: 'Wide', url: cam.url }, as(admin));
    camera = r.json;
    await waitOnline(srv, admin, camera.id);
    await sleep(1200);
    grant = (await srv.get(`/api/v1/cameras/${camera.id}/live`, as(admin))).json.grant;
  });
  after(async () => {
    await srv?.stop();
    await cam?.stop();
    if (certDir) await fs.rm(certDir, { recursive: true, force: true });
  });

  const check = (got) => {
    assert.equal(got.status, undefined, `refused: ${got.status}`);
    assert.match(got.texts[0], /^video\/mp4; codecs="avc1\./);
    assert.equal(boxType(got.binaries[0]), 'ftyp');
    assert.ok(got.binaries.length >= 5, `${got.binaries.length} binary messages`);
  };

  test('live video through plain WS on the media port, WSS on its TLS twin, and WSS on the media port itself', { timeout: 30000 }, async () => {
    check(await watch(`ws://127.0.0.1:${mediaPort}/live/${camera.id}?grant=${grant}`, 2000));
    check(await watch(`wss://127.0.0.1:${tlsPort}/live/${camera.id}?grant=${grant}`, 2000, { rejectUnauthorized: false }));
    // a ClientHello on the plain media port is TLS too
    check(await watch(`wss://127.0.0.1:${mediaPort}/live/${camera.id}?grant=${grant}`, 2000, { rejectUnauthorized: false }));
    const r = await simpleGet(`https://127.0.0.1:${tlsPort}/api/v1/health`);
    assert.equal(r.status, 200);
  });

  test('an RTMP handshake (0x03) is closed cleanly without harming a viewer; junk gets 400; silence is closed', { timeout: 30000 }, async () => {
    const viewer = new WebSocket(`ws://127.0.0.1:${mediaPort}/live/${camera.id}?grant=${grant}`);
    let frags = 0;
    viewer.on('message', (d, bin) => { if (bin) frags++; });
    await sleep(800);
    // C0 + C1 of an RTMP handshake, plain and inside TLS
    const c1 = Buffer.concat([Buffer.from([3]), randomBytes(1536)]);
    for (const open of [() => net.connect(mediaPort, '127.0.0.1'), () => tls.connect({ port: tlsPort, host: '127.0.0.1', rejectUnauthorized: false })]) {
      const s = open();
      const ended = await new Promise((resolve) => {
        let got = Buffer.alloc(0);
        s.on('data', (d) => { got = Buffer.concat([got, d]); });
        s.on('error', (e) => resolve({ error: e.code, got }));
        s.on('end', () => resolve({ end: true, got }));
        s.once(s instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => s.write(c1));
        setTimeout(() => resolve({ timeout: true }), 10000);
      });
      assert.ok(ended.end, `RTMP connection not ended cleanly: ${JSON.stringify(ended)}`);
      assert.equal(ended.got.length, 0, 'an RTMP client got bytes');
      s.destroy();
    }
    // junk bytes: an HTTP 400
    const junk = await rawRequest(mediaPort, Buffer.from('\x16\x02junk junk\r\n\r\n', 'latin1'));
    assert.match(junk.text, /^HTTP\/1\.1 400 /);
    // a connection that sends nothing is closed after header_timeout_ms
    const silent = net.connect(mediaPort, '127.0.0.1');
    const t0 = Date.now();
    await new Promise((resolve) => { silent.on('close', resolve); silent.on('error', () => {}); silent.resume(); });
    assert.ok(Date.now() - t0 >= 1000, 'closed before the head time-out');
    // the viewer kept going throughout
    const n = frags;
    await sleep(1000);
    assert.ok(frags > n + 3, `the viewer stalled: ${frags - n} fragments in 1 s at 10 fps`);
    assert.equal(viewer.readyState, WebSocket.OPEN);
    viewer.terminate();
    const h = await simpleGet(`http://127.0.0.1:${mediaPort}/api/v1/health`);
    assert.equal(h.status, 200);
  });
});
