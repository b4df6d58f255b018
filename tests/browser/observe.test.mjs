// Browser test of the operator's path with a real (simulated) camera:
// Admin → Rooms creates a room and a camera (its connection test names the
// stream), Observe shows the camera online, records, marks and stops, and
// Review lists the recording with its marker.
// Run: node --test tests/browser/observe.test.mjs
//   VIGIL_BIN picks the server; VIGIL_SIMCAM the camera (default: the
//   vigil-simcam built beside VIGIL_BIN, in tools/).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer, startSimcam, stopServerCleanly, waitFor } from './server.mjs';

const TEST_TIMEOUT_MS = 60000;
const WAIT_MS = 10000;
const ONLINE_WAIT_MS = 20000;
const ADMIN = { username: 'ada.admin', password: 'correct horse battery' };
const ROOM = 'Interview room 1';
const CAMERA = 'Door camera';
const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let server;
let camera; // { url, stop() }
let browser;
let page;
let recordingId;
const problems = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  camera = await startSimcam(['--port', '0', '--video', 'h264', '--audio', 'aac',
    '--width', '320', '--height', '240', '--fps', '10', '--gop', '10', '--label', 'observe test']);
  server = await startServer();
  const res = await fetch(`${server.url}/api/v1/setup`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(ADMIN),
  });
  assert.equal(res.status, 201, 'first-run setup through the API');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.on('dialog', (d) => d.accept());
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const where = msg.location()?.url || '';
    // 4xx answers of the API are the UI's to handle; anything else fails.
    if (/status of 4\d\d/.test(msg.text()) && new URL(where, server.url).pathname.startsWith('/api/v1/')) return;
    problems.push(`console error: ${msg.text()} (${where})`);
  });
});

after(async () => {
  await browser?.close();
  await camera?.stop();
  await wide?.stop();
  await stopServerCleanly(server);
});

function assertNoBrowserErrors() {
  assert.deepEqual(problems.splice(0), [], 'the browser reported errors');
}

const waitUntil = (what, fn, ms = WAIT_MS) => waitFor(what, fn, ms);

async function apiGet(pathname) {
  const token = await apiToken();
  const res = await fetch(`${server.url}/api/v1${pathname}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, `GET ${pathname}`);
  return res.json();
}

let token = null;
async function apiToken() {
  if (token) return token;
  const res = await fetch(`${server.url}/api/v1/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(ADMIN),
  });
  assert.equal(res.status, 200, 'login through the API');
  token = (await res.json()).access_token;
  return token;
}

const card = () => page.locator(`article.room-card[data-room="${ROOM}"]`);

