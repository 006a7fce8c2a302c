#!/usr/bin/env node
'use strict';
// Search benchmark: gazette's index against Pagefind's on the same built site.
//
//   node tests/bench/search.js BUILT_SITE_DIR QUERY...
//
// For each engine, in Chromium over HTTP (Pagefind needs fetch and
// WebAssembly; gazette's index would also load from file://): the index size
// on disk, the bytes downloaded for the first query (page and assets
// excluded), the median query time over the queries given (each run twice,
// the second timed, so that shards a query needs are loaded as they would be
// for a reader's second search), and each query's first result.
// Pagefind runs only when `python3 -m pagefind_bin_extended` works (PyPI
// pagefind-bin-extended); it indexes a copy of the site.
//
// Uses tests/browser/node_modules (run tests/browser/run.sh once, or npm ci
// there).

const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const os = require('node:os');
const { execFileSync } = require('node:child_process');
const { chromium } = require(path.join(__dirname, '..', 'browser', 'node_modules', 'playwright-core'));

const [site, ...queries] = process.argv.slice(2);
if (!site || queries.length === 0) {
  console.error('usage: node tests/bench/search.js BUILT_SITE_DIR QUERY...');
  process.exit(2);
}

function du(dir) {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? du(p) : fs.statSync(p).size;
  }
  return n;
}

function serve(root) {
  const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm' };
  const server = http.createServer((req, res) => {
    let p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (p.endsWith('/')) p += 'index.html';
    const file = path.join(root, p);
    if (!file.startsWith(root) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': types[path.extname(file)] || 'application/octet-stream',
      'content-length': fs.statSync(file).size,
    });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}/` })));
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function gazette(page, url) {
  let bytes = 0;
  const count = (res) => { if (res.url().includes('/search/') && res.url().endsWith('.js')) bytes += Number(res.headers()['content-length'] || 0); };
  await page.goto(`${url}search/index.html`);
  page.on('response', count);
  const run = async (q) => page.evaluate(async (q) => {
    const status = document.getElementById('search-status');
    const input = document.getElementById('search-q');
    input.value = q;
    const t0 = performance.now();
    document.getElementById('search-form').onsubmit();
    await new Promise((resolve) => {
      const check = () => (/共找到|没有找到/.test(status.textContent) ? resolve() : requestAnimationFrame(check));
      check();
    });
    const a = document.querySelector('#search-results a');
    return { ms: performance.now() - t0, first: a ? a.getAttribute('href').replace(/^\.\.\//, '') : '(none)' };
  }, q);
  const first = await run(queries[0]);
  const firstBytes = bytes;
  page.off('response', count);
  const times = [];
  const firsts = [[queries[0], first.first]];
  for (const q of queries) {
    await run(q);
    const r = await run(q);
    times.push(r.ms);
    if (q !== queries[0]) firsts.push([q, r.first]);
  }
  return { index: du(path.join(site, 'search')), firstBytes, firstMs: first.ms, medianMs: median(times), firsts };
}

async function pagefind(page, url, root) {
  let bytes = 0;
  const count = (res) => { if (res.url().includes('/pagefind/')) bytes += Number(res.headers()['content-length'] || 0); };
  await page.goto(`${url}index.html`);
  page.on('response', count);
  const run = (q) => page.evaluate(async ({ q, base }) => {
    if (!window.__pf) {
      window.__pf = await import(`${base}pagefind/pagefind.js`);
      await window.__pf.init();
    }
    const t0 = performance.now();
    const r = await window.__pf.search(q);
    const top = r.results.length ? await r.results[0].data() : null;
    return { ms: performance.now() - t0, first: top ? top.url.replace(base, '').replace(/^\//, '') : '(none)' };
  }, { q, base: url });
  const first = await run(queries[0]);
  const firstBytes = bytes;
  page.off('response', count);
  const times = [];
  const firsts = [[queries[0], first.first]];
  for (const q of queries) {
    await run(q);
    const r = await run(q);
    times.push(r.ms);
    if (q !== queries[0]) firsts.push([q, r.first]);
  }
  return { index: du(path.join(root, 'pagefind')), firstBytes, firstMs: first.ms, medianMs: median(times), firsts };
}

(async () => {
  const root = path.resolve(site);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const results = {};
  {
    const { server, url } = await serve(root);
    const page = await (await browser.newContext()).newPage();
    results.gazette = await gazette(page, url);
    server.close();
  }
  let copy = null;
  try {
    copy = fs.mkdtempSync(path.join(os.tmpdir(), 'pagefind-'));
    fs.cpSync(root, copy, { recursive: true });
    const t0 = Date.now();
    execFileSync('python3', ['-m', 'pagefind_bin_extended', '--site', copy], { stdio: 'pipe' });
    const indexMs = Date.now() - t0;
    const { server, url } = await serve(copy);
    const page = await (await browser.newContext()).newPage();
    results.pagefind = { ...(await pagefind(page, url, copy)), indexMs };
    server.close();
  } catch (e) {
    console.error(`pagefind skipped: ${String(e.message || e).split('\n')[0]}`);
  } finally {
    if (copy) fs.rmSync(copy, { recursive: true, force: true });
  }
  await browser.close();
  const kb = (b) => `${(b / 1024).toFixed(1)} KB`;
  console.log('| engine | index on disk | first query downloads | first query ms | median query ms |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const [name, r] of Object.entries(results)) {
    console.log(`| ${name}${r.indexMs ? ` (indexed in ${r.indexMs} ms)` : ''} | ${kb(r.index)} | ${kb(r.firstBytes)} | ${r.firstMs.toFixed(1)} | ${r.medianMs.toFixed(1)} |`);
  }
  console.log('\n| query | ' + Object.keys(results).join(' first | ') + ' first |');
  console.log('| --- |' + Object.keys(results).map(() => ' --- |').join(''));
  for (let i = 0; i < queries.length; i++) {
    console.log(`| ${queries[i]} | ` + Object.values(results).map((r) => r.firsts[i][1]).join(' | ') + ' |');
  }
})().catch((e) => { console.error(e); process.exit(1); });
