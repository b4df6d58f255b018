// The HTTP/1.1 server as a client sees it: health, errors, keep-alive,
// pipelining, bodies, limits, time-outs, static files and their caching.
import { test, before, after, beforeEach, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Vigil, RawConn, rawRequest, errorCode, REPO, sleep } from './lib/server.mjs';

let srv;
const ADMIN = { name: 'admin', password: 'admin-password-1' };

before(async () => {
  srv = await Vigil.start({
    users: [{ ...ADMIN, role: 'admin' }],
    flags: ['--header-timeout-ms', '500'],
  });
});

after(async () => {
  await srv?.stop();
});

// a crash in one test is reported at the end; later tests get a fresh process
beforeEach(() => srv?.revive());

async function healthOk() {
  const r = await srv.get('/api/v1/health');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json?.status, 'ok');
}

test('health answers status ok and the version as JSON', async () => {
  const r = await srv.get('/api/v1/health');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(r.json.status, 'ok');
  assert.equal(typeof r.json.version, 'string');
  assert.match(r.json.version, /^\d+\.\d+\.\d+/);
});

test('unknown /api route: 404 with the JSON error shape', async () => {
  const r = await srv.get('/api/v1/no-such-thing');
  assert.equal(r.status, 404);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(typeof errorCode(r), 'string');
});

test('wrong method: 405 with Allow naming GET', async () => {
  for (const method of ['DELETE', 'PUT']) {
    const r = await srv.req(method, '/api/v1/health');
    assert.equal(r.status, 405, `${method}: ${r.text}`);
    errorCode(r);
    const allow = r.headers.get('allow') ?? '';
    assert.match(allow, /\bGET\b/, `Allow: ${allow}`);
  }
});

