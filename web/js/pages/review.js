// Review of one recording (#/review/{id}): its cameras play side by side
// from the recording media endpoint (one progressive MP4 per camera, whose
// timeline is recording seconds with pauses left out, like marker times),
// kept in step with the first camera as the master clock; a timeline of the
// whole session with pauses, camera gaps, markers and the clip selection;
// markers added, edited and deleted; clips cut from in/out points, listed
// and played; downloads of a camera, a clip or an export package with their
// progress; and the recording's files with their hashes.
//
// Sync: while playing, every 100 ms each other camera's drift from the
// master is measured; past SEEK_DRIFT it is seeked, past NUDGE_DRIFT its
// playbackRate is nudged 10% until it is back within SETTLED_DRIFT. A seek
// (timeline, marker, steps) pauses every camera, seeks them all, waits for
// them, and resumes if they were playing, so they start together.

import { get, post, patch, del } from '../api.js';
import * as events from '../events.js';
import { h, field, busy } from '../dom.js';
import { formatDuration, formatOffset, formatDateTime, formatClock, formatBytes, shortHash, isoTime } from '../format.js';

const STATES = { recording: 'Recording', paused: 'Paused', stopped: 'Stopped' };
const SPEEDS = [0.5, 1, 1.5, 2, 4];
const SEEK_DRIFT = 0.5; // s: seek a camera this far off
const NUDGE_DRIFT = 0.08; // s: nudge its rate past this
const SETTLED_DRIFT = 0.03; // s: back to the common rate within this
const STEP_S = 5;
const DEFAULT_FPS = 25;
const SEEK_WAIT_MS = 5000;
const THUMB_WIDTH = 160;
const MARKER_COLOR = '#ffd479';
const BLOB_LIMIT = 200 * 1024 * 1024; // bytes: larger downloads never go through the page's memory
const PROGRESS_EVERY_MS = 100; // a multi-GB download updates its bar at most this often

function timeEl(ms, text = formatDateTime(ms)) {
  return typeof ms === 'number' ? h('time', { datetime: isoTime(ms) }, text) : h('span', { class: 'muted' }, '—');
}

function stateEl(state) {
  return h('span', { class: `rec-state rec-${state}` }, STATES[state] || state);
}

// Inline styles go through the CSSOM: the server's CSP refuses style
// attributes.
function styled(el, props) {
  for (const [k, v] of Object.entries(props)) el.style.setProperty(k, v);
  return el;
}

const safeColor = (c) => (/^#[0-9a-f]{6}$/i.test(c || '') ? c : MARKER_COLOR);
const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));

// 5.25 -> "0:05.25": times on the player, to the hundredth.
function formatPrecise(seconds) {
  const s = Math.max(0, seconds || 0);
  const hundredths = Math.floor((s % 1) * 100);
  return `${formatDuration(s)}.${String(hundredths).padStart(2, '0')}`;
}

// Recording time (s, pauses left out) of a wall-clock instant (UTC ms).
function recordingTime(spans, wall, now) {
  let acc = 0;
  for (const s of spans) {
    const end = s.end ?? now;
    if (wall <= s.start) return acc / 1000;
    if (wall <= end) return (acc + wall - s.start) / 1000;
    acc += end - s.start;
  }
  return acc / 1000;
}

// Saves a fetched body as a file through an object URL.
function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// A name every file system takes: no path separators or control bytes.
function safeName(name) {
  return name.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '_');
}

// The picker's file type for a name ending in .mp4 or .zip.
function fileType(name) {
  return name.endsWith('.zip')
    ? { description: 'ZIP package', accept: { 'application/zip': ['.zip'] } }
    : { description: 'MP4 video', accept: { 'video/mp4': ['.mp4'] } };
}

function filenameFrom(res, fallback) {
  const cd = res.headers.get('Content-Disposition') || '';
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
  return m ? decodeURIComponent(m[1]) : fallback;
}

