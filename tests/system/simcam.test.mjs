// The simulated camera as an RTSP client sees it: codecs and picture size in
// the SDP, Basic and Digest auth with 401 for wrong credentials, a recording
// of the stream that lasts as long as asked, and a clean exit on SIGTERM.
//
//   VIGIL_SIMCAM   binary to test (default <repo>/build-asan/tools/vigil-simcam)
//
// ffprobe and ffmpeg are the peers: they read RTSP the way Vigil's ingest
// (libavformat) does.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './lib/server.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SIMCAM = process.env.VIGIL_SIMCAM ?? path.join(REPO, 'build-asan', 'tools', 'vigil-simcam');

// Light settings: the tests share two cores with an ASan server.
const LIGHT = ['--port', '0', '--width', '640', '--height', '360', '--fps', '15', '--bitrate', '800'];
const READY_MS = 10_000;
const STOP_MS = 10_000;

// One running simulated camera.
class Simcam {
  static async start(args) {
    assert.ok(fs.existsSync(SIMCAM), `${SIMCAM} missing: build it (ninja -C build-asan tools/vigil-simcam) or set VIGIL_SIMCAM`);
    const cam = new Simcam();
    cam.proc = spawn(SIMCAM, [...LIGHT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    cam.log = '';
    cam.exited = new Promise((resolve) => cam.proc.on('exit', (code, signal) => resolve({ code, signal })));
    cam.proc.stderr.on('data', (d) => (cam.log += d));
    cam.url = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`simcam not ready in ${READY_MS} ms:\n${cam.log}`)), READY_MS);
      cam.proc.stdout.on('data', (d) => {
        out += d;
        const m = /^simcam ready (rtsp:\/\/\S+)$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      cam.exited.then((e) => {
        clearTimeout(timer);
        reject(new Error(`simcam exited before ready (${JSON.stringify(e)}):\n${cam.log}`));
      });
    });
    return cam;
  }

  // The URL with credentials in it.
  withAuth(user, pass) {
    const u = new URL(this.url);
    u.username = encodeURIComponent(user);
    u.password = encodeURIComponent(pass);
    return u.href;
  }

  // SIGTERM, then the exit status (SIGKILL if it does not go in time).
  async stop() {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.exited;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), STOP_MS);
    const e = await this.exited;
    clearTimeout(timer);
    return e;
  }
}

async function probeStreams(url) {
  const r = await run('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-show_streams', '-of', 'json', url]);
  assert.equal(r.code, 0, `ffprobe ${url} failed:\n${r.stderr}`);
  const streams = JSON.parse(r.stdout).streams;
  return {
    video: streams.filter((s) => s.codec_type === 'video'),
    audio: streams.filter((s) => s.codec_type === 'audio'),
  };
}

async function assertUnauthorized(url) {
  const r = await run('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-show_streams', '-of', 'json', url]);
  assert.notEqual(r.code, 0, 'ffprobe succeeded without valid credentials');
  assert.match(r.stderr, /401 Unauthorized/, r.stderr);
}

