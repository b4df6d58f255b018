// The recordings library (#/review): every recording the user may see,
// searched by room, title, author, marker text and a date range, sorted by
// date, a page at a time. Each row has a thumbnail (the first keyframe),
// the duration, the cameras, the marker count and whether the recording is
// locked or when it may be deleted. A row's title opens the Review page.

import { get } from '../api.js';
import * as events from '../events.js';
import { h } from '../dom.js';
import { formatDuration, formatDateTime, isoTime } from '../format.js';

const PAGE = 25;
const STATES = { recording: 'Recording', paused: 'Paused', stopped: 'Stopped' };

// The filters and page survive a visit to a recording.
const filters = { roomId: '', q: '', author: '', marker: '', from: '', to: '', sort: 'date_desc', offset: 0 };

// UTC ms -> local "2025-06-01".
function formatDate(ms) {
  return formatDateTime(ms).slice(0, 10);
}

function timeEl(ms, text = formatDateTime(ms)) {
  return typeof ms === 'number' ? h('time', { datetime: isoTime(ms) }, text) : h('span', { class: 'muted' }, '—');
}

// A yyyy-mm-dd date input as UTC ms: the start of that local day, or with
// end, its last millisecond.
function dayMs(value, end) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return 0;
  const [y, m, d] = value.split('-').map(Number);
  const t = end ? new Date(y, m - 1, d + 1).getTime() - 1 : new Date(y, m - 1, d).getTime();
  return Number.isFinite(t) && t > 0 ? t : 0;
}

// How long the recording is kept: its lock, the date retention may delete
// it after, or forever; and whether a kept clip holds it.
function keepEl(rec) {
  const ret = rec.retention || {};
  const held = ret.kept ? h('span', { class: 'tag', title: 'A clip marked to keep holds this recording' }, 'clip kept') : null;
  if (rec.locked) return h('span', null, h('span', { class: 'tag tag-lock', title: 'Locked: never deleted by retention' }, 'locked'), held);
  const until = ret.expires_at ?? rec.retention_until;
  if (typeof until === 'number') return h('span', { class: 'keep' }, 'until ', timeEl(until, formatDate(until)), held);
  if (rec.state !== 'stopped' && ret.mode !== 'forever') return h('span', { class: 'keep muted' }, 'from its end', held);
  return h('span', { class: 'keep' }, 'forever', held);
}