export function recordingPage(main, ctx) {
  const id = ctx.params.id;
  const title = h('h1', { tabindex: '-1' }, `Recording ${id}`);
  const status = h('p', { class: 'notice', id: 'recording-status', role: 'status', 'aria-live': 'polite' });
  const summary = h('dl', { class: 'facts' });
  const spansList = h('ol', { class: 'spans' });
  const markerBody = h('tbody');
  const markerCount = h('span', { class: 'count' });
  const clipBody = h('tbody');
  const clipCount = h('span', { class: 'count' });
  const tracks = h('div', { class: 'tracks' });
  const content = h('div', { hidden: true });
  const mayEdit = ['admin', 'operator'].includes(ctx.user?.role);
  let rec = null;
  let clips = [];
  let loadSeq = 0;
  let roomName = '';
  let fps = new Map(); // camera id -> frames per second
  let editing = null; // marker id being edited

  function say(text, kind = 'info') {
    status.className = `notice notice-${kind}`;
    status.textContent = text;
  }

  // ---- players ---------------------------------------------------------

  const videos = h('div', { class: 'review-videos' });
  let players = []; // { cameraId, name, video, figure, note }
  let playing = false;
  let rate = 1;
  let syncTimer = null;
  let bounds = null; // { from, to } while a clip plays
  let seeking = 0;

  const master = () => players[0]?.video || null;
  const duration = () => Math.max(rec?.duration || 0, ...players.map((p) => (Number.isFinite(p.video.duration) ? p.video.duration : 0)));
  const now = () => master()?.currentTime || 0;
  const frameStep = () => 1 / (fps.get(players[0]?.cameraId) || DEFAULT_FPS);

  function buildPlayers() {
    const cams = (rec.tracks || []).map((t) => ({ id: t.camera_id, name: t.camera_name || `Camera ${t.camera_id}` }));
    const same = cams.length === players.length && cams.every((c, i) => c.id === players[i].cameraId);
    if (same) return;
    stopSync();
    for (const p of players) {
      p.video.removeAttribute('src');
      p.video.load();
    }
    players = cams.map((c, i) => {
      const note = h('p', { class: 'cam-note muted small', role: 'status' });
      const video = h('video', {
        class: 'review-video', preload: 'auto', playsinline: true, muted: true,
        'data-camera': c.id, 'aria-label': `Video of ${c.name}`,
        src: `/api/v1/recordings/${id}/media/${c.id}.mp4`,
      });
      video.muted = true;
      video.addEventListener('error', () => {
        note.textContent = 'This camera\'s video cannot be played here.';
        note.classList.add('error-text');
      });
      video.addEventListener('loadedmetadata', () => { renderTimeline(); updateClock(); });
      if (i === 0) {
        video.addEventListener('timeupdate', updateClock);
        video.addEventListener('ended', () => { if (playing) pauseAll(); });
      }
      const figure = h('figure', { class: 'review-cam', 'data-camera': c.id },
        video, h('figcaption', null, h('span', { class: 'cam-label' }, c.name), i === 0 ? h('span', { class: 'tag' }, 'master clock') : null), note);
      return { cameraId: c.id, name: c.name, video, figure, note };
    });
    videos.replaceChildren(...players.map((p) => p.figure));
    videos.style.setProperty('--cams', String(Math.min(players.length, 3) || 1));
    if (!players.length) videos.append(h('p', { class: 'muted' }, 'No camera has recorded into this session yet.'));
    renderDownloads();
  }

  function syncTick() {
    const m = master();
    if (!m || !playing || seeking) return;
    const mt = m.currentTime;
    for (const p of players.slice(1)) {
      const v = p.video;
      if (v.readyState < 2 || v.ended || mt > (v.duration || Infinity)) continue;
      const d = v.currentTime - mt;
      if (Math.abs(d) > SEEK_DRIFT) {
        v.currentTime = mt;
        v.playbackRate = rate;
      } else if (Math.abs(d) > NUDGE_DRIFT) {
        v.playbackRate = rate * (d > 0 ? 0.9 : 1.1);
      } else if (Math.abs(d) < SETTLED_DRIFT && v.playbackRate !== rate) {
        v.playbackRate = rate;
      }
      if (v.paused && !v.ended) v.play().catch(() => {});
    }
    if (bounds && mt >= bounds.to) {
      pauseAll();
      bounds = null;
      say('The clip ended.', 'info');
    }
    updateClock();
  }

  function startSync() {
    stopSync();
    syncTimer = setInterval(syncTick, 100);
  }

  function stopSync() {
    clearInterval(syncTimer);
    syncTimer = null;
  }

  async function playAll() {
    if (!players.length) return;
    playing = true;
    for (const p of players) p.video.playbackRate = rate;
    const t = now();
    for (const p of players.slice(1)) if (Math.abs(p.video.currentTime - t) > SETTLED_DRIFT) p.video.currentTime = t;
    await Promise.all(players.map((p) => p.video.play().catch((err) => {
      if (p === players[0]) say(`The video does not play: ${err.message}`, 'error');
    })));
    startSync();
    renderPlayButton();
  }

  function pauseAll() {
    playing = false;
    stopSync();
    for (const p of players) {
      p.video.pause();
      p.video.playbackRate = rate;
    }
    // Line every camera up on the master's frame.
    const t = now();
    for (const p of players.slice(1)) if (Math.abs(p.video.currentTime - t) > 0.001) p.video.currentTime = t;
    renderPlayButton();
    updateClock();
  }

  // Seeks every camera to t (recording seconds) and resumes if playing.
  async function seekAll(t, keepBounds = false) {
    if (!players.length) return;
    if (!keepBounds) bounds = null;
    const target = clamp(t, 0, duration() || t);
    const resume = playing;
    seeking++;
    stopSync();
    for (const p of players) p.video.pause();
    await Promise.all(players.map((p) => new Promise((resolve) => {
      const v = p.video;
      const end = Number.isFinite(v.duration) ? v.duration : Infinity;
      const want = Math.min(target, end);
      // A camera whose video failed or has no metadata yet cannot seek.
      if (v.error) return resolve();
      if (v.readyState === 0) {
        v.currentTime = want; // kept as the start position; no seeked event comes
        return resolve();
      }
      if (Math.abs(v.currentTime - want) < 0.0005 && !v.seeking) return resolve();
      const timer = setTimeout(done, SEEK_WAIT_MS);
      function done() {
        clearTimeout(timer);
        v.removeEventListener('seeked', done);
        resolve();
      }
      v.addEventListener('seeked', done);
      v.currentTime = want;
    })));
    seeking--;
    updateClock();
    if (resume) await playAll();
  }

  // ---- controls ----------------------------------------------------------

  const playButton = h('button', { type: 'button', class: 'btn btn-primary play', id: 'review-play', onclick: () => (playing ? pauseAll() : playAll()) }, 'Play');
  const clock = h('span', { class: 'review-clock num', id: 'review-clock', 'aria-live': 'off' }, '0:00.00');
  const speed = h('select', { id: 'review-speed', 'aria-label': 'Speed', value: '1' },
    SPEEDS.map((s) => h('option', { value: String(s) }, `${s}×`)));
  speed.value = '1';
  speed.addEventListener('change', () => {
    rate = Number(speed.value) || 1;
    for (const p of players) p.video.playbackRate = rate;
  });
  const sound = h('input', { type: 'checkbox', id: 'review-sound' });
  sound.addEventListener('change', () => { if (players[0]) players[0].video.muted = !sound.checked; });

  const step = (label, text, fn) => h('button', { type: 'button', class: 'btn', 'aria-label': label, title: label, onclick: fn }, text);
  const controls = h('div', { class: 'review-controls', role: 'toolbar', 'aria-label': 'Playback' },
    playButton,
    step('Back 5 seconds', '−5 s', () => seekAll(now() - STEP_S)),
    step('Back one frame', '−1 f', () => { if (playing) pauseAll(); seekAll(now() - frameStep()); }),
    step('Forward one frame', '+1 f', () => { if (playing) pauseAll(); seekAll(now() + frameStep()); }),
    step('Forward 5 seconds', '+5 s', () => seekAll(now() + STEP_S)),
    h('label', { class: 'inline-label', for: 'review-speed' }, 'Speed'), speed,
    h('label', { class: 'check inline-label' }, sound, 'Sound'),
    h('span', { class: 'spacer' }),
    clock);

  function renderPlayButton() {
    playButton.textContent = playing ? 'Pause' : 'Play';
    playButton.setAttribute('aria-pressed', playing ? 'true' : 'false');
  }

  // ---- timeline ----------------------------------------------------------

  const timeline = h('div', {
    class: 'timeline', id: 'review-timeline', tabindex: '0', role: 'slider',
    'aria-label': 'Position in the recording', 'aria-valuemin': '0', 'aria-valuenow': '0',
  });
  const tlSpans = h('div', { class: 'tl-spans' });
  const tlLanes = h('div', { class: 'tl-lanes' });
  const tlMarkers = h('div', { class: 'tl-markers', role: 'group', 'aria-label': 'Markers on the timeline' });
  const tlSel = h('div', { class: 'tl-sel', hidden: true });
  const tlHead = h('div', { class: 'tl-head' });
  const hoverImg = h('img', { alt: '', width: THUMB_WIDTH, height: THUMB_WIDTH * 9 / 16 });
  const hoverText = h('span', { class: 'num' });
  const hover = h('div', { class: 'tl-hover', hidden: true, 'aria-hidden': 'true' }, hoverImg, hoverText);
  timeline.append(tlSpans, tlLanes, tlSel, tlMarkers, tlHead, hover);
  const pct = (t) => `${(100 * clamp(t / (duration() || 1), 0, 1)).toFixed(3)}%`;
  const timeAt = (ev) => {
    const r = timeline.getBoundingClientRect();
    return clamp((ev.clientX - r.left) / r.width, 0, 1) * duration();
  };
  let hoverKey = '';

  timeline.addEventListener('click', (ev) => {
    if (ev.target.closest('.tl-marker')) return;
    seekAll(timeAt(ev));
  });
  timeline.addEventListener('mousemove', (ev) => {
    if (!rec || !players.length) return;
    const t = timeAt(ev);
    hover.hidden = false;
    hover.style.left = pct(t);
    const marker = ev.target.closest('.tl-marker');
    hoverText.textContent = marker ? `${marker.dataset.label} · ${formatOffset(Number(marker.dataset.time))}` : formatOffset(t);
    // Whole seconds: neighbouring positions share the keyframe's picture.
    const at = marker ? Number(marker.dataset.time) : Math.floor(t);
    const key = `${players[0].cameraId}:${Math.floor(at)}`;
    if (key !== hoverKey) {
      hoverKey = key;
      hoverImg.src = `/api/v1/recordings/${id}/thumbnail.jpg?camera=${players[0].cameraId}&t=${Math.floor(at)}&width=${THUMB_WIDTH}`;
    }
  });
  timeline.addEventListener('mouseleave', () => { hover.hidden = true; });
  timeline.addEventListener('keydown', (ev) => {
    const moves = { ArrowLeft: -STEP_S, ArrowRight: STEP_S, PageDown: -60, PageUp: 60 };
    if (ev.key in moves) {
      ev.preventDefault();
      seekAll(now() + moves[ev.key]);
    } else if (ev.key === 'Home') {
      ev.preventDefault();
      seekAll(0);
    } else if (ev.key === 'End') {
      ev.preventDefault();
      seekAll(duration());
    }
  });

  function renderTimeline() {
    if (!rec) return;
    const d = duration();
    const nowMs = Date.now();
    const spans = rec.spans || [];
    timeline.setAttribute('aria-valuemax', String(Math.round(d * 100) / 100));
    // Pauses are instants of recording time: a tick where a span ends and
    // the next begins, saying how long the pause lasted.
    let acc = 0;
    const ticks = [];
    spans.forEach((s, i) => {
      const end = s.end ?? nowMs;
      acc += Math.max(0, end - s.start);
      const next = spans[i + 1];
      if (next) {
        ticks.push(styled(h('span', {
          class: 'tl-pause',
          title: `Paused at ${formatOffset(acc / 1000)} for ${formatDuration((next.start - end) / 1000)}`,
        }), { left: pct(acc / 1000) }));
      }
    });
    tlSpans.replaceChildren(h('span', { class: 'tl-bar' }), ...ticks);
    tlLanes.replaceChildren(...(rec.tracks || []).map((t) => {
      const gaps = (t.gaps || []).map((g) => {
        const a = recordingTime(spans, g.start, nowMs);
        const b = recordingTime(spans, g.end, nowMs);
        return styled(h('span', {
          class: 'tl-gap', title: `${t.camera_name} away ${formatOffset(a)}–${formatOffset(b)}`,
        }), { left: pct(a), width: pct(Math.max(b - a, 0)) });
      });
      // Before the camera's first frame, it is away too.
      const first = typeof t.start === 'number' ? recordingTime(spans, t.start, nowMs) : d;
      if (first > 0.5) gaps.unshift(styled(h('span', { class: 'tl-gap', title: `${t.camera_name} not yet recording` }), { left: '0', width: pct(first) }));
      return h('div', { class: 'tl-lane', 'data-camera': t.camera_id, title: t.camera_name },
        h('span', { class: 'tl-lane-name' }, t.camera_name), ...gaps);
    }));
    tlMarkers.replaceChildren(...[...(rec.markers || [])].sort((a, b) => a.time - b.time).map((m) => styled(h('button', {
      type: 'button', class: 'tl-marker', 'data-marker': m.id, 'data-time': m.time, 'data-label': m.label,
      'aria-label': `Marker ${m.label} at ${formatOffset(m.time)}`,
      onclick: () => seekAll(m.time),
    }), { left: pct(m.time), '--c': safeColor(m.color) })));
    renderSelection();
    updateClock();
  }

  function updateClock() {
    const t = now();
    clock.textContent = `${formatPrecise(t)} / ${formatDuration(duration())}`;
    tlHead.style.left = pct(t);
    timeline.setAttribute('aria-valuenow', String(Math.round(t * 100) / 100));
    timeline.setAttribute('aria-valuetext', formatOffset(t));
  }

  // ---- markers -----------------------------------------------------------

  function markerRow(m) {
    if (editing === m.id) return markerEditRow(m);
    return h('tr', { 'data-marker': m.id },
      h('td', { class: 'num' },
        styled(h('span', { class: 'swatch', 'aria-hidden': 'true' }), { background: safeColor(m.color) }),
        h('button', { type: 'button', class: 'link-button', title: 'Go to this marker', onclick: () => seekAll(m.time) }, formatOffset(m.time))),
      h('th', { scope: 'row' }, m.label),
      h('td', { class: 'note' }, m.note || ''),
      h('td', null, m.author || ''),
      h('td', null, timeEl(m.updated_at > m.created_at ? m.updated_at : m.created_at)),
      h('td', null, h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Edit marker ${m.label}`, onclick: () => { editing = m.id; renderMarkers(); } }, 'Edit'),
        h('button', { type: 'button', class: 'btn btn-small btn-danger', 'aria-label': `Delete marker ${m.label}`, onclick: () => deleteMarker(m) }, 'Delete'))));
  }

  function markerEditRow(m) {
    const t = h('input', { type: 'number', min: '0', step: '0.01', value: String(m.time), 'aria-label': 'Time (s)', class: 'input-time' });
    const label = h('input', { value: m.label, maxlength: 200, 'aria-label': 'Label', required: true });
    const color = h('input', { type: 'color', value: safeColor(m.color), 'aria-label': 'Colour' });
    const note = h('input', { value: m.note || '', maxlength: 4096, 'aria-label': 'Note' });
    const error = h('p', { class: 'field-error', role: 'alert' });
    const form = h('form', { id: `marker-edit-${m.id}`, 'aria-label': `Edit marker ${m.label}` });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = { time: Number(t.value), label: label.value.trim(), color: color.value, note: note.value.trim() };
      if (!Number.isFinite(body.time) || body.time < 0) return (error.textContent = 'A time in seconds from the start.');
      if (!body.label) return (error.textContent = 'Give the marker a label.');
      busy(form, true);
      try {
        await patch(`/recordings/${id}/markers/${m.id}`, body);
        editing = null;
        say(`Saved the marker ${body.label}.`, 'ok');
        load();
      } catch (err) {
        error.textContent = err.message;
      } finally {
        busy(form, false);
      }
    });
    for (const el of [t, label, color, note]) el.setAttribute('form', form.id);
    return h('tr', { 'data-marker': m.id, class: 'editing' },
      h('td', null, t, form),
      h('td', null, label),
      h('td', null, note, error),
      h('td', null, color),
      h('td', null, m.author || ''),
      h('td', null, h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'btn btn-small btn-primary', form: form.id }, 'Save'),
        h('button', { type: 'button', class: 'btn btn-small', onclick: () => { editing = null; renderMarkers(); } }, 'Cancel'))));
  }

  async function deleteMarker(m) {
    if (!window.confirm(`Delete the marker "${m.label}" at ${formatOffset(m.time)}?`)) return;
    try {
      await del(`/recordings/${id}/markers/${m.id}`);
      say(`Deleted the marker ${m.label}.`, 'ok');
      load();
    } catch (err) {
      say(err.message, 'error');
    }
  }

  function renderMarkers() {
    const markers = [...rec.markers].sort((a, b) => a.time - b.time);
    markerCount.textContent = String(markers.length);
    markerBody.replaceChildren(...markers.map(markerRow));
    if (!markers.length) markerBody.append(h('tr', null, h('td', { colspan: 6, class: 'muted empty' }, 'No markers yet.')));
    timeInput.max = String(rec.duration || 0);
  }

  // Add a marker at a typed time, or at the player's position.
  const timeInput = h('input', { id: 'marker-time', name: 'time', type: 'number', min: '0', step: '0.01', required: true, inputmode: 'decimal' });
  const time = field('Time (s)', timeInput);
  const label = field('Label', h('input', { id: 'marker-label', name: 'label', maxlength: 200, required: true, autocomplete: 'off' }));
  const colorInput = h('input', { id: 'marker-color', name: 'color', type: 'color', value: MARKER_COLOR });
  const color = field('Colour', colorInput);
  const note = field('Note', h('input', { id: 'marker-note', name: 'note', maxlength: 4096, autocomplete: 'off' }));
  note.el.classList.add('field-wide');
  const addForm = h('form', { class: 'inline-form', 'aria-label': 'Add a marker', novalidate: true },
    time.el,
    h('div', { class: 'field field-button' }, h('button', {
      type: 'button', class: 'btn', id: 'marker-now', onclick: () => { timeInput.value = now().toFixed(2); label.input.focus(); },
    }, 'Now')),
    label.el, color.el, note.el,
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add marker')));
  addForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const f of [time, label, note]) f.setError('');
    const t = Number(timeInput.value);
    if (timeInput.value === '' || !Number.isFinite(t) || t < 0) {
      time.setError('A time in seconds from the start.');
      return timeInput.focus();
    }
    if (!label.input.value.trim()) {
      label.setError('Give the marker a label.');
      return label.input.focus();
    }
    busy(addForm, true);
    try {
      const body = { time: t, label: label.input.value.trim(), color: colorInput.value };
      if (note.input.value.trim()) body.note = note.input.value.trim();
      const m = await post(`/recordings/${id}/markers`, body);
      say(`Added the marker ${m.label} at ${formatOffset(m.time)}.`, 'ok');
      addForm.reset();
      colorInput.value = MARKER_COLOR;
      timeInput.focus();
      load();
    } catch (err) {
      if (err.status === 422 && /time/i.test(err.message)) {
        time.setError(err.message);
        timeInput.focus();
      } else if (err.status === 422 && /note/i.test(err.message)) {
        note.setError(err.message);
      } else if (err.status === 422) {
        label.setError(err.message);
      } else {
        say(err.message, 'error');
      }
    } finally {
      busy(addForm, false);
    }
  });

  // ---- clips -------------------------------------------------------------

  const sel = { from: null, to: null };
  const inText = h('output', { id: 'clip-in', class: 'num' }, '—');
  const outText = h('output', { id: 'clip-out', class: 'num' }, '—');
  const clipTitle = h('input', { id: 'clip-title', name: 'title', maxlength: 256, autocomplete: 'off', placeholder: 'What happens in it' });
  const clipError = h('p', { class: 'field-error', id: 'clip-error', role: 'alert' });
  const clipForm = h('form', { class: 'inline-form clip-form', 'aria-label': 'New clip', novalidate: true },
    h('div', { class: 'field field-button' }, h('button', { type: 'button', class: 'btn', id: 'clip-set-in', onclick: () => setPoint('from') }, 'Set in')),
    h('div', { class: 'field' }, h('span', { class: 'label-like' }, 'In'), inText),
    h('div', { class: 'field field-button' }, h('button', { type: 'button', class: 'btn', id: 'clip-set-out', onclick: () => setPoint('to') }, 'Set out')),
    h('div', { class: 'field' }, h('span', { class: 'label-like' }, 'Out'), outText),
    h('div', { class: 'field field-wide' }, h('label', { for: 'clip-title' }, 'Clip title'), clipTitle),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-primary', disabled: !mayEdit }, 'Save clip')),
    clipError);

  function setPoint(which) {
    sel[which] = Math.round(now() * 1000) / 1000;
    if (sel.from != null && sel.to != null && sel.to < sel.from) [sel.from, sel.to] = [sel.to, sel.from];
    renderSelection();
  }

  function renderSelection() {
    inText.textContent = sel.from == null ? '—' : formatPrecise(sel.from);
    outText.textContent = sel.to == null ? '—' : formatPrecise(sel.to);
    const a = bounds ? bounds.from : sel.from;
    const b = bounds ? bounds.to : sel.to;
    tlSel.hidden = a == null || b == null;
    if (!tlSel.hidden) {
      tlSel.style.left = pct(a);
      tlSel.style.width = pct(Math.max(0, b - a));
    }
  }

  clipForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clipError.textContent = '';
    if (sel.from == null || sel.to == null || !(sel.to > sel.from)) {
      clipError.textContent = 'Set an in point and a later out point first.';
      return;
    }
    const t = clipTitle.value.trim();
    if (!t) {
      clipError.textContent = 'Give the clip a title.';
      return clipTitle.focus();
    }
    busy(clipForm, true);
    try {
      const c = await post(`/recordings/${id}/clips`, { from: sel.from, to: sel.to, title: t });
      say(`Saved the clip ${c.title} (${formatOffset(c.from)}–${formatOffset(c.to)}).`, 'ok');
      clipTitle.value = '';
      await loadClips();
    } catch (err) {
      clipError.textContent = err.message;
    } finally {
      busy(clipForm, false);
      clipForm.querySelector('button[type=submit]').disabled = !mayEdit;
    }
  });

  async function loadClips() {
    try {
      const list = await get(`/recordings/${id}/clips`);
      clips = list.items || [];
    } catch (err) {
      clips = [];
      if (err.status !== 404) say(err.message, 'error');
    }
    renderClips();
  }

  function renderClips() {
    clipCount.textContent = String(clips.length);
    clipBody.replaceChildren(...clips.map((c) => h('tr', { 'data-clip': c.id },
      h('th', { scope: 'row' }, c.title || `Clip ${c.id}`, c.keep ? h('span', { class: 'tag' }, 'kept') : null),
      h('td', { class: 'num' }, `${formatOffset(c.from)} – ${formatOffset(c.to)}`),
      h('td', { class: 'num' }, formatDuration(c.to - c.from)),
      h('td', null, c.author || ''),
      h('td', null, h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Play clip ${c.title}`, onclick: () => playClip(c) }, 'Play'),
        players.map((p) => h('button', {
          type: 'button', class: 'btn btn-small', 'aria-label': `Download clip ${c.title}, ${p.name}, MP4`,
          onclick: () => download(`/api/v1/clips/${c.id}/media/${p.cameraId}.mp4?download=1`, `clip-${c.id}-${p.name}.mp4`, `${c.title} · ${p.name}`),
        }, `MP4 ${p.name}`)),
        h('button', {
          type: 'button', class: 'btn btn-small', 'aria-label': `Download clip ${c.title} as an export package`,
          onclick: () => download(`/api/v1/clips/${c.id}/export`, `clip-${c.id}.zip`, `${c.title} · package`),
        }, 'ZIP'))))));
    if (!clips.length) clipBody.append(h('tr', null, h('td', { colspan: 5, class: 'muted empty' }, 'No clips yet. Set in and out points, name it, save.')));
  }

  async function playClip(c) {
    bounds = { from: c.from, to: c.to };
    renderSelection();
    await seekAll(c.from, true);
    say(`Playing the clip ${c.title}.`, 'info');
    await playAll();
  }

  // ---- downloads ---------------------------------------------------------
  //
  // A large download never goes through the page's memory: an hour-long
  // export is several GB. Where the browser can write to a file the user picks
  // (File System Access API, Chromium), the response body is piped through
  // a byte counter into that file, with progress against Content-Length and
  // a Cancel button that aborts and removes the partial file where the
  // browser allows it. Elsewhere a file whose HEAD says it is smaller than
  // BLOB_LIMIT is fetched into memory with the same progress; a larger one
  // (or one of unknown size) is handed to the browser's own download list
  // by a plain link, and the page says so.

  const canPick = typeof window.showSaveFilePicker === 'function';
  const progress = h('progress', { id: 'download-progress', max: '100', value: '0', 'aria-label': 'Download progress' });
  const progressText = h('span', { id: 'download-text', class: 'small', role: 'status' });
  const cancelButton = h('button', { type: 'button', class: 'btn btn-small', id: 'download-cancel', hidden: true }, 'Cancel download');
  const progressBox = h('div', { class: 'download-progress', hidden: true }, progress, progressText, cancelButton);
  const downloadButtons = h('div', { class: 'download-buttons' });
  const downloadNote = h('p', { class: 'hint small', id: 'download-note' }, canPick
    ? 'You choose where each file goes; it is written to disk as it arrives.'
    : `This browser cannot write to a file you choose: files under ${formatBytes(BLOB_LIMIT)} download here with their progress, larger ones go to the browser's own download list, which shows theirs.`);
  let downloading = null; // AbortController of the running download

  function renderDownloads() {
    downloadButtons.replaceChildren(
      ...players.map((p) => h('button', {
        type: 'button', class: 'btn', 'data-camera': p.cameraId, 'aria-label': `Download ${p.name} as MP4`,
        onclick: () => download(`/api/v1/recordings/${id}/media/${p.cameraId}.mp4?download=1`, `recording-${id}-${p.name}.mp4`, p.name),
      }, `MP4 · ${p.name}`)),
      h('button', {
        type: 'button', class: 'btn', id: 'download-export', 'aria-label': 'Download the export package (ZIP)',
        onclick: () => download(`/api/v1/recordings/${id}/export`, `recording-${id}.zip`, 'export package'),
      }, 'Export package (ZIP)'));
    renderClips();
  }

  function showProgress(what, got, total) {
    if (total) progress.value = Math.min(100, (100 * got) / total);
    else progress.removeAttribute('value');
    progressText.textContent = `${what}: ${formatBytes(got)}${total ? ` of ${formatBytes(total)}` : ''}`;
  }

  function finished(what, got) {
    progress.value = 100;
    progress.setAttribute('data-done', 'true');
    progressText.textContent = `${what}: ${formatBytes(got)}, done.`;
  }

  // fetch() that names a network failure as one.
  async function fetchOrSay(url, init) {
    try {
      return await fetch(url, { credentials: 'same-origin', ...init });
    } catch (err) {
      if (init.signal?.aborted) throw new Error('Stopped before the first byte.');
      throw new Error(`The server could not be reached (${err.message}).`);
    }
  }

  // Answers a failed response with the server's own words.
  async function httpError(res) {
    const body = await res.json().catch(() => null);
    return new Error(body?.error?.message || `The server answered ${res.status} ${res.statusText}`.trim() + '.');
  }

  // Downloads url as a file named after fallbackName, saying what it is.
  // Called straight from a click: the file picker needs that gesture, so
  // nothing is awaited before it.
  async function download(url, fallbackName, what) {
    if (downloading) return say('A download is already running; cancel it or wait for it.', 'info');
    const ctl = new AbortController();
    downloading = ctl;
    progressBox.hidden = false;
    progressBox.removeAttribute('data-path');
    progress.hidden = false;
    progress.value = 0;
    progress.removeAttribute('data-done');
    progressText.textContent = `Starting ${what}…`;
    cancelButton.hidden = false;
    cancelButton.onclick = () => ctl.abort();
    try {
      let handle = null;
      if (canPick) {
        try {
          handle = await window.showSaveFilePicker({ suggestedName: safeName(fallbackName), types: [fileType(fallbackName)] });
        } catch (err) {
          if (err.name === 'AbortError') {
            progressText.textContent = `${what}: no file chosen, nothing downloaded.`;
            return;
          }
          // Refused (policy, no dialog possible): the browser saves it instead.
          handle = null;
        }
      }
      if (handle) await streamToFile(url, handle, what, ctl.signal);
      else await downloadWithoutPicker(url, fallbackName, what, ctl.signal);
    } catch (err) {
      const text = ctl.signal.aborted ? `cancelled. ${err.message || ''}`.trim() : err.message;
      progressText.textContent = `${what}: ${text}`;
      if (ctl.signal.aborted) say(`The download of ${what} was cancelled.`, 'info');
      else say(`The download failed: ${err.message}`, 'error');
    } finally {
      downloading = null;
      cancelButton.hidden = true;
      cancelButton.onclick = null;
    }
  }

  // Pipes the body through a byte counter into the picked file. The file is
  // only closed (made final) once every byte the server announced arrived;
  // otherwise it is aborted and removed.
  async function streamToFile(url, handle, what, signal) {
    progressBox.setAttribute('data-path', 'file');
    let writable = null;
    let got = 0;
    let total = 0;
    try {
      const res = await fetchOrSay(url, { signal });
      if (!res.ok) throw await httpError(res);
      total = Number(res.headers.get('Content-Length')) || 0;
      writable = await handle.createWritable();
      let shown = 0;
      const counter = new TransformStream({
        transform(chunk, out) {
          got += chunk.byteLength;
          const t = performance.now();
          if (t - shown > PROGRESS_EVERY_MS) {
            shown = t;
            showProgress(what, got, total);
          }
          out.enqueue(chunk);
        },
      });
      try {
        await res.body.pipeThrough(counter).pipeTo(writable, { preventClose: true, preventAbort: true, signal });
      } catch (err) {
        if (signal.aborted) throw new Error(`Stopped at ${formatBytes(got)}${total ? ` of ${formatBytes(total)}` : ''}.`);
        throw new Error(`The connection dropped at ${formatBytes(got)}${total ? ` of ${formatBytes(total)}` : ''} (${err.message}).`);
      }
      showProgress(what, got, total);
      // A cancel that came while the last bytes were written still cancels.
      if (signal.aborted) throw new Error(`Stopped at ${formatBytes(got)}${total ? ` of ${formatBytes(total)}` : ''}.`);
      if (total && got !== total) throw new Error(`The download stopped at ${formatBytes(got)} of ${formatBytes(total)}.`);
      await writable.close();
      writable = null;
      finished(what, got);
      progressText.textContent += ` Saved as ${handle.name}.`;
    } catch (err) {
      if (writable) await writable.abort().catch(() => {});
      let removed = false;
      if (typeof handle.remove === 'function') removed = await handle.remove().then(() => true, () => false);
      if (!removed) err.message += ` The file ${handle.name} may be left empty or partial; delete it.`;
      throw err;
    }
  }

  // Without a file picker: small files through memory with progress, large
  // ones (or of unknown size) through the browser's own downloads.
  async function downloadWithoutPicker(url, fallbackName, what, signal) {
    const head = await fetchOrSay(url, { method: 'HEAD', signal });
    if (!head.ok && head.status !== 405) {
      // A HEAD answer has no body: ask again for the server's words.
      const res = await fetchOrSay(url, { signal });
      if (!res.ok) throw await httpError(res);
      res.body?.cancel();
      throw new Error(`The server answered ${head.status} to the size check.`);
    }
    const size = head.ok ? Number(head.headers.get('Content-Length')) : 0;
    if (!(size > 0 && size < BLOB_LIMIT)) {
      progressBox.setAttribute('data-path', 'browser');
      progress.hidden = true;
      cancelButton.hidden = true;
      const a = h('a', { href: url, download: safeName(fallbackName), hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      progressText.textContent = `${what}${size > 0 ? ` (${formatBytes(size)})` : ''}: handed to the browser's download list, which shows its progress.`;
      return;
    }
    progressBox.setAttribute('data-path', 'memory');
    const res = await fetchOrSay(url, { signal });
    if (!res.ok) throw await httpError(res);
    const total = Number(res.headers.get('Content-Length')) || 0;
    const reader = res.body.getReader();
    const chunks = [];
    let got = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        got += value.byteLength;
        showProgress(what, got, total);
      }
    } catch (err) {
      if (signal.aborted) throw new Error(`Stopped at ${formatBytes(got)}.`);
      throw new Error(`The connection dropped at ${formatBytes(got)}${total ? ` of ${formatBytes(total)}` : ''} (${err.message}).`);
    }
    if (total && got !== total) throw new Error(`The download stopped at ${formatBytes(got)} of ${formatBytes(total)}.`);
    finished(what, got);
    saveBlob(new Blob(chunks, { type: res.headers.get('Content-Type') || 'application/octet-stream' }), filenameFrom(res, safeName(fallbackName)));
  }

  // ---- the rest of the page -----------------------------------------------

  async function load() {
    const seq = ++loadSeq;
    try {
      const r = await get(`/recordings/${id}`);
      let markers = r.markers;
      if (!Array.isArray(markers)) markers = (await get(`/recordings/${id}/markers`)).items || [];
      if (!roomName || r.room_id !== rec?.room_id) {
        const room = await get(`/rooms/${r.room_id}`).catch(() => null);
        roomName = room?.name || `Room ${r.room_id}`;
        fps = new Map((room?.cameras || []).filter((c) => c.video?.fps > 0).map((c) => [c.id, c.video.fps]));
      }
      if (seq !== loadSeq) return;
      rec = { ...r, markers };
      render();
    } catch (err) {
      if (seq !== loadSeq) return;
      if (err.status === 404) {
        title.textContent = 'Recording not found';
        content.hidden = true;
      }
      say(err.message, 'error');
    }
  }

  function render() {
    title.textContent = rec.title || `Recording ${rec.id}`;
    document.title = `${title.textContent} · Review · Vigil`;
    content.hidden = false;
    const fact = (k, ...v) => [h('dt', null, k), h('dd', null, ...v)];
    summary.replaceChildren(
      ...fact('Room', roomName),
      ...fact('Author', rec.author || '—'),
      ...fact('State', stateEl(rec.state)),
      ...fact('Start', timeEl(rec.start)),
      ...fact('End', timeEl(rec.end)),
      ...fact('Duration', h('span', { class: 'duration' }, formatDuration(rec.duration || 0))),
      ...fact('Locked', rec.locked ? 'Yes' : 'No'),
      ...fact('Keep until', keepText()));
    renderRetention();

    spansList.replaceChildren(...(rec.spans || []).map((s) => h('li', null,
      timeEl(s.start, formatClock(s.start)), ' – ',
      s.end ? timeEl(s.end, formatClock(s.end)) : h('span', { class: 'muted' }, 'now'),
      typeof s.end === 'number' ? h('span', { class: 'muted' }, ` (${formatDuration((s.end - s.start) / 1000)})`) : null)));
    if (!(rec.spans || []).length) spansList.append(h('li', { class: 'muted' }, 'None yet.'));

    buildPlayers();
    renderMarkers();
    renderTimeline();
    tracks.replaceChildren(...(rec.tracks || []).map(track));
    if (!(rec.tracks || []).length) tracks.append(h('p', { class: 'muted' }, 'No camera has recorded into this session yet.'));
  }

  // ---- retention and lock ------------------------------------------------

  function keepText() {
    const ret = rec.retention || {};
    const until = ret.expires_at ?? rec.retention_until;
    const rule = { inherit: 'the room\'s rule', days: `${ret.days} days after the end`, until: 'a date', forever: 'forever' }[ret.mode];
    const parts = [typeof until === 'number' ? timeEl(until) : (rec.state === 'stopped' || ret.mode === 'forever' ? 'forever' : 'set at the end')];
    if (rule) parts.push(h('span', { class: 'muted' }, ` (${rule})`));
    if (ret.kept) parts.push(h('span', { class: 'tag' }, 'a kept clip holds it'));
    return parts;
  }

  const keepMode = h('select', { id: 'keep-mode', name: 'mode' },
    h('option', { value: 'inherit' }, 'As the room says'),
    h('option', { value: 'days' }, 'Days after the end'),
    h('option', { value: 'until' }, 'Until a date'),
    h('option', { value: 'forever' }, 'Forever'));
  const keepDays = h('input', { id: 'keep-days', name: 'days', type: 'number', min: '0', max: '36500', step: '1', inputmode: 'numeric' });
  const keepUntil = h('input', { id: 'keep-until', name: 'until', type: 'date' });
  const keepLocked = h('input', { id: 'keep-locked', name: 'locked', type: 'checkbox' });
  const keepError = h('p', { class: 'field-error', role: 'alert' });
  const daysField = h('div', { class: 'field' }, h('label', { for: 'keep-days' }, 'Days'), keepDays);
  const untilField = h('div', { class: 'field' }, h('label', { for: 'keep-until' }, 'Date'), keepUntil);
  const retentionForm = h('form', { class: 'inline-form retention-form', 'aria-label': 'Retention', novalidate: true, hidden: !mayEdit },
    h('div', { class: 'field' }, h('label', { for: 'keep-mode' }, 'Keep'), keepMode),
    daysField, untilField,
    h('div', { class: 'field field-button' }, h('label', { class: 'check' }, keepLocked, 'Locked (never deleted)')),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn' }, 'Save retention')),
    keepError);
  const showKeepFields = () => {
    daysField.hidden = keepMode.value !== 'days';
    untilField.hidden = keepMode.value !== 'until';
  };
  keepMode.addEventListener('change', showKeepFields);
  let retentionShown = '';

  // Fills the form from the recording, unless the user is changing it.
  function renderRetention() {
    const ret = rec.retention || {};
    const key = JSON.stringify([ret.mode, ret.days, ret.until, rec.locked]);
    if (key === retentionShown || retentionForm.contains(document.activeElement)) return;
    retentionShown = key;
    keepMode.value = ret.mode || 'inherit';
    keepDays.value = ret.mode === 'days' && ret.days != null ? String(ret.days) : '';
    keepUntil.value = ret.mode === 'until' && ret.until ? new Date(ret.until).toISOString().slice(0, 10) : '';
    keepLocked.checked = !!rec.locked;
    showKeepFields();
  }

  retentionForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    keepError.textContent = '';
    const retention = { mode: keepMode.value };
    if (retention.mode === 'days') {
      const d = Number(keepDays.value);
      if (keepDays.value === '' || !Number.isInteger(d) || d < 0 || d > 36500) return (keepError.textContent = 'Days: a whole number from 0 to 36500.');
      retention.days = d;
    } else if (retention.mode === 'until') {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(keepUntil.value)) return (keepError.textContent = 'Pick the date to keep it until.');
      retention.until = keepUntil.value;
    }
    busy(retentionForm, true);
    try {
      await patch(`/recordings/${id}`, { retention, locked: keepLocked.checked });
      retentionShown = '';
      say('Saved the retention.', 'ok');
      load();
    } catch (err) {
      keepError.textContent = err.message;
    } finally {
      busy(retentionForm, false);
    }
  });

  function track(t) {
    const segs = t.segments || [];
    const gaps = t.gaps || [];
    return h('section', { class: 'panel track', 'data-camera': t.camera_name, 'aria-label': `Track of ${t.camera_name}` },
      h('h3', null, t.camera_name || `Camera ${t.camera_id}`),
      h('p', { class: 'muted track-meta' },
        timeEl(t.start, formatClock(t.start)), ' – ', t.end ? timeEl(t.end, formatClock(t.end)) : 'now',
        ` · ${segs.length} segment${segs.length === 1 ? '' : 's'} · ${formatBytes(t.bytes || 0)}`,
        t.sha256 ? [' · sha256 ', h('code', { title: t.sha256 }, shortHash(t.sha256))] : null),
      gaps.length
        ? h('p', { class: 'gaps' }, h('strong', null, `Gaps (${gaps.length}): `),
          gaps.map((g, i) => [i ? ', ' : '', formatClock(g.start), '–', formatClock(g.end),
            ` (${formatDuration((g.end - g.start) / 1000)})`]))
        : h('p', { class: 'muted small' }, 'No gaps.'),
      segs.length
        ? h('table', { class: 'grid compact', 'aria-label': `Segments of ${t.camera_name}` },
          h('thead', null, h('tr', null, ['#', 'Start', 'End', 'Length', 'Frames', 'Size', 'sha256', 'State'].map((c) =>
            h('th', { scope: 'col', class: ['#', 'Length', 'Frames', 'Size'].includes(c) ? 'num' : null }, c)))),
          h('tbody', null, segs.map((s, i) => h('tr', null,
            h('td', { class: 'num' }, String(i + 1)),
            h('td', null, timeEl(s.start, formatClock(s.start))),
            h('td', null, s.end ? timeEl(s.end, formatClock(s.end)) : '—'),
            h('td', { class: 'num' }, s.end ? formatDuration((s.end - s.start) / 1000) : ''),
            h('td', { class: 'num' }, s.frames ?? ''),
            h('td', { class: 'num' }, formatBytes(s.bytes || 0)),
            h('td', null, s.sha256 ? h('code', { title: s.sha256 }, shortHash(s.sha256)) : h('span', { class: 'muted' }, '—')),
            h('td', null, s.state || '')))))
        : null);
  }

  // Keyboard: space plays or pauses, J/L step 5 s, comma/period a frame,
  // I/O set the clip points; not while typing in a field.
  function onKey(ev) {
    if (ev.target.closest('input, textarea, select, button, [contenteditable]') || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const keys = {
      ' ': () => (playing ? pauseAll() : playAll()),
      j: () => seekAll(now() - STEP_S),
      l: () => seekAll(now() + STEP_S),
      ',': () => { if (playing) pauseAll(); seekAll(now() - frameStep()); },
      '.': () => { if (playing) pauseAll(); seekAll(now() + frameStep()); },
      i: () => setPoint('from'),
      o: () => setPoint('to'),
    };
    const fn = keys[ev.key.toLowerCase()];
    if (!fn || ev.target === timeline && ev.key.startsWith('Arrow')) return;
    ev.preventDefault();
    fn();
  }
  document.addEventListener('keydown', onKey);

  content.append(
    h('section', { class: 'panel review-player', 'aria-label': 'Player' },
      videos, controls, timeline,
      h('p', { class: 'hint small' }, 'Space plays or pauses; J and L jump 5 s; comma and period step a frame; I and O set the clip\'s in and out points. Hover the timeline for a picture; click it or a marker to go there.')),
    h('div', { class: 'review-columns' },
      h('section', { class: 'panel', 'aria-labelledby': 'markers-title' },
        h('h2', { id: 'markers-title' }, 'Markers ', markerCount),
        h('table', { class: 'grid compact markers-table', 'aria-label': 'Markers' },
          h('thead', null, h('tr', null, ['Time', 'Label', 'Note', 'Author', 'Changed', ''].map((c) =>
            h('th', { scope: 'col', class: c === 'Time' ? 'num' : null }, c || h('span', { class: 'visually-hidden' }, 'Actions'))))),
          markerBody),
        addForm),
      h('section', { class: 'panel', 'aria-labelledby': 'clips-title' },
        h('h2', { id: 'clips-title' }, 'Clips ', clipCount),
        clipForm,
        h('table', { class: 'grid compact clips-table', 'aria-label': 'Clips' },
          h('thead', null, h('tr', null, ['Title', 'Span', 'Length', 'Author', ''].map((c) =>
            h('th', { scope: 'col' }, c || h('span', { class: 'visually-hidden' }, 'Actions'))))),
          clipBody),
        h('h3', { class: 'sub' }, 'Downloads'),
        downloadButtons,
        downloadNote,
        progressBox)),
    h('section', { class: 'panel' }, summary, retentionForm,
      h('h2', { class: 'sub' }, 'Recorded spans'), spansList),
    h('section', { 'aria-labelledby': 'tracks-title' },
      h('h2', { id: 'tracks-title' }, 'Tracks'),
      h('p', { class: 'hint' }, 'Each camera\'s files with their hashes; the player above plays them without copying.'),
      tracks));

  main.append(h('section', { class: 'page page-wide review-page' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/review' }, '← All recordings')),
    title, status, content));

  const mine = (msg) => msg.marker?.recording_id === id;
  const stops = [
    events.on('hello', () => { load(); loadClips(); }),
    events.on('recording.changed', (msg) => { if ((msg.recording?.id ?? msg.recording_id) === id) load(); }),
    events.on('marker.created', (msg) => { if (mine(msg)) load(); }),
    events.on('marker.updated', (msg) => { if (mine(msg)) load(); }),
    events.on('marker.deleted', (msg) => { if (mine(msg)) load(); }),
    events.on('clip.changed', (msg) => { if (msg.clip?.recording_id === id) loadClips(); }),
  ];
  renderPlayButton();
  load();
  loadClips();
  return () => {
    loadSeq++;
    stopSync();
    document.removeEventListener('keydown', onKey);
    for (const p of players) {
      p.video.pause();
      p.video.removeAttribute('src');
      p.video.load();
    }
    stops.forEach((stop) => stop());
  };
}
