// Browser test of Review against a real recording: two simulated cameras
// (light settings) recorded ~10 s (with a 2 s pause at ~3 s) and a marker
// at ~5 s, then in Chromium:
// the library lists it with a thumbnail, both cameras play, clicking the
// marker puts both cameras on the marker's time (within 100 ms of each
// other), the timeline shows the marker and a hover picture, a marker is
// edited and another deleted, a clip saved from in/out points is listed
// and its MP4 is saved; a camera MP4 and the export package stream into
// the file the user picks (File System Access API) with the progress bar
// reaching 100%, and a cancelled one is aborted and removed; a download
// the server refuses (a clip deleted meanwhile) shows the server's message
// and keeps no file; a network
// drop (a loopback relay cutting the connection) is reported and leaves
// no partial file (a real one, in the origin private file system); where the
// browser has no file picker they download through the browser with the
// page's progress; retention and the lock are set and the library shows
// them.
//
// Headless Chromium has showSaveFilePicker but its dialog answers
// AbortError at once, so the main page gets, by an init script, a picker
// whose file is an in-page WritableStream that keeps the bytes and hashes
// them on close: the page's own streaming and progress code runs, and the
// test compares those bytes with the same URL fetched directly. A second
// browser context removes the picker to test the fallback.
// Run: node --test tests/browser/review.test.mjs
//   VIGIL_BIN picks the server; VIGIL_SIMCAM the camera (default: the
//   vigil-simcam built beside VIGIL_BIN, in tools/).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { startServer, startSimcam, stopServerCleanly, waitFor, VIGIL_BIN } from './server.mjs';

const run = promisify(execFile);

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
let context;
let tmpDir;
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
  context = await browser.newContext({ baseURL: server.url, viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  await context.addInitScript(PICKER);
  tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-review-dl-'));
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
  if (tmpDir && !process.env.VIGIL_TEST_KEEP) await fs.rm(tmpDir, { recursive: true, force: true });
});

// The file picker the main page gets (see the top of this file). Every
// pick is recorded in window.__picked: the suggested name, the writable's
// state (open, closed, aborted), chunk and byte counts, the SHA-256 of the
// bytes written (on close), whether the handle was removed, and the
// progress bar's value at each write. window.__writeGate, when set, is a
// promise each write waits for (to hold a download half-way). With
// window.__opfs set, the picked file is a real one instead, in the origin
// private file system (a FileSystemFileHandle with Chromium's own
// writable, swap file and remove()); __opfsFile(name) reads it back.
const PICKER = () => {
  window.__picked = [];
  window.__pickedBytes = (i) => {
    const all = window.__picked[i].all;
    let s = '';
    for (let o = 0; o < all.length; o += 0x8000) s += String.fromCharCode(...all.subarray(o, o + 0x8000));
    return btoa(s);
  };
  window.__opfsFile = async (name) => {
    const dir = await navigator.storage.getDirectory();
    try {
      const file = await (await dir.getFileHandle(name)).getFile();
      const d = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
      return { size: file.size, sha256: [...d].map((b) => b.toString(16).padStart(2, '0')).join('') };
    } catch (err) {
      return { missing: err.name };
    }
  };
  window.showSaveFilePicker = async (opts = {}) => {
    const rec = { suggestedName: opts.suggestedName, types: (opts.types || []).map((t) => Object.keys(t.accept || {})).flat(),
      state: 'picked', chunks: 0, bytes: 0, sha256: null, removed: false, progress: [] };
    window.__picked.push(rec);
    if (window.__opfs) {
      const dir = await navigator.storage.getDirectory();
      const fh = await dir.getFileHandle(opts.suggestedName, { create: true });
      return {
        kind: 'file',
        name: fh.name,
        async createWritable() {
          rec.state = 'open';
          return fh.createWritable();
        },
        async remove() {
          await fh.remove();
          rec.removed = true;
        },
      };
    }
    const parts = [];
    return {
      kind: 'file',
      name: opts.suggestedName || 'download',
      async createWritable() {
        rec.state = 'open';
        return new WritableStream({
          async write(chunk) {
            if (window.__writeGate) await window.__writeGate;
            const bytes = new Uint8Array(chunk.buffer ? chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength) : chunk);
            parts.push(bytes);
            rec.chunks++;
            rec.bytes += bytes.byteLength;
            rec.progress.push(document.getElementById('download-progress')?.value);
          },
          async close() {
            const all = new Uint8Array(rec.bytes);
            let o = 0;
            for (const p of parts) { all.set(p, o); o += p.byteLength; }
            const d = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
            rec.sha256 = [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
            Object.defineProperty(rec, 'all', { value: all, enumerable: false });
            rec.state = 'closed';
          },
          abort() {
            parts.length = 0;
            rec.state = 'aborted';
          },
        });
      },
      async remove() { rec.removed = true; },
    };
  };
};

