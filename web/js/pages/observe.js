// Observe: the rooms the user may see, each a card with its cameras in a
// grid (the layout picker: 1, 2×2, 3×3 or 4×4 tiles a row), the room's state
// and recorded time, and for operators and admins large Record / Pause /
// Resume / Stop buttons and a Mark button with a small inline form beside
// the video.
//
// A saved view (#/observe/{id}, GET /api/v1/views/{id}) shows only its
// cameras, in its order and layout; "Save view…" stores the cameras shown
// (or those ticked in its form) as a view of this user's.
//
// Cards update in place from the events socket (camera.status,
// camera.changed, recording.changed, marker.created, room.changed); a
// "hello" (a new or re-established socket) reloads everything.
//
// An online camera shows its live video (muted; the sound button turns it
// on). A click on the video (or Enter) shows that camera full size with its
// room's controls; Esc, a click or "Back to the grid" returns. A camera
// with no picture says why in its tile. A card keeps one player per camera
// across re-renders (the <video> moves into the new tile) and while the
// camera reconnects; a player closes when its camera goes offline, fails or
// leaves, its room goes, or the page closes.

import { get, post, patch, del } from '../api.js';
import * as events from '../events.js';
import { h } from '../dom.js';
import { formatDuration, formatOffset, formatStream, CAMERA_STATUS, ROOM_STATUS } from '../format.js';
import { playLive } from '../player.js';

const PAGE_SIZE = 500;
const LAYOUTS = [['1', '1'], ['2x2', '2×2'], ['3x3', '3×3'], ['4x4', '4×4']];
const COLUMNS = { 1: 1, '2x2': 2, '3x3': 3, '4x4': 4 };
const LAYOUT_KEY = 'vigil.observe.layout';
const VIEW_CAMERAS_MAX = 16;

function savedLayout() {
  try {
    const l = localStorage.getItem(LAYOUT_KEY);
    if (Object.hasOwn(COLUMNS, l)) return l;
  } catch {
    // storage may be off; the default does
  }
  return '2x2';
}

