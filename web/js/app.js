// Vigil's browser app: start-up (first run, sign in or the app), the hash
// router, the top bar, and the session state every page reads.
//
// A page module exports a function render(main, ctx) that fills <main> and
// may return a clean-up function, called when the route changes. A route
// ending in "/:id" matches a numeric id there, handed to the page as
// ctx.params.id.

import { get, post, setCsrfToken, onUnauthorized } from './api.js';
import * as events from './events.js';
import { h } from './dom.js';
import { loginPage } from './pages/login.js';
import { setupPage } from './pages/setup.js';
import { usersPage } from './pages/users.js';
import { roomsPage, roomPage } from './pages/rooms.js';
import { observePage } from './pages/observe.js';
import { libraryPage } from './pages/library.js';
import { recordingPage } from './pages/review.js';
import { placeholderPage } from './pages/placeholder.js';

const HOME = '/observe';

const routes = {
  '/setup': { title: 'First run', render: setupPage, public: true },
  '/login': { title: 'Sign in', render: loginPage, public: true },
  '/observe': { title: 'Observe', render: observePage },
  '/observe/:id': { title: 'Observe', render: observePage },
  '/review': { title: 'Review', render: libraryPage },
  '/review/:id': { title: 'Recording', render: recordingPage },
  '/schedule': { title: 'Schedule', render: placeholderPage('schedule') },
  '/upload': { title: 'Upload', render: placeholderPage('upload') },
  '/admin/users': { title: 'Users', render: usersPage, admin: true },
  '/admin/rooms': { title: 'Rooms', render: roomsPage, admin: true },
  '/admin/rooms/:id': { title: 'Room', render: roomPage, admin: true },
};

// The route for a path, and its parameters: { route, params } or null.
function match(path) {
  if (Object.hasOwn(routes, path)) return { route: routes[path], params: {} };
  const m = /^(.*)\/(\d{1,15})$/.exec(path);
  if (m && Object.hasOwn(routes, m[1] + '/:id')) return { route: routes[m[1] + '/:id'], params: { id: Number(m[2]) } };
  return null;
}

const state = {
  needsSetup: false,
  user: null,
  notice: '', // shown once on the login page, e.g. after a session ended
  returnTo: HOME, // where to go after signing in
};

const main = document.getElementById('main');
let cleanup = null;
let ready = false; // no routing until start-up knows who is signed in

// The context handed to pages.
const ctx = {
  get user() {
    return state.user;
  },
  takeNotice() {
    const n = state.notice;
    state.notice = '';
    return n;
  },
  // Called with the answer of POST /login or POST /setup.
  signedIn(answer) {
    state.needsSetup = false;
    setCsrfToken(answer.csrf_token);
    setUser(answer.user);
    navigate(state.returnTo || HOME);
    state.returnTo = HOME;
  },
  // Start over from GET /setup, e.g. when first run raced with another.
  restart: boot,
  navigate,
  params: {},
};

function navigate(path) {
  if (location.hash === '#' + path) route();
  else location.hash = '#' + path;
}

function currentPath() {
  return location.hash.startsWith('#/') ? location.hash.slice(1) : '';
}

function route() {
  if (!ready) return;
  let path = currentPath();
  if (state.needsSetup) {
    path = '/setup';
  } else if (!state.user) {
    if (path && !match(path)?.route.public) state.returnTo = path;
    path = '/login';
  } else {
    const r = match(path)?.route;
    if (!r || r.public || (r.admin && state.user.role !== 'admin')) path = HOME;
  }
  if (currentPath() !== path) history.replaceState(null, '', '#' + path);
  show(path);
}

function show(path) {
  const { route: r, params } = match(path);
  if (cleanup) cleanup();
  cleanup = null;
  ctx.params = params;
  document.title = `${r.title} · Vigil`;
  main.replaceChildren();
  renderTopbar(path);
  cleanup = r.render(main, ctx) || null;
  // Move focus to the new page (unless the page chose a field) so that
  // keyboard and screen-reader users start at its top.
  if (!main.contains(document.activeElement)) main.querySelector('h1')?.focus();
}

function renderTopbar(path) {
  const bar = document.getElementById('topbar');
  bar.hidden = !state.user;
  if (!state.user) return;
  document.getElementById('who-name').textContent = state.user.username;
  document.getElementById('who-role').textContent = state.user.role;
  document.getElementById('nav-admin').hidden = state.user.role !== 'admin';
  for (const a of bar.querySelectorAll('nav a')) {
    const here = path === a.dataset.route || path.startsWith(a.dataset.route + '/');
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function setUser(user) {
  state.user = user;
  events.start(() => endSession('Your session has ended. Sign in again to go on.'));
}

// The server ended the session (logout elsewhere, account disabled, expiry).
function endSession(notice) {
  if (!state.user) return;
  events.stop();
  setCsrfToken(null);
  state.user = null;
  state.notice = notice;
  const path = currentPath();
  if (path && !match(path)?.route.public) state.returnTo = path;
  route();
}

async function signOut() {
  const button = document.getElementById('sign-out');
  button.disabled = true;
  events.stop();
  try {
    await post('/logout');
  } catch {
    // The session may already be gone; signing out locally is what matters.
  } finally {
    button.disabled = false;
  }
  setCsrfToken(null);
  state.user = null;
  state.returnTo = HOME;
  navigate('/login');
}

// Keep the top bar right when an admin changes this user's role or name.
events.on('user.changed', (msg) => {
  if (!state.user || !msg.user || msg.user.id !== state.user.id) return;
  if (msg.action === 'deleted') return endSession('Your account was removed.');
  state.user = { ...state.user, ...msg.user };
  route();
});

onUnauthorized(() => endSession('Your session has ended. Sign in again to go on.'));

async function boot() {
  ready = false;
  events.stop();
  state.user = null;
  try {
    const setup = await get('/setup');
    state.needsSetup = !!(setup && setup.needs_setup);
    if (!state.needsSetup) {
      try {
        const me = await get('/me');
        setCsrfToken(me.csrf_token);
        const { csrf_token, expires_at, ...user } = me.user || me;
        setUser(user);
      } catch (err) {
        if (err.status !== 401) throw err;
      }
    }
  } catch (err) {
    main.replaceChildren(
      h('section', { class: 'page page-narrow' },
        h('h1', { tabindex: '-1' }, 'Vigil cannot start'),
        h('p', { class: 'notice notice-error', role: 'alert' }, err.message),
        h('button', { type: 'button', class: 'btn btn-primary', onclick: boot }, 'Try again')));
    return;
  }
  ready = true;
  route();
}

window.addEventListener('hashchange', () => {
  // Plain in-page anchors (#something) are not routes.
  if (location.hash === '' || location.hash.startsWith('#/')) route();
});
document.getElementById('sign-out').addEventListener('click', signOut);
boot();
