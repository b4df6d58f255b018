// Live fan-out on sender threads (live_threads): plain WebSocket viewers are
// handed to sender threads after the upgrade, WSS viewers stay on the main
// loop. What a user notices: every viewer, wherever it is served, gets the
// same bytes; viewers that leave in any way are cleaned up and counted
// right; pings are answered; SIGTERM with viewers watching exits cleanly.
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
import { createHash, randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { Vigil, Simcam, SIMCAM_LIGHT, freePort, sleep, within, until } from './lib/server.mjs';

const PW = 'correct-horse-1';
const THREADS = 3;
const as = (who) => ({ token: who.access_token, timeout: 15000 });
const boxType = (b) => b.subarray(4, 8).toString('latin1');
const seqOf = (b) => b.readUInt32BE(20);
const sha = (b) => createHash('sha256').update(b).digest('hex');

// A viewer that keeps what it gets: {texts, binaries, closeCode, closed}.
function viewer(url, opts = {}) {
  const v = { ws: new WebSocket(url, opts), texts: [], binaries: [], closeCode: null, pongs: [] };
  v.opened = new Promise((resolve, reject) => { v.ws.on('open', resolve); v.ws.on('unexpected-response', (q, res) => { q.destroy(); reject(new Error(`refused: ${res.statusCode}`)); }); });
  v.closed = new Promise((resolve) => v.ws.on('close', (code) => { v.closeCode = code; resolve(code); }));
  v.ws.on('message', (d, bin) => { if (bin) v.binaries.push(Buffer.from(d)); else v.texts.push(d.toString()); });
  v.ws.on('pong', (d) => v.pongs.push(d.toString()));
  v.ws.on('error', () => {});
  return v;
}

describe('live fan-out on sender threads', () => {
  let srv;
  let cam;
  let admin;
  let camera;
  let mediaPort;
  let tlsPort;
  let certDir;
  let grant;
  const stats = async () => (await srv.get('/live/stats', as(admin))).json;
  const waitViewers = (n, what) => until(async () => (await stats()).viewers === n, 20000, what);

  before(async () => {
    cam = await Simcam.start(['--video', 'h264', '--audio', 'aac', ...SIMCAM_LIGHT, '--gop', '15']);
    mediaPort = await freePort();
    tlsPort = await freePort();
    certDir = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-fanout-tls-'));
    const cert = path.join(certDir, 'cert.pem');
    const key = path.join(certDir, 'key.pem');
    const o = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert], { encoding: 'utf8' });
    assert.equal(o.status, 0, o.stderr);
    srv = await Vigil.start({ flags: ['--media-port', String(mediaPort), '--media-tls-port', String(tlsPort), '--tls-cert', cert, '--tls-key', key, '--live-threads', String(THREADS)] });
    await srv.addUser('root', PW, 'admin');
    admin = await srv.login('root', PW);
    let r = await srv.post('/api/v1/rooms', { name: 'Threads room' }, as(admin));
    r = await srv.post('/api/v1/cameras', { room_id: r.json.id, name: 'Wide', url: cam.url }, as(admin));
    camera = r.json;
    await until(async () => (await srv.get(`/api/v1/cameras/${camera.id}`, as(admin))).json.status === 'online', 20000, 'camera online');
    await sleep(1200); // a whole GOP for the catch-up
    grant = (await srv.get(`/api/v1/cameras/${camera.id}/live`, as(admin))).json.grant;
  });
  after(async () => {
    await srv?.stop();
    await cam?.stop();
    if (certDir) await fs.rm(certDir, { recursive: true, force: true });
  });

  test('viewers spread over the sender threads and WSS viewers on the main loop receive identical bytes', { timeout: 60000 }, async () => {
    const plain = Array.from({ length: 4 * THREADS }, () => viewer(`ws://127.0.0.1:${mediaPort}/live/${camera.id}?grant=${grant}`));
    const secure = Array.from({ length: 2 }, () => viewer(`wss://127.0.0.1:${tlsPort}/live/${camera.id}?grant=${grant}`, { rejectUnauthorized: false }));
    const all = [...plain, ...secure];
    await Promise.all(all.map((v) => v.opened));
    await waitViewers(all.length, `${all.length} viewers in /live/stats`);
    const s = await stats();
    assert.equal(s.threads, THREADS, JSON.stringify(s));
    assert.equal(s.viewers_threaded, plain.length, JSON.stringify(s));
    // handed out one by one to the thread with the fewest: an even spread
    assert.deepEqual(s.viewers_per_thread, Array(THREADS).fill(4), JSON.stringify(s));
    // 40 fragments at 15 fps, counted by the slowest viewer
    await until(async () => all.every((v) => v.binaries.length >= 42), 30000, '40 fragments at every viewer');
    for (const v of all) v.ws.terminate();
    for (const [i, v] of all.entries()) {
      assert.match(v.texts[0], /^video\/mp4; codecs="avc1\.[0-9a-f]{6},mp4a\.40\.2"$/, `viewer ${i}`);
      assert.equal(boxType(v.binaries[0]), 'ftyp', `viewer ${i}`);
      const live = v.binaries.slice(2);
      for (let k = 1; k < live.length; k++) assert.equal(seqOf(live[k]), seqOf(live[k - 1]) + 1, `viewer ${i} skipped a fragment`);
    }
    // init, catch-up and every fragment two viewers both have: byte for byte the same
    assert.equal(new Set(all.map((v) => sha(v.binaries[0]))).size, 1, 'init segments differ');
    const maps = all.map((v) => new Map(v.binaries.slice(2).map((b) => [seqOf(b), sha(b)])));
    const common = [...maps[0].keys()].filter((q) => maps.every((m) => m.has(q)));
    assert.ok(common.length >= 30, `only ${common.length} fragments common to all`);
    for (const q of common) for (const [i, m] of maps.entries()) assert.equal(m.get(q), maps[0].get(q), `fragment ${q} differs at viewer ${i}`);
    // what a threaded viewer got is a stream ffprobe decodes
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-fanout-'));
    const file = path.join(dir, 'live.mp4');
    await fs.writeFile(file, Buffer.concat(plain[0].binaries));
    const p = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', file], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
    assert.equal(p.stderr.trim(), '', p.stderr);
    const video = JSON.parse(p.stdout).streams.find((x) => x.codec_name === 'h264');
    assert.deepEqual([video.width, video.height], [640, 360]);
    await fs.rm(dir, { recursive: true, force: true });
    await waitViewers(0, 'every viewer gone from /live/stats');
    assert.deepEqual((await stats()).viewers_per_thread, Array(THREADS).fill(0));
  });

  test('viewers that vanish, say goodbye or break the protocol are cleaned up; pings are answered; the rest keep going', { timeout: 60000 }, async () => {
    const url = `ws://127.0.0.1:${mediaPort}/live/${camera.id}?grant=${grant}`;
    const vs = Array.from({ length: 5 }, () => viewer(url));
    await Promise.all(vs.map((v) => v.opened));
    // a raw viewer that will send an unmasked frame (clients must mask)
    const raw = net.connect(mediaPort, '127.0.0.1');
    let rawBuf = Buffer.alloc(0);
    raw.on('data', (d) => { rawBuf = Buffer.concat([rawBuf, d]); });
    raw.on('error', () => {});
    const rawEnded = new Promise((resolve) => raw.on('close', resolve));
    raw.write(`GET /live/${camera.id}?grant=${grant} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
      + `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await waitViewers(6, '6 viewers');
    await until(async () => vs.every((v) => v.binaries.length >= 5), 20000, 'fragments at every viewer');
    assert.ok(rawBuf.subarray(0, 12).toString() === 'HTTP/1.1 101', rawBuf.subarray(0, 40).toString());

    vs[0].ws.terminate(); // gone without a word (TCP closed)
    vs[1].ws.close(1000, 'bye'); // the close handshake: the server echoes 1000
    vs[2].ws.ping('are you there');
    raw.write(Buffer.from([0x89, 0x00])); // an unmasked ping: protocol error
    assert.equal(await within(vs[1].closed, 15000), 1000, 'the close frame was not echoed');
    await until(async () => vs[2].pongs.includes('are you there'), 15000, 'the pong');
    await within(rawEnded, 15000);
    assert.ok(raw.destroyed || raw.readableEnded, 'the protocol breaker is still connected');
    // its last frame is a close with 1002
    const tail = rawBuf.lastIndexOf(Buffer.from([0x88, 0x02]));
    assert.ok(tail > 0 && rawBuf.readUInt16BE(tail + 2) === 1002, 'no close 1002 for the protocol error');
    await waitViewers(3, 'three viewers left');
    // the others keep receiving fragments after all that
    const at = vs.slice(2).map((v) => v.binaries.length);
    await until(async () => vs.slice(2).every((v, i) => v.binaries.length >= at[i] + 10), 20000, '10 more fragments at the rest');
    for (const v of vs.slice(2)) assert.equal(v.closeCode, null);
    for (const v of vs) v.ws.terminate();
    await waitViewers(0, 'nobody left');
    const s = await stats();
    assert.equal(s.hubs >= 1, true);
    assert.deepEqual(s.viewers_per_thread, Array(THREADS).fill(0), JSON.stringify(s));
  });

  test('SIGTERM while viewers watch on every thread: their sockets close and the server exits 0', { timeout: 60000 }, async () => {
    const vs = Array.from({ length: 2 * THREADS }, () => viewer(`ws://127.0.0.1:${mediaPort}/live/${camera.id}?grant=${grant}`));
    vs.push(viewer(`wss://127.0.0.1:${tlsPort}/live/${camera.id}?grant=${grant}`, { rejectUnauthorized: false }));
    await Promise.all(vs.map((v) => v.opened));
    await until(async () => vs.every((v) => v.binaries.length >= 5), 20000, 'fragments at every viewer');
    await srv.stop(); // throws unless the exit is 0 and sanitizer-clean
    const codes = await Promise.all(vs.map((v) => within(v.closed, 15000, 'open')));
    assert.ok(codes.every((c) => c !== 'open'), `still open after the server exited: ${codes}`);
  });
});