export function observePage(main, ctx) {
  const canRecord = ctx.user && (ctx.user.role === 'admin' || ctx.user.role === 'operator');
  const viewId = ctx.params.id || null;
  const grid = h('div', { class: 'room-grid' });
  const status = h('p', { class: 'notice', id: 'observe-status', role: 'status', 'aria-live': 'polite' });
  const count = h('span', { class: 'count' });
  const cards = new Map(); // room id -> card
  let loadSeq = 0;
  let closed = false;
  let layout = savedLayout();
  let view = null; // the saved view shown: { id, name, layout, camera_ids }
  let views = []; // the user's saved views, for the picker
  let focused = null; // { roomId, cameraId } of the camera shown full size

  function say(text, kind = 'info') {
    status.className = `notice notice-${kind}`;
    status.textContent = text;
  }

  // --- data ----------------------------------------------------------------

  async function load() {
    const seq = ++loadSeq;
    try {
      const [list, mine, shown] = await Promise.all([
        get(`/rooms?limit=${PAGE_SIZE}`),
        get('/views?limit=500').catch(() => ({ items: [] })),
        viewId ? get(`/views/${viewId}`).catch((err) => (err.status === 404 ? null : Promise.reject(err))) : null,
      ]);
      if (seq !== loadSeq) return;
      views = mine.items || [];
      if (viewId && !shown) say('This view does not exist (any more); showing every room.', 'error');
      setView(shown);
      renderViewBar();
      const rooms = list.items || [];
      const seen = new Set();
      for (const room of rooms) {
        seen.add(room.id);
        upsertRoom(room);
      }
      for (const id of [...cards.keys()]) if (!seen.has(id)) removeRoom(id);
      arrange();
      await Promise.all(rooms.map((room) => refreshStatus(room.id)));
      if (seq === loadSeq && status.classList.contains('notice-error') && (!viewId || view)) say('');
    } catch (err) {
      if (seq === loadSeq) say(err.message, 'error');
    }
  }

  // The room's state and, while one runs, its recording.
  async function refreshStatus(roomId) {
    const card = cards.get(roomId);
    if (!card) return;
    const seq = ++card.statusSeq;
    try {
      const st = await get(`/rooms/${roomId}/status`);
      let rec = null;
      if (st.recording_id) rec = await get(`/recordings/${st.recording_id}`);
      if (seq !== card.statusSeq || closed) return;
      card.state = st.status;
      setRecording(card, rec);
      renderState(card);
      renderControls(card);
    } catch (err) {
      if (seq === card.statusSeq && err.status !== 404) card.say(err.message, 'error');
    }
  }

  async function refreshCamera(roomId, cameraId) {
    try {
      const cam = await get(`/cameras/${cameraId}`);
      const card = cards.get(roomId);
      if (!card || closed) return;
      const i = card.room.cameras.findIndex((c) => c.id === cameraId);
      if (i >= 0) card.room.cameras[i] = cam;
      renderCameras(card);
    } catch {
      // Gone or hidden: the camera.changed or room.changed event says so.
    }
  }

  // Keeps the ids of the recording's markers, so that a marker counts once
  // whether it came with the recording or by its marker.created event.
  function setRecording(card, rec) {
    const same = card.recording && rec && card.recording.id === rec.id;
    if (!same) card.markers = new Set();
    if (rec && Array.isArray(rec.markers)) for (const m of rec.markers) card.markers.add(m.id);
    card.recording = rec;
    card.fetchedAt = performance.now();
  }

  // Seconds recorded so far: the server's duration plus the time since.
  function elapsed(card) {
    const rec = card.recording;
    if (!rec) return 0;
    const d = rec.duration || 0;
    return rec.state === 'recording' ? d + (performance.now() - card.fetchedAt) / 1000 : d;
  }

  // --- layout and saved views ----------------------------------------------

  function setView(v) {
    view = v;
    if (v) layout = v.layout;
    applyLayout();
  }

  function applyLayout() {
    grid.style.setProperty('--cols', String(COLUMNS[layout] || 2));
    grid.dataset.layout = layout;
    for (const b of layoutBar.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.layout === layout));
    for (const card of cards.values()) sizeCams(card);
    retune();
  }

  // The stream a tile asks for: a camera with a substream plays it in the
  // dense grids (3×3, 4×4), where a tile is small, unless it is full size.
  function wantedQuality(cam) {
    const full = focused && focused.cameraId === cam.id;
    return cam.substream_url && (COLUMNS[layout] || 2) >= 3 && !full ? 'sub' : 'main';
  }

  // Restarts the players whose wanted stream changed (layout, full size).
  function retune() {
    for (const card of cards.values()) {
      for (const tile of card.tiles.values()) if (wantedQuality(tile.cam) !== tile.quality) tile.start(tile.stream);
    }
  }

  // A room with fewer cameras than a row of the layout takes less width.
  function sizeCams(card) {
    const n = Math.max(1, Math.min(shownCameras(card).length, COLUMNS[layout] || 2));
    card.cams.style.setProperty('--n', String(n));
  }

  function pickLayout(l) {
    layout = l;
    if (!view) {
      try {
        localStorage.setItem(LAYOUT_KEY, l);
      } catch {
        // not kept: fine
      }
    }
    applyLayout();
  }

  // The cameras a card shows: all of its room's, or the view's in its order.
  function shownCameras(card) {
    const cams = card.room.cameras || [];
    if (!view) return cams;
    const out = [];
    for (const id of view.camera_ids) {
      const cam = cams.find((c) => c.id === id);
      if (cam) out.push(cam);
    }
    return out;
  }

  const layoutBar = h('div', { class: 'seg', role: 'group', 'aria-label': 'Layout' },
    LAYOUTS.map(([value, label]) => h('button', {
      type: 'button', class: 'btn btn-small', 'data-layout': value, 'aria-pressed': 'false',
      title: value === '1' ? 'One camera a row' : `${label} grid`,
      onclick: () => pickLayout(value),
    }, label)));
  const viewSelect = h('select', { id: 'observe-view', onchange: () => {
    ctx.navigate(viewSelect.value ? `/observe/${viewSelect.value}` : '/observe');
  } });
  const saveButton = h('button', { type: 'button', class: 'btn btn-small', onclick: () => viewForm.open() }, 'Save view…');
  const deleteButton = h('button', { type: 'button', class: 'btn btn-small btn-danger', hidden: true, onclick: deleteView }, 'Delete view');
  const viewBar = h('div', { class: 'observe-bar' },
    h('span', { class: 'bar-label', id: 'layout-label', 'aria-hidden': 'true' }, 'Layout'), layoutBar,
    h('label', { for: viewSelect.id, class: 'bar-label' }, 'View'), viewSelect, saveButton, deleteButton);

  function renderViewBar() {
    viewSelect.replaceChildren(h('option', { value: '' }, 'All rooms'),
      ...views.map((v) => h('option', { value: String(v.id) }, v.name)));
    viewSelect.value = view ? String(view.id) : '';
    saveButton.textContent = view ? 'Edit view…' : 'Save view…';
    deleteButton.hidden = !view;
  }

  async function deleteView() {
    if (!view || !confirm(`Delete the view ${view.name}? The cameras stay.`)) return;
    try {
      await del(`/views/${view.id}`);
      ctx.navigate('/observe');
    } catch (err) {
      say(err.message, 'error');
    }
  }

  // The form that saves the grid as a view: a name and the cameras, ticked
  // as shown now; the layout is the one picked.
  const viewForm = (() => {
    const name = h('input', { id: 'view-name', name: 'name', maxlength: 128, required: true, autocomplete: 'off' });
    const error = h('p', { class: 'field-error', id: 'view-error', role: 'alert' });
    const list = h('div', { class: 'view-cams' });
    const at = h('span', { class: 'muted small' });
    const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save view');
    const form = h('form', { class: 'panel view-form', hidden: true, 'aria-label': 'Save view', novalidate: true },
      h('div', { class: 'inline-form' },
        h('div', { class: 'field field-wide' }, h('label', { for: name.id }, 'View name'), name),
        h('div', { class: 'field field-button' }, at)),
      list, error,
      h('div', { class: 'buttons' }, save, h('button', { type: 'button', class: 'btn', onclick: () => close() }, 'Cancel')));

    function close() {
      form.hidden = true;
      saveButton.focus();
    }

    form.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.preventDefault();
        close();
      }
    });

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      error.textContent = '';
      const picked = [...list.querySelectorAll('input[type=checkbox]:checked')].map((c) => Number(c.value));
      // An edited view keeps the order of the cameras it had.
      const ids = view ? [...view.camera_ids.filter((id) => picked.includes(id)), ...picked.filter((id) => !view.camera_ids.includes(id))] : picked;
      if (!name.value.trim()) {
        error.textContent = 'Give the view a name.';
        return name.focus();
      }
      if (!ids.length || ids.length > VIEW_CAMERAS_MAX) {
        error.textContent = `Tick from 1 to ${VIEW_CAMERAS_MAX} cameras.`;
        return;
      }
      save.disabled = true;
      try {
        const body = { name: name.value.trim(), layout, camera_ids: ids };
        const saved = view ? await patch(`/views/${view.id}`, body) : await post('/views', body);
        form.hidden = true;
        if (view && saved.id === view.id) {
          views = views.map((v) => (v.id === saved.id ? saved : v));
          setView(saved);
          renderViewBar();
          for (const card of cards.values()) renderCameras(card);
          arrange();
          say(`View ${saved.name} saved.`, 'ok');
        } else {
          ctx.navigate(`/observe/${saved.id}`);
        }
      } catch (err) {
        error.textContent = err.message;
      } finally {
        save.disabled = false;
      }
    });

    return {
      el: form,
      open() {
        // The cameras shown now, in page order, up to what a view holds.
        const shown = new Set();
        for (const el of grid.children) {
          const card = cards.get(Number(el.dataset.roomId));
          if (!card || el.hidden) continue;
          for (const cam of shownCameras(card)) if (shown.size < VIEW_CAMERAS_MAX) shown.add(cam.id);
        }
        const rooms = [...cards.values()].map((c) => c.room).sort((a, b) => a.name.localeCompare(b.name));
        list.replaceChildren(...rooms.filter((r) => (r.cameras || []).length).map((room) =>
          h('fieldset', { class: 'view-room' }, h('legend', null, room.name),
            room.cameras.map((cam) => {
              const id = `view-cam-${cam.id}`;
              return h('label', { for: id, class: 'check' },
                h('input', { type: 'checkbox', id, value: String(cam.id), checked: shown.has(cam.id) }), cam.name);
            }))));
        name.value = view ? view.name : '';
        at.textContent = `Layout ${LAYOUTS.find(([v]) => v === layout)[1]}; up to ${VIEW_CAMERAS_MAX} cameras, from any rooms.`;
        save.textContent = view ? 'Save changes' : 'Save view';
        error.textContent = '';
        form.hidden = false;
        name.focus();
      },
    };
  })();

  // --- cards ---------------------------------------------------------------

  function upsertRoom(room) {
    let card = cards.get(room.id);
    if (!card) {
      card = makeCard(room);
      cards.set(room.id, card);
    } else {
      card.room = room;
    }
    if (room.disabled && card.state !== 'recording' && card.state !== 'paused') card.state = 'locked';
    else if (!room.disabled && card.state === 'locked') card.state = 'available';
    renderHead(card);
    renderCameras(card);
    renderState(card);
    renderControls(card);
  }

  function removeRoom(id) {
    const card = cards.get(id);
    if (!card) return;
    if (card.el.contains(document.activeElement)) main.querySelector('h1')?.focus();
    if (focused && focused.roomId === id) focused = null;
    closeTiles(card);
    card.el.remove();
    cards.delete(id);
    arrange();
  }

  // Orders the cards (by name; in a view, by its first camera in the
  // room) and hides those a view leaves out.
  function arrange() {
    const rank = (card) => {
      if (!view) return 0;
      const ids = new Set((card.room.cameras || []).map((c) => c.id));
      const i = view.camera_ids.findIndex((id) => ids.has(id));
      return i < 0 ? Infinity : i;
    };
    const sorted = [...cards.values()].sort((a, b) => rank(a) - rank(b) || a.room.name.localeCompare(b.room.name));
    const active = document.activeElement;
    let shown = 0;
    for (const c of sorted) {
      c.el.hidden = !!view && shownCameras(c).length === 0;
      if (!c.el.hidden) shown++;
      grid.append(c.el); // moves; keeps each card's own state
    }
    if (active && grid.contains(active)) active.focus();
    count.textContent = String(shown);
    empty.hidden = shown > 0;
  }

  function makeCard(room) {
    const id = `room-${room.id}`;
    const card = {
      room,
      state: room.disabled ? 'locked' : 'available',
      recording: null,
      fetchedAt: 0,
      markers: new Set(), // ids of the running recording's markers
      statusSeq: 0,
      tiles: new Map(), // camera id -> live video tile
      name: h('h2', { id: `${id}-name`, class: 'room-name' }),
      pill: h('span', { class: 'room-state' }),
      elapsed: h('span', { class: 'elapsed', 'aria-label': 'Time recorded' }),
      sub: h('p', { class: 'room-sub muted' }),
      cams: h('ul', { class: 'cams', 'aria-label': `Cameras of ${room.name}` }),
      controls: h('div', { class: 'controls' }),
      mark: null,
      msg: h('p', { class: 'card-msg', role: 'status', 'aria-live': 'polite' }),
    };
    card.say = (text, kind = 'info') => {
      card.msg.className = `card-msg card-msg-${kind}`;
      card.msg.textContent = text;
    };
    card.mark = markForm(card);
    card.el = h('article', { class: `room-card${canRecord ? ' can-record' : ''}`, 'aria-labelledby': card.name.id, 'data-room-id': room.id },
      h('header', { class: 'room-head' }, card.name, h('div', { class: 'room-status' }, card.pill, card.elapsed)),
      h('div', { class: 'room-body' },
        card.cams,
        h('div', { class: 'room-side' },
          card.sub, canRecord ? card.controls : null, canRecord ? card.mark.el : null, card.msg)));
    return card;
  }

  function renderHead(card) {
    card.name.textContent = card.room.name;
    card.el.dataset.room = card.room.name;
    card.cams.setAttribute('aria-label', `Cameras of ${card.room.name}`);
  }

  // Why a camera shows no picture, in words for its tile.
  function noPicture(cam, s) {
    switch (s) {
      case 'disabled': return 'Disabled: an admin can enable this camera.';
      case 'connecting': return 'Connecting to the camera…';
      case 'error': return `No picture: ${cam.error || 'the camera reports an error'}.`;
      default: return `Offline: no picture from the camera${cam.error ? ` (${cam.error})` : ''}.`;
    }
  }

  function renderCameras(card) {
    const all = card.room.cameras || [];
    const cams = shownCameras(card);
    const active = card.cams.contains(document.activeElement) ? document.activeElement : null;
    const live = new Set();
    card.cams.replaceChildren(...cams.map((cam) => {
      const s = cam.enabled === false ? 'disabled' : (cam.status || 'offline');
      const label = s === 'disabled' ? 'Disabled' : (CAMERA_STATUS[s] || s);
      const stream = formatStream(cam.video, cam.audio);
      let tile = null;
      // A camera that reconnects keeps its player: the live socket stays
      // open and the picture comes back with the camera.
      if (!closed && (s === 'online' || (s === 'connecting' && card.tiles.has(cam.id)))) {
        live.add(cam.id);
        tile = liveTile(card, cam);
      }
      const isFocused = focused && focused.cameraId === cam.id && focused.roomId === card.room.id;
      return h('li', { class: `cam cam-${s}${isFocused ? ' cam-focused' : ''}`, 'data-camera': cam.name, 'data-camera-id': cam.id },
        h('div', { class: 'cam-head' },
          h('span', { class: `dot dot-${s}`, 'aria-hidden': 'true' }),
          h('span', { class: 'cam-name' }, cam.name),
          h('span', { class: `cam-status badge badge-${s}` }, label),
          h('button', { type: 'button', class: 'btn btn-small cam-back', onclick: () => unfocus() }, 'Back to the grid')),
        h('div', { class: 'cam-screen' },
          tile ? tile.el : h('div', { class: 'no-picture', 'data-camera-state': s }, noPicture(cam, s))),
        // The error, if any, is on the screen itself (noPicture).
        stream ? h('span', { class: 'cam-stream' }, stream) : null);
    }));
    if (!all.length) card.cams.append(h('li', { class: 'cam muted' }, 'No cameras in this room.'));
    sizeCams(card);
    for (const [id, tile] of card.tiles) {
      if (!live.has(id)) {
        tile.close();
        card.tiles.delete(id);
      }
    }
    if (focused && focused.roomId === card.room.id && !cams.some((c) => c.id === focused.cameraId)) unfocus();
    if (active && active !== document.activeElement && card.cams.contains(active)) active.focus();
  }

  // --- one camera full size --------------------------------------------------

  function focusCamera(card, cameraId) {
    focused = { roomId: card.room.id, cameraId };
    applyFocus();
  }

  function unfocus() {
    if (!focused) return;
    const was = focused;
    focused = null;
    applyFocus();
    cards.get(was.roomId)?.tiles.get(was.cameraId)?.video.focus();
  }

  function applyFocus() {
    for (const card of cards.values()) {
      const mine = !!focused && focused.roomId === card.room.id;
      card.el.classList.toggle('focus-mode', mine);
      for (const li of card.cams.children) {
        li.classList.toggle('cam-focused', mine && Number(li.dataset.cameraId) === focused.cameraId);
      }
      for (const [id, tile] of card.tiles) tile.focused = mine && id === focused.cameraId;
      for (const tile of card.tiles.values()) tile.describe();
    }
    document.body.classList.toggle('observe-focus', !!focused);
    retune();
  }

  const onKey = (ev) => {
    if (ev.key === 'Escape' && focused && !ev.defaultPrevented) {
      ev.preventDefault();
      unfocus();
    }
  };
  document.addEventListener('keydown', onKey);

  // --- live video ------------------------------------------------------------

  const LIVE_LABEL = { connecting: 'Connecting…', playing: 'Live', waiting: 'Waiting…', offline: 'Offline', error: 'No live video' };

  // The camera's tile, made (and its player started) on first use.
  function liveTile(card, cam) {
    const stream = formatStream(cam.video, null);
    let tile = card.tiles.get(cam.id);
    if (tile) {
      tile.name = cam.name;
      tile.cam = cam;
      tile.describe();
      // A codec this browser cannot play stops the player; other stream
      // parameters may be playable, so try again when they change.
      if (tile.state === 'error' && tile.stream !== stream) tile.start(stream);
      return tile;
    }
    const video = h('video', { class: 'live-video', muted: true, playsinline: true, tabindex: '0' });
    const badge = h('span', { class: 'live-state' });
    const message = h('p', { class: 'live-message', hidden: true });
    const sound = h('button', { type: 'button', class: 'live-sound', hidden: true, 'aria-pressed': 'false' }, 'Sound off');
    tile = {
      name: cam.name,
      cam,
      state: '',
      stream,
      focused: false,
      player: null,
      el: h('div', { class: 'live', 'data-live-state': 'connecting' }, video, message, badge, sound),
      video,
      describe() {
        const muted = video.muted;
        sound.textContent = muted ? 'Sound off' : 'Sound on';
        sound.setAttribute('aria-pressed', String(!muted));
        sound.setAttribute('aria-label', `Sound of ${tile.name}: ${muted ? 'off' : 'on'}`);
        video.setAttribute('aria-label', `Live video of ${tile.name}: ${badge.textContent}. ` +
          (tile.focused ? 'Press Enter, Escape or click to return to the grid.' : 'Press Enter or click to show it full size.'));
      },
      start(newStream) {
        tile.player?.close();
        tile.stream = newStream;
        tile.quality = wantedQuality(tile.cam);
        tile.player = playLive(video, cam.id, {
          quality: tile.quality,
          codec: tile.cam.video && tile.cam.video.codec,
          substream: !!tile.cam.substream_url,
          onState(state, detail) {
            tile.state = state;
            tile.el.dataset.liveState = state;
            badge.textContent = (state === 'error' || state === 'offline') && detail ? LIVE_LABEL[state] : (state === 'waiting' && detail) || LIVE_LABEL[state] || state;
            badge.title = detail || '';
            // Never a silent black tile: what is wrong, or what it waits
            // for before the first picture, in words on it.
            const stopped = state === 'error' || state === 'offline';
            const text = stopped || (state !== 'playing' && video.readyState < 2) ? detail || LIVE_LABEL[state] : '';
            message.textContent = text;
            message.hidden = !text;
            tile.describe();
          },
          onInfo(info) {
            sound.hidden = !info.audio;
            tile.el.dataset.quality = info.quality;
          },
        });
      },
      close() {
        tile.player?.close();
        tile.player = null;
      },
    };
    const toggleFocus = () => {
      const c = cards.get(cam.room_id) || card;
      if (focused && focused.cameraId === cam.id) unfocus();
      else focusCamera(c, cam.id);
    };
    video.addEventListener('click', toggleFocus);
    video.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Enter' && ev.key !== ' ') return;
      ev.preventDefault();
      toggleFocus();
    });
    sound.addEventListener('click', () => {
      video.muted = !video.muted;
      if (!video.muted && video.paused && video.readyState >= 2) video.play().catch(() => {});
    });
    video.addEventListener('volumechange', () => tile.describe());
    card.tiles.set(cam.id, tile);
    tile.start(stream);
    return tile;
  }

  function closeTiles(card) {
    for (const tile of card.tiles.values()) tile.close();
    card.tiles.clear();
  }

  function renderState(card) {
    const s = card.state || 'available';
    card.el.dataset.state = s;
    card.pill.className = `room-state room-${s}`;
    card.pill.textContent = ROOM_STATUS[s] || s;
    const rec = card.recording;
    const running = rec && (s === 'recording' || s === 'paused');
    card.elapsed.hidden = !running;
    card.elapsed.textContent = running ? formatDuration(elapsed(card)) : '';
    const parts = [];
    if (running) {
      if (rec.title && rec.title !== card.room.name) parts.push(rec.title);
      if (rec.author) parts.push(`by ${rec.author}`);
      parts.push(card.markers.size === 1 ? '1 mark' : `${card.markers.size} marks`);
    } else if (card.room.description) {
      parts.push(card.room.description);
    }
    card.sub.textContent = parts.join(' · ');
  }

  function renderControls(card) {
    if (!canRecord) return;
    const had = card.controls.contains(document.activeElement);
    const s = card.state || 'available';
    const enabledCams = (card.room.cameras || []).filter((c) => c.enabled !== false).length;
    const b = (label, cls, action, extra = {}) => h('button', {
      type: 'button', class: `btn btn-big ${cls}`, onclick: action, ...extra,
    }, label);
    const buttons = [];
    if (s === 'available') {
      buttons.push(b(h('span', null, h('span', { class: 'rec-dot', 'aria-hidden': 'true' }), 'Record'), 'btn-record',
        () => command(card, 'start'), { disabled: !enabledCams, 'aria-describedby': enabledCams ? null : `room-${card.room.id}-nocam` }));
      if (!enabledCams) buttons.push(h('span', { class: 'muted small', id: `room-${card.room.id}-nocam` }, 'No enabled camera'));
    } else if (s === 'recording') {
      buttons.push(b('Pause', '', () => command(card, 'pause')));
      buttons.push(b('Stop', 'btn-stop', () => command(card, 'stop')));
      buttons.push(b('Mark', 'btn-mark', () => card.mark.open()));
    } else if (s === 'paused') {
      buttons.push(b('Resume', 'btn-record', () => command(card, 'resume')));
      buttons.push(b('Stop', 'btn-stop', () => command(card, 'stop')));
      buttons.push(b('Mark', 'btn-mark', () => card.mark.open()));
    } else {
      buttons.push(h('span', { class: 'muted' }, 'Locked: the room is disabled.'));
    }
    card.controls.replaceChildren(...buttons);
    if (had) card.controls.querySelector('button:not(:disabled)')?.focus();
  }

  const DONE = {
    start: 'Recording started.',
    pause: 'Recording paused.',
    resume: 'Recording resumed.',
    stop: 'Recording stopped.',
  };

  async function command(card, action) {
    for (const btn of card.controls.querySelectorAll('button')) btn.disabled = true;
    try {
      const answer = await post(`/rooms/${card.room.id}/record/${action}`, action === 'start' ? {} : undefined);
      const rec = answer && (answer.recording || answer);
      if (rec && rec.id) applyRecording(card, rec);
      card.say(action === 'stop' && rec ? `Recording stopped: ${formatDuration(rec.duration || 0)} recorded.` : DONE[action], 'ok');
    } catch (err) {
      card.say(commandError(err), 'error');
      refreshStatus(card.room.id);
    }
    renderControls(card);
  }

  function commandError(err) {
    switch (err.code) {
      case 'no_cameras': return 'This room has no enabled camera to record.';
      case 'room_disabled': return 'This room is disabled; an admin can enable it.';
      case 'disk_full': return 'The disk is full: recording is refused until space is freed.';
      case 'already_recording': return 'This room is already recording.';
      case 'wrong_state': return 'The recording changed in the meantime; the card shows its state now.';
      default: return err.message;
    }
  }

  function applyRecording(card, rec) {
    setRecording(card, rec);
    if (rec.state === 'recording') card.state = 'recording';
    else if (rec.state === 'paused') card.state = 'paused';
    else card.state = card.room.disabled ? 'locked' : 'available';
    renderState(card);
    renderControls(card);
  }

  // --- the Mark form --------------------------------------------------------

  function markForm(card) {
    const n = card.room.id;
    const label = h('input', { id: `mark-label-${n}`, name: 'label', maxlength: 200, required: true, autocomplete: 'off' });
    const note = h('input', { id: `mark-note-${n}`, name: 'note', maxlength: 4096, autocomplete: 'off', placeholder: 'optional' });
    const at = h('span', { class: 'mark-at' });
    const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save mark');
    const form = h('form', { class: 'mark-form', hidden: true, 'aria-label': `Mark in ${card.room.name}`, novalidate: true },
      at,
      h('div', { class: 'field' }, h('label', { for: label.id }, 'Label'), label),
      h('div', { class: 'field field-grow' }, h('label', { for: note.id }, 'Note'), note),
      h('div', { class: 'mark-buttons' }, save,
        h('button', { type: 'button', class: 'btn', onclick: () => close() }, 'Cancel')));
    let time = null;
    let recordingId = null;

    function close() {
      const had = form.contains(document.activeElement);
      form.hidden = true;
      time = null;
      if (had) card.controls.querySelector('.btn-mark, button')?.focus();
    }

    form.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.preventDefault();
        close();
      }
    });

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (time == null) return;
      const text = label.value.trim();
      if (!text) {
        label.setAttribute('aria-invalid', 'true');
        return label.focus();
      }
      label.removeAttribute('aria-invalid');
      save.disabled = true;
      try {
        const body = { time, label: text };
        if (note.value.trim()) body.note = note.value.trim();
        const m = await post(`/recordings/${recordingId}/markers`, body);
        close();
        noteMarker(card, m, true);
      } catch (err) {
        card.say(err.message, 'error');
      } finally {
        save.disabled = false;
      }
    });

    return {
      el: form,
      // The mark's time is taken now, when the button is pressed: the
      // recording's duration fetched fresh (pauses already left out).
      async open() {
        const rec = card.recording;
        if (!rec) return;
        const pressed = performance.now();
        let t = elapsed(card);
        try {
          const fresh = await get(`/recordings/${rec.id}`);
          setRecording(card, fresh);
          // The server's duration is up to the fetch: count back to the press.
          t = Math.max(0, (fresh.duration || 0) - (fresh.state === 'recording' ? (performance.now() - pressed) / 1000 : 0));
        } catch (err) {
          card.say(err.message, 'error');
          return;
        }
        time = Math.round(t * 1000) / 1000;
        recordingId = rec.id;
        at.textContent = `at ${formatOffset(time)}`;
        label.value = 'Mark';
        note.value = '';
        form.hidden = false;
        label.focus();
        label.select();
      },
    };
  }

  function noteMarker(card, m, mine) {
    if (!card.recording || card.recording.id !== m.recording_id) return;
    if (card.markers.has(m.id) && !mine) return;
    card.markers.add(m.id);
    renderState(card);
    card.say(`${mine ? 'Marked' : `${m.author || 'Someone'} marked`} ${formatOffset(m.time)}: ${m.label}`, 'ok');
  }

  // --- events ----------------------------------------------------------------

  function onCameraStatus(msg) {
    const card = cards.get(msg.room_id);
    const cam = card?.room.cameras?.find((c) => c.id === msg.camera_id);
    if (!cam) return;
    cam.status = msg.status;
    if (msg.error) cam.error = msg.error;
    else delete cam.error;
    renderCameras(card);
    // The event has no stream details; the camera does once it is online.
    if (msg.status === 'online') refreshCamera(msg.room_id, msg.camera_id);
  }

  function onCameraChanged(msg) {
    const card = cards.get(msg.room_id);
    if (!card) {
      if (msg.action !== 'deleted') load(); // a room this page does not know yet
      return;
    }
    const cams = card.room.cameras || (card.room.cameras = []);
    const i = cams.findIndex((c) => c.id === msg.camera_id);
    if (msg.action === 'deleted') {
      if (i >= 0) cams.splice(i, 1);
    } else if (msg.camera) {
      if (i >= 0) cams[i] = { ...cams[i], ...msg.camera };
      else cams.push(msg.camera);
      cams.sort((a, b) => (a.position ?? 0) - (b.position ?? 0));
    }
    renderCameras(card);
    renderControls(card);
  }

  function onRoomChanged(msg) {
    if (msg.action === 'deleted') return removeRoom(msg.room_id);
    if (!msg.room) return load();
    const isNew = !cards.has(msg.room_id);
    const wasDisabled = cards.get(msg.room_id)?.room.disabled;
    upsertRoom(msg.room);
    arrange();
    if (isNew || wasDisabled !== msg.room.disabled) refreshStatus(msg.room_id);
  }

  function onRecordingChanged(msg) {
    const rec = msg.recording;
    const card = rec && cards.get(rec.room_id);
    if (!card) return;
    applyRecording(card, rec);
    if (msg.action === 'stopped' && card.msg.textContent === '') {
      card.say(`Recording stopped: ${formatDuration(rec.duration || 0)} recorded.`, 'info');
    }
  }

  function onMarker(msg) {
    const m = msg.marker;
    if (!m) return;
    for (const card of cards.values()) noteMarker(card, m, false);
  }

  const empty = h('div', { class: 'panel empty-state', hidden: true },
    h('h2', null, viewId ? 'No cameras to show' : 'No rooms to show'),
    viewId
      ? h('p', null, 'None of this view\'s cameras is yours to see now. ', h('a', { href: '#/observe' }, 'Show every room'), '.')
      : ctx.user?.role === 'admin'
        ? h('p', null, 'Create a room and add its cameras first: ', h('a', { href: '#/admin/rooms' }, 'set up rooms'), '.')
        : h('p', null, 'No room is shared with you yet. An admin can share one.'));

  main.append(h('section', { class: 'page page-wide observe' },
    h('h1', { tabindex: '-1' }, 'Observe ', count),
    viewBar, viewForm.el, status, empty, grid));
  applyLayout();

  // The recorded time ticks on the cards that record.
  const ticker = setInterval(() => {
    for (const card of cards.values()) {
      if (card.recording && card.state === 'recording') card.elapsed.textContent = formatDuration(elapsed(card));
    }
  }, 500);

  const stops = [
    events.on('hello', load),
    events.on('camera.status', onCameraStatus),
    events.on('camera.changed', onCameraChanged),
    events.on('room.changed', onRoomChanged),
    events.on('recording.changed', onRecordingChanged),
    events.on('marker.created', onMarker),
  ];
  load();
  return () => {
    closed = true;
    loadSeq++;
    clearInterval(ticker);
    document.removeEventListener('keydown', onKey);
    document.body.classList.remove('observe-focus');
    stops.forEach((stop) => stop());
    for (const card of cards.values()) closeTiles(card);
  };
}
