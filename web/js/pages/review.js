// Review: the recordings the user may see (reviewPage), filtered by room
// and title, a page at a time; and one recording (recordingPage): its
// spans, its tracks with their segment files and gaps, and its markers,
// with a form to add one. Playback comes later.

import { get, post } from '../api.js';
import * as events from '../events.js';
import { h, field, busy } from '../dom.js';
import { formatDuration, formatOffset, formatDateTime, formatClock, formatBytes, shortHash, isoTime } from '../format.js';

const PAGE = 50;
const STATES = { recording: 'Recording', paused: 'Paused', stopped: 'Stopped' };

// The list's filters and page survive a visit to a recording.
const filters = { roomId: '', q: '', offset: 0 };

function timeEl(ms, text = formatDateTime(ms)) {
  return typeof ms === 'number' ? h('time', { datetime: isoTime(ms) }, text) : h('span', { class: 'muted' }, '—');
}

function stateEl(state) {
  return h('span', { class: `rec-state rec-${state}` }, STATES[state] || state);
}

// --- the list ----------------------------------------------------------------

export function reviewPage(main) {
  const status = h('p', { class: 'notice', id: 'review-status', role: 'status', 'aria-live': 'polite' });
  const count = h('span', { class: 'count' });
  const tbody = h('tbody');
  const pager = h('div', { class: 'pager' });
  const roomSelect = h('select', { id: 'review-room', name: 'room_id' }, h('option', { value: '' }, 'All rooms'));
  const search = h('input', { id: 'review-q', name: 'q', type: 'search', placeholder: 'Words in the title', autocomplete: 'off', value: filters.q });
  const rooms = new Map();
  let loadSeq = 0;
  let timer = null;

  function say(text, kind = 'info') {
    status.className = `notice notice-${kind}`;
    status.textContent = text;
  }

  async function loadRooms() {
    try {
      const list = await get('/rooms?limit=500');
      rooms.clear();
      for (const r of list.items || []) rooms.set(r.id, r);
      roomSelect.replaceChildren(h('option', { value: '' }, 'All rooms'),
        ...[...rooms.values()].map((r) => h('option', { value: String(r.id) }, r.name)));
      roomSelect.value = rooms.has(Number(filters.roomId)) ? filters.roomId : '';
    } catch (err) {
      say(err.message, 'error');
    }
  }

  async function load() {
    const seq = ++loadSeq;
    const qs = new URLSearchParams({ limit: String(PAGE), offset: String(filters.offset) });
    if (filters.roomId) qs.set('room_id', filters.roomId);
    if (filters.q) qs.set('q', filters.q);
    try {
      const list = await get(`/recordings?${qs}`);
      if (seq !== loadSeq) return;
      const items = list.items || [];
      if (!items.length && filters.offset > 0 && list.total > 0) {
        filters.offset = Math.max(0, Math.floor((list.total - 1) / PAGE) * PAGE);
        return load();
      }
      tbody.replaceChildren(...items.map(row));
      if (!items.length) {
        tbody.append(h('tr', null, h('td', { colspan: 7, class: 'muted empty' },
          filters.q || filters.roomId ? 'No recording matches.' : 'No recordings yet. Start one on Observe.')));
      }
      count.textContent = String(list.total ?? items.length);
      renderPager(items.length, list.total ?? items.length);
      fillMarkerCounts(items, seq);
      if (status.classList.contains('notice-error')) say('');
    } catch (err) {
      if (seq === loadSeq) say(err.message, 'error');
    }
  }

  // One reload for a burst of events.
  function reloadSoon() {
    clearTimeout(timer);
    timer = setTimeout(load, 300);
  }

  function row(rec) {
    const room = rooms.get(rec.room_id);
    const markers = typeof rec.marker_count === 'number' ? String(rec.marker_count)
      : Array.isArray(rec.markers) ? String(rec.markers.length) : '…';
    return h('tr', { 'data-recording': rec.id },
      h('th', { scope: 'row' }, h('a', { href: `#/review/${rec.id}` },
        rec.title || h('span', { class: 'untitled' }, `Recording ${rec.id}`))),
      h('td', null, rec.room_name || room?.name || `Room ${rec.room_id}`),
      h('td', null, rec.author || ''),
      h('td', null, timeEl(rec.start)),
      h('td', { class: 'num duration' }, formatDuration(rec.duration || 0)),
      h('td', null, stateEl(rec.state), rec.locked ? h('span', { class: 'tag' }, 'locked') : null),
      h('td', { class: 'num markers' }, markers));
  }

  // The list comes without markers: count them for the rows on screen.
  async function fillMarkerCounts(items, seq) {
    const todo = items.filter((r) => typeof r.marker_count !== 'number' && !Array.isArray(r.markers));
    for (let i = 0; i < todo.length; i += 6) {
      await Promise.all(todo.slice(i, i + 6).map(async (rec) => {
        try {
          const m = await get(`/recordings/${rec.id}/markers`);
          if (seq !== loadSeq) return;
          const cell = tbody.querySelector(`tr[data-recording="${rec.id}"] .markers`);
          if (cell) cell.textContent = String(m.total ?? (m.items || []).length);
        } catch {
          // leave the ellipsis
        }
      }));
      if (seq !== loadSeq) return;
    }
  }

  function renderPager(shown, total) {
    const first = total ? filters.offset + 1 : 0;
    const last = filters.offset + shown;
    pager.replaceChildren(
      h('span', { class: 'muted' }, total ? `${first}–${last} of ${total}` : ''),
      h('button', {
        type: 'button', class: 'btn btn-small', disabled: filters.offset === 0,
        onclick: () => { filters.offset = Math.max(0, filters.offset - PAGE); load(); },
      }, 'Previous'),
      h('button', {
        type: 'button', class: 'btn btn-small', disabled: last >= total,
        onclick: () => { filters.offset += PAGE; load(); },
      }, 'Next'));
    pager.hidden = total <= PAGE;
  }

  const form = h('form', { class: 'inline-form filters', role: 'search', 'aria-label': 'Find recordings', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'review-room' }, 'Room'), roomSelect),
    h('div', { class: 'field field-wide' }, h('label', { for: 'review-q' }, 'Title'), search),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn' }, 'Search')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    filters.q = search.value.trim();
    filters.roomId = roomSelect.value;
    filters.offset = 0;
    load();
  });
  roomSelect.addEventListener('change', () => form.requestSubmit());

  main.append(h('section', { class: 'page page-wide' },
    h('h1', { tabindex: '-1' }, 'Review ', count),
    form, status,
    h('table', { class: 'grid recordings', 'aria-label': 'Recordings' },
      h('thead', null, h('tr', null,
        ['Title', 'Room', 'Author', 'Start', 'Duration', 'State', 'Marks'].map((c) =>
          h('th', { scope: 'col', class: c === 'Duration' || c === 'Marks' ? 'num' : null }, c)))),
      tbody),
    pager));

  const stops = [
    events.on('hello', () => { loadRooms(); reloadSoon(); }),
    events.on('recording.changed', reloadSoon),
    events.on('marker.created', reloadSoon),
    events.on('room.changed', () => { loadRooms().then(reloadSoon); }),
  ];
  loadRooms().then(load);
  return () => {
    loadSeq++;
    clearTimeout(timer);
    stops.forEach((stop) => stop());
  };
}

