// Browser test of Review against a real recording: two simulated cameras
// (light settings) recorded ~10 s (with a 2 s pause at ~3 s) and a marker
// at ~5 s, then in Chromium:
// the library lists it with a thumbnail, both cameras play, clicking the
// marker puts both cameras on the marker's time (within 100 ms of each
// other), the timeline shows the marker and a hover picture, a marker is
// edited and another deleted, a clip saved from in/out points is listed
// and its download completes; retention and the lock are set and the
// library shows them.
// Run: node --test tests/browser/review.test.mjs
//   VIGIL_BIN picks the server; VIGIL_SIMCAM the camera (default: the
//   vigil-simcam built beside VIGIL_BIN, in tools/).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startServer, startSimcam, stopServerCleanly, waitFor } from './server.mjs';

const TEST_TIMEOUT_MS = 90000;
const WAIT_MS = 15000;
const ADMIN = { username: 'rhea.review', password: 'correct horse battery' };
const ROOM = 'Debrief suite';
const CAMS = ['Wide', 'Close'];
const RECORD_MS = 10000;
const MARK_AT_MS = 5000;
const PAUSE_MS = 2000;
const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'];

let server;
let cameras = [];
let browser;
let page;
let token;
let recording; // the stopped recording as the API gives it
const problems = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const waitUntil = (what, fn, ms = WAIT_MS) => waitFor(what, fn, ms);

