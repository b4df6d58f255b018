// Browser tests of the web shell against the real server: first run, sign
// in and out, Admin → Users, and live updates over the events WebSocket.
// Run: node --test tests/browser/   (VIGIL_BIN picks the server binary)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';

const TEST_TIMEOUT_MS = 30000; // generous: the default server is an ASan build
const WAIT_MS = 10000;
const ADMIN = { username: 'ada.admin', password: 'correct horse battery' };
const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let server;
let browser;
let page; // the first admin's tab, shared by the tests in order
const problems = []; // console errors and page errors, from every tab

before(async () => {
  server = await startServer();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  page = await newPage();
});

after(async () => {
  await browser?.close();
  const end = await server?.stop();
  // A crash or sanitizer report in the server fails the run, with its log.
  if (end && (end.early || end.code !== 0)) {
    assert.fail(`the server ${end.early ? 'died during the tests' : 'did not stop cleanly'} ` +
      `(code ${end.code}, signal ${end.signal}):\n${server.log()}`);
  }
});

async function newPage() {
  const context = await browser.newContext({ baseURL: server.url });
  const p = await context.newPage();
  p.setDefaultTimeout(WAIT_MS);
  p.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  p.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    // Chromium logs every 4xx answer as "Failed to load resource". Answers
    // of the API are the UI's to handle (the tests check that it does);
    // anything else, such as a missing script, is a failure.
    const where = msg.location()?.url || '';
    if (/status of 4\d\d/.test(msg.text()) && new URL(where, server.url).pathname.startsWith('/api/v1/')) return;
    problems.push(`console error: ${msg.text()} (${where})`);
  });
  return p;
}

function assertNoBrowserErrors() {
  assert.deepEqual(problems.splice(0), [], 'the browser reported errors');
}

async function text(locator) {
  await locator.waitFor();
  return (await locator.textContent()).trim();
}

// Wait until the locator's text is `want` (so a late update still passes).
async function waitForText(locator, want) {
  await locator.waitFor();
  const deadline = Date.now() + WAIT_MS;
  let got;
  while ((got = (await locator.textContent()).trim()) !== want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(got, want);
}

async function apiLogin(username, password) {
  const res = await fetch(`${server.url}/api/v1/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  assert.equal(res.status, 200, 'login through the API');
  return (await res.json()).access_token;
}

async function signInThroughPage(p, username, password) {
  await p.getByRole('heading', { name: 'Sign in to Vigil' }).waitFor();
  await p.getByLabel('Username').fill(username);
  await p.getByLabel('Password').fill(password);
  await p.getByRole('button', { name: 'Sign in' }).click();
}

test('a fresh server shows the first-run page, which creates the admin and signs in', { timeout: TEST_TIMEOUT_MS }, async () => {
  await page.goto('/');
  await page.getByRole('heading', { name: 'Welcome to Vigil' }).waitFor();
  assert.equal(await page.locator('#topbar').isVisible(), false, 'no navigation before sign-in');

  await page.getByLabel('Username').fill(ADMIN.username);
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await page.getByLabel('Confirm password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Create administrator' }).click();

  await page.getByRole('heading', { name: 'Observe', level: 1 }).waitFor();
  assert.equal(new URL(page.url()).hash, '#/observe');
  await waitForText(page.locator('#who-name'), ADMIN.username);
  assert.equal(await text(page.locator('#who-role')), 'admin');
  assert.equal(await page.getByRole('link', { name: 'Admin' }).isVisible(), true);

  const setup = await (await fetch(`${server.url}/api/v1/setup`)).json();
  assert.equal(setup.needs_setup, false, 'the server has its first user');
  assertNoBrowserErrors();
});

test('sign out, a wrong password is refused, the right one signs in', { timeout: TEST_TIMEOUT_MS }, async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to Vigil' }).waitFor();
  assert.equal(await page.locator('#topbar').isVisible(), false);

  // The session is gone on the server too: a reload still asks to sign in.
  await page.reload();
  await signInThroughPage(page, ADMIN.username, 'not the password');
  await waitForText(page.getByRole('alert'), 'Wrong username or password');
  assert.equal(await page.locator('#topbar').isVisible(), false);

  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Observe', level: 1 }).waitFor();
  await waitForText(page.locator('#who-name'), ADMIN.username);
  assertNoBrowserErrors();
});

test('Admin → Users creates a user through the form', { timeout: TEST_TIMEOUT_MS }, async () => {
  await page.getByRole('link', { name: 'Admin' }).click();
  await page.getByRole('heading', { name: /^Users/, level: 1 }).waitFor();
  await page.locator(`tr[data-user="${ADMIN.username}"]`).waitFor();

  const form = page.getByRole('form', { name: 'New user' });
  await form.getByLabel('Username').fill('olivia');
  await form.getByLabel('Password').fill('olivia-password-1');
  await form.getByLabel('Role').selectOption('operator');
  await form.getByRole('button', { name: 'Create user' }).click();

  const row = page.locator('tr[data-user="olivia"]');
  await row.waitFor();
  assert.equal(await row.getByLabel('Role of olivia').inputValue(), 'operator');
  assert.equal(await text(row.locator('.state')), 'Enabled');

  // The same name again: the API's 409 shows at the username field.
  await form.getByLabel('Username').fill('olivia');
  await form.getByLabel('Password').fill('olivia-password-2');
  await form.getByRole('button', { name: 'Create user' }).click();
  await page.locator('#new-username[aria-invalid="true"]').waitFor();
  assert.notEqual(await text(page.locator('#new-username-error')), '');

  const token = await apiLogin(ADMIN.username, ADMIN.password);
  const res = await fetch(`${server.url}/api/v1/users?limit=500`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  const olivias = (await res.json()).items.filter((u) => u.username === 'olivia');
  assert.equal(olivias.length, 1, 'exactly one olivia on the server');
  assert.equal(olivias[0].role, 'operator');
  assertNoBrowserErrors();
});

test('another admin session sees a new user appear without reloading', { timeout: TEST_TIMEOUT_MS }, async () => {
  const other = await newPage();
  try {
    // Watch the events socket so the test knows when it is connected.
    const frames = [];
    other.on('websocket', (ws) => {
      if (new URL(ws.url()).pathname !== '/api/v1/events') return;
      ws.on('framereceived', (f) => { try { frames.push(JSON.parse(f.payload)); } catch { /* binary */ } });
    });
    await other.goto('/#/admin/users');
    await signInThroughPage(other, ADMIN.username, ADMIN.password);
    await other.getByRole('heading', { name: /^Users/, level: 1 }).waitFor();
    await other.locator('tr[data-user="olivia"]').waitFor();
    const deadline = Date.now() + WAIT_MS;
    while (!frames.some((m) => m.type === 'hello') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(frames.some((m) => m.type === 'hello'), 'the events socket said hello');
    await other.evaluate(() => { window.__sameDocument = true; });

    const form = page.getByRole('form', { name: 'New user' });
    await form.getByLabel('Username').fill('noah');
    await form.getByLabel('Password').fill('noah-password-1');
    await form.getByLabel('Role').selectOption('viewer');
    await form.getByRole('button', { name: 'Create user' }).click();
    await page.locator('tr[data-user="noah"]').waitFor();

    const row = other.locator('tr[data-user="noah"]');
    await row.waitFor();
    assert.equal(await row.getByLabel('Role of noah').inputValue(), 'viewer');
    assert.equal(await other.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
    assert.ok(frames.some((m) => m.type === 'user.changed' && m.user?.username === 'noah'),
      'the change came over the events socket');
    assertNoBrowserErrors();
  } finally {
    await other.context().close();
  }
});
