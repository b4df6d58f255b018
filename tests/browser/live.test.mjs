// Browser test of live video: a real (simulated) H.264+AAC camera, the
// server's /live/{camera_id} WebSocket and the Observe page's player
// (web/js/player.js, Media Source Extensions in Debian's chromium).
// Run: node --test tests/browser/live.test.mjs
//   VIGIL_BIN picks the server; VIGIL_SIMCAM the camera (default: the
//   vigil-simcam built beside VIGIL_BIN, in tools/).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { chromium } from 'playwright-core';
import { startServer, startSimcam, stopServerCleanly, waitFor } from './server.mjs';

const TEST_TIMEOUT_MS = 90000;
const WAIT_MS = 10000;
const PLAY_WAIT_MS = 30000; // the camera comes online, then the first GOP plays
const MAX_LATENCY_S = 1.0; // behind the newest buffered frame, at every sample
const ADMIN = { username: 'ada.admin', password: 'correct horse battery' };
const ROOM = 'Live room';
const CAMERA = 'Desk camera';
const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=user-gesture-required']; // the player must get by with muted autoplay

let server;
let camera; // { url, stop() }
let browser;
let page;
let token;
let roomId;
let cameraId;
const problems = [];
const refusals = new Set(); // WebSocket URLs this test expects the server to refuse
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(method, pathname, body) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${server.url}/api/v1${pathname}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  return { status: res.status, data };
}

// Every WebSocket a page makes is kept in window.__sockets, so the test can
// count the live ones that are still open.
function trackSockets() {
  window.__sockets = [];
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__sockets.push(this);
    }
  };
}

function watch(p, who) {
  p.on('pageerror', (err) => problems.push(`${who} page error: ${err.message}`));
  p.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    const where = msg.location()?.url || '';
    // 4xx answers of the API are the UI's to handle; anything else fails.
    if (/status of 4\d\d/.test(text) && new URL(where, server.url).pathname.startsWith('/api/v1/')) return;
    // The refusals this test provokes on purpose.
    const ws = /^WebSocket connection to '([^']+)' failed/.exec(text);
    if (ws && refusals.has(ws[1])) return;
    problems.push(`${who} console error: ${text} (${where})`);
  });
}