async function api(method, pathname, body) {
  const res = await fetch(`${server.url}/api/v1${pathname}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, text };
}

before(async () => {
  cameras = await Promise.all(CAMS.map((label) => startSimcam(['--port', '0', '--video', 'h264',
    '--width', '640', '--height', '360', '--fps', '15', '--gop', '15', '--bitrate', '600', '--label', label])));
  server = await startServer();
  let res = await fetch(`${server.url}/api/v1/setup`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(ADMIN),
  });
  assert.equal(res.status, 201, 'first-run setup');
  token = (await res.json()).access_token;
  let r = await api('POST', '/rooms', { name: ROOM });
  assert.equal(r.status, 201, r.text);
  const room = r.json;
  const ids = [];
  for (let i = 0; i < CAMS.length; i++) {
    r = await api('POST', '/cameras', { room_id: room.id, name: CAMS[i], url: cameras[i].url });
    assert.equal(r.status, 201, r.text);
    ids.push(r.json.id);
  }
  await waitUntil('both cameras online', async () => {
    const s = await Promise.all(ids.map((id) => api('GET', `/cameras/${id}`)));
    return s.every((x) => x.json.status === 'online') || { ok: false, seen: s.map((x) => x.json.status) };
  }, 30000);

  r = await api('POST', `/rooms/${room.id}/record/start`, { title: 'Debrief with two angles' });
  assert.equal(r.status, 201, r.text);
  const id = r.json.recording_id;
  // A pause a little before the marker: the timeline shows it, the video leaves it out.
  await sleep(MARK_AT_MS - 2000);
  r = await api('POST', `/rooms/${room.id}/record/pause`);
  assert.equal(r.status, 200, r.text);
  await sleep(PAUSE_MS);
  r = await api('POST', `/rooms/${room.id}/record/resume`);
  assert.equal(r.status, 200, r.text);
  await sleep(2000);
  const st = await api('GET', `/rooms/${room.id}/status`);
  r = await api('POST', `/recordings/${id}/markers`, { time: st.json.duration, label: 'Door opens', color: '#ff5a5a' });
  assert.equal(r.status, 201, r.text);
  await sleep(RECORD_MS - MARK_AT_MS);
  r = await api('POST', `/rooms/${room.id}/record/stop`);
  assert.equal(r.status, 200, r.text);
  recording = await waitUntil('the recording is hashed', async () => {
    const g = await api('GET', `/recordings/${id}`);
    const segs = g.json.tracks.flatMap((t) => t.segments);
    return (g.json.tracks.length === 2 && segs.every((s) => /^[0-9a-f]{64}$/.test(s.sha256 ?? ''))) ? g.json : null;
  }, 15000);

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.on('dialog', (d) => d.accept());
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const where = msg.location()?.url || '';
    if (/status of 4\d\d/.test(msg.text()) && new URL(where, server.url).pathname.startsWith('/api/v1/')) return;
    problems.push(`console error: ${msg.text()} (${where})`);
  });
});

after(async () => {
  await browser?.close();
  await Promise.all(cameras.map((c) => c.stop()));
  await stopServerCleanly(server);
});

function assertNoBrowserErrors() {
  assert.deepEqual(problems.splice(0), [], 'the browser reported errors');
}

// currentTime of both videos read in one go, with the page's clock.
const times = () => page.evaluate(() => ({
  at: performance.now(),
  t: [...document.querySelectorAll('video.review-video')].map((v) => v.currentTime),
  paused: [...document.querySelectorAll('video.review-video')].map((v) => v.paused),
}));

test('the library lists the recording with a thumbnail, its cameras and its marker', { timeout: TEST_TIMEOUT_MS }, async () => {
  await page.goto('/#/review');
  await page.getByLabel('Username').fill(ADMIN.username);
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: /^Review/, level: 1 }).waitFor();
  const row = page.locator(`tr[data-recording="${recording.id}"]`);
  await row.waitFor();
  assert.match(await row.locator('.cameras').textContent(), /^2 · Wide, Close$/);
  assert.equal((await row.locator('.markers').textContent()).trim(), '1');
  await waitUntil('the thumbnail decodes', () => row.locator('img.lib-thumb').evaluate((img) => img.complete && img.naturalWidth === 256));

  // marker text finds it; another word does not
  await page.getByLabel('Marker text').fill('door');
  await page.getByRole('button', { name: 'Search' }).click();
  await row.waitFor();
  await page.getByLabel('Marker text').fill('nothing like it');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByText('No recording matches.').waitFor();
  await page.getByLabel('Marker text').fill('');
  await page.getByRole('button', { name: 'Search' }).click();
  await row.getByRole('link', { name: 'Debrief with two angles' }).click();
  await page.getByRole('heading', { name: 'Debrief with two angles', level: 1 }).waitFor();
  assertNoBrowserErrors();
});

test('both cameras play, and clicking the marker puts both on its time', { timeout: TEST_TIMEOUT_MS }, async (ctx) => {
  const videos = page.locator('video.review-video');
  await waitUntil('two videos with pictures', async () => {
    const s = await videos.evaluateAll((vs) => vs.map((v) => ({ ready: v.readyState, d: v.duration, err: v.error?.message })));
    return (s.length === 2 && s.every((x) => x.ready >= 2)) || { ok: false, seen: s };
  });
  const durations = await videos.evaluateAll((vs) => vs.map((v) => v.duration));
  for (const d of durations) assert.ok(Math.abs(d - recording.duration) < 1.5, `video duration ${d} vs recording ${recording.duration}`);

  await page.getByRole('button', { name: 'Play', exact: true }).click();
  const t0 = await times();
  await waitUntil('both cameras advance', async () => {
    const s = await times();
    return (s.t.every((t, i) => t > t0.t[i] + 1) && s.paused.every((p) => !p)) || { ok: false, seen: s };
  });

  // How far apart the cameras stay while playing (reported, not asserted:
  // a loaded machine may stall one decoder for a moment).
  let maxDrift = 0;
  for (let i = 0; i < 15; i++) {
    const s = await times();
    maxDrift = Math.max(maxDrift, Math.abs(s.t[0] - s.t[1]));
    await sleep(100);
  }
  ctx.diagnostic(`largest drift between the cameras over 15 samples while playing: ${(maxDrift * 1000).toFixed(0)} ms`);

  // The timeline shows the pause where it happened.
  const pause = page.locator('.tl-pause');
  assert.equal(await pause.count(), 1);
  assert.match(await pause.getAttribute('title'), /^Paused at 0:0[2-4].* for 0:0[1-9]$/);

  // The timeline shows the marker; clicking it while playing seeks both.
  const marker = recording.markers[0];
  const tick = page.locator('.tl-marker');
  assert.equal(await tick.count(), 1);
  assert.equal(await tick.getAttribute('aria-label'), `Marker Door opens at ${formatOffset(marker.time)}`);
  const clickedAt = await page.evaluate(() => performance.now());
  await tick.click();
  await waitUntil('both near the marker', async () => {
    const s = await times();
    const since = (s.at - clickedAt) / 1000;
    return (s.t.every((t) => t >= marker.time - 0.1 && t <= marker.time + since + 0.1)) || { ok: false, seen: s, since };
  });
  const playingNow = await times();
  assert.ok(Math.abs(playingNow.t[0] - playingNow.t[1]) <= 0.1,
    `playing after the marker: cameras ${playingNow.t.join(' and ')} differ by more than 100 ms`);

  // Paused, the marker puts both exactly on it.
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
  await tick.click();
  await waitUntil('both on the marker', async () => {
    const s = await times();
    return (s.paused.every((p) => p) && s.t.every((t) => Math.abs(t - marker.time) <= 0.1)) || { ok: false, seen: s };
  });
  const still = await times();
  assert.ok(Math.abs(still.t[0] - still.t[1]) <= 0.1, `paused: ${still.t.join(' vs ')}`);
  assert.match(await page.locator('#review-clock').textContent(), new RegExp(`^${formatOffset(Math.floor(marker.time)).replace('.', '\\.')}`));

  // Hovering the timeline shows a picture of that moment.
  const tl = page.locator('#review-timeline');
  const box = await tl.boundingBox();
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  await waitUntil('the hover picture decodes', () => page.locator('.tl-hover img').evaluate((img) => img.complete && img.naturalWidth === 160));
  await page.screenshot({ path: '/tmp/vigil-review-player.png', fullPage: true });
  assertNoBrowserErrors();
});

test('markers are added, edited and deleted from the review page', { timeout: TEST_TIMEOUT_MS }, async () => {
  const add = page.getByRole('form', { name: 'Add a marker' });
  await add.getByRole('button', { name: 'Now' }).click();
  await add.getByLabel('Label', { exact: true }).fill('Second look');
  await add.getByRole('button', { name: 'Add marker' }).click();
  const table = page.getByRole('table', { name: 'Markers' });
  await table.getByRole('rowheader', { name: 'Second look' }).waitFor();
  await waitUntil('two ticks on the timeline', async () => (await page.locator('.tl-marker').count()) === 2);

  await page.getByRole('button', { name: 'Edit marker Second look' }).click();
  const edit = page.locator('tr.editing');
  await edit.getByLabel('Label').fill('Second look, edited');
  await edit.getByRole('button', { name: 'Save' }).click();
  await table.getByRole('rowheader', { name: 'Second look, edited' }).waitFor();
  let r = await api('GET', `/recordings/${recording.id}/markers`);
  const edited = r.json.items.find((m) => m.label === 'Second look, edited');
  assert.ok(edited, r.text);
  assert.equal(edited.author, ADMIN.username);

  await page.getByRole('button', { name: 'Delete marker Second look, edited' }).click();
  await waitUntil('the marker is gone', async () => (await table.getByRole('rowheader', { name: 'Second look, edited' }).count()) === 0);
  r = await api('GET', `/recordings/${recording.id}/markers`);
  assert.deepEqual(r.json.items.map((m) => m.label), ['Door opens']);
  await waitUntil('one tick again', async () => (await page.locator('.tl-marker').count()) === 1);
  assertNoBrowserErrors();
});

test('a clip saved from in/out points is listed, plays, and downloads', { timeout: TEST_TIMEOUT_MS }, async () => {
  const seekTo = async (t) => {
    const tl = page.locator('#review-timeline');
    const box = await tl.boundingBox();
    const d = await page.evaluate(() => document.querySelector('video.review-video').duration);
    await page.mouse.click(box.x + (box.width * t) / d, box.y + box.height - 3);
    await waitUntil(`at ${t} s`, async () => {
      const s = await times();
      return s.t.every((x) => Math.abs(x - t) < 0.5) || { ok: false, seen: s };
    });
  };
  await seekTo(2);
  await page.getByRole('button', { name: 'Set in' }).click();
  await seekTo(6);
  await page.getByRole('button', { name: 'Set out' }).click();
  await page.getByLabel('Clip title').fill('The door');
  await page.getByRole('button', { name: 'Save clip' }).click();
  const clips = page.getByRole('table', { name: 'Clips' });
  await clips.getByRole('rowheader', { name: 'The door' }).waitFor();
  const r = await api('GET', `/recordings/${recording.id}/clips`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.items.length, 1);
  const clip = r.json.items[0];
  assert.ok(Math.abs(clip.from - 2) < 0.5 && Math.abs(clip.to - 6) < 0.5, `clip span ${clip.from}-${clip.to}`);

  // Play the clip: both cameras start at its in point.
  await page.getByRole('button', { name: 'Play clip The door' }).click();
  await waitUntil('the clip plays from its start', async () => {
    const s = await times();
    return (s.paused.every((p) => !p) && s.t.every((t) => t >= clip.from - 0.1 && t < clip.to + 0.5)) || { ok: false, seen: s };
  });

  // Its MP4 downloads with the progress shown in the page.
  const downloaded = page.waitForEvent('download', { timeout: 30000 });
  await page.getByRole('button', { name: 'Download clip The door, Wide, MP4' }).click();
  const dl = await downloaded;
  assert.match(dl.suggestedFilename(), /\.mp4$/);
  assert.equal(await page.locator('#download-progress').getAttribute('data-done'), 'true');
  assert.equal(await page.locator('#download-progress').evaluate((p) => p.value), 100);
  assert.match(await page.locator('#download-text').textContent(), /done/);
  await page.getByRole('button', { name: 'Pause', exact: true }).click().catch(() => {});
  await page.screenshot({ path: '/tmp/vigil-review-clip.png', fullPage: true });
  assertNoBrowserErrors();
});

test('retention and the lock are set on the review page and shown in the library', { timeout: TEST_TIMEOUT_MS }, async () => {
  const form = page.getByRole('form', { name: 'Retention' });
  const year = new Date().getFullYear() + 1;
  await form.getByLabel('Keep').selectOption('until');
  await form.getByLabel('Date').fill(`${year}-03-15`);
  await form.getByLabel('Locked (never deleted)').check();
  await form.getByRole('button', { name: 'Save retention' }).click();
  await page.getByText('Saved the retention.').waitFor();
  const r = await api('GET', `/recordings/${recording.id}`);
  assert.equal(r.json.locked, true, r.text);
  assert.equal(r.json.retention.mode, 'until', r.text);
  assert.equal(new Date(r.json.retention.until).getUTCFullYear(), year);

  await page.getByRole('link', { name: '← All recordings' }).click();
  const row = page.locator(`tr[data-recording="${recording.id}"]`);
  await row.waitFor();
  await waitUntil('the row says locked', async () => (await row.locator('.keep-cell').textContent()).includes('locked'));
  assertNoBrowserErrors();
});

// As the page writes a marker's time.
function formatOffset(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const mm = Math.floor(s / 60);
  const ss = String(s % 60).padStart(2, '0');
  const tenths = Math.floor((seconds % 1) * 10);
  return `${mm}:${ss}${tenths ? `.${tenths}` : ''}`;
}