test('Admin → Rooms creates a room and a camera whose connection test names the stream', { timeout: TEST_TIMEOUT_MS }, async () => {
  await page.goto('/#/admin/rooms');
  await page.getByRole('heading', { name: 'Sign in to Vigil' }).waitFor();
  await page.getByLabel('Username').fill(ADMIN.username);
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: /^Rooms/, level: 1 }).waitFor();
  assert.equal(await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Rooms' }).getAttribute('aria-current'), 'page');

  const form = page.getByRole('form', { name: 'New room' });
  await form.getByLabel('Name', { exact: true }).fill(ROOM);
  await form.getByLabel('Description').fill('Ground floor, left');
  await form.getByRole('button', { name: 'Create room' }).click();
  await page.getByRole('heading', { name: ROOM, level: 1 }).waitFor();
  assert.match(new URL(page.url()).hash, /^#\/admin\/rooms\/\d+$/);

  await page.getByRole('button', { name: 'Add camera' }).click();
  const dialog = page.getByRole('dialog', { name: 'Add camera' });
  await dialog.getByLabel('Name', { exact: true }).fill(CAMERA);
  await dialog.getByLabel('RTSP URL').fill(camera.url);
  await dialog.getByLabel('Transport').selectOption('tcp');
  await dialog.getByRole('button', { name: 'Test connection' }).click();
  const result = dialog.locator('#cam-test-result');
  await waitUntil('the connection test answered', async () => /Connected|Failed/.test(await result.textContent()), 15000);
  const said = (await result.textContent()).trim();
  assert.match(said, /^Connected/, `the test connects: ${said}`);
  assert.match(said, /H\.264 320×240/, `the test names codec and size: ${said}`);
  assert.match(said, /10 fps/, `the test names the rate: ${said}`);
  assert.match(said, /AAC/, `the test names the audio: ${said}`);

  // A wrong path is named precisely, not just "failed".
  await dialog.getByLabel('RTSP URL').fill(camera.url.replace(/\/cam$/, '/nothing'));
  await dialog.getByRole('button', { name: 'Test connection' }).click();
  await waitUntil('the failing test answered', async () => /Failed/.test(await result.textContent()), 15000);
  assert.match(await result.textContent(), /Failed \(not_found\)/);

  await dialog.getByLabel('RTSP URL').fill(camera.url);
  await dialog.getByRole('button', { name: 'Add camera' }).click();
  await dialog.waitFor({ state: 'hidden' });
  const row = page.locator(`tr[data-camera="${CAMERA}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /rtsp:\/\/127\.0\.0\.1:\d+\/cam/);

  const rooms = await apiGet('/rooms');
  const room = rooms.items.find((r) => r.name === ROOM);
  assert.ok(room, 'the room is on the server');
  assert.equal(room.cameras.length, 1);
  assert.equal(room.cameras[0].url, camera.url);
  assert.equal(room.cameras[0].transport, 'tcp');
  await page.screenshot({ path: '/tmp/vigil-admin-room.png', fullPage: true });
  assertNoBrowserErrors();
});

test('Observe shows the camera online with its stream', { timeout: TEST_TIMEOUT_MS }, async () => {
  await page.getByRole('link', { name: 'Observe', exact: true }).click();
  await page.getByRole('heading', { name: /^Observe/, level: 1 }).waitFor();
  await card().waitFor();
  const cam = card().locator(`li[data-camera="${CAMERA}"]`);
  await waitUntil('the camera shows Online', async () =>
    ({ ok: (await cam.locator('.cam-status').textContent()) === 'Online', text: await cam.textContent() }), ONLINE_WAIT_MS);
  await waitUntil('the camera shows its stream', async () =>
    ({ ok: /H\.264 320×240/.test(await cam.textContent()), text: await cam.textContent() }));
  assert.equal(await card().locator('.room-state').textContent(), 'Available');
  assertNoBrowserErrors();
});

test('Record, Mark and Stop from the room card', { timeout: TEST_TIMEOUT_MS }, async () => {
  await page.evaluate(() => { window.__sameDocument = true; });
  await card().getByRole('button', { name: 'Record' }).click();
  await waitUntil('the card shows Recording', async () => (await card().getAttribute('data-state')) === 'recording');
  assert.equal(await card().locator('.room-state').textContent(), 'Recording');
  assert.equal(await card().getByRole('button', { name: 'Record' }).count(), 0);

  // Let it record a few seconds (the elapsed time ticks on the card).
  await sleep(3500);
  const elapsed = (await card().locator('.elapsed').textContent()).trim();
  assert.match(elapsed, /^0:0[3-9]$/, `the card counts the time recorded: ${elapsed}`);

  await card().getByRole('button', { name: 'Mark' }).click();
  const form = card().getByRole('form', { name: `Mark in ${ROOM}` });
  const label = form.getByLabel('Label', { exact: true });
  await label.waitFor();
  assert.equal(await label.inputValue(), 'Mark');
  await label.fill('Witness arrives');
  await form.getByLabel('Note').fill('door opened');
  await form.getByLabel('Note').press('Enter');
  await waitUntil('the mark is saved', async () =>
    ({ ok: !(await form.isVisible()), card: await card().locator('.card-msg').textContent() }));
  await waitUntil('the card confirms the mark', async () => /Marked .*Witness arrives/.test(await card().locator('.card-msg').textContent()));
  assert.match(await card().locator('.room-sub').textContent(), /1 mark\b/);
  await page.screenshot({ path: '/tmp/vigil-observe.png', fullPage: true });

  const status = await apiGet(`/rooms/${await card().getAttribute('data-room-id')}/status`);
  assert.equal(status.status, 'recording');
  recordingId = status.recording_id;
  assert.ok(recordingId, 'the room names its recording');

  await card().getByRole('button', { name: 'Stop' }).click();
  await waitUntil('the card is available again', async () => (await card().getAttribute('data-state')) === 'available');
  assert.equal(await card().getByRole('button', { name: 'Record' }).count(), 1);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no page reload');

  const rec = await apiGet(`/recordings/${recordingId}`);
  assert.equal(rec.state, 'stopped');
  assert.ok(rec.duration >= 3, `the recording lasted the time it ran: ${rec.duration}`);
  assert.equal(rec.markers.length, 1);
  const m = rec.markers[0];
  assert.equal(m.label, 'Witness arrives');
  assert.equal(m.note, 'door opened');
  assert.ok(m.time >= 3 && m.time <= rec.duration, `the marker sits where it was set: ${m.time} of ${rec.duration}`);
  assertNoBrowserErrors();
});

test('Review lists the recording and shows its marker and files', { timeout: TEST_TIMEOUT_MS }, async () => {
  await page.getByRole('link', { name: 'Review', exact: true }).click();
  await page.getByRole('heading', { name: /^Review/, level: 1 }).waitFor();
  const row = page.locator(`tr[data-recording="${recordingId}"]`);
  await row.waitFor();
  const rowText = await row.textContent();
  assert.match(rowText, new RegExp(ROOM));
  assert.match(rowText, new RegExp(ADMIN.username.replace('.', '\\.')));
  assert.match(rowText, /Stopped/);
  const duration = (await row.locator('.duration').textContent()).trim();
  assert.match(duration, /^\d+:\d\d$/);
  assert.notEqual(duration, '0:00', 'the list shows a duration above 0');
  await waitUntil('the marker count shows', async () => (await row.locator('.markers').textContent()).trim() === '1');
  await page.screenshot({ path: '/tmp/vigil-review.png', fullPage: true });

  await row.getByRole('link').click();
  await page.getByRole('heading', { name: 'Markers', level: 2 }).waitFor();
  const markers = page.getByRole('table', { name: 'Markers' });
  await markers.getByRole('rowheader', { name: 'Witness arrives' }).waitFor();
  const track = page.locator(`section.track[data-camera="${CAMERA}"]`);
  await track.waitFor();
  const segments = track.getByRole('table', { name: `Segments of ${CAMERA}` });
  assert.ok(await segments.locator('tbody tr').count() >= 1, 'the track lists its segment files');
  assert.match(await segments.locator('tbody tr').first().textContent(), /[0-9a-f]{12}/, 'with their sha256');

  // Add a marker at a typed time.
  const add = page.getByRole('form', { name: 'Add a marker' });
  await add.getByLabel('Time (s)').fill('1.5');
  await add.getByLabel('Label', { exact: true }).fill('Typed later');
  await add.getByRole('button', { name: 'Add marker' }).click();
  await markers.getByRole('rowheader', { name: 'Typed later' }).waitFor();
  assert.match(await markers.locator('tbody tr').first().textContent(), /0:01\.5/, 'sorted by time, first');
  await page.screenshot({ path: '/tmp/vigil-recording.png', fullPage: true });
  assertNoBrowserErrors();
});

test('a viewer sees a room shared with them, its state live, and no record buttons', { timeout: TEST_TIMEOUT_MS }, async () => {
  // The admin makes the viewer through the API and shares the room in the UI.
  const res = await fetch(`${server.url}/api/v1/users`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${await apiToken()}` },
    body: JSON.stringify({ username: 'vera', password: 'vera-password-1', role: 'viewer' }),
  });
  assert.equal(res.status, 201);
  await page.goto('/#/admin/rooms');
  await page.locator(`tr[data-room="${ROOM}"]`).getByRole('link', { name: ROOM }).click();
  await page.getByRole('heading', { name: ROOM, level: 1 }).waitFor();
  const share = page.getByRole('form', { name: 'Share the room' });
  await share.getByLabel('Share with').selectOption({ label: 'vera (viewer)' });
  await share.getByRole('button', { name: 'Share' }).click();
  await page.getByRole('list', { name: 'Shared with' }).getByText('vera').waitFor();

  const viewer = await browser.newPage({ baseURL: server.url });
  viewer.setDefaultTimeout(WAIT_MS);
  viewer.on('pageerror', (err) => problems.push(`viewer page error: ${err.message}`));
  try {
    await viewer.goto('/');
    await viewer.getByLabel('Username').fill('vera');
    await viewer.getByLabel('Password').fill('vera-password-1');
    await viewer.getByRole('button', { name: 'Sign in' }).click();
    const vcard = viewer.locator(`article.room-card[data-room="${ROOM}"]`);
    await vcard.waitFor();
    await waitUntil('the viewer sees the camera online', async () =>
      (await vcard.locator(`li[data-camera="${CAMERA}"] .cam-status`).textContent()) === 'Online', ONLINE_WAIT_MS);
    assert.equal(await vcard.getByRole('button', { name: /^(Record|Pause|Resume|Stop|Mark)$/ }).count(), 0, 'a viewer has no recording controls');
    assert.equal(await vcard.locator('.controls').count(), 0, 'nor their place');

    // The admin records; the viewer's card follows without a reload.
    await page.goto('/#/observe');
    await card().getByRole('button', { name: 'Record' }).click();
    await waitUntil('the viewer sees Recording', async () => (await vcard.getAttribute('data-state')) === 'recording');
    await card().getByRole('button', { name: 'Pause' }).click();
    await waitUntil('the viewer sees Paused', async () => (await vcard.getAttribute('data-state')) === 'paused');
    await card().getByRole('button', { name: 'Stop' }).click();
    await waitUntil('the viewer sees Available', async () => (await vcard.getAttribute('data-state')) === 'available');
    assertNoBrowserErrors();
  } finally {
    await viewer.close();
  }
});