test('HEAD of health: headers, no body', async () => {
  const r = await rawRequest(srv.port, 'HEAD /api/v1/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
  assert.ok(r.closed, 'connection closed after Connection: close');
  assert.match(r.text, /^HTTP\/1\.1 200 /);
  const end = r.text.indexOf('\r\n\r\n');
  assert.ok(end > 0);
  assert.equal(r.buf.length, end + 4, `bytes after the head: ${JSON.stringify(r.text.slice(end + 4))}`);
});

test('keep-alive: two requests on one connection', async () => {
  const c = await RawConn.open(srv.port);
  try {
    await c.write('GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n');
    const a = await c.readResponse();
    assert.equal(a.status, 200);
    assert.equal(JSON.parse(a.text).status, 'ok');
    assert.ok(!c.closed, 'server closed a keep-alive connection');
    await c.write('GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n');
    const b = await c.readResponse();
    assert.equal(b.status, 200);
    assert.equal(JSON.parse(b.text).status, 'ok');
  } finally {
    c.close();
  }
});

test('pipelining: two requests written at once get two responses in order', async () => {
  const c = await RawConn.open(srv.port);
  try {
    await c.write('GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n'
      + 'GET /api/v1/pipelined-nope HTTP/1.1\r\nHost: t\r\n\r\n'
      + 'GET /api/v1/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    const a = await c.readResponse();
    const b = await c.readResponse();
    const d = await c.readResponse();
    assert.deepEqual([a.status, b.status, d.status], [200, 404, 200]);
    assert.equal(JSON.parse(a.text).status, 'ok');
    assert.ok(await c.waitClose(3000), 'closed after Connection: close');
  } finally {
    c.close();
  }
});

test('chunked request body: a login sent chunked works', async () => {
  const body = JSON.stringify({ username: ADMIN.name, password: ADMIN.password });
  const half = Math.floor(body.length / 2);
  const chunks = [body.slice(0, half), body.slice(half)]
    .map((s) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`).join('');
  const req = 'POST /api/v1/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n'
    + `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunks}0\r\n\r\n`;
  const c = await RawConn.open(srv.port);
  try {
    await c.write(req);
    const r = await c.readResponse();
    assert.equal(r.status, 200, r.text);
    const j = JSON.parse(r.text);
    assert.equal(typeof j.access_token, 'string');
    assert.equal(j.user.username, ADMIN.name);
  } finally {
    c.close();
  }
});

test('Content-Length over the body limit: 413', async () => {
  const c = await RawConn.open(srv.port);
  try {
    await c.write('POST /api/v1/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n'
      + `Content-Length: ${2 * 1024 * 1024}\r\n\r\n{"username":"`);
    const r = await c.readResponse();
    assert.equal(r.status, 413, r.text);
  } finally {
    c.close();
  }
  await healthOk();
});

test('malformed request line: 400, and a new connection is still served', async () => {
  const r = await rawRequest(srv.port, 'THIS IS NOT HTTP\r\n\r\n', { timeout: 3000 });
  assert.match(r.text, /^HTTP\/1\.[01] 400 /, JSON.stringify(r.text.slice(0, 200)));
  const r2 = await rawRequest(srv.port, 'GET /api/v1/health HTTP/1.7x\r\nHost: t\r\n\r\n', { timeout: 3000 });
  assert.match(r2.text, /^HTTP\/1\.[01] (400|505) /, JSON.stringify(r2.text.slice(0, 200)));
  await healthOk();
});

test('head larger than --max-header-bytes: 431, and the server keeps serving', async () => {
  const big = 'a'.repeat(20000); // default limit is 16384
  const r = await rawRequest(srv.port, `GET /api/v1/health HTTP/1.1\r\nHost: t\r\nX-Big: ${big}\r\n\r\n`, { timeout: 3000 });
  assert.match(r.text, /^HTTP\/1\.[01] 431 /, JSON.stringify(r.text.slice(0, 200)));
  await healthOk();
});

test('slow head: 408 or close soon after --header-timeout-ms', async () => {
  const c = await RawConn.open(srv.port);
  try {
    const t0 = Date.now();
    await c.write('GET /api/v1/health HTTP/1.1\r\nHost: t\r\n');
    const closed = await c.waitClose(5000);
    const ms = Date.now() - t0;
    assert.ok(closed, 'server still holds a connection with half a head after 5 s');
    assert.ok(ms >= 300, `closed after only ${ms} ms`);
    const text = c.buf.toString('latin1');
    if (text.length) assert.match(text, /^HTTP\/1\.[01] 408 /, JSON.stringify(text.slice(0, 200)));
  } finally {
    c.close();
  }
  await healthOk();
});

// ---- static files ----

let indexHtml;
async function indexFile() {
  indexHtml ??= await fs.readFile(path.join(REPO, 'web', 'index.html'));
  return indexHtml;
}

test('GET / serves web/index.html with an ETag; If-None-Match gives 304', async () => {
  const want = await indexFile();
  const r = await srv.get('/');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
  assert.equal(r.text, want.toString());
  const etag = r.headers.get('etag');
  assert.ok(etag, 'no ETag');
  const r2 = await srv.get('/', { headers: { 'if-none-match': etag } });
  assert.equal(r2.status, 304);
  assert.equal(r2.text, '');
  const r3 = await srv.get('/index.html');
  assert.equal(r3.status, 200);
  assert.equal(r3.text, want.toString());
});

test('Range bytes=0-9: 206 with Content-Range and 10 bytes; unsatisfiable: 416', async () => {
  const want = await indexFile();
  const r = await srv.get('/index.html', { headers: { range: 'bytes=0-9' } });
  assert.equal(r.status, 206);
  assert.equal(r.headers.get('content-range'), `bytes 0-9/${want.length}`);
  assert.equal(Buffer.byteLength(r.text), 10);
  assert.equal(r.text, want.subarray(0, 10).toString());
  const r2 = await srv.get('/index.html', { headers: { range: `bytes=${want.length + 100}-` } });
  assert.equal(r2.status, 416);
  const cr = r2.headers.get('content-range');
  if (cr !== null) assert.equal(cr, `bytes */${want.length}`);
});

test('path traversal never serves a file outside web/', async () => {
  const targets = [
    '/../etc/passwd',
    '/../../../../../../etc/passwd',
    '/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    '/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd',
    '/%2E%2E%2F%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc/passwd',
    '/./../meson.build',
    '/%2e%2e/meson.build',
    '/..%5c..%5cmeson.build',
    '/index.html%00.txt',
  ];
  for (const t of targets) {
    const r = await rawRequest(srv.port, `GET ${t} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`, { timeout: 3000 });
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(r.text);
    assert.ok(m, `${t}: no response ${JSON.stringify(r.text.slice(0, 100))}`);
    assert.ok(['400', '404'].includes(m[1]), `${t}: status ${m[1]}`);
    assert.ok(!r.text.includes('root:'), `${t}: served /etc/passwd`);
    assert.ok(!r.text.includes("project('vigil'"), `${t}: served meson.build`);
  }
  await healthOk();
});

test('head and body arriving in separate packets', async () => {
  const body = JSON.stringify({ username: ADMIN.name, password: ADMIN.password });
  const c = await RawConn.open(srv.port);
  try {
    await c.write('POST /api/v1/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n'
      + `Content-Length: ${body.length}\r\n\r\n`);
    await sleep(100);
    await c.write(body.slice(0, 10));
    await sleep(100);
    await c.write(body.slice(10));
    const r = await c.readResponse();
    assert.equal(r.status, 200, r.text);
    assert.equal(JSON.parse(r.text).user.username, ADMIN.name);
  } finally {
    c.close();
  }
  await healthOk();
});

test('Expect: 100-continue gets 100 Continue, then the answer', async () => {
  const body = JSON.stringify({ username: ADMIN.name, password: ADMIN.password });
  const c = await RawConn.open(srv.port);
  try {
    await c.write('POST /api/v1/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n'
      + `Content-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`);
    const cont = await c.readResponse({ timeout: 3000 });
    assert.equal(cont.status, 100);
    await c.write(body);
    const r = await c.readResponse();
    assert.equal(r.status, 200, r.text);
    assert.equal(JSON.parse(r.text).user.username, ADMIN.name);
  } finally {
    c.close();
  }
});

test('HTTP/1.0 is answered and the connection closed; HTTP/1.1 without Host is 400', async () => {
  const r = await rawRequest(srv.port, 'GET /api/v1/health HTTP/1.0\r\n\r\n', { timeout: 3000 });
  assert.ok(r.closed, 'HTTP/1.0 connection left open');
  assert.match(r.text, /^HTTP\/1\.[01] 200 /);
  assert.match(r.text, /"status"\s*:\s*"ok"/);
  const r2 = await rawRequest(srv.port, 'GET /api/v1/health HTTP/1.1\r\nConnection: close\r\n\r\n', { timeout: 3000 });
  assert.match(r2.text, /^HTTP\/1\.1 400 /, JSON.stringify(r2.text.slice(0, 100)));
});

test('Content-Length together with chunked (request smuggling): 400 and close', async () => {
  const r = await rawRequest(srv.port, 'POST /api/v1/login HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n'
    + 'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n', { timeout: 3000 });
  assert.match(r.text, /^HTTP\/1\.1 400 /, JSON.stringify(r.text.slice(0, 100)));
  assert.ok(r.closed, 'connection kept after a smuggling attempt');
  assert.equal((r.text.match(/HTTP\/1\.1 /g) ?? []).length, 1, 'the smuggled request was answered');
});

test('clients that vanish mid-request or mid-login do not hurt the server', async () => {
  const body = JSON.stringify({ username: ADMIN.name, password: ADMIN.password });
  for (let i = 0; i < 10; i++) {
    const c = await RawConn.open(srv.port);
    if (i % 2) {
      // a login whose password hashing is still running when the client goes
      await c.write(`POST /api/v1/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    } else {
      // half a body
      await c.write('POST /api/v1/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"user');
    }
    c.close();
  }
  await sleep(1000);
  await healthOk();
  const l = await srv.login(ADMIN.name, ADMIN.password);
  assert.equal(typeof l.access_token, 'string');
});

describe('configured limits', () => {
  let lim;
  before(async () => {
    lim = await Vigil.start({
      users: [{ ...ADMIN, role: 'admin' }],
      flags: ['--idle-timeout-ms', '1000', '--max-body-bytes', '1000', '--max-header-bytes', '2048',
        '--max-connections', '4'],
    });
  });
  after(async () => { await lim?.stop(); });
  beforeEach(() => lim?.revive());

  test('--max-body-bytes 1000: 1001 bytes 413, 1000 bytes read; chunked past it 413', async () => {
    const pad = (n) => {
      const base = JSON.stringify({ username: 'nobody', password: '' });
      return JSON.stringify({ username: 'nobody', password: 'p'.repeat(n - base.length) });
    };
    let r = await lim.req('POST', '/api/v1/login', { raw: pad(1001) });
    assert.equal(r.status, 413, r.text);
    errorCode(r);
    r = await lim.req('POST', '/api/v1/login', { raw: pad(1000) });
    assert.notEqual(r.status, 413, r.text);
    const big = pad(1500);
    const chunks = `${(700).toString(16)}\r\n${big.slice(0, 700)}\r\n${(800).toString(16)}\r\n${big.slice(700)}\r\n0\r\n\r\n`;
    const c = await RawConn.open(lim.port);
    try {
      await c.write(`POST /api/v1/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}`);
      const rr = await c.readResponse();
      assert.equal(rr.status, 413, rr.text);
    } finally {
      c.close();
    }
  });

  test('--max-header-bytes 2048: a 3000-byte head 431, a 1500-byte head 200', async () => {
    let r = await rawRequest(lim.port, `GET /api/v1/health HTTP/1.1\r\nHost: t\r\nX-Pad: ${'a'.repeat(3000)}\r\nConnection: close\r\n\r\n`, { timeout: 3000 });
    assert.match(r.text, /^HTTP\/1\.1 431 /, JSON.stringify(r.text.slice(0, 100)));
    r = await rawRequest(lim.port, `GET /api/v1/health HTTP/1.1\r\nHost: t\r\nX-Pad: ${'a'.repeat(1500)}\r\nConnection: close\r\n\r\n`, { timeout: 3000 });
    assert.match(r.text, /^HTTP\/1\.1 200 /, JSON.stringify(r.text.slice(0, 100)));
  });

  test('--idle-timeout-ms 1000: an idle keep-alive connection is closed', async () => {
    const c = await RawConn.open(lim.port);
    try {
      await c.write('GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n');
      assert.equal((await c.readResponse()).status, 200);
      const t0 = Date.now();
      assert.ok(await c.waitClose(4000), 'idle connection still open after 4 s');
      assert.ok(Date.now() - t0 >= 500, 'closed long before the idle time-out');
    } finally {
      c.close();
    }
  });

  test('--max-connections 4: a fifth connection is not served while four are held; later ones are', async () => {
    const held = [];
    try {
      for (let i = 0; i < 4; i++) {
        const c = await RawConn.open(lim.port);
        await c.write('GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n');
        assert.equal((await c.readResponse()).status, 200, `connection ${i + 1}`);
        held.push(c);
      }
      let fifth;
      try {
        fifth = await RawConn.open(lim.port);
        await fifth.write('GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n');
        await fifth.waitClose(800);
        const text = fifth.buf.toString('latin1');
        assert.doesNotMatch(text, /^HTTP\/1\.1 200 /, 'a fifth connection was served');
        if (text) assert.match(text, /^HTTP\/1\.1 503 /);
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e; // refused outright is fine
      } finally {
        fifth?.close();
      }
    } finally {
      for (const c of held) c.close();
    }
    await sleep(300);
    const r = await lim.get('/api/v1/health');
    assert.equal(r.status, 200);
  });
});
