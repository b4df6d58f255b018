// Observe: every room the user may see as a card in a dense grid — its
// cameras with their status and stream, the room's state with the time
// recorded, and for operators and admins large Record / Pause / Resume /
// Stop buttons and a Mark button with a small inline form.
//
// Cards update in place from the events socket (camera.status,
// camera.changed, recording.changed, marker.created, room.changed); a
// "hello" (a new or re-established socket) reloads everything.
//
// An online camera shows its live video (muted; a click toggles the sound).
// A card keeps one player per camera across re-renders (the <video> moves
// into the new line) and while the camera reconnects; a player closes when
// its camera goes offline, fails or leaves, its room goes, or the page
// closes.

import { get, post } from '../api.js';
import * as events from '../events.js';
import { h } from '../dom.js';
import { formatDuration, formatOffset, formatStream, CAMERA_STATUS, ROOM_STATUS } from '../format.js';
import { playLive } from '../player.js';

const PAGE_SIZE = 500;

export function observePage(main, ctx) {
  const canRecord = ctx.user && (ctx.user.role === 'admin' || ctx.user.role === 'operator');
  const grid = h('div', { class: 'room-grid' });
  const status = h('p', { class: 'notice', id: 'observe-status', role: 'status', 'aria-live': 'polite' });
  const count = h('span', { class: 'count' });
  const cards = new Map(); // room id -> card
  let loadSeq = 0;
  let closed = false;

  function say(text, kind = 'info') {
    status.className = `notice notice-${kind}`;
    status.textContent = text;
  }

  // --- data ----------------------------------------------------------------

  async function load() {
    const seq = ++loadSeq;
    try {
      const list = await get(`/rooms?limit=${PAGE_SIZE}`);
      if (seq !== loadSeq) return;
      const rooms = list.items || [];
      const seen = new Set();
      for (const room of rooms) {
        seen.add(room.id);
        upsertRoom(room);
      }
      for (const id of [...cards.keys()]) if (!seen.has(id)) removeRoom(id);
      arrange();
      await Promise.all(rooms.map((room) => refreshStatus(room.id)));
      if (seq === loadSeq && status.classList.contains('notice-error')) say('');
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
    closeTiles(card);
    card.el.remove();
    cards.delete(id);
    arrange();
  }

  function arrange() {
    const sorted = [...cards.values()].sort((a, b) => a.room.name.localeCompare(b.room.name));
    const focused = document.activeElement;
    for (const c of sorted) grid.append(c.el); // moves; keeps each card's own state
    if (focused && grid.contains(focused)) focused.focus();
    count.textContent = String(cards.size);
    empty.hidden = cards.size > 0;
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
    card.el = h('article', { class: 'room-card', 'aria-labelledby': card.name.id, 'data-room-id': room.id },
      h('header', { class: 'room-head' }, card.name, h('div', { class: 'room-status' }, card.pill, card.elapsed)),
      card.sub, card.cams, canRecord ? card.controls : null, canRecord ? card.mark.el : null, card.msg);
    return card;
  }

  function renderHead(card) {
    card.name.textContent = card.room.name;
    card.el.dataset.room = card.room.name;
    card.cams.setAttribute('aria-label', `Cameras of ${card.room.name}`);
  }

  function renderCameras(card) {
    const cams = card.room.cameras || [];
    const focused = card.cams.contains(document.activeElement) ? document.activeElement : null;
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
      return h('li', { class: `cam cam-${s}`, 'data-camera': cam.name, 'data-camera-id': cam.id },
        h('span', { class: `dot dot-${s}`, 'aria-hidden': 'true' }),
        h('span', { class: 'cam-name' }, cam.name),
        h('span', { class: 'cam-status' }, label),
        stream ? h('span', { class: 'cam-stream' }, stream) : null,
        cam.error && s !== 'online' && s !== 'disabled' ? h('span', { class: 'cam-error' }, cam.error) : null,
        tile && tile.el);
    }));
    if (!cams.length) card.cams.append(h('li', { class: 'cam muted' }, 'No cameras in this room.'));
    for (const [id, tile] of card.tiles) {
      if (!live.has(id)) {
        tile.close();
        card.tiles.delete(id);
      }
    }
    if (focused && focused !== document.activeElement && card.cams.contains(focused)) focused.focus();
  }

  // --- live video ------------------------------------------------------------

  const LIVE_LABEL = { connecting: 'Connecting…', playing: 'Live', waiting: 'Waiting…', error: 'No live video' };

  // The camera's tile, made (and its player started) on first use.
  function liveTile(card, cam) {
    const stream = formatStream(cam.video, null);
    let tile = card.tiles.get(cam.id);
    if (tile) {
      tile.name = cam.name;
      tile.describe();
      // A codec this browser cannot play stops the player; other stream
      // parameters may be playable, so try again when they change.
      if (tile.state === 'error' && tile.stream !== stream) tile.start(stream);
      return tile;
    }
    const video = h('video', { class: 'live-video', muted: true, playsinline: true, tabindex: '0' });
    const badge = h('span', { class: 'live-state' });
    const sound = h('span', { class: 'live-sound', 'aria-hidden': 'true' });
    tile = {
      name: cam.name,
      state: '',
      stream,
      player: null,
      el: h('div', { class: 'live', 'data-live-state': 'connecting' }, video, badge, sound),
      video,
      describe() {
        const muted = video.muted;
        sound.textContent = muted ? 'Muted' : 'Sound on';
        video.setAttribute('aria-label', `Live video of ${tile.name}: ${badge.textContent}. ` +
          `Sound ${muted ? 'off; press Enter or click to turn it on' : 'on; press Enter or click to turn it off'}.`);
      },
      start(newStream) {
        tile.player?.close();
        tile.stream = newStream;
        tile.player = playLive(video, cam.id, {
          onState(state, detail) {
            tile.state = state;
            tile.el.dataset.liveState = state;
            badge.textContent = state === 'error' && detail ? detail : LIVE_LABEL[state] || state;
            badge.title = detail || '';
            tile.describe();
          },
        });
      },
      close() {
        tile.player?.close();
        tile.player = null;
      },
    };
    const toggle = () => {
      video.muted = !video.muted;
      if (!video.muted && video.paused && video.readyState >= 2) video.play().catch(() => {});
    };
    video.addEventListener('click', toggle);
    video.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Enter' && ev.key !== ' ') return;
      ev.preventDefault();
      toggle();
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
    h('h2', null, 'No rooms to show'),
    ctx.user?.role === 'admin'
      ? h('p', null, 'Create a room and add its cameras first: ', h('a', { href: '#/admin/rooms' }, 'set up rooms'), '.')
      : h('p', null, 'No room is shared with you yet. An admin can share one.'));

  main.append(h('section', { class: 'page page-wide' },
    h('h1', { tabindex: '-1' }, 'Observe ', count),
    status, empty, grid));

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
    stops.forEach((stop) => stop());
    for (const card of cards.values()) closeTiles(card);
  };
}