before(async () => {
  camera = await startSimcam(['--port', '0', '--video', 'h264', '--audio', 'aac',
    '--width', '320', '--height', '240', '--fps', '10', '--gop', '10', '--label', 'live test']);
  server = await startServer();
  let res = await fetch(`${server.url}/api/v1/setup`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(ADMIN),
  });
  assert.equal(res.status, 201, 'first-run setup through the API');
  res = await fetch(`${server.url}/api/v1/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(ADMIN),
  });
  assert.equal(res.status, 200, 'login through the API');
  token = (await res.json()).access_token;

  const room = await api('POST', '/rooms', { name: ROOM, description: 'first' });
  assert.equal(room.status, 201, `POST /rooms: ${JSON.stringify(room.data)}`);
  roomId = room.data.id;
  const cam = await api('POST', '/cameras', { room_id: roomId, name: CAMERA, url: camera.url, transport: 'tcp' });
  assert.equal(cam.status, 201, `POST /cameras: ${JSON.stringify(cam.data)}`);
  cameraId = cam.data.id;

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } });
  await context.addInitScript(trackSockets);
  page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  watch(page, 'admin');
});

after(async () => {
  await browser?.close();
  await camera?.stop();
  await stopServerCleanly(server);
});

function assertNoBrowserErrors() {
  assert.deepEqual(problems.splice(0), [], 'the browser reported errors');
}

const waitUntil = (what, fn, ms = WAIT_MS) => waitFor(what, fn, ms);

const card = () => page.locator(`article.room-card[data-room="${ROOM}"]`);
const tile = () => card().locator(`li[data-camera="${CAMERA}"] .live`);
const video = () => tile().locator('video');

// What the <video> shows now.
function videoState() {
  return video().evaluate((v) => {
    const b = v.buffered;
    const end = b.length ? b.end(b.length - 1) : null;
    return {
      readyState: v.readyState,
      videoWidth: v.videoWidth,
      videoHeight: v.videoHeight,
      currentTime: v.currentTime,
      paused: v.paused,
      muted: v.muted,
      ranges: b.length,
      end,
      latency: end == null ? null : end - v.currentTime,
      error: v.error && v.error.message,
      state: v.closest('.live').dataset.liveState,
      badge: v.closest('.live').querySelector('.live-state').textContent,
    };
  });
}

// The decoder's frame counts so far.
function playbackQuality() {
  return video().evaluate((v) => {
    const q = v.getVideoPlaybackQuality();
    return { total: q.totalVideoFrames, dropped: q.droppedVideoFrames };
  });
}

// The page's /live/ WebSockets: how many were made, and which are not closed.
function liveSockets(p = page) {
  return p.evaluate(() => {
    const live = window.__sockets.filter((s) => new URL(s.url).pathname.startsWith('/live/'));
    return { made: live.length, open: live.filter((s) => s.readyState <= 1).map((s) => s.url) };
  });
}

// Waits until the camera's video really plays: a frame of the camera's size,
// enough data to go on, and the clock moving.
async function waitPlaying(ms = PLAY_WAIT_MS) {
  return waitUntil('the live video plays', async () => {
    if (!(await video().count())) return { ok: false, why: 'no video tile yet', text: await card().textContent() };
    const v = await videoState();
    return { ...v, ok: v.readyState >= 3 && v.videoWidth === 320 && !v.paused };
  }, ms);
}

test('Observe plays the camera live, muted, near the live edge', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await page.goto('/#/observe');
  await page.getByLabel('Username').fill(ADMIN.username);
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: /^Observe/, level: 1 }).waitFor();
  await card().waitFor();

  const first = await waitPlaying();
  t.diagnostic(`playing: ${first.videoWidth}×${first.videoHeight}, readyState ${first.readyState}`);
  assert.equal(first.videoWidth, 320, 'the camera\'s width');
  assert.equal(first.videoHeight, 240, 'the camera\'s height');
  assert.equal(first.muted, true, 'autoplay is muted');

  // The clock advances with the wall clock: at least 3 s in 4 s, and the
  // decoder shows the frames (10 fps) with few dropped.
  const q0 = await playbackQuality();
  const t0 = await videoState();
  const wall0 = Date.now();
  await sleep(4000);
  const t1 = await videoState();
  const q1 = await playbackQuality();
  const wall = (Date.now() - wall0) / 1000;
  const advanced = t1.currentTime - t0.currentTime;
  const decoded = q1.total - q0.total;
  const dropped = q1.dropped - q0.dropped;
  t.diagnostic(`currentTime advanced ${advanced.toFixed(2)} s in ${wall.toFixed(2)} s of wall time; ` +
    `${decoded} frames decoded, ${dropped} dropped (since start: ${q1.total} decoded, ${q1.dropped} dropped)`);
  assert.ok(advanced >= 3, `the video plays on: currentTime advanced ${advanced} s in ${wall} s (${JSON.stringify(t1)})`);
  assert.ok(t1.readyState >= 3, `still enough data: ${JSON.stringify(t1)}`);
  assert.ok(decoded >= 20, `frames decoded at the camera's rate: ${decoded} in ${wall} s`);
  assert.ok(dropped <= decoded * 0.1, `few dropped: ${dropped} of ${decoded}`);

  // The live edge: what is buffered beyond the playhead (the newest frame
  // the stream delivered minus what is on screen), sampled for 2 s.
  const samples = [];
  for (let i = 0; i < 10; i++) {
    const v = await videoState();
    if (v.latency != null) samples.push(v.latency);
    await sleep(200);
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)];
  const max = samples[samples.length - 1];
  t.diagnostic(`live latency (buffered.end - currentTime): median ${median.toFixed(3)} s, max ${max.toFixed(3)} s over ${samples.length} samples`);
  assert.equal(samples.length, 10, 'every sample had buffered video');
  assert.ok(max < MAX_LATENCY_S, `latency stays under ${MAX_LATENCY_S} s: ${samples.map((s) => s.toFixed(3)).join(', ')}`);

  const v = await videoState();
  assert.equal(v.state, 'playing');
  assert.equal(v.badge, 'Live');
  assert.deepEqual((await liveSockets()).open.length, 1, 'one live socket');

  // The sound button (a user gesture) turns the sound on, again off.
  const sound = tile().getByRole('button', { name: `Sound of ${CAMERA}: off` });
  await sound.click();
  await waitUntil('the sound is on', async () => !(await videoState()).muted);
  assert.equal(await tile().locator('.live-sound').getAttribute('aria-pressed'), 'true');
  assert.equal(await tile().locator('.live-sound').textContent(), 'Sound on');
  await tile().getByRole('button', { name: `Sound of ${CAMERA}: on` }).press('Enter');
  await waitUntil('the sound is off again', async () => (await videoState()).muted);
  assert.match(await video().getAttribute('aria-label'), new RegExp(`^Live video of ${CAMERA}: Live\\. Press Enter or click to show it full size`));
  await page.screenshot({ path: '/tmp/vigil-live.png', fullPage: true });
  assertNoBrowserErrors();
});

