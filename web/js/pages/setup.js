// The first-run page: while no user exists, create the first administrator
// (POST /api/v1/setup), who is then signed in.

import { post } from '../api.js';
import { h, field, busy } from '../dom.js';

export function setupPage(main, ctx) {
  const username = field('Username', h('input', {
    id: 'setup-username', name: 'username', autocomplete: 'username',
    autocapitalize: 'none', spellcheck: 'false', required: true, maxlength: 64,
  }));
  const password = field('Password', h('input', {
    id: 'setup-password', name: 'password', type: 'password',
    autocomplete: 'new-password', required: true, minlength: 8,
  }));
  const confirm = field('Confirm password', h('input', {
    id: 'setup-confirm', name: 'confirm', type: 'password',
    autocomplete: 'new-password', required: true,
  }));
  password.input.setAttribute('aria-describedby', 'setup-password-hint setup-password-error');
  const error = h('p', { class: 'notice notice-error', id: 'setup-error', role: 'alert' });

  const form = h('form', { class: 'stack', novalidate: true },
    username.el, password.el,
    h('p', { class: 'hint', id: 'setup-password-hint' }, 'At least 8 characters. A passphrase of a few words is easy to type and hard to guess.'),
    confirm.el, error,
    h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Create administrator'));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const f of [username, password, confirm]) f.setError('');
    error.textContent = '';
    if (!username.input.value) {
      username.setError('Choose a username.');
      return username.input.focus();
    }
    if (password.input.value.length < 8) {
      password.setError('The password needs at least 8 characters.');
      return password.input.focus();
    }
    if (password.input.value !== confirm.input.value) {
      confirm.setError('The two passwords are not the same.');
      return confirm.input.focus();
    }
    busy(form, true);
    try {
      const answer = await post('/setup', {
        username: username.input.value,
        password: password.input.value,
      });
      ctx.signedIn(answer);
    } catch (err) {
      busy(form, false);
      if (err.status === 409) {
        error.textContent = 'Vigil is already set up. Sign in with an existing account.';
        setTimeout(ctx.restart, 2500);
      } else if (err.status === 422) {
        const target = /password/i.test(err.field || err.message) ? password : username;
        target.setError(err.message);
        target.input.focus();
      } else {
        error.textContent = err.message;
      }
    }
  });

  main.append(h('section', { class: 'page page-narrow auth' },
    h('h1', { tabindex: '-1' }, 'Welcome to Vigil'),
    h('p', { class: 'lead' }, 'This server has no users yet. Create the first administrator; that account can then add everyone else.'),
    form));
  username.input.focus();
}