// Records 3 s with ffmpeg and checks the file: codecs and a duration of ~3 s.
async function assertRecords3s(url, { videoCodec, audioCodec, audioArgs = ['-c:a', 'copy'] }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simcam-'));
  try {
    const out = path.join(dir, 'out.mp4');
    const rec = await run('ffmpeg', ['-v', 'error', '-nostdin', '-rtsp_transport', 'tcp', '-i', url, '-t', '3', '-c:v', 'copy', ...audioArgs, '-y', out], 20_000);
    assert.equal(rec.code, 0, `ffmpeg failed:\n${rec.stderr}`);
    const p = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name,codec_type,width,height', '-of', 'json', out]);
    assert.equal(p.code, 0, `ffprobe of the recording failed:\n${p.stderr}`);
    const info = JSON.parse(p.stdout);
    const duration = Number(info.format.duration);
    assert.ok(duration >= 2.5 && duration <= 3.5, `duration ${duration} s, want about 3`);
    const v = info.streams.find((s) => s.codec_type === 'video');
    assert.equal(v?.codec_name, videoCodec);
    assert.equal(v.width, 640);
    assert.equal(v.height, 360);
    if (audioCodec) assert.equal(info.streams.find((s) => s.codec_type === 'audio')?.codec_name, audioCodec);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('h264 + aac, no auth', () => {
  let cam;
  before(async () => {
    cam = await Simcam.start(['--video', 'h264', '--audio', 'aac', '--label', 'test room <1> & co']);
  });
  after(async () => {
    await cam?.stop();
  });

  test('prints a loopback URL with the mount path when ready', () => {
    assert.match(cam.url, /^rtsp:\/\/127\.0\.0\.1:\d+\/cam$/);
    assert.notEqual(new URL(cam.url).port, '8554', '--port 0 picks a free port');
  });

  test('SDP: H.264 640x360 and AAC', async () => {
    const { video, audio } = await probeStreams(cam.url);
    assert.equal(video.length, 1);
    assert.equal(video[0].codec_name, 'h264');
    assert.equal(video[0].width, 640);
    assert.equal(video[0].height, 360);
    assert.equal(audio.length, 1);
    assert.equal(audio[0].codec_name, 'aac');
  });

  test('ffmpeg records 3 s of it, copied as is', async () => {
    await assertRecords3s(cam.url, { videoCodec: 'h264', audioCodec: 'aac' });
  });

  test('SIGTERM: exit status 0, no GStreamer criticals', async () => {
    const e = await cam.stop();
    assert.deepEqual(e, { code: 0, signal: null }, cam.log);
    assert.doesNotMatch(cam.log, /CRITICAL|ERROR/, cam.log);
  });
});

describe('h265 + pcma, digest auth', () => {
  const USER = 'operator';
  const PASS = 'pass word:1';
  let cam;
  before(async () => {
    cam = await Simcam.start(['--video', 'h265', '--audio', 'pcma', '--user', USER, '--password', PASS]);
  });
  after(async () => {
    await cam?.stop();
  });

  test('SDP with the right credentials: HEVC 640x360 and G.711 A-law', async () => {
    const { video, audio } = await probeStreams(cam.withAuth(USER, PASS));
    assert.equal(video[0]?.codec_name, 'hevc');
    assert.equal(video[0].width, 640);
    assert.equal(video[0].height, 360);
    assert.equal(audio[0]?.codec_name, 'pcm_alaw');
    assert.equal(Number(audio[0].sample_rate), 8000);
  });

  test('wrong password or none: 401 Unauthorized', async () => {
    await assertUnauthorized(cam.withAuth(USER, 'wrong'));
    await assertUnauthorized(cam.withAuth('nobody', PASS));
    await assertUnauthorized(cam.url);
  });

  test('ffmpeg records 3 s of it (video copied, G.711 to AAC as Vigil does)', async () => {
    // MP4 has no G.711 sample entry that ffmpeg writes.
    await assertRecords3s(cam.withAuth(USER, PASS), { videoCodec: 'hevc', audioCodec: 'aac', audioArgs: ['-c:a', 'aac'] });
  });

  test('SIGTERM: exit status 0', async () => {
    const e = await cam.stop();
    assert.deepEqual(e, { code: 0, signal: null }, cam.log);
  });
});

describe('h264 without audio, basic auth', () => {
  let cam;
  before(async () => {
    cam = await Simcam.start(['--audio', 'none', '--user', 'u', '--password', 'p', '--auth', 'basic', '--path', '/room/2']);
  });
  after(async () => {
    await cam?.stop();
  });

  test('right credentials: video only; wrong: 401', async () => {
    assert.match(cam.url, /\/room\/2$/);
    const { video, audio } = await probeStreams(cam.withAuth('u', 'p'));
    assert.equal(video[0]?.codec_name, 'h264');
    assert.equal(audio.length, 0);
    await assertUnauthorized(cam.withAuth('u', 'q'));
  });

  test('SIGTERM: exit status 0', async () => {
    assert.deepEqual(await cam.stop(), { code: 0, signal: null }, cam.log);
  });
});

test('bad arguments: exit status 2 with a message', async () => {
  assert.ok(fs.existsSync(SIMCAM), `${SIMCAM} missing`);
  for (const args of [['--video', 'vp8'], ['--width', '641'], ['--user', 'u'], ['--port', '70000'], ['--bframes', '5'], ['--bframes', '-1']]) {
    const r = await run(SIMCAM, args, 5_000);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /vigil-simcam: /);
  }
});

// Tens of recorders joining one shared stream within a few hundred
// milliseconds (bench/record.sh starts 50): each PLAY used to seek the
// shared live pipeline, and the flushes deadlocked it (no more frames, no
// answers, SIGTERM ignored). 20 probes at once on a small picture must all
// get the stream, and the camera must still stop cleanly.
describe('20 clients joining the shared stream at once', () => {
  const CLIENTS = 20;
  const PACKETS = 20;
  let cam;
  before(async () => {
    cam = await Simcam.start(['--width', '320', '--height', '240', '--fps', '15', '--bitrate', '300', '--gop', '15']);
  });
  after(async () => {
    await cam?.stop();
  });

  test(`all ${CLIENTS} get H.264 and AAC packets within 15 s`, async () => {
    const t0 = Date.now();
    const args = ['-v', 'error', '-rtsp_transport', 'tcp', '-read_intervals', `%+#${PACKETS}`, '-show_entries', 'stream=codec_name,width,height:packet=stream_index', '-of', 'json', cam.url];
    const results = await Promise.all(Array.from({ length: CLIENTS }, () => run('ffprobe', args, 15_000)));
    const elapsed = Date.now() - t0;
    results.forEach((r, i) => {
      assert.equal(r.code, 0, `client ${i}: ffprobe exit ${r.code} ${r.signal ?? ''}:\n${r.stderr}`);
      const info = JSON.parse(r.stdout);
      const codecs = info.streams.map((s) => s.codec_name);
      assert.deepEqual(codecs, ['h264', 'aac'], `client ${i}`);
      assert.equal(info.streams[0].width, 320, `client ${i}`);
      assert.equal(info.packets?.length, PACKETS, `client ${i}: packets received`);
      assert.ok(info.packets.some((p) => p.stream_index === 0), `client ${i}: no video packet`);
    });
    assert.ok(elapsed < 15_000, `${CLIENTS} clients took ${elapsed} ms`);
  });

  test('SIGTERM afterwards: exit status 0, no GStreamer criticals', async () => {
    const e = await cam.stop();
    assert.deepEqual(e, { code: 0, signal: null }, cam.log);
    assert.doesNotMatch(cam.log, /CRITICAL|ERROR/, cam.log);
  });
});