test('a click shows the camera full size beside the room controls; Escape and a click return', { timeout: TEST_TIMEOUT_MS }, async () => {
  await waitPlaying();
  const li = card().locator(`li[data-camera="${CAMERA}"]`);
  const small = await video().boundingBox();
  await video().click();
  await waitUntil('the camera is full size', async () => (await li.getAttribute('class')).includes('cam-focused'));
  assert.match(await card().getAttribute('class'), /focus-mode/);
  const big = await video().boundingBox();
  assert.ok(big.width > small.width * 1.5, `larger: ${small.width} -> ${big.width}`);
  assert.ok(await card().getByRole('button', { name: 'Record' }).isVisible(), 'the room\'s controls are beside it');
  assert.ok(await li.getByRole('button', { name: 'Back to the grid' }).isVisible());
  const v = await videoState();
  assert.equal(v.state, 'playing', 'the same player plays on');

  await page.keyboard.press('Escape');
  await waitUntil('back in the grid', async () => !(await li.getAttribute('class')).includes('cam-focused'));
  assert.doesNotMatch(await card().getAttribute('class'), /focus-mode/);
  const again = await video().boundingBox();
  assert.ok(Math.abs(again.width - small.width) < 2, `the tile's size again: ${again.width} vs ${small.width}`);

  // Enter on the video, then a click on it, the same way.
  await video().focus();
  await page.keyboard.press('Enter');
  await waitUntil('full size by keyboard', async () => (await li.getAttribute('class')).includes('cam-focused'));
  await video().click();
  await waitUntil('back by a click', async () => !(await li.getAttribute('class')).includes('cam-focused'));
  assert.equal((await liveSockets()).open.length, 1, 'still one live socket');
  assertNoBrowserErrors();
});

