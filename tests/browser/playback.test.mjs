// Browser test of recorded media: Debian's chromium plays the MP4 that
// GET /api/v1/recordings/{id}/media/{camera_id}.mp4 builds on the fly, in
// a plain <video> element (progressive download, Range requests to seek).
// One 8 s recording of a simulated H.264+AAC camera (320x240, 10 fps, a
// keyframe a second); the whole file plays to its end with the recording's
// duration, a seek to the middle lands there and plays on, and a span
// (?from=2.5&to=6) reports 3.5 s and starts at 0.
// Run: node --test tests/browser/playback.test.mjs
//   VIGIL_BIN picks the server; VIGIL_SIMCAM the camera.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startServer, startSimcam, stopServerCleanly, waitFor } from './server.mjs';

const ADMIN = { username: 'ada.admin', password: 'correct horse battery' };
const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let server;
let camera;
let browser;
let page;
let token;
let rec;
let cameraId;

async function api(method, pathname, body) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${server.url}/api/v1${pathname}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, data: text ? JSON.parse(text) : null };
}

before(async () => {
  camera = await startSimcam(['--port', '0', '--video', 'h264', '--audio', 'aac',
    '--width', '320', '--height', '240', '--fps', '10', '--gop', '10', '--label', 'playback test']);
  server = await startServer();
  let res = await fetch(`${server.url}/api/v1/setup`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(ADMIN),
  });
  assert.equal(res.status, 201);
  res = await fetch(`${server.url}/api/v1/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(ADMIN),
  });
  token = (await res.json()).access_token;
  const room = await api('POST', '/rooms', { name: 'Playback room' });
  assert.equal(room.status, 201);
  const cam = await api('POST', '/cameras', { room_id: room.data.id, name: 'Desk', url: camera.url });
  assert.equal(cam.status, 201);
  cameraId = cam.data.id;
  await waitFor('camera online', async () => (await api('GET', `/cameras/${cameraId}`)).data.status === 'online', 30000);
  const start = await api('POST', `/rooms/${room.data.id}/record/start`, { title: 'eight seconds' });
  assert.equal(start.status, 201);
  await sleep(8000);
  assert.equal((await api('POST', `/rooms/${room.data.id}/record/stop`)).status, 200);
  rec = await waitFor('segments closed', async () => {
    const r = (await api('GET', `/recordings/${start.data.recording_id}`)).data;
    const segs = r.tracks.flatMap((t) => t.segments);
    return segs.length && segs.every((s) => s.state !== 'open') ? r : null;
  }, 10000);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  const context = await browser.newContext({ baseURL: server.url });
  page = await context.newPage();
  await page.goto('/'); // same origin as the media URL
});

after(async () => {
  await browser?.close();
  await camera?.stop();
  await stopServerCleanly(server);
});

// Loads src into a fresh muted <video> and resolves its state once it has
// metadata (or an error).
async function load(src) {
  return page.evaluate(async (s) => {
    document.querySelectorAll('video').forEach((v) => v.remove());
    const v = document.createElement('video');
    v.muted = true;
    v.preload = 'auto';
    document.body.append(v);
    await new Promise((resolve) => {
      v.addEventListener('loadedmetadata', resolve, { once: true });
      v.addEventListener('error', resolve, { once: true });
      v.src = s;
    });
    return { duration: v.duration, error: v.error && v.error.message, width: v.videoWidth, height: v.videoHeight };
  }, src);
}

const url = (q = '') => `/api/v1/recordings/${rec.id}/media/${cameraId}.mp4?access_token=${token}${q}`;

test('chromium plays the whole recording to its end', { timeout: 60000 }, async () => {
  const m = await load(url());
  assert.equal(m.error, null, `the video failed: ${m.error}`);
  assert.equal(m.width, 320);
  assert.equal(m.height, 240);
  assert.ok(Math.abs(m.duration - rec.duration) <= 0.5, `duration ${m.duration}, recording ${rec.duration}`);
  const t0 = Date.now();
  const end = await page.evaluate(() => new Promise((resolve) => {
    const v = document.querySelector('video');
    v.addEventListener('ended', () => resolve({ t: v.currentTime, frames: v.getVideoPlaybackQuality().totalVideoFrames }), { once: true });
    v.addEventListener('error', () => resolve({ error: v.error.message }), { once: true });
    v.play();
  }));
  assert.equal(end.error, undefined, end.error);
  assert.ok(Math.abs(end.t - m.duration) <= 0.2, `ended at ${end.t} of ${m.duration}`);
  const played = (Date.now() - t0) / 1000;
  assert.ok(played >= m.duration - 1, `the end came after ${played} s of a ${m.duration} s video`);
  assert.ok(end.frames >= m.duration * 10 * 0.8, `${end.frames} frames presented`);
});

test('a seek to the middle lands there and plays on', { timeout: 30000 }, async () => {
  const m = await load(url());
  assert.equal(m.error, null);
  const r = await page.evaluate(() => new Promise((resolve) => {
    const v = document.querySelector('video');
    v.addEventListener('seeked', async () => {
      const at = v.currentTime;
      await v.play();
      await new Promise((ok) => setTimeout(ok, 1500));
      resolve({ at, later: v.currentTime, error: v.error && v.error.message });
      v.pause();
    }, { once: true });
    v.currentTime = 4.2;
  }));
  assert.equal(r.error, null);
  assert.ok(Math.abs(r.at - 4.2) <= 0.11, `seeked to ${r.at}`);
  assert.ok(r.later > r.at + 0.5, `from ${r.at} it played to ${r.later} in 1.5 s`);
});

test('a span starts at 0 and lasts to - from', { timeout: 30000 }, async () => {
  const m = await load(url('&from=2.5&to=6'));
  assert.equal(m.error, null, `the span failed: ${m.error}`);
  assert.ok(Math.abs(m.duration - 3.5) <= 0.11, `span duration ${m.duration}`);
  const r = await page.evaluate(() => new Promise((resolve) => {
    const v = document.querySelector('video');
    v.addEventListener('ended', () => resolve({ t: v.currentTime }), { once: true });
    v.addEventListener('error', () => resolve({ error: v.error.message }), { once: true });
    v.play();
  }));
  assert.equal(r.error, undefined, r.error);
  assert.ok(Math.abs(r.t - 3.5) <= 0.2, `span ended at ${r.t}`);
});
