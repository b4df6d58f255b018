// The sign-in page: username and password, POST /api/v1/login.

import { post } from '../api.js';
import { h, field, busy } from '../dom.js';

export function loginPage(main, ctx) {
  const username = field('Username', h('input', {
    id: 'login-username', name: 'username', autocomplete: 'username',
    autocapitalize: 'none', spellcheck: 'false', required: true,
  }));
  const password = field('Password', h('input', {
    id: 'login-password', name: 'password', type: 'password',
    autocomplete: 'current-password', required: true,
  }));
  const error = h('p', { class: 'notice notice-error', id: 'login-error', role: 'alert' });
  const notice = ctx.takeNotice();

  const form = h('form', { class: 'stack', novalidate: true },
    username.el, password.el, error,
    h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in'));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    if (!username.input.value || !password.input.value) {
      error.textContent = 'Enter your username and password.';
      (username.input.value ? password.input : username.input).focus();
      return;
    }
    busy(form, true);
    try {
      const answer = await post('/login', {
        username: username.input.value,
        password: password.input.value,
      });
      ctx.signedIn(answer);
    } catch (err) {
      busy(form, false);
      if (err.status === 401) error.textContent = 'Wrong username or password';
      else if (err.status === 429) error.textContent = 'Too many attempts, try again later';
      else error.textContent = err.message;
      password.input.value = '';
      password.input.focus();
    }
  });

  main.append(h('section', { class: 'page page-narrow auth' },
    h('h1', { tabindex: '-1' }, 'Sign in to Vigil'),
    notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
    form));
  username.input.focus();
}