describe('viewers on sender threads count against max_connections', () => {
  let srv;
  let cam;
  after(async () => {
    await srv?.stop();
    await cam?.stop();
  });

  test('past max_connections a new viewer gets 503; when one leaves, the next gets in', { timeout: 60000 }, async () => {
    cam = await Simcam.start(['--video', 'h264', ...SIMCAM_LIGHT]);
    const mediaPort = await freePort();
    srv = await Vigil.start({ flags: ['--media-port', String(mediaPort), '--max-connections', '4', '--live-threads', '2', '--idle-timeout-ms', '200'] });
    await srv.addUser('root', PW, 'admin');
    const admin = await srv.login('root', PW);
    let r = await srv.post('/api/v1/rooms', { name: 'Small room' }, as(admin));
    r = await srv.post('/api/v1/cameras', { room_id: r.json.id, name: 'Cam', url: cam.url }, as(admin));
    const grant = (await srv.get(`/api/v1/cameras/${r.json.id}/live`, as(admin))).json.grant;
    const url = `ws://127.0.0.1:${mediaPort}/live/${r.json.id}?grant=${grant}`;
    // the API client's keep-alive connections are closed after 200 ms idle,
    // so the viewers are the only connections: four at once all get in
    // (each counted once, also while its socket moves to a thread) ...
    await sleep(1000);
    const open = Array.from({ length: 4 }, () => viewer(url));
    await Promise.all(open.map((v) => v.opened));
    // ... and a fifth is one too many
    const fifth = viewer(url);
    await assert.rejects(fifth.opened, /refused: 503/);
    open[0].ws.terminate();
    await until(async () => {
      const v = viewer(url);
      try { await v.opened; open.push(v); return true; } catch { return false; }
    }, 20000, 'a viewer admitted after one left');
    for (const v of open) v.ws.terminate();
  });
});