// --- grids, saved views, the recording indicator ------------------------------

const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
const GRID_ROOM = 'Grid room';
const GRID_CAMERAS = ['Grid 1', 'Grid 2', 'Grid 3', 'Grid 4'];
let wide; // a second simulated camera, 320×180 at 15 fps
const gridCard = () => page.locator(`article.room-card[data-room="${GRID_ROOM}"]`);

async function apiCall(method, pathname, body) {
  const res = await fetch(`${server.url}/api/v1${pathname}`, {
    method,
    headers: { Authorization: `Bearer ${await apiToken()}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, data: res.status === 204 ? null : await res.json() };
}

// What each <video> of a card shows: size, clock, state.
function tiles(c) {
  return c.locator('li.cam').evaluateAll((lis) => lis.map((li) => {
    const v = li.querySelector('video');
    const r = (v || li).getBoundingClientRect();
    return {
      name: li.dataset.camera,
      x: Math.round(r.x), y: Math.round(r.y), w: Math.round(r.width),
      readyState: v ? v.readyState : null,
      videoWidth: v ? v.videoWidth : 0,
      paused: v ? v.paused : true,
      time: v ? v.currentTime : 0,
      state: li.querySelector('.live')?.dataset.liveState ?? null,
    };
  }));
}

const allPlay = (list, n) => list.length === n && list.every((x) => x.readyState >= 3 && x.videoWidth > 0 && !x.paused && x.state === 'playing');

test('four cameras play at once in a 2×2 grid (screenshot saved)', { timeout: 90000 }, async (t) => {
  wide = await startSimcam(['--port', '0', '--video', 'h264', '--audio', 'none',
    '--width', '320', '--height', '180', '--fps', '15', '--gop', '15', '--bitrate', '300', '--label', 'grid test']);
  const room = await apiCall('POST', '/rooms', { name: GRID_ROOM });
  assert.equal(room.status, 201);
  // Two simulated cameras, each behind two camera rows.
  for (const [i, name] of GRID_CAMERAS.entries()) {
    const r = await apiCall('POST', '/cameras', { room_id: room.data.id, name, url: (i < 2 ? camera : wide).url, transport: 'tcp' });
    assert.equal(r.status, 201, JSON.stringify(r.data));
  }
  await page.goto('/#/observe');
  await page.getByRole('group', { name: 'Layout' }).getByRole('button', { name: '2×2' }).click();
  assert.equal(await page.getByRole('group', { name: 'Layout' }).getByRole('button', { name: '2×2' }).getAttribute('aria-pressed'), 'true');
  await gridCard().waitFor();
  const playing = await waitUntil('the four cameras play', async () => {
    const list = await tiles(gridCard());
    return { ok: allPlay(list, 4), list };
  }, 45000);
  // Two columns, two rows, tiles of one size.
  const xs = new Set(playing.list.map((x) => x.x));
  const ys = new Set(playing.list.map((x) => x.y));
  assert.equal(xs.size, 2, `two columns: ${JSON.stringify(playing.list)}`);
  assert.equal(ys.size, 2, `two rows: ${JSON.stringify(playing.list)}`);
  assert.equal(new Set(playing.list.map((x) => x.w)).size, 1, 'tiles of one width');
  assert.deepEqual(playing.list.map((x) => x.videoWidth), [320, 320, 320, 320]);
  // Every clock moves.
  await sleep(1500);
  const later = await tiles(gridCard());
  for (const [i, x] of later.entries()) {
    assert.ok(x.time - playing.list[i].time >= 0.5, `${x.name} plays on: ${playing.list[i].time} -> ${x.time}`);
  }
  await fs.mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, 'observe-2x2.png');
  await gridCard().screenshot({ path: file });
  t.diagnostic(`screenshot: ${file}`);
  assertNoBrowserErrors();
});

test('a saved view keeps its cameras and layout across a reload', { timeout: TEST_TIMEOUT_MS }, async () => {
  await page.getByRole('group', { name: 'Layout' }).getByRole('button', { name: '3×3' }).click();
  await page.getByRole('button', { name: 'Save view…' }).click();
  const form = page.getByRole('form', { name: 'Save view' });
  await form.getByLabel('View name').fill('Wall');
  // Every camera shown is ticked; leave two of the grid room out.
  assert.equal(await form.getByRole('checkbox', { name: 'Grid 2' }).isChecked(), true);
  await form.getByRole('checkbox', { name: 'Grid 2' }).uncheck();
  await form.getByRole('checkbox', { name: 'Grid 4' }).uncheck();
  await form.getByRole('button', { name: 'Save view' }).click();
  await waitUntil('the page shows the view', async () => /^#\/observe\/\d+$/.test(new URL(page.url()).hash));
  const viewId = Number(new URL(page.url()).hash.split('/').pop());

  const saved = await apiCall('GET', `/views/${viewId}`);
  assert.equal(saved.status, 200);
  assert.equal(saved.data.name, 'Wall');
  assert.equal(saved.data.layout, '3x3');
  const rooms = (await apiCall('GET', '/rooms')).data.items;
  const byName = new Map(rooms.flatMap((r) => r.cameras.map((c) => [c.name, c.id])));
  assert.deepEqual(saved.data.camera_ids, ['Grid 1', 'Grid 3', CAMERA].map((n) => byName.get(n)), 'the ticked cameras, in the page\'s order');

  const check = async (what) => {
    await waitUntil(`${what}: the view shows its cameras`, async () => {
      const g = await tiles(gridCard());
      const d = await tiles(card());
      return { ok: allPlay(g, 2) && allPlay(d, 1), g: g.map((x) => x.name), d: d.map((x) => x.name) };
    }, 30000);
    assert.deepEqual((await tiles(gridCard())).map((x) => x.name), ['Grid 1', 'Grid 3']);
    assert.deepEqual((await tiles(card())).map((x) => x.name), [CAMERA]);
    assert.equal(await page.locator('#observe-view').inputValue(), String(viewId));
    assert.equal(await page.getByRole('group', { name: 'Layout' }).getByRole('button', { name: '3×3' }).getAttribute('aria-pressed'), 'true');
  };
  await check('saved');
  await page.reload();
  await page.getByRole('heading', { name: /^Observe/, level: 1 }).waitFor();
  await check('reloaded');

  // "All rooms" shows every camera again; the picker opens the view.
  await page.locator('#observe-view').selectOption({ label: 'All rooms' });
  await waitUntil('every grid camera is back', async () => (await tiles(gridCard())).length === 4);
  await page.locator('#observe-view').selectOption({ label: 'Wall' });
  await waitUntil('the view again', async () => (await tiles(gridCard())).length === 2);
  assertNoBrowserErrors();
});

test('a saved view is edited and deleted from the page', { timeout: TEST_TIMEOUT_MS }, async () => {
  await page.locator('#observe-view').selectOption({ label: 'Wall' });
  await waitUntil('the view', async () => (await tiles(gridCard())).length === 2);
  await page.getByRole('button', { name: 'Edit view…' }).click();
  const form = page.getByRole('form', { name: 'Save view' });
  assert.equal(await form.getByLabel('View name').inputValue(), 'Wall');
  assert.equal(await form.getByRole('checkbox', { name: 'Grid 2' }).isChecked(), false);
  await form.getByRole('checkbox', { name: 'Grid 2' }).check();
  await form.getByLabel('View name').fill('Wall, three');
  await form.getByRole('button', { name: 'Save changes' }).click();
  await waitUntil('three grid cameras in the view', async () => (await tiles(gridCard())).length === 3);
  // The cameras it had keep their places; the new one comes last.
  assert.deepEqual((await tiles(gridCard())).map((x) => x.name), ['Grid 1', 'Grid 3', 'Grid 2']);
  const id = Number(new URL(page.url()).hash.split('/').pop());
  const saved = (await apiCall('GET', `/views/${id}`)).data;
  assert.equal(saved.name, 'Wall, three');
  assert.equal(saved.camera_ids.length, 4);
  assert.equal(await page.locator('#observe-view option:checked').textContent(), 'Wall, three');

  await page.getByRole('button', { name: 'Delete view' }).click(); // the confirm() is accepted
  await waitUntil('back to every room', async () => new URL(page.url()).hash === '#/observe');
  await waitUntil('every grid camera is back', async () => (await tiles(gridCard())).length === 4);
  assert.equal(await page.locator('#observe-view option', { hasText: 'Wall' }).count(), 0);
  assert.equal((await apiCall('GET', `/views/${id}`)).status, 404);
  assertNoBrowserErrors();
});

test('in a 4×4 grid a camera plays its substream, full size its main stream', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await page.locator('#observe-view').selectOption({ label: 'All rooms' });
  await waitUntil('every grid camera is back', async () => (await tiles(gridCard())).length === 4);
  const room = (await apiCall('GET', '/rooms')).data.items.find((r) => r.name === GRID_ROOM);
  // Main: the 320×240 camera; substream: the 320×180 one.
  const dual = await apiCall('POST', '/cameras', { room_id: room.id, name: 'Dual', url: camera.url, substream_url: wide.url, transport: 'tcp' });
  assert.equal(dual.status, 201, JSON.stringify(dual.data));
  try {
    await page.getByRole('group', { name: 'Layout' }).getByRole('button', { name: '4×4' }).click();
    const li = gridCard().locator('li[data-camera="Dual"]');
    const shows = (height, quality, what) => waitUntil(what, async () => {
      if (!(await li.locator('video').count())) return { ok: false };
      const s = await li.locator('video').evaluate((v) => ({
        h: v.videoHeight, readyState: v.readyState, paused: v.paused,
        state: v.closest('.live').dataset.liveState, quality: v.closest('.live').dataset.quality,
      }));
      return { ...s, ok: s.h === height && s.quality === quality && s.readyState >= 3 && !s.paused && s.state === 'playing' };
    }, 30000);
    await shows(180, 'sub', 'the grid tile plays the substream');
    await li.locator('video').click();
    await shows(240, 'main', 'full size plays the main stream');
    await page.keyboard.press('Escape');
    await shows(180, 'sub', 'back in the grid, the substream again');
    t.diagnostic('sub 320×180 in the grid, main 320×240 full size');
  } finally {
    assert.equal((await apiCall('DELETE', `/cameras/${dual.data.id}`)).status, 204);
    await page.getByRole('group', { name: 'Layout' }).getByRole('button', { name: '2×2' }).click();
  }
  assertNoBrowserErrors();
});

test('the recording indicator ticks without a reload', { timeout: TEST_TIMEOUT_MS }, async () => {
  await page.evaluate(() => { window.__sameDocument = true; });
  await gridCard().getByRole('button', { name: 'Record' }).click();
  await waitUntil('the grid room records', async () => (await gridCard().getAttribute('data-state')) === 'recording');
  assert.equal(await gridCard().locator('.room-state').textContent(), 'Recording');
  const seconds = async () => {
    const text = (await gridCard().locator('.elapsed').textContent()).trim();
    const m = /^(\d+):(\d\d)$/.exec(text);
    assert.ok(m, `the elapsed time reads m:ss: "${text}"`);
    return Number(m[1]) * 60 + Number(m[2]);
  };
  await waitUntil('a first second counted', async () => (await seconds()) >= 1, 5000);
  const a = await seconds();
  const wall0 = Date.now();
  await sleep(2500);
  const b = await seconds();
  const wall = (Date.now() - wall0) / 1000;
  assert.ok(b - a >= 1 && b - a <= Math.ceil(wall) + 1, `it ticks with the clock: ${a} -> ${b} in ${wall} s`);
  await gridCard().getByRole('button', { name: 'Stop' }).click();
  await waitUntil('stopped', async () => (await gridCard().getAttribute('data-state')) === 'available');
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no page reload');
  await wide?.stop();
  assertNoBrowserErrors();
});
