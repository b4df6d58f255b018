// Helpers for the system tests: start the real vigil binary on free ports in
// a temporary data folder, talk to it (fetch, raw TCP, CLI), stop it and
// check that it shut down cleanly.
//
// Environment:
//   VIGIL_BIN           binary to test (default <repo>/build-asan/vigil)
//   VIGIL_TEST_VERBOSE  1: copy the server's output to this process's stderr
//   VIGIL_TEST_KEEP     1: keep the temporary data folders

import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import net from 'node:net';
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

// Resolves like promise, or to `value` after ms; leaves no timer behind.
export function within(promise, ms, value = null) {
  let timer;
  return Promise.race([promise, new Promise((res) => { timer = setTimeout(res, ms, value); })])
    .finally(() => clearTimeout(timer));
}

// Runs a tool to its end: { code, signal, stdout, stderr }; stdout is a
// string, or a Buffer with { binary: true }. Killed after timeoutMs.
export function run(cmd, args, timeoutMs = 60000, { binary = false } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    let stderr = '';
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      const bytes = Buffer.concat(out);
      resolve({ code, signal, stdout: binary ? bytes : bytes.toString(), stderr });
    });
  });
}

// Polls fn until it returns something truthy (and not { ok: false }), or
// throws after ms naming what was awaited and the last answer.
export async function until(fn, ms, what, every = 200) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last && last.ok !== false) return last;
    if (Date.now() >= deadline) throw new Error(`${what}: not within ${ms} ms; last: ${JSON.stringify(last?.seen ?? last)}`);
    await sleep(every);
  }
}

// GET (or another method) as bytes: { status, headers, body: Buffer }.
export async function fetchBytes(url, headers = {}, method = 'GET', timeoutMs = 120000) {
  const res = await fetch(url, { method, headers, signal: AbortSignal.timeout(timeoutMs) });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body };
}

// Asserts |got - want| <= tol.
export function near(got, want, tol, what) {
  if (!(Math.abs(got - want) <= tol)) throw new Error(`${what}: ${got}, want ${want} ± ${tol}`);
}

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const VIGIL_BIN = process.env.VIGIL_BIN
  ? path.resolve(process.env.VIGIL_BIN)
  : path.join(REPO, 'build-asan', 'vigil');

const VERBOSE = process.env.VIGIL_TEST_VERBOSE === '1';
const KEEP = process.env.VIGIL_TEST_KEEP === '1';
const LOG_CAP = 1 << 20;

// Sanitizer settings unless the caller chose their own: report everything,
// and make leaks at exit turn the exit status non-zero.
function childEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  // The server refuses VIGIL_* settings it does not know; the test harness's
  // own (VIGIL_TEST_KEEP, VIGIL_BIN, ...) are not for it.
  for (const k of ['VIGIL_BIN', 'VIGIL_SIMCAM', 'VIGIL_TEST_KEEP', 'VIGIL_TEST_VERBOSE'])
    if (!(k in extra)) delete env[k];
  if (!env.ASAN_OPTIONS) env.ASAN_OPTIONS = 'detect_leaks=1:abort_on_error=0';
  if (!env.UBSAN_OPTIONS) env.UBSAN_OPTIONS = 'print_stacktrace=1';
  return env;
}