test('the player survives re-renders of its card and closes with the page', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await waitPlaying();
  const before = await liveSockets();
  assert.equal(before.open.length, 1, `one live socket before: ${JSON.stringify(before)}`);
  await video().evaluate((v) => { v.dataset.same = 'yes'; });

  // A second camera in the room, on a port where nothing answers: its
  // camera.changed and camera.status events re-render the card's camera
  // lines while the first one plays.
  const broken = await api('POST', '/cameras', { room_id: roomId, name: 'Broken camera', url: 'rtsp://127.0.0.1:9/cam', transport: 'tcp' });
  assert.equal(broken.status, 201, `POST /cameras: ${JSON.stringify(broken.data)}`);
  for (let i = 1; i <= 5; i++) {
    const r = await api('PATCH', `/cameras/${broken.data.id}`, { name: `Broken camera ${i}` });
    assert.equal(r.status, 200, `PATCH /cameras: ${JSON.stringify(r.data)}`);
    await card().locator(`li[data-camera="Broken camera ${i}"]`).waitFor();
  }
  // A dropped events socket comes back with "hello", which reloads every card.
  const reloaded = page.waitForResponse((res) => new URL(res.url()).pathname === '/api/v1/rooms', { timeout: 15000 });
  await page.evaluate(() => {
    for (const s of window.__sockets) if (new URL(s.url).pathname === '/api/v1/events') s.close();
  });
  await reloaded;
  await sleep(500);

  const during = await liveSockets();
  assert.deepEqual(during, before, 're-renders neither open nor leak live sockets');
  assert.equal(await video().getAttribute('data-same'), 'yes', 'the same <video> goes on playing');
  const a = await videoState();
  await sleep(1000);
  const b = await videoState();
  assert.ok(b.currentTime - a.currentTime >= 0.5, `still playing after the re-renders: ${a.currentTime} -> ${b.currentTime}`);
  assert.equal(await card().locator('li[data-camera="Broken camera 5"] .live').count(), 0, 'no tile for a camera that is not online');
  assert.equal((await api('DELETE', `/cameras/${broken.data.id}`)).status, 204);

  // An edit of the room: whatever the server does with the cameras, the
  // page ends with one player that plays, and no socket left behind.
  assert.equal((await api('PATCH', `/rooms/${roomId}`, { description: 'edited' })).status, 200);
  await waitUntil('the card shows the edit', async () => (await card().locator('.room-sub').textContent()) === 'edited');
  await sleep(1000);
  await waitPlaying();
  await waitUntil('one live socket after the room edit', async () => {
    const s = await liveSockets();
    return { ok: s.open.length === 1, ...s };
  });
  const edited = await liveSockets();
  t.diagnostic(`live sockets made by the page so far: ${edited.made}`);

  // Leaving the page closes the player.
  await page.getByRole('link', { name: 'Review', exact: true }).click();
  await page.getByRole('heading', { name: /^Review/, level: 1 }).waitFor();
  await waitUntil('no live socket is left open on Review', async () => {
    const s = await liveSockets();
    return { ok: s.open.length === 0, ...s };
  }, 5000);

  // Coming back opens exactly one again, and it plays.
  await page.getByRole('link', { name: 'Observe', exact: true }).click();
  await waitPlaying();
  const again = await liveSockets();
  assert.equal(again.open.length, 1, `one live socket after coming back: ${JSON.stringify(again)}`);
  assert.equal(again.made, edited.made + 1, 'one new socket for the new page');
  assertNoBrowserErrors();
});

// Opens a WebSocket in the page and reports what happened within `ms`.
function probeSocket(p, url, ms = 5000) {
  return p.evaluate(({ url, ms }) => new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    const seen = { opened: false, errored: false, closeCode: null, messages: [] };
    const done = () => {
      clearTimeout(timer);
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      if (ws.readyState === WebSocket.OPEN) ws.close(1000);
      resolve(seen);
    };
    const timer = setTimeout(done, ms);
    ws.onopen = () => { seen.opened = true; };
    ws.onerror = () => { seen.errored = true; };
    ws.onclose = (ev) => {
      seen.closeCode = ev.code;
      done();
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') {
        seen.messages.push({ text: ev.data, supported: window.MediaSource ? MediaSource.isTypeSupported(ev.data) : null });
      } else {
        const b = new Uint8Array(ev.data);
        seen.messages.push({ bytes: b.length, box: String.fromCharCode(...b.slice(4, 8)) });
      }
      if (seen.messages.length >= 3) done();
    };
  }), { url, ms });
}

