// Starts the real Vigil server for a browser test: a fresh data folder, a
// free port, and a clean stop. VIGIL_BIN picks the binary (default: the ASan
// build at build-asan/vigil in the repository).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const VIGIL_BIN = process.env.VIGIL_BIN || path.join(repoRoot, 'build-asan', 'vigil');

const READY_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 5000;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Returns { url, port, dataDir, log(), stop() }. stop() resolves to how the
// server ended: { code, signal, early } where early means it died on its own
// before stop() was called.
export async function startServer() {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'vigil-browser-'));
  const port = await freePort();
  const args = ['serve', '--data', dataDir, '--bind', '127.0.0.1', '--http-port', String(port),
    '--https-port', '0', '--media-port', '0', '--log-level', 'warn'];
  const child = spawn(VIGIL_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let hasExited = false;
  let exitStatus = null;
  let stopping = false;
  exited.then((st) => { hasExited = true; exitStatus = { ...st, early: !stopping }; });
  let spawnError = null; // e.g. no such binary; then there is no 'exit'
  child.on('error', (err) => { spawnError = err; });

  const url = `http://127.0.0.1:${port}`;
  const server = {
    url,
    port,
    dataDir,
    log: () => output,
    async stop() {
      if (!hasExited && !spawnError) {
        stopping = true;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      await fs.rm(dataDir, { recursive: true, force: true });
      return exitStatus;
    },
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (spawnError || hasExited) {
      await server.stop();
      const why = spawnError ? spawnError.message : `exited ${JSON.stringify(exitStatus)}`;
      throw new Error(`${VIGIL_BIN} did not start (${why}):\n${output}`);
    }
    try {
      const res = await fetch(`${url}/api/v1/health`);
      if (res.status === 200) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`${VIGIL_BIN} did not answer /api/v1/health within ${READY_TIMEOUT_MS} ms:\n${output}`);
    }
    await sleep(100);
  }
}

// The simulated camera built beside VIGIL_BIN (or VIGIL_SIMCAM).
export const SIMCAM = process.env.VIGIL_SIMCAM || path.join(path.dirname(VIGIL_BIN), 'tools', 'vigil-simcam');

// Starts vigil-simcam on a free port and resolves once it printed its
// ready line.
export function startSimcam(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(SIMCAM, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${SIMCAM} printed no ready line within 15 s:\n${out}${err}`));
    }, 15000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${SIMCAM}: ${e.message}`));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${SIMCAM} exited with ${code}:\n${out}${err}`));
    });
    child.stderr.on('data', (d) => { err += d; });
    child.stdout.on('data', (d) => {
      out += d;
      const m = /simcam ready (rtsp:\/\/\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({
        url: m[1],
        stop: () => new Promise((done) => {
          if (child.exitCode !== null) return done();
          child.on('exit', done);
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 5000).unref();
        }),
      });
    });
  });
}

// Polls fn() every 100 ms until it returns a truthy value (not {ok: false});
// fails with what it last saw after ms.
export async function waitFor(what, fn, ms) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last && last.ok !== false) return last;
    if (Date.now() > deadline) assert.fail(`${what}: still not so after ${ms} ms (last: ${JSON.stringify(last)})`);
    await sleep(100);
  }
}

// Stops a server from startServer and fails when it died early or did not
// exit cleanly (under ASan that includes leaks).
export async function stopServerCleanly(server) {
  const end = await server?.stop();
  if (end && (end.early || end.code !== 0)) {
    assert.fail(`the server ${end.early ? 'died during the tests' : 'did not stop cleanly'} ` +
      `(code ${end.code}, signal ${end.signal}):\n${server.log()}`);
  }
}