// --- one recording ---------------------------------------------------------

export function recordingPage(main, ctx) {
  const id = ctx.params.id;
  const title = h('h1', { tabindex: '-1' }, `Recording ${id}`);
  const status = h('p', { class: 'notice', id: 'recording-status', role: 'status', 'aria-live': 'polite' });
  const summary = h('dl', { class: 'facts' });
  const spans = h('ol', { class: 'spans' });
  const markerBody = h('tbody');
  const markerCount = h('span', { class: 'count' });
  const tracks = h('div', { class: 'tracks' });
  const content = h('div', { hidden: true });
  let rec = null;
  let loadSeq = 0;
  let roomName = '';

  function say(text, kind = 'info') {
    status.className = `notice notice-${kind}`;
    status.textContent = text;
  }

  async function load() {
    const seq = ++loadSeq;
    try {
      const r = await get(`/recordings/${id}`);
      let markers = r.markers;
      if (!Array.isArray(markers)) markers = (await get(`/recordings/${id}/markers`)).items || [];
      if (!roomName || r.room_id !== rec?.room_id) {
        roomName = r.room_name || (await get(`/rooms/${r.room_id}`).then((x) => x.name, () => `Room ${r.room_id}`));
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
      ...fact('Keep until', rec.retention_until ? timeEl(rec.retention_until) : 'no limit set'));

    spans.replaceChildren(...(rec.spans || []).map((s) => h('li', null,
      timeEl(s.start, formatClock(s.start)), ' – ',
      s.end ? timeEl(s.end, formatClock(s.end)) : h('span', { class: 'muted' }, 'now'),
      typeof s.end === 'number' ? h('span', { class: 'muted' }, ` (${formatDuration((s.end - s.start) / 1000)})`) : null)));
    if (!(rec.spans || []).length) spans.append(h('li', { class: 'muted' }, 'None yet.'));

    const markers = [...rec.markers].sort((a, b) => a.time - b.time);
    markerCount.textContent = String(markers.length);
    markerBody.replaceChildren(...markers.map((m) => h('tr', { 'data-marker': m.id },
      h('td', { class: 'num' }, m.color ? h('span', { class: 'swatch', style: `background:${/^#[0-9a-f]{6}$/i.test(m.color) ? m.color : 'transparent'}`, 'aria-hidden': 'true' }) : null,
        formatOffset(m.time)),
      h('th', { scope: 'row' }, m.label),
      h('td', { class: 'note' }, m.note || ''),
      h('td', null, m.author || ''),
      h('td', null, timeEl(m.created_at)))));
    if (!markers.length) markerBody.append(h('tr', null, h('td', { colspan: 5, class: 'muted empty' }, 'No markers yet.')));
    timeInput.max = String(rec.duration || 0);

    tracks.replaceChildren(...(rec.tracks || []).map(track));
    if (!(rec.tracks || []).length) tracks.append(h('p', { class: 'muted' }, 'No camera has recorded into this session yet.'));
  }

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

  // Add a marker at a time typed in seconds.
  const timeInput = h('input', { id: 'marker-time', name: 'time', type: 'number', min: '0', step: '0.1', required: true, inputmode: 'decimal' });
  const time = field('Time (s)', timeInput);
  const label = field('Label', h('input', { id: 'marker-label', name: 'label', maxlength: 200, required: true, autocomplete: 'off' }));
  const note = field('Note', h('input', { id: 'marker-note', name: 'note', maxlength: 4096, autocomplete: 'off' }));
  note.el.classList.add('field-wide');
  const addForm = h('form', { class: 'inline-form', 'aria-label': 'Add a marker', novalidate: true },
    time.el, label.el, note.el,
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
      const body = { time: t, label: label.input.value.trim() };
      if (note.input.value.trim()) body.note = note.input.value.trim();
      const m = await post(`/recordings/${id}/markers`, body);
      say(`Added the marker ${m.label} at ${formatOffset(m.time)}.`, 'ok');
      addForm.reset();
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

  content.append(
    h('section', { class: 'panel' }, summary,
      h('h2', { class: 'sub' }, 'Recorded spans'), spans),
    h('section', { class: 'panel', 'aria-labelledby': 'markers-title' },
      h('h2', { id: 'markers-title' }, 'Markers ', markerCount),
      h('table', { class: 'grid compact markers-table', 'aria-label': 'Markers' },
        h('thead', null, h('tr', null, ['Time', 'Label', 'Note', 'Author', 'Added'].map((c) =>
          h('th', { scope: 'col', class: c === 'Time' ? 'num' : null }, c)))),
        markerBody),
      addForm),
    h('section', { 'aria-labelledby': 'tracks-title' },
      h('h2', { id: 'tracks-title' }, 'Tracks'),
      h('p', { class: 'hint' }, 'Playback comes in a later version; each camera\'s files are listed with their hashes.'),
      tracks));

  main.append(h('section', { class: 'page page-wide' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/review' }, '← All recordings')),
    title, status, content));

  const stops = [
    events.on('hello', load),
    events.on('recording.changed', (msg) => { if (msg.recording?.id === id) load(); }),
    events.on('marker.created', (msg) => { if (msg.marker?.recording_id === id) load(); }),
  ];
  load();
  return () => {
    loadSeq++;
    stops.forEach((stop) => stop());
  };
}