test('a camera that comes back with another size starts the player over', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await waitPlaying();
  const made = (await liveSockets()).made;
  const port = new URL(camera.url).port;
  await camera.stop();
  camera = await startSimcam(['--port', port, '--video', 'h264', '--audio', 'aac',
    '--width', '640', '--height', '480', '--fps', '10', '--gop', '10', '--label', 'live test, bigger']);
  const v = await waitUntil('the live video plays at 640×480', async () => {
    if (!(await video().count())) return { ok: false, why: 'no video tile', text: await card().textContent() };
    const s = await videoState();
    return { ...s, ok: s.readyState >= 3 && s.videoWidth === 640 && !s.paused };
  }, PLAY_WAIT_MS);
  const after = (await liveSockets()).made - made;
  t.diagnostic(`after the camera's restart: ${v.videoWidth}×${v.videoHeight}, latency ${v.latency?.toFixed(3)} s, ` +
    (after ? `${after} new live socket(s)` : 'same live socket (new type and init segment)'));
  assert.equal(v.videoHeight, 480);
  const a = await videoState();
  await sleep(1500);
  const b = await videoState();
  assert.ok(b.currentTime - a.currentTime >= 0.7, `it plays on: ${a.currentTime} -> ${b.currentTime}`);
  assert.equal((await liveSockets()).open.length, 1, 'one live socket');
  assertNoBrowserErrors();
});

