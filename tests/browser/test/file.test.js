'use strict';
// The built site opened from disk (file://), as an official does with a copy
// on a USB stick: from index.html to the notice and on to every annex.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL, fileURLToPath } = require('node:url');
const h = require('../lib/harness');

let browser;
let ctx;

before(async () => {
  browser = await h.launch();
  ctx = await h.newContext(browser, { javaScriptEnabled: false });
});
after(async () => {
  await ctx?.close();
  await browser?.close();
});

/** Relative links of the page that lead to a missing file or to a folder (which file:// lists instead of opening). */
async function brokenLinks(page) {
  const hrefs = await page.$$eval('a[href], link[href]', (as) => as.map((a) => a.href));
  const out = [];
  for (const href of hrefs) {
    if (!href.startsWith('file:')) continue;
    const file = fileURLToPath(href.split('#')[0]);
    if (!fs.existsSync(file)) out.push(`${href} (missing)`);
    else if (fs.statSync(file).isDirectory()) out.push(`${href} (a folder: file:// shows a listing, not the page)`);
  }
  return [...new Set(out)];
}

/** Clicks a link and checks that the browser landed on a real page. */
async function follow(page, link, what) {
  const href = await link.getAttribute('href');
  await Promise.all([page.waitForNavigation(), link.click()]);
  await page.waitForLoadState();
  const url = page.url();
  assert.ok(url.startsWith('file:'), `${what}: ${href} left the disk copy for ${url}`);
  assert.ok(!url.startsWith('chrome-error:'), `${what}: ${href} failed to load`);
  const file = fileURLToPath(url.split('#')[0]);
  assert.ok(fs.existsSync(file) && fs.statSync(file).isFile(), `${what}: ${href} → ${url} is not a file`);
  assert.ok(await page.locator('main, h1').count() > 0, `${what}: ${href} → ${url} shows no page (ERR_FILE_NOT_FOUND?)`);
  return url;
}

test('file://: index.html → the notice → every annex, all load', async () => {
  const page = await ctx.newPage();
  const failures = [];
  page.on('requestfailed', (r) => failures.push(`${r.url()}: ${r.failure()?.errorText}`));
  const home = pathToFileURL(path.join(h.SITE, 'index.html')).href;
  await page.goto(home);
  assert.deepEqual(await brokenLinks(page), [], 'index.html');
  for (const notice of h.noticePages()) {
    await page.goto(home);
    // The 函's title, its lines joined (a notice may break its title).
    const h1 = fs.readFileSync(path.join(h.SITE, notice), 'utf8').match(/<h1 id="doc-title"[^>]*>([\s\S]*?)<\/h1>/);
    assert.ok(h1, `${notice}: no 函 title`);
    const title = h1[1].replace(/<[^>]+>/g, '').trim();
    const link = page.locator('main a', { hasText: title }).first();
    assert.ok(await link.count(), `index.html has no link to the notice “${title}”`);
    const noticeUrl = await follow(page, link, 'index.html');
    assert.ok(noticeUrl.endsWith(notice), `the link to “${title}” opened ${noticeUrl}, not ${notice}`);
    assert.deepEqual(await brokenLinks(page), [], notice);
    const n = await page.locator('.gw-annex-list a').count();
    assert.ok(n > 0, `${notice}: no annexes`);
    for (let i = 0; i < n; i += 1) {
      const text = (await page.locator('.gw-annex-list a').nth(i).textContent()).trim();
      await follow(page, page.locator('.gw-annex-list a').nth(i), `${notice}: 附件${i + 1} ${text}`);
      assert.deepEqual(await brokenLinks(page), [], `${notice}: 附件${i + 1} (${page.url()})`);
      // Downloads of the attachment table too.
      await page.goBack();
    }
    const downloads = await page.$$eval('.attachment-table a', (as) => as.map((a) => a.href));
    for (const href of downloads) {
      const file = fileURLToPath(href.split('#')[0]);
      assert.ok(fs.existsSync(file) && fs.statSync(file).isFile(), `${notice}: attachment ${href} is missing on disk`);
    }
  }
  assert.deepEqual(failures, [], 'requests that failed');
  await page.close();
});

test('file://: every link of every built page points at a file that exists', async () => {
  const page = await ctx.newPage();
  const problems = [];
  // 404.html is left out: a server answers it at any depth, so its links are
  // root-relative on purpose and only work when served.
  for (const rel of h.htmlPages().filter((p) => p !== '404.html')) {
    await page.goto(pathToFileURL(path.join(h.SITE, rel)).href);
    for (const b of await brokenLinks(page)) problems.push(`${rel}: ${b}`);
  }
  await page.close();
  assert.deepEqual(problems, [], `\n${problems.join('\n')}`);
});
