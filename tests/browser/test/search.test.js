'use strict';
// Site search in Chromium: the browser's search.js (over HTTP and from
// file://) answers the query table in tests/search_queries.json, its top
// results equal the server's GET /search for the same query, the count is
// announced, it works by keyboard alone, and the page passes axe at 375 and
// 1280 px with results shown.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const h = require('../lib/harness');

const TABLE = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'search_queries.json'), 'utf8'));

let browser;
let ctx;

before(async () => {
  browser = await h.launch();
  ctx = await h.newContext(browser);
});
after(async () => {
  await ctx?.close();
  await browser?.close();
  await h.close();
});

/** Paths from the site root of the results on the page, in order. */
async function resultPaths(page, siteRoot) {
  const hrefs = await page.$$eval('#search-results a', (as) => as.map((a) => a.href));
  return hrefs.map((href) => decodeURIComponent(href.slice(siteRoot.length).split('#')[0]));
}

/** Types the query into the search page's own box and submits: search.js answers. */
async function searchInBrowser(page, pageUrl, q) {
  await page.goto(pageUrl);
  await page.fill('#search-q', q);
  await page.press('#search-q', 'Enter');
  await page.waitForFunction(() => {
    const s = document.getElementById('search-status').textContent;
    return /共找到|没有找到/.test(s);
  });
  return page.textContent('#search-status');
}

test('the browser answers the query table over HTTP, as the server does', async () => {
  const base = await h.baseUrl();
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  for (const { q, first } of TABLE.queries) {
    const status = await searchInBrowser(page, `${base}search/index.html`, q);
    assert.match(status, /共找到 \d+ 条结果/, `${q}: ${status}`);
    const browserPaths = await resultPaths(page, base);
    assert.equal(browserPaths[0], first, `${q}: first result`);
    assert.ok(await page.$('#search-results mark'), `${q}: matches are marked`);
    if (h.hasIntake()) {
      // The same query answered on the server, without JavaScript.
      const res = await fetch(`${base}search?q=${encodeURIComponent(q)}`);
      assert.equal(res.status, 200);
      const html = await res.text();
      const serverPaths = [...html.matchAll(/class="search-hit-title"><a href="\/([^"#]*)/g)].map((m) => decodeURIComponent(m[1]));
      assert.deepEqual(browserPaths.slice(0, 5), serverPaths.slice(0, 5), `${q}: browser and server agree`);
    }
  }
  for (const q of TABLE.no_hits) {
    const status = await searchInBrowser(page, `${base}search/index.html`, q);
    assert.match(status, /没有找到/, `${q}: ${status}`);
    assert.equal(await page.$$eval('#search-results li', (l) => l.length), 0);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('the header box leads to results, with and without JavaScript', async () => {
  const base = await h.baseUrl();
  for (const javaScriptEnabled of [true, false]) {
    if (!javaScriptEnabled && !h.hasIntake()) continue;
    const c = await h.newContext(browser, { javaScriptEnabled });
    const page = await c.newPage();
    await page.goto(`${base}notices/2016-216/index.html`);
    await page.fill('#site-search-q', '评审计划');
    await Promise.all([page.waitForNavigation(), page.press('#site-search-q', 'Enter')]);
    await page.waitForFunction(() => /共找到/.test(document.getElementById('search-status').textContent), null, { timeout: 10_000 });
    const paths = await resultPaths(page, base);
    assert.equal(paths[0], 'manuals/committee/plan.html', `javaScript ${javaScriptEnabled}`);
    await c.close();
  }
});

test('search works from file://', async () => {
  const page = await ctx.newPage();
  const url = pathToFileURL(path.join(h.SITE, 'search', 'index.html')).href;
  const siteRoot = pathToFileURL(h.SITE).href + '/';
  for (const { q, first } of TABLE.queries.slice(0, 4)) {
    await searchInBrowser(page, url, q);
    assert.equal((await resultPaths(page, siteRoot))[0], first, q);
  }
  // A query in the address, as the header box sends it.
  await page.goto(`${url}?q=${encodeURIComponent('密码')}`);
  await page.waitForFunction(() => /共找到/.test(document.getElementById('search-status').textContent));
  const paths = await resultPaths(page, siteRoot);
  for (const m of ['supervisor', 'committee', 'employer', 'individual']) {
    assert.ok(paths.includes(`manuals/${m}/password.html`), `${m} in ${paths}`);
  }
  await page.close();
});

test('keyboard only: type, submit, reach the first result', async () => {
  const base = await h.baseUrl();
  const page = await ctx.newPage();
  await page.goto(`${base}search/index.html`);
  await page.focus('#search-q');
  await page.keyboard.type('专家库');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /共找到/.test(document.getElementById('search-status').textContent));
  await page.keyboard.press('Tab'); // the button
  await page.keyboard.press('Tab'); // the first result
  const focused = await page.evaluate(() => document.activeElement.getAttribute('href') || '');
  assert.match(focused, /manuals\/committee\/experts\.html/);
  await page.close();
});

test('axe at 375 and 1280 px on a page of results', async () => {
  const base = await h.baseUrl();
  for (const width of [375, 1280]) {
    const c = await h.newContext(browser, { viewport: { width, height: 800 } });
    const page = await c.newPage();
    await searchInBrowser(page, `${base}search/index.html`, '密码');
    const violations = await h.axe(page);
    assert.deepEqual(violations, [], h.formatViolations(`search ${width}px`, violations));
    const o = await h.overflow(page);
    assert.ok(o.scrollWidth <= o.clientWidth, `no horizontal scroll at ${width}px: ${JSON.stringify(o)}`);
    await c.close();
  }
});