export function libraryPage(main) {
  const status = h('p', { class: 'notice', id: 'review-status', role: 'status', 'aria-live': 'polite' });
  const count = h('span', { class: 'count' });
  const tbody = h('tbody');
  const pager = h('div', { class: 'pager' });
  const rooms = new Map();
  let loadSeq = 0;
  let timer = null;

  const roomSelect = h('select', { id: 'review-room', name: 'room_id' }, h('option', { value: '' }, 'All rooms'));
  const input = (id, name, type, placeholder, value) =>
    h('input', { id, name, type, placeholder, autocomplete: 'off', value });
  const search = input('review-q', 'q', 'search', 'Words in the title', filters.q);
  const author = input('review-author', 'author', 'search', 'Who recorded', filters.author);
  const marker = input('review-marker', 'marker', 'search', 'Words in a marker', filters.marker);
  const from = input('review-from', 'from', 'date', null, filters.from);
  const to = input('review-to', 'to', 'date', null, filters.to);
  const sort = h('select', { id: 'review-sort', name: 'sort', value: filters.sort },
    h('option', { value: 'date_desc' }, 'Newest first'),
    h('option', { value: 'date_asc' }, 'Oldest first'));

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

  const filtering = () => !!(filters.q || filters.roomId || filters.author || filters.marker || filters.from || filters.to);

  async function load() {
    const seq = ++loadSeq;
    const qs = new URLSearchParams({ limit: String(PAGE), offset: String(filters.offset), sort: filters.sort });
    if (filters.roomId) qs.set('room_id', filters.roomId);
    if (filters.q) qs.set('q', filters.q);
    if (filters.author) qs.set('author', filters.author);
    if (filters.marker) qs.set('marker', filters.marker);
    const f = dayMs(filters.from, false);
    const t = dayMs(filters.to, true);
    if (f) qs.set('from', String(f));
    if (t) qs.set('to', String(t));
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
        tbody.append(h('tr', null, h('td', { colspan: 10, class: 'muted empty' },
          filtering() ? 'No recording matches.' : 'No recordings yet. Start one on Observe.')));
      }
      count.textContent = String(list.total ?? items.length);
      renderPager(items.length, list.total ?? items.length);
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
    const cams = rec.cameras || [];
    const title = rec.title || `Recording ${rec.id}`;
    const thumb = cams.length
      ? h('img', {
        class: 'lib-thumb', loading: 'lazy', width: 128, height: 72, alt: '',
        src: `/api/v1/recordings/${rec.id}/thumbnail.jpg?width=256`,
        onerror: (ev) => ev.target.replaceWith(h('span', { class: 'lib-thumb lib-thumb-none', 'aria-hidden': 'true' })),
      })
      : h('span', { class: 'lib-thumb lib-thumb-none', 'aria-hidden': 'true' });
    return h('tr', { 'data-recording': rec.id },
      h('td', { class: 'thumb-cell' }, h('a', { href: `#/review/${rec.id}`, tabindex: '-1', 'aria-hidden': 'true' }, thumb)),
      h('th', { scope: 'row' }, h('a', { href: `#/review/${rec.id}` },
        rec.title || h('span', { class: 'untitled' }, title))),
      h('td', null, rec.room_name || room?.name || `Room ${rec.room_id}`),
      h('td', null, rec.author || ''),
      h('td', null, timeEl(rec.start)),
      h('td', { class: 'num duration' }, formatDuration(rec.duration || 0)),
      h('td', { class: 'cameras' }, cams.length
        ? h('span', { title: cams.map((c) => c.camera_name).join(', ') }, `${cams.length} · ${cams.map((c) => c.camera_name).join(', ')}`)
        : h('span', { class: 'muted' }, 'none')),
      h('td', { class: 'num markers' }, String(rec.marker_count ?? '')),
      h('td', null, h('span', { class: `rec-state rec-${rec.state}` }, STATES[rec.state] || rec.state)),
      h('td', { class: 'keep-cell' }, keepEl(rec)));
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

  const fieldOf = (label, el, wide) =>
    h('div', { class: wide ? 'field field-wide' : 'field' }, h('label', { for: el.id }, label), el);
  const form = h('form', { class: 'inline-form filters', role: 'search', 'aria-label': 'Find recordings', novalidate: true },
    fieldOf('Room', roomSelect),
    fieldOf('Title', search, true),
    fieldOf('Author', author),
    fieldOf('Marker text', marker),
    fieldOf('From', from),
    fieldOf('To', to),
    fieldOf('Sort', sort),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn' }, 'Search')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    filters.q = search.value.trim();
    filters.author = author.value.trim();
    filters.marker = marker.value.trim();
    filters.roomId = roomSelect.value;
    filters.from = from.value;
    filters.to = to.value;
    filters.sort = sort.value;
    filters.offset = 0;
    load();
  });
  for (const el of [roomSelect, sort, from, to]) el.addEventListener('change', () => form.requestSubmit());

  main.append(h('section', { class: 'page page-wide' },
    h('h1', { tabindex: '-1' }, 'Review ', count),
    form, status,
    h('table', { class: 'grid recordings library', 'aria-label': 'Recordings' },
      h('thead', null, h('tr', null,
        ['', 'Title', 'Room', 'Author', 'Start', 'Duration', 'Cameras', 'Marks', 'State', 'Kept'].map((c) =>
          h('th', { scope: 'col', class: c === 'Duration' || c === 'Marks' ? 'num' : null },
            c || h('span', { class: 'visually-hidden' }, 'Picture'))))),
      tbody),
    pager));

  const stops = [
    events.on('hello', () => { loadRooms(); reloadSoon(); }),
    events.on('recording.changed', reloadSoon),
    events.on('marker.created', reloadSoon),
    events.on('marker.updated', reloadSoon),
    events.on('marker.deleted', reloadSoon),
    events.on('room.changed', () => { loadRooms().then(reloadSoon); }),
  ];
  loadRooms().then(load);
  return () => {
    loadSeq++;
    clearTimeout(timer);
    stops.forEach((stop) => stop());
  };
}