// The SHA-256 and length of a URL as the test fetches it itself.
async function fetchHash(pathname) {
  const res = await fetch(`${server.url}${pathname}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, pathname);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(body.length, Number(res.headers.get('Content-Length')), `${pathname}: body and Content-Length`);
  return { sha256: crypto.createHash('sha256').update(body).digest('hex'), length: body.length, headers: res.headers };
}

async function contentLength(pathname) {
  const res = await fetch(`${server.url}${pathname}`, { method: 'HEAD', headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, `HEAD ${pathname}`);
  return Number(res.headers.get('Content-Length'));
}

async function ffprobeDuration(file) {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name',
    '-of', 'json', file]);
  const j = JSON.parse(stdout);
  return { duration: Number(j.format.duration), codecs: j.streams.map((s) => s.codec_name) };
}

// The picks so far, as the page's picker recorded them.
const picked = (p = page) => p.evaluate(() => window.__picked.map((r) => ({ ...r })));

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

  // Its MP4 streams into the picked file with the progress shown in the page.
  const before = (await picked()).length;
  await page.getByRole('button', { name: 'Download clip The door, Wide, MP4' }).click();
  const pick = await waitUntil('the clip is written', async () => {
    const p = (await picked())[before];
    return p?.state === 'closed' ? p : { ok: false, seen: p };
  }, 30000);
  assert.match(pick.suggestedName, /^clip-\d+-Wide\.mp4$/);
  const wideId = cameraId('Wide');
  const direct = await fetchHash(`/api/v1/clips/${clip.id}/media/${wideId}.mp4?download=1`);
  assert.equal(pick.sha256, direct.sha256, 'the saved clip is the bytes the server sends');
  await waitUntil('done', async () => (await page.locator('#download-progress').getAttribute('data-done')) === 'true');
  assert.equal(await page.locator('#download-progress').evaluate((p) => p.value), 100);
  assert.match(await page.locator('#download-text').textContent(), /done/);
  await page.getByRole('button', { name: 'Pause', exact: true }).click().catch(() => {});
  await page.screenshot({ path: '/tmp/vigil-review-clip.png', fullPage: true });
  assertNoBrowserErrors();
});

function cameraId(name) {
  const t = recording.tracks.find((x) => x.camera_name === name);
  assert.ok(t, `a track of ${name} in ${JSON.stringify(recording.tracks.map((x) => x.camera_name))}`);
  return t.camera_id;
}

// Clicks a download button on p and waits for the page's picker to have
// its file closed or aborted; returns that pick.
async function pickedDownload(p, button, what) {
  const n = (await picked(p)).length;
  await p.getByRole('button', { name: button }).click();
  return waitUntil(what, async () => {
    const r = (await picked(p))[n];
    return ['closed', 'aborted'].includes(r?.state) ? r : { ok: false, seen: r };
  }, 30000);
}

test('a camera MP4 and the export package stream into the picked file, the progress reaching 100%', { timeout: TEST_TIMEOUT_MS }, async (ctx) => {
  const bar = page.locator('#download-progress');
  const text = page.locator('#download-text');
  assert.equal(await page.locator('#download-note').textContent(), 'You choose where each file goes; it is written to disk as it arrives.');

  // The camera MP4: the bytes written are the server's, in more than one write.
  const wide = cameraId('Wide');
  const mp4Url = `/api/v1/recordings/${recording.id}/media/${wide}.mp4?download=1`;
  const mp4 = await pickedDownload(page, 'Download Wide as MP4', 'the MP4 is written');
  assert.equal(mp4.state, 'closed');
  assert.equal(mp4.suggestedName, `recording-${recording.id}-Wide.mp4`);
  assert.deepEqual(mp4.types, ['video/mp4']);
  const direct = await fetchHash(mp4Url);
  assert.equal(direct.headers.get('Content-Disposition'), `attachment; filename="recording-${recording.id}-camera-${wide}.mp4"`);
  assert.equal(mp4.bytes, direct.length);
  assert.equal(mp4.sha256, direct.sha256, 'the saved MP4 is the bytes the server sends');
  await waitUntil('the bar is full', async () => (await bar.getAttribute('data-done')) === 'true');
  assert.equal(await bar.evaluate((el) => el.value), 100);
  assert.equal(await page.locator('.download-progress').getAttribute('data-path'), 'file');
  assert.match(await text.textContent(), new RegExp(`done\\. Saved as recording-${recording.id}-Wide\\.mp4\\.$`));
  const mp4File = path.join(tmpDir, 'picked.mp4');
  await fs.writeFile(mp4File, Buffer.from(await page.evaluate((i) => window.__pickedBytes(i), (await picked()).length - 1), 'base64'));
  const probe = await ffprobeDuration(mp4File);
  assert.ok(probe.codecs.includes('h264'), probe.codecs.join());
  assert.ok(Math.abs(probe.duration - recording.duration) < 1.5, `ffprobe duration ${probe.duration} vs ${recording.duration}`);

  // The export package: signed at each request, so compared by length with
  // a HEAD and checked whole with unzip -t and vigil verify.
  const zipUrl = `/api/v1/recordings/${recording.id}/export`;
  const zip = await pickedDownload(page, 'Download the export package (ZIP)', 'the package is written');
  assert.equal(zip.state, 'closed');
  assert.equal(zip.suggestedName, `recording-${recording.id}.zip`);
  assert.deepEqual(zip.types, ['application/zip']);
  assert.equal(zip.bytes, await contentLength(zipUrl));
  await waitUntil('the bar is full again', async () => (await bar.getAttribute('data-done')) === 'true');
  assert.equal(await bar.evaluate((el) => el.value), 100);
  const zipFile = path.join(tmpDir, 'picked.zip');
  const bytes = Buffer.from(await page.evaluate((i) => window.__pickedBytes(i), (await picked()).length - 1), 'base64');
  assert.equal(crypto.createHash('sha256').update(bytes).digest('hex'), zip.sha256);
  await fs.writeFile(zipFile, bytes);
  await run('unzip', ['-tq', zipFile]);
  await run(VIGIL_BIN, ['verify', zipFile]);
  // How the browser cut the bodies (its choice: a small body may come whole).
  ctx.diagnostic(`writes into the picked file: MP4 ${mp4.chunks} for ${mp4.bytes} B, package ${zip.chunks} for ${zip.bytes} B`);
  assertNoBrowserErrors();
});

test('a cancelled download is aborted and its file removed', { timeout: TEST_TIMEOUT_MS }, async () => {
  // Each write waits for the gate, so the download is held half-way.
  await page.evaluate(() => { window.__writeGate = new Promise((r) => { window.__openGate = r; }); });
  const n = (await picked()).length;
  await page.getByRole('button', { name: 'Download Close as MP4' }).click();
  await waitUntil('the file is open', async () => (await picked())[n]?.state === 'open');
  await page.getByRole('button', { name: 'Cancel download' }).click();
  await page.evaluate(() => { window.__openGate(); window.__writeGate = null; });
  const r = await waitUntil('the file is aborted', async () => {
    const x = (await picked())[n];
    return x.state === 'aborted' ? x : { ok: false, seen: x };
  });
  assert.equal(r.removed, true, 'the partial file is removed');
  assert.equal(await page.locator('#download-progress').getAttribute('data-done'), null);
  assert.match(await page.locator('#download-text').textContent(), /^Close: cancelled\. Stopped at /);
  assert.equal(await page.locator('#recording-status').textContent(), 'The download of Close was cancelled.');
  await page.getByRole('button', { name: 'Cancel download' }).waitFor({ state: 'hidden' });

  // The next download works again.
  const again = await pickedDownload(page, 'Download Close as MP4', 'the MP4 is written after the cancel');
  assert.equal(again.state, 'closed');
  assert.equal(again.sha256, (await fetchHash(`/api/v1/recordings/${recording.id}/media/${cameraId('Close')}.mp4?download=1`)).sha256);
  assertNoBrowserErrors();
});

test('without a file picker, downloads go through the browser with the page\'s progress', { timeout: TEST_TIMEOUT_MS }, async () => {
  const ctx2 = await browser.newContext({ baseURL: server.url, viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  await ctx2.addInitScript(() => { delete window.showSaveFilePicker; delete Window.prototype.showSaveFilePicker; });
  const p2 = await ctx2.newPage();
  p2.setDefaultTimeout(WAIT_MS);
  const errors = [];
  p2.on('pageerror', (err) => errors.push(err.message));
  try {
    await p2.goto(`/#/review/${recording.id}`);
    await p2.getByLabel('Username').fill(ADMIN.username);
    await p2.getByLabel('Password').fill(ADMIN.password);
    await p2.getByRole('button', { name: 'Sign in' }).click();
    await p2.getByRole('heading', { name: 'Debrief with two angles', level: 1 }).waitFor();
    assert.equal(await p2.evaluate(() => typeof window.showSaveFilePicker), 'undefined');
    assert.match(await p2.locator('#download-note').textContent(), /^This browser cannot write to a file you choose: files under 200(\.0)? MiB download here/);

    const bar = p2.locator('#download-progress');
    const save = async (button, name) => {
      const downloaded = p2.waitForEvent('download', { timeout: 30000 });
      await p2.getByRole('button', { name: button }).click();
      const dl = await downloaded;
      const file = path.join(tmpDir, `fallback-${dl.suggestedFilename()}`);
      await dl.saveAs(file);
      assert.equal(await dl.failure(), null);
      assert.equal(await bar.getAttribute('data-done'), 'true');
      assert.equal(await bar.evaluate((el) => el.value), 100);
      assert.equal(await p2.locator('.download-progress').getAttribute('data-path'), 'memory');
      assert.match(await p2.locator('#download-text').textContent(), new RegExp(`^${name}: .*, done\\.$`));
      return { file, name: dl.suggestedFilename(), size: (await fs.stat(file)).size };
    };

    const wide = cameraId('Wide');
    const mp4 = await save('Download Wide as MP4', 'Wide');
    assert.equal(mp4.name, `recording-${recording.id}-camera-${wide}.mp4`, 'named by the server');
    assert.equal(mp4.size, await contentLength(`/api/v1/recordings/${recording.id}/media/${wide}.mp4?download=1`));
    const probe = await ffprobeDuration(mp4.file);
    assert.ok(probe.codecs.includes('h264'), probe.codecs.join());
    assert.ok(Math.abs(probe.duration - recording.duration) < 1.5, `ffprobe duration ${probe.duration}`);

    const zip = await save('Download the export package (ZIP)', 'export package');
    assert.equal(zip.name, `recording-${recording.id}.zip`);
    assert.equal(zip.size, await contentLength(`/api/v1/recordings/${recording.id}/export`));
    await run('unzip', ['-tq', zip.file]);
    await run(VIGIL_BIN, ['verify', zip.file]);
  } finally {
    await ctx2.close();
  }
  assert.deepEqual(errors, []);
});

