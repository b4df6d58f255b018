// bench/download.mjs - run by bench/download.sh: the Review page's
// download of one long camera MP4 in Debian's Chromium (headless), two
// ways, next to curl -o on the same URL:
//   stream  the page's own code (web/js/pages/review.js): the body piped
//           through its byte counter into the file the user picked; the
//           picker is given, by an init script, a real file in the origin
//           private file system (Chromium's own writable, on disk), as
//           headless Chromium has no dialog
//   memory  the whole body read into the page (the old Blob path, kept
//           for files under 200 MiB where there is no picker)
//   list    the page without a file picker: a file of 200 MiB or more is
//           handed to the browser's own download list (a plain link);
//           smaller ones take the memory path (shown as nopicker)
// For each: wall time, throughput, and the peak resident memory of all
// Chromium processes above their level before the download (sampled every
// 50 ms from /proc). Prints the ratios; BENCH_DEBUG=1 also prints each
// kind of Chromium process's growth.
// Args: BASE_URL USER PASSWORD RECORDING CAMERA TOKEN TMPDIR

import { chromium } from 'playwright-core';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const [base, user, password, rec, cam, token, tmp] = process.argv.slice(2);
const url = `/api/v1/recordings/${rec}/media/${cam}.mp4?download=1`;
const MiB = 1024 * 1024;

// Resident bytes of every process below this one (Chromium's tree).
function treeRss(by) {
  const kids = new Map();
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(pid));
    } catch { /* gone */ }
  }
  let total = 0;
  const todo = [...(kids.get(process.pid) || [])];
  while (todo.length) {
    const pid = todo.pop();
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
      if (m && by) {
        const type = /--type=([a-z-]+)/.exec(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'))?.[1] || 'browser';
        const util = /--utility-sub-type=([a-zA-Z.]+)/.exec(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'))?.[1] || '';
        const k = `${type}${util ? `:${util}` : ''}`;
        by.set(k, Math.max(by.get(k) || 0, Number(m[1]) * 1024));
      }
    } catch { /* gone */ }
    todo.push(...(kids.get(pid) || []));
  }
  return total;
}

// Runs fn while sampling the tree's RSS; returns { ms, peak } (peak above
// the level sampled just before).
async function measure(fn) {
  const b0 = new Map();
  const before = treeRss(b0);
  let peak = before;
  const by = new Map();
  const timer = setInterval(() => { peak = Math.max(peak, treeRss(by)); }, 50);
  const t0 = performance.now();
  const result = await fn();
  const ms = performance.now() - t0;
  clearInterval(timer);
  peak = Math.max(peak, treeRss());
  if (process.env.BENCH_DEBUG) console.log([...by].map(([k, v]) => `${k} ${((v - (b0.get(k) || 0)) / MiB).toFixed(0)}`).join(', '));
  return { ms, grew: peak - before, result };
}

const head = await fetch(base + url, { method: 'HEAD', headers: { Authorization: `Bearer ${token}` } });
const size = Number(head.headers.get('Content-Length'));
console.log(`bench/download.mjs: ${url}: ${(size / MiB).toFixed(1)} MiB`);

const curlOut = path.join(tmp, 'curl.mp4');
const curl = await measure(() => run('curl', ['-sS', '-o', curlOut, '-H', `Authorization: Bearer ${token}`, base + url]));
if (fs.statSync(curlOut).size !== size) throw new Error('curl: wrong size');
fs.rmSync(curlOut);

// A persistent profile: an incognito context (browser.newContext) keeps
// the origin private file system in memory, which is not a file on disk.
const context = await chromium.launchPersistentContext(path.join(tmp, 'chromium-profile'), {
  executablePath: '/usr/bin/chromium', baseURL: base,
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
try {
  await context.addInitScript(() => {
    window.showSaveFilePicker = async (opts = {}) => {
      const dir = await navigator.storage.getDirectory();
      return dir.getFileHandle(opts.suggestedName, { create: true });
    };
  });
  const page = await context.newPage();
  page.setDefaultTimeout(600000);
  await page.goto(`/#/review/${rec}`);
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const button = page.locator(`.download-buttons button[data-camera="${cam}"]`);
  await button.waitFor();
  await page.evaluate(() => document.querySelectorAll('video').forEach((v) => { v.removeAttribute('src'); v.load(); }));
  await new Promise((r) => setTimeout(r, 1000));

  const stream = await measure(async () => {
    await button.click();
    await page.waitForFunction(() => document.getElementById('download-progress')?.getAttribute('data-done') === 'true'
      || /failed/.test(document.getElementById('recording-status')?.textContent || ''), null, { polling: 100 });
    return page.evaluate(async () => {
      const dir = await navigator.storage.getDirectory();
      for await (const [name, h] of dir.entries()) {
        const f = await h.getFile();
        await dir.removeEntry(name);
        return { name, size: f.size, text: document.getElementById('download-text').textContent };
      }
      return null;
    });
  });
  if (stream.result?.size !== size) throw new Error(`stream: ${JSON.stringify(stream.result)}`);

  const memory = await measure(() => page.evaluate(async (u) => {
    const res = await fetch(u);
    const reader = res.body.getReader();
    const chunks = [];
    let got = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      got += value.byteLength;
    }
    window.__held = chunks; // as a Blob waiting to be saved
    return got;
  }, url));
  if (memory.result !== size) throw new Error(`memory: ${memory.result}`);
  await page.evaluate(() => { window.__held = null; });

  // No file picker (as in Firefox or Safari): the page hands a file this
  // large to the browser's own download list.
  const page2 = await context.newPage();
  await page2.addInitScript(() => { delete window.showSaveFilePicker; });
  page2.setDefaultTimeout(600000);
  await page2.goto(`/#/review/${rec}`);
  const button2 = page2.locator(`.download-buttons button[data-camera="${cam}"]`);
  await button2.waitFor();
  await page2.evaluate(() => document.querySelectorAll('video').forEach((v) => { v.removeAttribute('src'); v.load(); }));
  await page.close();
  const list = await measure(async () => {
    const dl = page2.waitForEvent('download');
    await button2.click();
    const file = await (await dl).path();
    const got = fs.statSync(file).size;
    fs.rmSync(file);
    return { got, how: await page2.locator('.download-progress').getAttribute('data-path'), text: await page2.locator('#download-text').textContent() };
  });
  if (list.result.got !== size) throw new Error(`download list: ${JSON.stringify(list.result)}`);
  console.log(`  without a picker the page says: ${list.result.text} (path: ${list.result.how})`);

  const mbps = (x) => (size / MiB) / (x.ms / 1000);
  const line = (name, x) => console.log(`  ${name.padEnd(8)} ${(x.ms / 1000).toFixed(2).padStart(7)} s ${mbps(x).toFixed(1).padStart(7)} MiB/s   Chromium RSS +${(x.grew / MiB).toFixed(0)} MiB`);
  line('curl', { ...curl, grew: 0 });
  line('stream', stream);
  line('memory', memory);
  line(list.result.how === 'browser' ? 'list' : 'nopicker', list);
  console.log(`  stream/curl throughput ${(mbps(stream) / mbps(curl)).toFixed(2)}; memory/curl ${(mbps(memory) / mbps(curl)).toFixed(2)}`);
  console.log(`  Chromium memory held: stream ${(stream.grew / MiB).toFixed(0)} MiB vs memory ${(memory.grew / MiB).toFixed(0)} MiB for a ${(size / MiB).toFixed(0)} MiB file (ratio ${(stream.grew / Math.max(1, memory.grew)).toFixed(2)})`);
} finally {
  await context.close();
}