// The status a WebSocket upgrade request gets (101 when it upgrades); a
// browser does not show it, so ask from here.
function upgradeStatus(pathname, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}${pathname}`, {
      headers: {
        Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers,
      },
    });
    req.on('response', (res) => { res.resume(); resolve(res.statusCode); });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve(res.statusCode); });
    req.on('error', reject);
    req.end();
  });
}

test('/live/ refuses a camera that does not exist and a caller without a session', { timeout: TEST_TIMEOUT_MS }, async () => {
  const wsBase = server.url.replace(/^http/, 'ws');
  const bearer = { Authorization: `Bearer ${token}` };
  assert.equal(await upgradeStatus(`/live/${cameraId}`), 401, 'no credentials: 401');
  assert.equal(await upgradeStatus('/live/999'), 401, 'no credentials, no camera: 401');
  assert.equal(await upgradeStatus('/live/999', bearer), 404, 'no such camera: 404');
  assert.equal(await upgradeStatus(`/live/${cameraId}`, bearer), 101, 'the camera, with a token: upgraded');

  // Signed in (the cookie goes along), but no camera 999: refused.
  const missing = `${wsBase}/live/999`;
  refusals.add(missing);
  const a = await probeSocket(page, missing);
  assert.equal(a.opened, false, `no upgrade for camera 999: ${JSON.stringify(a)}`);
  assert.deepEqual(a.messages, [], 'not a byte of video');
  assert.ok(a.errored && a.closeCode === 1006, `the handshake fails: ${JSON.stringify(a)}`);

  // No cookie and no token: refused, even for the real camera.
  const stranger = await browser.newContext({ baseURL: server.url });
  await stranger.addInitScript(trackSockets);
  const other = await stranger.newPage();
  watch(other, 'stranger');
  try {
    await other.goto('/');
    await other.getByRole('heading', { name: 'Sign in to Vigil' }).waitFor();
    const real = `${wsBase}/live/${cameraId}`;
    refusals.add(real);
    const b = await probeSocket(other, real);
    assert.equal(b.opened, false, `no upgrade without a session: ${JSON.stringify(b)}`);
    assert.deepEqual(b.messages, [], 'not a byte of video');
    assert.ok(b.errored && b.closeCode === 1006, `the handshake fails: ${JSON.stringify(b)}`);

    // The login token as ?access_token= opens it: the MIME type, the init
    // segment, then a fragment.
    const c = await probeSocket(other, `${real}?access_token=${encodeURIComponent(token)}`, 15000);
    assert.equal(c.opened, true, `the token opens the live socket: ${JSON.stringify(c)}`);
    assert.equal(c.messages.length, 3, `three messages: ${JSON.stringify(c)}`);
    const [type, init, frag] = c.messages;
    assert.match(type.text ?? '', /^video\/mp4; ?codecs="avc1\.[0-9a-fA-F]{6},\s?mp4a\.40\.2"$/, `first the MIME type: ${JSON.stringify(type)}`);
    assert.equal(type.supported, true, 'a type MediaSource takes');
    assert.equal(init.box, 'ftyp', `then the init segment: ${JSON.stringify(init)}`);
    assert.ok(frag.box === 'moof' || frag.box === 'styp', `then a fragment: ${JSON.stringify(frag)}`);
  } finally {
    await stranger.close();
  }
  assertNoBrowserErrors();
});

test('an H.265-only camera says on its tile that this browser cannot decode it', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Debian's Chromium has no H.265 decoder without hardware: the case the
  // message is for.
  const supported = await page.evaluate(() => MediaSource.isTypeSupported('video/mp4; codecs="hvc1.1.6.L93.B0"'));
  assert.equal(supported, false, 'this Chromium cannot play H.265 through MSE');
  const hevc = await startSimcam(['--port', '0', '--video', 'h265', '--audio', 'none',
    '--width', '320', '--height', '240', '--fps', '10', '--gop', '10', '--bitrate', '300', '--label', 'hevc']);
  let room;
  try {
    room = await api('POST', '/rooms', { name: 'HEVC room' });
    assert.equal(room.status, 201);
    const cam = await api('POST', '/cameras', { room_id: room.data.id, name: 'HEVC camera', url: hevc.url, transport: 'tcp' });
    assert.equal(cam.status, 201, JSON.stringify(cam.data));
    await page.goto('/#/observe');
    const hcard = page.locator('article.room-card[data-room="HEVC room"]');
    const htile = hcard.locator('li[data-camera="HEVC camera"] .live');
    const seen = await waitUntil('the tile says why there is no picture', async () => {
      if (!(await htile.count())) return { ok: false, text: await hcard.textContent().catch(() => '') };
      const state = await htile.getAttribute('data-live-state');
      const message = await htile.locator('.live-message').textContent();
      return { ok: state === 'error' && /cannot decode H\.265 video/.test(message), state, message };
    }, PLAY_WAIT_MS);
    t.diagnostic(`the tile says: ${seen.message}`);
    assert.ok(await htile.locator('.live-message').isVisible(), 'the message is on screen, not a silent black tile');
    assert.match(seen.message, /no H\.264 substream/, 'and why no fallback was found');
    assert.match(await hcard.locator('li[data-camera="HEVC camera"] .cam-stream').textContent(), /H\.265 320×240/);
    // The player gave up: no socket stays open for that camera.
    const open = (await liveSockets()).open.filter((u) => new URL(u).pathname === `/live/${cam.data.id}`);
    assert.deepEqual(open, [], 'no live socket left open for the H.265 camera');
    await page.screenshot({ path: '/tmp/vigil-live-hevc.png', fullPage: true });
  } finally {
    if (room?.data?.id) await api('DELETE', `/rooms/${room.data.id}`);
    await hevc.stop();
  }
  assertNoBrowserErrors();
});

test('an H.265 camera with an H.264 substream plays its substream', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const hevc = await startSimcam(['--port', '0', '--video', 'h265', '--audio', 'none',
    '--width', '320', '--height', '240', '--fps', '10', '--gop', '10', '--bitrate', '300', '--label', 'hevc main']);
  let room;
  try {
    room = await api('POST', '/rooms', { name: 'HEVC with sub' });
    assert.equal(room.status, 201);
    // The main stream H.265; the substream the H.264 camera of this file.
    const cam = await api('POST', '/cameras', {
      room_id: room.data.id, name: 'Dual camera', url: hevc.url, substream_url: camera.url, transport: 'tcp',
    });
    assert.equal(cam.status, 201, JSON.stringify(cam.data));
    await page.goto('/#/observe');
    const dcard = page.locator('article.room-card[data-room="HEVC with sub"]');
    const dvideo = dcard.locator('li[data-camera="Dual camera"] video');
    const seen = await waitUntil('the substream plays', async () => {
      if (!(await dvideo.count())) return { ok: false, text: await dcard.textContent().catch(() => '') };
      const s = await dvideo.evaluate((v) => ({
        readyState: v.readyState, videoWidth: v.videoWidth, paused: v.paused, time: v.currentTime,
        state: v.closest('.live').dataset.liveState, quality: v.closest('.live').dataset.quality,
        message: v.closest('.live').querySelector('.live-message').textContent,
      }));
      // 640: the H.264 camera's size since the restart test above.
      return { ...s, ok: s.readyState >= 3 && s.videoWidth === 640 && !s.paused && s.state === 'playing' };
    }, PLAY_WAIT_MS);
    t.diagnostic(`playing the substream: ${JSON.stringify(seen)}`);
    assert.equal(seen.quality, 'sub', 'the server says it serves the substream');
    const subs = (await liveSockets()).open.filter((u) => new URL(u).pathname === `/live/${cam.data.id}`);
    assert.equal(subs.length, 1, `one socket for the camera: ${JSON.stringify(subs)}`);
    assert.equal(new URL(subs[0]).searchParams.get('quality'), 'sub');
    await sleep(1000);
    const later = await dvideo.evaluate((v) => v.currentTime);
    assert.ok(later - seen.time >= 0.5, `it plays on: ${seen.time} -> ${later}`);
  } finally {
    if (room?.data?.id) await api('DELETE', `/rooms/${room.data.id}`);
    await hevc.stop();
  }
  assertNoBrowserErrors();
});

test('the player reconnects by itself when its socket drops', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await page.goto('/#/observe');
  await waitUntil('the live video plays', async () => {
    if (!(await video().count())) return { ok: false };
    const v = await videoState();
    return { ...v, ok: v.readyState >= 3 && v.videoWidth > 0 && !v.paused && v.state === 'playing' };
  }, PLAY_WAIT_MS);
  const before = await liveSockets();
  assert.equal(before.open.length, 1);
  await page.evaluate(() => {
    for (const s of window.__sockets) if (new URL(s.url).pathname.startsWith('/live/') && s.readyState === 1) s.close();
  });
  const back = await waitUntil('a new live socket plays', async () => {
    const s = await liveSockets();
    const v = await videoState();
    return { ok: s.made === before.made + 1 && s.open.length === 1 && v.state === 'playing' && v.readyState >= 3, made: s.made, open: s.open, state: v.state };
  }, PLAY_WAIT_MS);
  t.diagnostic(`reconnected: ${back.made - before.made} new socket`);
  const a = await videoState();
  await sleep(1000);
  const b = await videoState();
  assert.ok(b.currentTime - a.currentTime >= 0.5, `it plays on: ${a.currentTime} -> ${b.currentTime}`);
  assertNoBrowserErrors();
});

test('a player set back behind the live edge jumps forward to it', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Enough buffered behind the playhead to go back into.
  await waitUntil('4 s buffered', async () => {
    const span = await video().evaluate((v) => (v.buffered.length ? v.currentTime - v.buffered.start(0) : 0));
    return { ok: span >= 4, span };
  }, 15000);
  const before = await videoState();
  assert.equal(before.state, 'playing');
  // Three seconds back in what is buffered: now far behind the edge.
  const back = await video().evaluate((v) => {
    v.currentTime = Math.max(v.buffered.start(0), v.currentTime - 3);
    return v.buffered.end(v.buffered.length - 1) - v.currentTime;
  });
  assert.ok(back > 2, `set back ${back} s behind the edge`);
  const caught = await waitUntil('back near the live edge', async () => {
    const v = await videoState();
    return { ...v, ok: v.latency != null && v.latency < MAX_LATENCY_S && !v.paused };
  }, 5000);
  t.diagnostic(`${back.toFixed(2)} s behind, then ${caught.latency.toFixed(3)} s`);
  const a = await videoState();
  await sleep(1000);
  const b = await videoState();
  assert.ok(b.currentTime - a.currentTime >= 0.5 && b.latency < MAX_LATENCY_S, `and plays on near it: ${JSON.stringify(b)}`);
  assertNoBrowserErrors();
});

test('without Media Source Extensions the player falls back to the browser\'s own HLS', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // This Chromium plays HLS itself; hiding MSE makes it the browser the
  // fallback is for (iPhone Safari).
  const ctx = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } });
  await ctx.addInitScript(() => {
    delete window.MediaSource;
    delete window.ManagedMediaSource;
  });
  const p = await ctx.newPage();
  p.setDefaultTimeout(WAIT_MS);
  watch(p, 'hls');
  try {
    assert.notEqual(await p.evaluate(() => document.createElement('video').canPlayType('application/vnd.apple.mpegurl')), '',
      'this Chromium plays HLS itself');
    await p.goto('/#/observe');
    await p.getByRole('heading', { name: 'Sign in to Vigil' }).waitFor();
    await p.getByLabel('Username').fill(ADMIN.username);
    await p.getByLabel('Password').fill(ADMIN.password);
    await p.getByRole('button', { name: 'Sign in' }).click();
    assert.equal(await p.evaluate(() => typeof window.MediaSource), 'undefined');
    const v = p.locator(`article.room-card[data-room="${ROOM}"] li[data-camera="${CAMERA}"] video`);
    const state = () => v.evaluate((el) => ({
      src: el.currentSrc || el.src, readyState: el.readyState, paused: el.paused, time: el.currentTime,
      videoWidth: el.videoWidth, state: el.closest('.live').dataset.liveState,
      message: el.closest('.live').querySelector('.live-message').textContent,
    }));
    const playing = await waitUntil('HLS plays', async () => {
      if (!(await v.count())) return { ok: false };
      const s = await state();
      return { ...s, ok: s.readyState >= 3 && !s.paused && s.videoWidth > 0 && s.state === 'playing' };
    }, 45000);
    t.diagnostic(`HLS: ${playing.src.replace(/grant=[^&]+/, 'grant=…')}, ${playing.videoWidth} px wide`);
    assert.match(new URL(playing.src).pathname, new RegExp(`^/live/\\d+/index\\.m3u8$`));
    assert.ok(new URL(playing.src).searchParams.get('grant'), 'with a signed grant');
    // It plays on: a second more of video within 8 s. (Chromium's own HLS
    // player sometimes takes a few seconds to get going on a loaded machine:
    // 0 -> 0.02 s and 0 -> 0.96 s in 2 s were seen, with 4 s buffered.)
    const t0 = Date.now();
    let later = await state();
    while (later.time - playing.time < 1 && Date.now() - t0 < 8000) {
      await sleep(250);
      later = await state();
    }
    t.diagnostic(`HLS played ${(later.time - playing.time).toFixed(2)} s in ${((Date.now() - t0) / 1000).toFixed(2)} s after it started`);
    let why = '';
    if (later.time - playing.time < 1) {
      // What the browser has and what the server offers, to tell a stall apart.
      why = await v.evaluate(async (el) => {
        const ranges = [];
        for (let i = 0; i < el.buffered.length; i++) ranges.push([el.buffered.start(i), el.buffered.end(i)]);
        const list = await fetch(el.currentSrc).then((r) => r.text()).catch((e) => String(e));
        return JSON.stringify({ readyState: el.readyState, networkState: el.networkState, paused: el.paused,
          error: el.error?.message, buffered: ranges }) + '\n' + list;
      });
    }
    assert.ok(later.time - playing.time >= 1, `it plays on: ${playing.time} -> ${later.time}; ${JSON.stringify(later)}\n${why}`);
  } finally {
    await ctx.close();
  }
  assertNoBrowserErrors();
});
