// Admin → Users: the table of accounts, the "New user" form, and per-row
// role, enable/disable, password reset and delete. The table reloads when the
// events socket says a user changed, so several admins stay in step.

import { get, post, patch, del } from '../api.js';
import * as events from '../events.js';
import { h, field, busy, formatTime } from '../dom.js';
import { adminNav } from './admin-nav.js';

const ROLES = ['admin', 'operator', 'viewer'];
const PAGE_SIZE = 500; // the API's largest page

export function usersPage(main, ctx) {
  const status = h('p', { class: 'notice', id: 'users-status', role: 'status', 'aria-live': 'polite' });
  const count = h('span', { class: 'count' });
  const tbody = h('tbody');
  const dialog = passwordDialog(say);
  let loadSeq = 0;

  function say(text, kind = 'info') {
    status.className = `notice notice-${kind}`;
    status.textContent = text;
  }
  function sayError(err) {
    say(err.message, 'error');
  }

  // --- the table ---------------------------------------------------------

  async function load() {
    const seq = ++loadSeq;
    try {
      const list = await get(`/users?limit=${PAGE_SIZE}`);
      if (seq === loadSeq) renderRows(list.items || [], list.total);
    } catch (err) {
      if (seq === loadSeq) sayError(err);
    }
  }

  function renderRows(users, total) {
    // Rows are rebuilt; keep keyboard focus on the same control.
    const focusKey = document.activeElement?.dataset?.focusKey;
    tbody.replaceChildren(...users.map(row));
    count.textContent = total > users.length ? `${users.length} of ${total}` : `${users.length}`;
    if (focusKey) tbody.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
  }

  function row(u) {
    const me = ctx.user && ctx.user.id === u.id;
    const key = (what) => `${u.id}:${what}`;
    const role = h('select', {
      'aria-label': `Role of ${u.username}`, 'data-focus-key': key('role'), value: u.role,
      onchange: () => run(patch(`/users/${u.id}`, { role: role.value }),
        `${u.username} is now ${role.value}.`, () => { role.value = u.role; }),
    }, ROLES.map((r) => h('option', { value: r }, r)));

    return h('tr', { 'data-user': u.username, class: u.disabled ? 'is-disabled' : null },
      h('th', { scope: 'row' }, u.username, me ? h('span', { class: 'muted' }, ' (you)') : null),
      h('td', null, role),
      h('td', null, h('span', { class: `state ${u.disabled ? 'state-off' : 'state-on'}` },
        u.disabled ? 'Disabled' : 'Enabled')),
      h('td', null, h('time', { datetime: new Date(u.created_at || 0).toISOString() }, formatTime(u.created_at))),
      h('td', null, h('div', { class: 'actions' },
        h('button', {
          type: 'button', class: 'btn btn-small', 'data-focus-key': key('toggle'),
          'aria-label': `${u.disabled ? 'Enable' : 'Disable'} ${u.username}`,
          onclick: () => run(patch(`/users/${u.id}`, { disabled: !u.disabled }),
            `${u.username} is ${u.disabled ? 'enabled' : 'disabled'}.`),
        }, u.disabled ? 'Enable' : 'Disable'),
        h('button', {
          type: 'button', class: 'btn btn-small', 'data-focus-key': key('password'),
          'aria-label': `Reset password of ${u.username}`,
          onclick: () => dialog.open(u),
        }, 'Reset password'),
        h('button', {
          type: 'button', class: 'btn btn-small btn-danger', 'data-focus-key': key('delete'),
          'aria-label': `Delete ${u.username}`,
          onclick: () => {
            if (!confirm(`Delete the user ${u.username}? This cannot be undone.`)) return;
            run(del(`/users/${u.id}`), `${u.username} was deleted.`);
          },
        }, 'Delete'))));
  }

  // A row action: report the outcome and reload (the event will too, but
  // this page should not depend on the socket being up).
  async function run(promise, done, undo) {
    try {
      await promise;
      say(done, 'ok');
    } catch (err) {
      if (undo) undo();
      sayError(err);
    }
    load();
  }

  // --- the "New user" form -------------------------------------------------

  const username = field('Username', h('input', {
    id: 'new-username', name: 'username', autocomplete: 'off',
    autocapitalize: 'none', spellcheck: 'false', required: true, maxlength: 64,
  }));
  const password = field('Password', h('input', {
    id: 'new-password', name: 'password', type: 'password',
    autocomplete: 'new-password', required: true, minlength: 8,
  }));
  const roleSelect = field('Role', h('select', { id: 'new-role', name: 'role', value: 'operator' },
    ROLES.map((r) => h('option', { value: r }, r))));
  const form = h('form', { class: 'new-user', 'aria-labelledby': 'new-user-title', novalidate: true },
    username.el, password.el, roleSelect.el,
    h('div', { class: 'field field-button' },
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create user')));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const fields = { username, password, role: roleSelect };
    for (const f of Object.values(fields)) f.setError('');
    busy(form, true);
    try {
      const user = await post('/users', {
        username: username.input.value,
        password: password.input.value,
        role: roleSelect.input.value,
      });
      say(`Created ${user.username} (${user.role}).`, 'ok');
      form.reset();
      roleSelect.input.value = 'operator';
      username.input.focus();
      load();
    } catch (err) {
      if (err.code === 'username_taken') {
        username.setError(err.message || 'That username is taken.');
        username.input.focus();
      } else if (err.status === 422) {
        const name = err.field || ['password', 'role', 'username'].find((n) => err.message.toLowerCase().includes(n));
        const target = fields[name] || username;
        target.setError(err.message);
        target.input.focus();
      } else {
        sayError(err);
      }
    } finally {
      busy(form, false);
    }
  });

  main.append(h('section', { class: 'page' },
    adminNav('users'),
    h('h1', { tabindex: '-1' }, 'Users ', count),
    h('section', { class: 'panel' },
      h('h2', { id: 'new-user-title' }, 'New user'),
      form),
    status,
    h('table', { class: 'grid', 'aria-label': 'Users' },
      h('thead', null, h('tr', null,
        ['Username', 'Role', 'Status', 'Created'].map((c) => h('th', { scope: 'col' }, c)),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      tbody),
    dialog.el));

  const stops = [events.on('user.changed', load), events.on('hello', load)];
  load();
  return () => {
    loadSeq++;
    stops.forEach((stop) => stop());
    if (dialog.el.open) dialog.el.close();
  };
}

// The modal that sets a new password for one user.
function passwordDialog(say) {
  let user = null;
  const input = field('New password', h('input', {
    id: 'reset-password', type: 'password', autocomplete: 'new-password', minlength: 8, required: true,
  }));
  const title = h('h2', { id: 'reset-title' });
  // Lets password managers tell whose password this is.
  const who = h('input', { type: 'text', autocomplete: 'username', hidden: true, tabindex: '-1' });
  const form = h('form', { class: 'stack', novalidate: true },
    title, who,
    h('p', { class: 'hint' }, 'At least 8 characters. The user is signed out everywhere.'),
    input.el,
    h('div', { class: 'buttons' },
      h('button', { type: 'button', class: 'btn', onclick: () => el.close() }, 'Cancel'),
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Set password')));
  const el = h('dialog', { 'aria-labelledby': 'reset-title' }, form);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    input.setError('');
    busy(form, true);
    try {
      await patch(`/users/${user.id}`, { password: input.input.value });
      el.close();
      say(`New password set for ${user.username}.`, 'ok');
    } catch (err) {
      input.setError(err.message);
      input.input.focus();
    } finally {
      busy(form, false);
    }
  });

  return {
    el,
    open(u) {
      user = u;
      title.textContent = `Reset password of ${u.username}`;
      form.reset();
      who.value = u.username;
      input.setError('');
      el.showModal();
      input.input.focus();
    },
  };
}