test('a download the server refuses says why in the server\'s words and keeps no file', { timeout: TEST_TIMEOUT_MS }, async () => {
  // A clip someone else deletes while its download button is on screen.
  let r = await api('POST', `/recordings/${recording.id}/clips`, { from: 1, to: 3, title: 'Short lived' });
  assert.equal(r.status, 201, r.text);
  const gone = r.json;
  const button = page.getByRole('button', { name: 'Download clip Short lived, Wide, MP4' });
  await button.waitFor();
  await button.evaluate((b) => { window.__staleButton = b; });
  r = await api('DELETE', `/clips/${gone.id}`);
  assert.ok([200, 204].includes(r.status), r.text);
  const url = `/api/v1/clips/${gone.id}/media/${cameraId('Wide')}.mp4?download=1`;
  const res = await fetch(`${server.url}${url}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 404);
  const message = (await res.json()).error.message;
  const n = (await picked()).length;
  await page.evaluate(() => window.__staleButton.click());
  await waitUntil('the page says why', async () =>
    (await page.locator('#recording-status').textContent()) === `The download failed: ${message}`);
  assert.equal(await page.locator('#download-text').textContent(), `Short lived · Wide: ${message}`);
  const p = (await picked())[n];
  assert.equal(p.state, 'picked', 'nothing was written');
  assert.equal(p.removed, true, 'the empty file is removed');
  assert.equal(await page.locator('#download-progress').getAttribute('data-done'), null);
  assertNoBrowserErrors();
});

// A loopback TCP relay to the server that cuts, once armed, the connection
// of the next request naming download=1 after CUT_AFTER bytes of its
// answer: a network drop in the middle of a real download.
const CUT_AFTER = 64 * 1024;
async function startRelay(port) {
  const relay = { armed: false, cuts: 0, sockets: new Set() };
  const srv = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    relay.sockets.add(client).add(upstream);
    let doomed = false;
    let sent = 0;
    client.on('data', (d) => {
      if (relay.armed && /^GET [^ ]*download=1/m.test(d.toString('latin1'))) {
        relay.armed = false;
        doomed = true;
      }
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!doomed) return client.write(d);
      const room = CUT_AFTER - sent;
      if (room > 0) client.write(d.subarray(0, room));
      sent += d.length;
      if (sent >= CUT_AFTER) {
        relay.cuts++;
        client.resetAndDestroy();
        upstream.destroy();
      }
    });
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  relay.url = `http://127.0.0.1:${srv.address().port}`;
  relay.close = () => {
    for (const s of relay.sockets) s.destroy();
    return new Promise((resolve) => srv.close(resolve));
  };
  return relay;
}

test('a network drop in the middle of a download says so and removes the partial file; then it lands whole', { timeout: TEST_TIMEOUT_MS }, async () => {
  const relay = await startRelay(server.port);
  const ctx3 = await browser.newContext({ baseURL: relay.url, viewport: { width: 1400, height: 1000 } });
  await ctx3.addInitScript(PICKER);
  const p3 = await ctx3.newPage();
  p3.setDefaultTimeout(WAIT_MS);
  try {
    await p3.goto(`/#/review/${recording.id}`);
    await p3.getByLabel('Username').fill(ADMIN.username);
    await p3.getByLabel('Password').fill(ADMIN.password);
    await p3.getByRole('button', { name: 'Sign in' }).click();
    await p3.getByRole('heading', { name: 'Debrief with two angles', level: 1 }).waitFor();
    // Real files this time (origin private file system).
    await p3.evaluate(() => { window.__opfs = true; });
    const name = `recording-${recording.id}-Wide.mp4`;
    relay.armed = true;
    await p3.getByRole('button', { name: 'Download Wide as MP4' }).click();
    await waitUntil('the page says so', async () => /^The download failed: /.test(await p3.locator('#recording-status').textContent()));
    assert.equal(relay.cuts, 1, 'the relay cut the download');
    const text = await p3.locator('#download-text').textContent();
    assert.match(text, /^Wide: The connection dropped at [\d.]+ (B|KiB) of [\d.]+ (KiB|MiB) \(.+\)\.$/);
    assert.equal(await p3.locator('#download-progress').getAttribute('data-done'), null);
    assert.ok(await p3.locator('#download-progress').evaluate((el) => el.value) < 100);
    const r = (await picked(p3)).at(-1);
    assert.equal(r.removed, true, 'the page removed the partial file');
    assert.deepEqual(await p3.evaluate((n) => window.__opfsFile(n), name), { missing: 'NotFoundError' }, 'no partial file is left');

    // Without the cut, the same download lands whole in a real file.
    await p3.getByRole('button', { name: 'Download Wide as MP4' }).click();
    await waitUntil('the bar is full', async () => (await p3.locator('#download-progress').getAttribute('data-done')) === 'true');
    const direct = await fetchHash(`/api/v1/recordings/${recording.id}/media/${cameraId('Wide')}.mp4?download=1`);
    assert.deepEqual(await p3.evaluate((n) => window.__opfsFile(n), name), { size: direct.length, sha256: direct.sha256 });
    assert.equal(relay.cuts, 1);
  } finally {
    await ctx3.close();
    await relay.close();
  }
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