// Sanitizer reports in a log: a run that printed one is not clean, whatever
// the exit status.
export function sanitizerReport(log) {
  const m = /(ERROR: (Address|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer)/.exec(log);
  return m ? log.slice(Math.max(0, m.index - 200), m.index + 4000) : null;
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Runs the binary with args; resolves {code, signal, stdout, stderr}.
export function runCli(args, { input, timeout = 60000, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(VIGIL_BIN, args, { stdio: ['pipe', 'pipe', 'pipe'], env: childEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

// One plain HTTP(S) GET with node:http(s); resolves {status, headers, body}.
export function simpleGet(url, { timeout = 2000, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { rejectUnauthorized: false, timeout, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export class Vigil {
  // opts.flags: extra command-line flags for `serve`
  // opts.tls: true to generate a self-signed certificate and open HTTPS
  // opts.users: [{name, role, password}] created through the CLI before start
  // opts.env: extra environment variables
  constructor(opts = {}) {
    this.opts = opts;
    this.flags = opts.flags ?? [];
    this.log = '';
    this.proc = null;
    this.exit = null;
    this.crashes = [];
  }

  static async start(opts = {}) {
    const v = new Vigil(opts);
    await v.init();
    for (const u of opts.users ?? []) await v.addUser(u.name, u.password, u.role ?? 'admin');
    await v.launch();
    return v;
  }

  async init() {
    this.dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-sys-'));
    if (this.opts.tls) {
      this.certFile = path.join(this.dataDir, 'cert.pem');
      this.keyFile = path.join(this.dataDir, 'key.pem');
      await new Promise((resolve, reject) => {
        const p = spawn('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost',
          '-days', '1', '-keyout', this.keyFile, '-out', this.certFile], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (d) => { err += d; });
        p.on('error', reject);
        p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`openssl failed: ${err}`))));
      });
    }
  }

  // CLI against this server's data folder.
  cli(args, opts = {}) {
    return runCli([...args, '--data', this.dataDir], opts);
  }

  async addUser(name, password, role = 'admin') {
    const r = await this.cli(['user', 'add', name, '--role', role, '--password-stdin'], { input: `${password}\n` });
    if (r.code !== 0) {
      throw new Error(`vigil user add ${name} exited ${r.code} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`);
    }
    return r;
  }

  // When the server died (a crash in an earlier test), keeps its output for
  // stop() to report and starts it again on the same data, so that later
  // tests report on their own. Use in beforeEach.
  async revive() {
    if (!this.proc) return;
    if (!this.exit) await within(this.exited, 25); // a death may be a few ms from being noticed
    if (!this.exit) return;
    this.crashes.push(`exit ${JSON.stringify(this.exit)}\n${sanitizerReport(this.log) ?? this.logTail(8000)}`);
    this.log = '';
    this.exit = null;
    await this.launch();
  }

  async launch() {
    this.port = await freePort();
    this.httpsPort = this.opts.tls ? await freePort() : 0;
    const args = ['serve', '--data', this.dataDir, '--bind', '127.0.0.1',
      '--http-port', String(this.port), '--https-port', String(this.httpsPort),
      '--media-port', '0', '--log-level', 'warn'];
    if (this.opts.tls) args.push('--tls-cert', this.certFile, '--tls-key', this.keyFile);
    args.push(...this.flags);
    this.args = args;
    this.proc = spawn(VIGIL_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(this.opts.env) });
    const onData = (d) => {
      if (this.log.length < LOG_CAP) this.log += d;
      if (VERBOSE) process.stderr.write(d);
    };
    this.proc.stdout.on('data', onData);
    this.proc.stderr.on('data', onData);
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => { this.exit = { code, signal }; resolve(this.exit); });
      this.proc.on('error', (e) => { this.exit = { code: null, signal: null, error: e }; resolve(this.exit); });
    });

    const healthUrl = this.opts.tls
      ? `https://127.0.0.1:${this.httpsPort}/api/v1/health`
      : `http://127.0.0.1:${this.port}/api/v1/health`;
    const deadline = Date.now() + 20000;
    let last = '';
    while (Date.now() < deadline) {
      if (this.exit) break;
      try {
        const r = await simpleGet(healthUrl);
        if (r.status === 200) return;
        last = `status ${r.status}`;
      } catch (e) {
        last = e.message;
      }
      await sleep(100);
    }
    const how = this.exit ? `exited (${JSON.stringify(this.exit)})` : `no 200 from health in 20 s (${last})`;
    if (!this.exit) this.proc.kill('SIGKILL');
    throw new Error(`vigil ${args.join(' ')}: ${how}\n--- server output ---\n${this.log}`);
  }

  get base() { return `http://127.0.0.1:${this.port}`; }
  get httpsBase() { return `https://127.0.0.1:${this.httpsPort}`; }

  logTail(n = 4000) { return this.log.slice(-n); }

  // Stops with SIGTERM; throws when the server does not exit 0 within 10 s,
  // died earlier, or printed a sanitizer report. Removes the data folder.
  async stop() {
    if (!this.proc) return;
    const proc = this.proc;
    this.proc = null;
    const problems = [];
    if (this.exit) {
      problems.push(`server died during the tests (exit ${JSON.stringify(this.exit)})`);
    } else {
      proc.kill('SIGTERM');
      const t0 = Date.now();
      const r = await within(this.exited, 10000);
      if (!r) {
        proc.kill('SIGKILL');
        await this.exited;
        problems.push('no exit within 10 s of SIGTERM (killed)');
      } else if (r.code !== 0) {
        problems.push(`exit after SIGTERM: code ${r.code} signal ${r.signal} after ${Date.now() - t0} ms`);
      }
    }
    const san = sanitizerReport(this.log);
    if (!problems.length && san) problems.push('sanitizer report');
    if (!KEEP) await fs.rm(this.dataDir, { recursive: true, force: true });
    let out = '';
    if (this.crashes.length) {
      out += `server died ${this.crashes.length} time(s) during the tests and was restarted; first:\n${this.crashes[0]}\n`;
    }
    if (problems.length) {
      out += `${problems.join('; ')}\n--- server output ---\n${san ?? this.logTail(8000)}`;
    }
    if (out) throw new Error(`vigil ${this.args.join(' ')}: ${out}`);
  }

  // JSON request with fetch. opts: token (bearer), cookie, csrf, body (JSON
  // value), raw (string/Buffer body as is), headers, query token (qtoken),
  // timeout (ms, default 60000).
  async req(method, p, opts = {}) {
    const headers = { ...(opts.headers ?? {}) };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.cookie) headers.cookie = opts.cookie;
    if (opts.csrf) headers['x-csrf-token'] = opts.csrf;
    let body;
    if (opts.raw !== undefined) {
      body = opts.raw;
      if (!headers['content-type']) headers['content-type'] = 'application/json';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    let url = (opts.https ? this.httpsBase : this.base) + p;
    if (opts.qtoken) url += (p.includes('?') ? '&' : '?') + `access_token=${encodeURIComponent(opts.qtoken)}`;
    // bounded: a request the server never answers fails the test (opts.timeout ms, default 60 s)
    const ms = opts.timeout ?? 60000;
    let res;
    let text;
    try {
      res = await fetch(url, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(ms) });
      text = await res.text();
    } catch (e) {
      if (e?.name === 'TimeoutError' || e?.name === 'AbortError') throw new Error(`${method} ${p}: no answer in ${ms} ms`);
      throw e;
    }
    let json;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    return { status: res.status, headers: res.headers, text, json, setCookies: res.headers.getSetCookie() };
  }

  get(p, opts) { return this.req('GET', p, opts); }
  post(p, body, opts = {}) { return this.req('POST', p, { ...opts, body }); }
  patch(p, body, opts = {}) { return this.req('PATCH', p, { ...opts, body }); }
  del(p, opts) { return this.req('DELETE', p, opts); }

  // Logs in; returns the login answer plus `cookie` ("vigil_session=...").
  // Throws unless 200.
  async login(username, password) {
    const r = await this.post('/api/v1/login', { username, password });
    if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${r.text}`);
    const sc = r.setCookies.find((c) => c.startsWith('vigil_session='));
    return { ...r.json, cookie: sc ? sc.split(';')[0] : undefined, setCookie: sc };
  }

  // Creates a user through the API with an admin token; returns the user.
  async createUser(adminToken, username, password, role) {
    const r = await this.post('/api/v1/users', { username, password, role }, { token: adminToken });
    if (r.status !== 201) throw new Error(`create user ${username}: ${r.status} ${r.text}`);
    return r.json;
  }
}

// Creates an admin through the CLI in an existing data folder.
export async function createAdmin(srv, name = 'admin', password = 'admin-password-1') {
  await srv.addUser(name, password, 'admin');
  return { name, password };
}

// ---- raw HTTP ----------------------------------------------------------

// Parses one HTTP response at the start of buf. Returns null when it is not
// complete yet (eof: the peer closed, so a body without length ends here).
// head: the request was HEAD (no body whatever the headers say).
export function parseResponse(buf, { head = false, eof = false } = {}) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const headText = buf.subarray(0, end).toString('latin1');
  const lines = headText.split('\r\n');
  const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new Error(`bad status line: ${JSON.stringify(lines[0])}`);
  const status = Number(m[2]);
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i < 0) continue;
    const k = l.slice(0, i).trim().toLowerCase();
    const v = l.slice(i + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  let p = end + 4;
  let body;
  if (head || status === 204 || status === 304 || (status >= 100 && status < 200)) {
    body = Buffer.alloc(0);
  } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts = [];
    for (;;) {
      const le = buf.indexOf('\r\n', p);
      if (le < 0) return null;
      const size = parseInt(buf.subarray(p, le).toString('latin1').split(';')[0], 16);
      if (Number.isNaN(size)) throw new Error('bad chunk size');
      p = le + 2;
      if (size === 0) {
        // trailers up to an empty line
        for (;;) {
          const te = buf.indexOf('\r\n', p);
          if (te < 0) return null;
          const empty = te === p;
          p = te + 2;
          if (empty) break;
        }
        break;
      }
      if (buf.length < p + size + 2) return null;
      parts.push(buf.subarray(p, p + size));
      p += size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (buf.length < p + n) return null;
    body = buf.subarray(p, p + n);
    p += n;
  } else {
    if (!eof) return null;
    body = buf.subarray(p);
    p = buf.length;
  }
  return { status, reason: m[3] ?? '', headers, body, text: body.toString(), rest: buf.subarray(p), raw: buf.subarray(0, p) };
}

// A raw TCP connection for hand-written requests.
export class RawConn {
  static open(port, host = '127.0.0.1') {
    return new Promise((resolve, reject) => {
      const c = new RawConn();
      c.sock = net.connect(port, host);
      c.buf = Buffer.alloc(0);
      c.closed = false;
      c.error = null;
      c.waiters = [];
      c.sock.on('data', (d) => { c.buf = Buffer.concat([c.buf, d]); c.wake(); });
      c.sock.on('close', () => { c.closed = true; c.wake(); });
      c.sock.on('error', (e) => { c.error = e; });
      c.sock.once('connect', () => resolve(c));
      c.sock.once('error', reject);
    });
  }

  wake() { const w = this.waiters; this.waiters = []; for (const f of w) f(); }

  waitEvent(ms) {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  write(data) {
    return new Promise((resolve) => {
      this.sock.write(data, (err) => resolve(err ?? null));
    });
  }

  // Reads one complete response; throws on timeout or when the connection
  // closes before a whole response arrived.
  async readResponse({ head = false, timeout = 5000 } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const r = parseResponse(this.buf, { head, eof: this.closed });
      if (r) { this.buf = Buffer.from(r.rest); return r; }
      if (this.closed) {
        throw new Error(`connection closed before a full response; got ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no full response in ${timeout} ms; got ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`);
      await this.waitEvent(left);
    }
  }

  // Resolves true when the peer closes within ms.
  async waitClose(ms) {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.waitEvent(left);
    }
    return true;
  }

  close() { this.sock.destroy(); }
}

// Sends data on a new connection and collects everything until the server
// closes or `timeout` ms pass. Resolves {buf, text, closed, ms, error}; write
// errors (the server closing early) are not thrown.
export async function rawRequest(port, data, { timeout = 5000 } = {}) {
  const c = await RawConn.open(port);
  const t0 = Date.now();
  c.write(data);
  const closed = await c.waitClose(timeout);
  c.close();
  return { buf: c.buf, text: c.buf.toString('latin1'), closed, ms: Date.now() - t0, error: c.error };
}

// Checks the documented error body; returns the code.
export function errorCode(r) {
  if (!r.json || typeof r.json.error !== 'object' || r.json.error === null) {
    throw new Error(`not an error body (status ${r.status}): ${r.text}`);
  }
  if (typeof r.json.error.code !== 'string' || typeof r.json.error.message !== 'string') {
    throw new Error(`error body without string code and message: ${r.text}`);
  }
  return r.json.error.code;
}

// ---- a crash and a restart on the same data --------------------------------

// SIGKILL now; resolves with the exit status. stop() afterwards reports no
// crash for it: the test asked for it.
Vigil.prototype.kill9 = async function kill9() {
  if (!this.proc || this.exit) return this.exit;
  this.proc.kill('SIGKILL');
  return this.exited;
};

// Starts the binary again on the same data folder (new ports) after it
// exited (kill9); the output so far is kept in `earlierLog`.
Vigil.prototype.relaunch = async function relaunch() {
  if (this.proc && !this.exit) throw new Error('relaunch: the server is still running');
  this.earlierLog = (this.earlierLog ?? '') + this.log;
  this.log = '';
  this.exit = null;
  await this.launch();
};

// ---- the simulated camera ----------------------------------------------

// vigil-simcam: VIGIL_SIMCAM, else tools/vigil-simcam in VIGIL_BIN's build.
export const SIMCAM = process.env.VIGIL_SIMCAM
  ? path.resolve(process.env.VIGIL_SIMCAM)
  : path.join(path.dirname(VIGIL_BIN), 'tools', 'vigil-simcam');

// Light settings: the tests share two cores with an ASan server.
export const SIMCAM_LIGHT = ['--width', '640', '--height', '360', '--fps', '15', '--bitrate', '800'];

// One running simulated camera. Simcam.start(args, {port, light}) waits for
// its ready line (10 s); `url` is the URL it printed, `port` its port.
export class Simcam {
  static async start(args = [], { port = 0, light = true, readyMs = 10000 } = {}) {
    const { existsSync } = await import('node:fs');
    if (!existsSync(SIMCAM)) throw new Error(`${SIMCAM} missing: build it (ninja -C <build> tools/vigil-simcam) or set VIGIL_SIMCAM`);
    const cam = new Simcam();
    cam.args = args;
    cam.proc = spawn(SIMCAM, [...(light ? SIMCAM_LIGHT : []), ...args, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    cam.log = '';
    cam.exit = null;
    cam.exited = new Promise((resolve) => {
      cam.proc.on('exit', (code, signal) => { cam.exit = { code, signal }; resolve(cam.exit); });
      cam.proc.on('error', (e) => { cam.exit = { code: null, signal: null, error: e }; resolve(cam.exit); });
    });
    cam.proc.stderr.on('data', (d) => { if (cam.log.length < LOG_CAP) cam.log += d; });
    let out = '';
    const ready = new Promise((resolve) => {
      cam.proc.stdout.on('data', (d) => {
        out += d;
        const m = /^simcam ready (rtsp:\/\/\S+)$/m.exec(out);
        if (m) resolve(m[1]);
      });
    });
    const url = await within(Promise.race([ready, cam.exited.then(() => null)]), readyMs, null);
    if (!url) {
      const how = cam.exit ? `exited (${JSON.stringify(cam.exit)})` : `not ready in ${readyMs} ms`;
      if (!cam.exit) { cam.proc.kill('SIGKILL'); await cam.exited; }
      throw new Error(`vigil-simcam ${args.join(' ')}: ${how}\n${cam.log}`);
    }
    cam.url = url;
    cam.port = Number(new URL(url).port);
    return cam;
  }

  get running() { return this.exit === null; }

  // The URL with credentials in it.
  withAuth(user, pass) {
    const u = new URL(this.url);
    u.username = encodeURIComponent(user);
    u.password = encodeURIComponent(pass);
    return u.href;
  }

  async kill9() {
    if (this.exit) return this.exit;
    this.proc.kill('SIGKILL');
    return this.exited;
  }

  // SIGTERM, then the exit status (SIGKILL after ms).
  async stop(ms = 10000) {
    if (this.exit) return this.exit;
    this.proc.kill('SIGTERM');
    const r = await within(this.exited, ms);
    if (r) return r;
    this.proc.kill('SIGKILL');
    return this.exited;
  }
}

// Opens the events WebSocket with a token; resolves {ws, msgs, next(pred,
// ms)} where next waits for (and removes) the first message matching pred.
// The socket is added to sockets so the caller can close it at the end.
export function eventsSocket(srv, token, sockets) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/api/v1/events?access_token=${encodeURIComponent(token)}`);
    const msgs = [];
    const waiters = [];
    ws.on('message', (d) => { msgs.push(JSON.parse(d.toString())); for (const w of waiters.splice(0)) w(); });
    ws.on('error', () => {});
    ws.once('unexpected-response', (req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('open', () => {
      sockets.add(ws);
      resolve({
        ws,
        msgs,
        async next(pred, ms = 5000) {
          const deadline = Date.now() + ms;
          for (;;) {
            const i = msgs.findIndex(pred);
            if (i >= 0) return msgs.splice(i, 1)[0];
            const left = deadline - Date.now();
            if (left <= 0) throw new Error(`no matching event in ${ms} ms; got ${JSON.stringify(msgs).slice(0, 2000)}`);
            await new Promise((r) => { const t = setTimeout(r, left); waiters.push(() => { clearTimeout(t); r(); }); });
          }
        },
      });
    });
  });
}
