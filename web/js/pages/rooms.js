// Admin → Rooms: the list of rooms with the "New room" form (roomsPage),
// and one room (roomPage): its settings, its cameras (add, edit, enable,
// delete, test the connection) and who it is shared with. Both reload when
// the events socket says a room or a camera changed.

import { get, post, patch, del } from '../api.js';
import * as events from '../events.js';
import { h, field, busy } from '../dom.js';
import { formatStream, CAMERA_STATUS } from '../format.js';
import { adminNav } from './admin-nav.js';

const PAGE_SIZE = 500; // the API's largest page

// A status line for a page: say(text, 'ok' | 'error' | 'info').
function statusLine(id) {
  const el = h('p', { class: 'notice', id, role: 'status', 'aria-live': 'polite' });
  const say = (text, kind = 'info') => {
    el.className = `notice notice-${kind}`;
    el.textContent = text;
  };
  return { el, say };
}

// Put a 422 or 409 answer at the field it names, or in the status line.
function showFieldError(err, fields, fallback) {
  const name = err.field || Object.keys(fields).find((n) => err.message.toLowerCase().includes(n.replace('_', ' ')) ||
    err.message.toLowerCase().includes(n));
  if ((err.status === 422 || err.status === 409) && fields[name]) {
    fields[name].setError(err.message);
    fields[name].input.focus();
  } else {
    fallback(err.message, 'error');
  }
}

function cameraStatus(cam) {
  const s = cam.enabled === false ? 'disabled' : (cam.status || 'offline');
  const text = s === 'disabled' ? 'Disabled' : (CAMERA_STATUS[s] || s);
  return h('span', { class: 'dot-status', 'data-status': s }, text);
}

// --- the list of rooms -------------------------------------------------

