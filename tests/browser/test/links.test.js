'use strict';
// Over HTTP, as the site is served (the static server with the intake behind
// it, or `gazette serve`): the main navigation clicked from every page type
// opens its page, and every link and asset of every built page answers 200
// once redirects are followed. Under `gazette serve` this is what caught the
// 表格填报 link answering 301 → forms/index.html/ → 404.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('../lib/harness');

let browser;
let ctx;
let base;

before(async () => {
  base = await h.baseUrl();
  browser = await h.launch();
  ctx = await h.newContext(browser, { javaScriptEnabled: false });
});
after(async () => {
  await ctx?.close();
  await browser?.close();
  await h.close();
});

// Print views and the offline manual stand alone, without the navigation.
const withNav = h.pageTypes().filter((t) => fs.readFileSync(path.join(h.SITE, t.path), 'utf8').includes('class="site-nav"'));

for (const t of withNav) {
  test(`links: ${t.name} (${t.path}): every navigation link opens its page`, async () => {
    const page = await ctx.newPage();
    const res = await page.goto(new URL(t.path, base).href);
    assert.equal(res.status(), 200, `${t.path}: HTTP ${res.status()}`);
    const nav = page.locator('nav.site-nav a');
    const links = await nav.evaluateAll((as) => as.map((a) => ({ text: a.textContent.trim(), href: a.getAttribute('href') })));
    assert.ok(links.length > 0, `${t.path}: no links in the main navigation`);
    for (const [i, link] of links.entries()) {
      await page.goto(new URL(t.path, base).href);
      const [nav2] = await Promise.all([page.waitForNavigation(), nav.nth(i).click()]);
      assert.ok(nav2 && nav2.status() === 200,
        `${t.path}: navigation link “${link.text}” (${link.href}) answered ${nav2 && nav2.status()} at ${page.url()}`);
    }
    await page.close();
  });
}

test('links: every link and asset of every built page answers 200', async (t) => {
  const page = await ctx.newPage();
  const origin = new URL(base).origin;
  const targets = new Map(); // url → first page that links to it
  for (const rel of h.htmlPages()) {
    const res = await page.goto(new URL(rel, base).href);
    assert.equal(res.status(), 200, `${rel}: HTTP ${res.status()}`);
    const urls = await page.$$eval('a[href], link[href], script[src], img[src]',
      (els) => els.map((e) => e.href || e.src));
    for (const u of urls) {
      const url = new URL(u);
      if (url.origin !== origin) continue;
      url.hash = '';
      if (!targets.has(url.href)) targets.set(url.href, rel);
    }
  }
  await page.close();
  assert.ok(targets.size > 50, `only ${targets.size} distinct links found`);
  const broken = [];
  for (const [url, from] of targets) {
    const res = await ctx.request.get(url);
    if (res.status() !== 200) broken.push(`${url} (linked from ${from}): HTTP ${res.status()}`);
  }
  assert.ok(withNav.length >= 8, `only ${withNav.length} page types with the navigation`);
  assert.deepEqual(broken, [], `broken links:\n${broken.join('\n')}`);
  t.diagnostic(`${targets.size} distinct links`);
});