export function roomsPage(main) {
  const status = statusLine('rooms-status');
  const count = h('span', { class: 'count' });
  const tbody = h('tbody');
  let loadSeq = 0;

  async function load() {
    const seq = ++loadSeq;
    try {
      const list = await get(`/rooms?limit=${PAGE_SIZE}`);
      if (seq !== loadSeq) return;
      const rooms = list.items || [];
      tbody.replaceChildren(...rooms.map(row));
      if (!rooms.length) {
        tbody.append(h('tr', null, h('td', { colspan: 5, class: 'muted empty' }, 'No rooms yet. Create the first one above.')));
      }
      count.textContent = list.total > rooms.length ? `${rooms.length} of ${list.total}` : `${rooms.length}`;
    } catch (err) {
      if (seq === loadSeq) status.say(err.message, 'error');
    }
  }

  function row(room) {
    const cams = room.cameras || [];
    const online = cams.filter((c) => c.status === 'online').length;
    return h('tr', { 'data-room': room.name, class: room.disabled ? 'is-disabled' : null },
      h('th', { scope: 'row' }, h('a', { href: `#/admin/rooms/${room.id}` }, room.name)),
      h('td', { class: 'muted clip' }, room.description || ''),
      h('td', { class: 'num' }, cams.length ? `${cams.length} (${online} online)` : '0'),
      h('td', null, h('span', { class: `state ${room.disabled ? 'state-off' : 'state-on'}` },
        room.disabled ? 'Disabled' : 'Enabled')),
      h('td', null, h('div', { class: 'actions' },
        h('button', {
          type: 'button', class: 'btn btn-small', 'aria-label': `${room.disabled ? 'Enable' : 'Disable'} ${room.name}`,
          onclick: () => run(patch(`/rooms/${room.id}`, { disabled: !room.disabled }),
            `${room.name} is ${room.disabled ? 'enabled' : 'disabled'}.`),
        }, room.disabled ? 'Enable' : 'Disable'),
        h('button', {
          type: 'button', class: 'btn btn-small btn-danger', 'aria-label': `Delete ${room.name}`,
          onclick: () => {
            if (!confirm(`Delete the room ${room.name} with its cameras? This cannot be undone.`)) return;
            run(del(`/rooms/${room.id}`), `${room.name} was deleted.`);
          },
        }, 'Delete'))));
  }

  async function run(promise, done) {
    try {
      await promise;
      status.say(done, 'ok');
    } catch (err) {
      status.say(err.code === 'room_has_recordings'
        ? 'This room has recordings, so it cannot be deleted. Disable it instead.' : err.message, 'error');
    }
    load();
  }

  const name = field('Name', h('input', { id: 'new-room-name', name: 'name', required: true, maxlength: 128, autocomplete: 'off' }));
  const description = field('Description', h('input', { id: 'new-room-description', name: 'description', maxlength: 4096, autocomplete: 'off' }));
  const form = h('form', { class: 'inline-form', 'aria-labelledby': 'new-room-title', novalidate: true },
    name.el, description.el,
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create room')));
  description.el.classList.add('field-wide');

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    name.setError('');
    description.setError('');
    if (!name.input.value.trim()) {
      name.setError('Give the room a name.');
      return name.input.focus();
    }
    busy(form, true);
    try {
      const room = await post('/rooms', { name: name.input.value.trim(), description: description.input.value });
      status.say(`Created ${room.name}. Add its cameras next.`, 'ok');
      form.reset();
      load();
      location.hash = `#/admin/rooms/${room.id}`;
    } catch (err) {
      showFieldError(err, { name, description }, status.say);
    } finally {
      busy(form, false);
    }
  });

  main.append(h('section', { class: 'page' },
    adminNav('rooms'),
    h('h1', { tabindex: '-1' }, 'Rooms ', count),
    h('section', { class: 'panel' }, h('h2', { id: 'new-room-title' }, 'New room'), form),
    status.el,
    h('table', { class: 'grid', 'aria-label': 'Rooms' },
      h('thead', null, h('tr', null,
        ['Name', 'Description', 'Cameras', 'Status'].map((c) => h('th', { scope: 'col' }, c)),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      tbody)));

  const stops = ['room.changed', 'camera.changed', 'camera.status', 'hello'].map((t) => events.on(t, load));
  load();
  return () => {
    loadSeq++;
    stops.forEach((stop) => stop());
  };
}

// --- one room ------------------------------------------------------------

export function roomPage(main, ctx) {
  const id = ctx.params.id;
  const status = statusLine('room-status');
  const title = h('h1', { tabindex: '-1' }, 'Room');
  const camBody = h('tbody');
  const camCount = h('span', { class: 'count' });
  const accessList = h('ul', { class: 'access-list', 'aria-label': 'Shared with' });
  const whoSelect = h('select', { id: 'share-with', name: 'share' });
  const dialog = cameraDialog(id, status.say, () => load());
  const testResults = new Map(); // camera id -> last test answer, shown in its row
  let room = null;
  let loadSeq = 0;
  let gone = false;

  // Settings form.
  const name = field('Name', h('input', { id: 'room-name', name: 'name', required: true, maxlength: 128, autocomplete: 'off' }));
  const description = field('Description', h('input', { id: 'room-description', name: 'description', maxlength: 4096, autocomplete: 'off' }));
  description.el.classList.add('field-wide');
  const disabled = h('input', { type: 'checkbox', id: 'room-disabled', name: 'disabled' });
  const settings = h('form', { class: 'inline-form', 'aria-labelledby': 'room-settings-title', novalidate: true },
    name.el, description.el,
    h('div', { class: 'field field-check' }, h('label', { for: 'room-disabled' }, disabled, ' Disabled (locked: no recording)')),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save room')));

  settings.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    name.setError('');
    description.setError('');
    busy(settings, true);
    try {
      const r = await patch(`/rooms/${id}`, {
        name: name.input.value.trim(), description: description.input.value, disabled: disabled.checked,
      });
      status.say(`Saved ${r.name}.`, 'ok');
      settings.dataset.dirty = '';
      load();
    } catch (err) {
      showFieldError(err, { name, description }, status.say);
    } finally {
      busy(settings, false);
    }
  });
  settings.addEventListener('input', () => { settings.dataset.dirty = '1'; });

  async function deleteRoom() {
    if (!room || !confirm(`Delete the room ${room.name} with its cameras? This cannot be undone.`)) return;
    try {
      await del(`/rooms/${id}`);
      gone = true;
      ctx.navigate('/admin/rooms');
    } catch (err) {
      status.say(err.code === 'room_has_recordings'
        ? 'This room has recordings, so it cannot be deleted. Disable it instead.' : err.message, 'error');
    }
  }

  async function load() {
    const seq = ++loadSeq;
    try {
      const [r, access, users, groups] = await Promise.all([
        get(`/rooms/${id}`),
        get(`/rooms/${id}/access`),
        get(`/users?limit=${PAGE_SIZE}`),
        get(`/groups?limit=${PAGE_SIZE}`).catch(() => ({ items: [] })),
      ]);
      if (seq !== loadSeq) return;
      room = r;
      render(access.items || [], users.items || [], groups.items || []);
    } catch (err) {
      if (seq !== loadSeq) return;
      if (err.status === 404) {
        gone = true;
        title.textContent = 'Room not found';
        status.say('This room does not exist (any more).', 'error');
        content.hidden = true;
      } else {
        status.say(err.message, 'error');
      }
    }
  }

  function render(access, users, groups) {
    title.textContent = room.name;
    document.title = `${room.name} · Rooms · Vigil`;
    // Do not overwrite what the admin is typing.
    if (!settings.dataset.dirty) {
      name.input.value = room.name;
      description.input.value = room.description || '';
      disabled.checked = !!room.disabled;
    }
    const cams = room.cameras || [];
    camCount.textContent = String(cams.length);
    const focusKey = document.activeElement?.dataset?.focusKey;
    camBody.replaceChildren(...cams.map(cameraRow));
    if (!cams.length) camBody.append(h('tr', null, h('td', { colspan: 6, class: 'muted empty' }, 'No cameras yet.')));
    if (focusKey) camBody.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();

    accessList.replaceChildren(...access.map((a) => h('li', null,
      h('span', { class: 'tag' }, a.user_id ? 'user' : 'group'), ' ', h('span', null, a.name),
      h('button', {
        type: 'button', class: 'btn btn-small btn-quiet', 'aria-label': `Stop sharing with ${a.name}`,
        onclick: () => act(del(`/rooms/${id}/access/${a.id}`), `${room.name} is no longer shared with ${a.name}.`),
      }, 'Remove'))));
    if (!access.length) accessList.append(h('li', { class: 'muted' }, 'Not shared: only admins and operators see this room.'));

    const taken = new Set(access.map((a) => (a.user_id ? `u${a.user_id}` : `g${a.group_id}`)));
    const viewers = users.filter((u) => !taken.has(`u${u.id}`));
    const free = groups.filter((g) => !taken.has(`g${g.id}`));
    const keep = whoSelect.value;
    whoSelect.replaceChildren(
      h('option', { value: '' }, 'Choose a user or group…'),
      viewers.length ? h('optgroup', { label: 'Users' }, viewers.map((u) => h('option', { value: `u${u.id}` }, `${u.username} (${u.role})`))) : null,
      free.length ? h('optgroup', { label: 'Groups' }, free.map((g) => h('option', { value: `g${g.id}` }, g.name))) : null);
    whoSelect.value = [...whoSelect.options].some((o) => o.value === keep) ? keep : '';
  }

  function cameraRow(cam) {
    const key = (what) => `${cam.id}:${what}`;
    const test = testResults.get(cam.id);
    const stream = formatStream(cam.video, cam.audio);
    return h('tr', { 'data-camera': cam.name, class: cam.enabled ? null : 'is-disabled' },
      h('th', { scope: 'row' }, cam.name,
        cam.continuous ? h('span', { class: 'tag', title: 'Records around the clock' }, 'continuous') : null),
      h('td', null, h('code', { class: 'url' }, cam.url),
        cam.substream_url ? h('div', { class: 'muted small' }, 'sub: ', h('code', { class: 'url' }, cam.substream_url)) : null,
        h('div', { class: 'muted small' }, cam.transport.toUpperCase(), cam.has_credentials ? ' · with credentials' : ' · no credentials')),
      h('td', null, cameraStatus(cam), cam.error ? h('div', { class: 'error-text small' }, cam.error) : null,
        stream ? h('div', { class: 'muted small' }, stream) : null),
      h('td', { class: 'test-cell' }, test ? testResult(test) : null),
      h('td', null, h('div', { class: 'actions' },
        h('button', {
          type: 'button', class: 'btn btn-small', 'data-focus-key': key('test'), 'aria-label': `Test connection of ${cam.name}`,
          onclick: async (ev) => {
            const b = ev.currentTarget;
            b.disabled = true;
            b.textContent = 'Testing…';
            try {
              testResults.set(cam.id, await post(`/cameras/${cam.id}/test`));
            } catch (err) {
              testResults.set(cam.id, { ok: false, message: err.message });
            }
            b.disabled = false;
            b.textContent = 'Test';
            load();
          },
        }, 'Test'),
        h('button', {
          type: 'button', class: 'btn btn-small', 'data-focus-key': key('edit'), 'aria-label': `Edit ${cam.name}`,
          onclick: () => dialog.open(cam),
        }, 'Edit'),
        h('button', {
          type: 'button', class: 'btn btn-small', 'data-focus-key': key('toggle'),
          'aria-label': `${cam.enabled ? 'Disable' : 'Enable'} ${cam.name}`,
          onclick: () => act(patch(`/cameras/${cam.id}`, { enabled: !cam.enabled }),
            `${cam.name} is ${cam.enabled ? 'disabled' : 'enabled'}.`),
        }, cam.enabled ? 'Disable' : 'Enable'),
        h('button', {
          type: 'button', class: 'btn btn-small btn-danger', 'data-focus-key': key('delete'), 'aria-label': `Delete ${cam.name}`,
          onclick: () => {
            if (!confirm(`Delete the camera ${cam.name}? Its recordings stay.`)) return;
            testResults.delete(cam.id);
            act(del(`/cameras/${cam.id}`), `${cam.name} was deleted.`);
          },
        }, 'Delete'))));
  }

  async function act(promise, done) {
    try {
      await promise;
      status.say(done, 'ok');
    } catch (err) {
      status.say(err.message, 'error');
    }
    load();
  }

  const shareForm = h('form', { class: 'inline-form', 'aria-label': 'Share the room', novalidate: true },
    h('div', { class: 'field field-share' }, h('label', { for: 'share-with' }, 'Share with'), whoSelect),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn' }, 'Share')));
  shareForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = whoSelect.value;
    if (!v) return whoSelect.focus();
    const body = v[0] === 'u' ? { user_id: Number(v.slice(1)) } : { group_id: Number(v.slice(1)) };
    const label = whoSelect.selectedOptions[0]?.textContent || '';
    whoSelect.value = '';
    act(post(`/rooms/${id}/access`, body), `${room?.name || 'The room'} is shared with ${label}.`);
  });

  const content = h('div', null,
    h('section', { class: 'panel' }, h('h2', { id: 'room-settings-title' }, 'Room'), settings,
      h('div', { class: 'panel-foot' },
        h('button', { type: 'button', class: 'btn btn-small btn-danger', onclick: deleteRoom }, 'Delete room'))),
    h('section', { class: 'block', 'aria-labelledby': 'cameras-title' },
      h('div', { class: 'section-head' },
        h('h2', { id: 'cameras-title' }, 'Cameras ', camCount),
        h('button', { type: 'button', class: 'btn btn-primary', onclick: () => dialog.open(null) }, 'Add camera')),
      h('table', { class: 'grid', 'aria-label': 'Cameras' },
        h('thead', null, h('tr', null,
          ['Name', 'Address', 'Status', 'Last test'].map((c) => h('th', { scope: 'col' }, c)),
          h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
        camBody)),
    h('section', { class: 'panel', 'aria-labelledby': 'sharing-title' },
      h('h2', { id: 'sharing-title' }, 'Sharing'),
      h('p', { class: 'hint' }, 'Admins and operators see every room. Viewers see the rooms shared with them or with one of their groups.'),
      accessList, shareForm));

  main.append(h('section', { class: 'page' },
    adminNav('rooms'),
    h('p', { class: 'crumbs' }, h('a', { href: '#/admin/rooms' }, '← All rooms')),
    title, status.el, content, dialog.el));

  const mine = (msg) => msg.room_id === id || msg.camera?.room_id === id;
  const stops = [
    events.on('hello', load),
    events.on('room.changed', (msg) => {
      if (msg.room_id !== id) return;
      if (msg.action === 'deleted' && !gone) {
        gone = true;
        status.say('This room was deleted by another admin.', 'error');
        content.hidden = true;
        return;
      }
      load();
    }),
    events.on('camera.changed', (msg) => { if (mine(msg)) load(); }),
    events.on('camera.status', (msg) => { if (mine(msg)) load(); }),
    events.on('user.changed', load),
    events.on('group.changed', load),
  ];
  load();
  return () => {
    loadSeq++;
    stops.forEach((stop) => stop());
    if (dialog.el.open) dialog.el.close();
  };
}

// The outcome of a connection test, as a line.
function testResult(t) {
  const stream = formatStream(t.video, t.audio);
  return h('div', { class: `test-result ${t.ok ? 'test-ok' : 'test-fail'}` },
    h('strong', null, t.ok ? 'Connected' : `Failed${t.error ? ` (${t.error})` : ''}`),
    stream ? h('span', null, ' · ', stream) : null,
    t.message && !t.ok ? h('div', null, t.message) : null);
}

// The dialog that adds a camera (cam = null) or edits one.
function cameraDialog(roomId, say, changed) {
  let cam = null;
  const f = {
    name: field('Name', h('input', { id: 'cam-name', name: 'name', required: true, maxlength: 128, autocomplete: 'off' })),
    url: field('RTSP URL', h('input', {
      id: 'cam-url', name: 'url', required: true, maxlength: 1024, autocomplete: 'off', spellcheck: 'false',
      placeholder: 'rtsp://192.0.2.10:554/stream1', inputmode: 'url',
    })),
    username: field('Username', h('input', { id: 'cam-username', name: 'username', maxlength: 128, autocomplete: 'off', spellcheck: 'false' })),
    password: field('Password', h('input', { id: 'cam-password', name: 'password', type: 'password', maxlength: 256, autocomplete: 'new-password' })),
    transport: field('Transport', h('select', { id: 'cam-transport', name: 'transport' },
      h('option', { value: 'tcp' }, 'TCP (interleaved)'), h('option', { value: 'udp' }, 'UDP'))),
    substream_url: field('Substream URL (optional)', h('input', {
      id: 'cam-substream', name: 'substream_url', maxlength: 1024, autocomplete: 'off', spellcheck: 'false',
    })),
  };
  const credHint = h('p', { class: 'hint', id: 'cam-cred-hint' });
  const clearCreds = h('input', { type: 'checkbox', id: 'cam-clear-creds' });
  const clearCredsField = h('div', { class: 'field field-check' }, h('label', { for: 'cam-clear-creds' }, clearCreds, ' Remove the saved username and password'));
  const continuous = h('input', { type: 'checkbox', id: 'cam-continuous', name: 'continuous' });
  const enabled = h('input', { type: 'checkbox', id: 'cam-enabled', name: 'enabled' });
  const result = h('div', { class: 'test-box', id: 'cam-test-result', role: 'status', 'aria-live': 'polite' });
  const error = h('p', { class: 'notice notice-error', role: 'alert' });
  const title = h('h2', { id: 'cam-title' });
  const testButton = h('button', { type: 'button', class: 'btn', onclick: test }, 'Test connection');
  const saveButton = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save camera');
  const form = h('form', { class: 'stack camera-form', novalidate: true },
    title,
    f.name.el, f.url.el,
    h('div', { class: 'row' }, f.username.el, f.password.el),
    credHint, clearCredsField,
    h('div', { class: 'row' }, f.transport.el, f.substream_url.el),
    h('div', { class: 'field field-check' }, h('label', { for: 'cam-enabled' }, enabled, ' Enabled (keep connected)')),
    h('div', { class: 'field field-check' }, h('label', { for: 'cam-continuous' }, continuous, ' Continuous recording (around the clock)')),
    result, error,
    h('div', { class: 'buttons' },
      testButton,
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', class: 'btn', onclick: () => el.close() }, 'Cancel'),
      saveButton));
  const el = h('dialog', { 'aria-labelledby': 'cam-title', class: 'dialog-wide' }, form);

  function clearErrors() {
    for (const x of Object.values(f)) x.setError('');
    error.textContent = '';
  }

  async function test() {
    clearErrors();
    const url = f.url.input.value.trim();
    if (!url) {
      f.url.setError('Enter the camera\'s RTSP URL first.');
      return f.url.input.focus();
    }
    result.className = 'test-box';
    result.textContent = 'Connecting to the camera… (up to 10 s)';
    testButton.disabled = true;
    try {
      let t;
      // The saved password is never sent back; test an unchanged camera
      // with its saved settings.
      const saved = cam && cam.has_credentials && !f.password.input.value && !clearCreds.checked &&
        url === cam.url && f.transport.input.value === cam.transport && !f.username.input.value;
      if (saved) {
        t = await post(`/cameras/${cam.id}/test`);
      } else {
        const body = { url, transport: f.transport.input.value };
        if (f.username.input.value) body.username = f.username.input.value;
        if (f.password.input.value) body.password = f.password.input.value;
        t = await post('/cameras/test', body);
      }
      result.className = `test-box ${t.ok ? 'test-ok' : 'test-fail'}`;
      result.replaceChildren(testResult(t));
      if (t.ok) result.append(h('div', { class: 'muted small' }, t.message || ''));
    } catch (err) {
      if (err.status === 422) {
        f.url.setError(err.message);
        result.textContent = '';
      } else {
        result.className = 'test-box test-fail';
        result.textContent = err.message;
      }
    } finally {
      testButton.disabled = false;
    }
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    if (!f.name.input.value.trim()) {
      f.name.setError('Give the camera a name.');
      return f.name.input.focus();
    }
    if (!f.url.input.value.trim()) {
      f.url.setError('Enter the camera\'s RTSP URL.');
      return f.url.input.focus();
    }
    const body = {
      name: f.name.input.value.trim(),
      url: f.url.input.value.trim(),
      transport: f.transport.input.value,
      substream_url: f.substream_url.input.value.trim(),
      continuous: continuous.checked,
      enabled: enabled.checked,
    };
    if (cam && clearCreds.checked) {
      body.username = '';
      body.password = '';
    } else {
      if (f.username.input.value) body.username = f.username.input.value;
      if (f.password.input.value) body.password = f.password.input.value;
    }
    busy(form, true);
    try {
      const saved = cam ? await patch(`/cameras/${cam.id}`, body) : await post('/cameras', { room_id: roomId, ...body });
      el.close();
      say(cam ? `Saved ${saved.name}.` : `Added ${saved.name}.`, 'ok');
      changed();
    } catch (err) {
      if (err.code === 'name_taken') {
        f.name.setError(err.message);
        f.name.input.focus();
      } else {
        showFieldError(err, f, (text) => { error.textContent = text; });
      }
    } finally {
      busy(form, false);
    }
  });

  return {
    el,
    open(c) {
      cam = c;
      form.reset();
      clearErrors();
      result.className = 'test-box';
      result.textContent = '';
      title.textContent = c ? `Edit ${c.name}` : 'Add camera';
      saveButton.textContent = c ? 'Save camera' : 'Add camera';
      f.name.input.value = c ? c.name : '';
      f.url.input.value = c ? c.url : '';
      f.transport.input.value = c ? c.transport : 'tcp';
      f.substream_url.input.value = c ? c.substream_url || '' : '';
      continuous.checked = c ? !!c.continuous : false;
      enabled.checked = c ? c.enabled !== false : true;
      clearCredsField.hidden = !(c && c.has_credentials);
      credHint.textContent = c && c.has_credentials
        ? 'A username and password are saved; they are never shown. Leave both empty to keep them.'
        : 'Leave empty when the camera needs no login. Credentials written in the URL are moved here.';
      el.showModal();
      f.name.input.focus();
    },
  };
}
