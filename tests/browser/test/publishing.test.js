'use strict';
// Publishing for real (issue 12): 【待核实】 marks are visible and announced to
// screen readers; the footer carries the government-site furniture; forms are
// listed in annex order; a form that refuses late returns, built after its
// deadline, shows the closed notice and no form (axe clean).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('../lib/harness');
const server = require('../lib/server');

let browser;
let base;
before(async () => {
  base = await h.baseUrl();
  browser = await h.launch();
});
after(async () => {
  await browser?.close();
  await h.close();
});

async function open(url) {
  const ctx = await h.newContext(browser);
  const page = await ctx.newPage();
  const res = await page.goto(url);
  assert.ok(res.ok(), `${url}: HTTP ${res.status()}`);
  return { ctx, page };
}

test('unconfirmed facts are marked visibly and announced to screen readers', async () => {
  const notice = h.noticePages()[0];
  const { ctx, page } = await open(new URL(notice, base).href);
  const marks = page.locator('.unconfirmed');
  const n = await marks.count();
  assert.ok(n >= 4, `${notice}: ${n} 【待核实】 marks (署名, 成文日期, 索引号, 发布日期 at least)`);
  for (let i = 0; i < n; i++) {
    const mark = marks.nth(i);
    assert.ok(await mark.isVisible(), `mark ${i} is visible`);
    const box = await mark.boundingBox();
    assert.ok(box && box.width > 8 && box.height > 8, `mark ${i} has a size: ${JSON.stringify(box)}`);
    assert.match(await mark.innerText(), /【待核实】/);
  }
  // What a screen reader reads: the mark's own words, not only brackets.
  const snapshot = await page.locator('main').ariaSnapshot();
  assert.match(snapshot, /此项信息尚待发布单位核实/, snapshot.slice(0, 2000));
  // The reserved-domain email on a form page is marked too.
  const formPage = await ctx.newPage();
  await formPage.goto(new URL(`forms/${h.formIds()[0]}/index.html`, base).href);
  const offline = formPage.locator('.offline-route');
  assert.match(await offline.innerText(), /@hrss\.meizhou\.example【待核实】/);
  await ctx.close();
});

test('the footer carries the furniture of a government site on every page type', async () => {
  const ctx = await h.newContext(browser);
  const page = await ctx.newPage();
  for (const t of h.pageTypes().filter((t) => t.name !== '404' && !t.name.includes('print') && !t.name.includes('offline'))) {
    await page.goto(new URL(t.path, base).href);
    const footer = page.locator('footer.site-footer');
    assert.ok(await footer.isVisible(), `${t.name}: footer visible`);
    const text = await footer.innerText();
    assert.match(text, /主办单位：梅州市人力资源和社会保障局/, `${t.name}: ${text}`);
    const map = footer.getByRole('link', { name: '网站地图' });
    assert.equal(await map.count(), 1, `${t.name}: one 网站地图 link`);
    for (const name of ['ColumnName', 'ColumnType']) {
      const content = await page.locator(`meta[name="${name}"]`).getAttribute('content');
      assert.ok(content, `${t.name}: <meta name="${name}"> has content`);
    }
    assert.ok(await page.locator('meta[property="og:title"]').getAttribute('content'), `${t.name}: og:title`);
    assert.equal(await page.locator('link[rel="icon"]').count(), 1, `${t.name}: favicon`);
  }
  // The 网站地图 opens and lists the forms and the manuals.
  await page.goto(new URL('index.html', base).href);
  await Promise.all([page.waitForLoadState(), page.locator('footer').getByRole('link', { name: '网站地图' }).click()]);
  assert.match(page.url(), /sitemap\/(index\.html)?$/);
  const body = await page.locator('main').innerText();
  for (const heading of ['表格填报', '操作手册', '站内搜索']) assert.ok(body.includes(heading), `网站地图 lists ${heading}`);
  await ctx.close();
});

test('forms are listed in annex order', async () => {
  const { ctx, page } = await open(new URL('forms/index.html', base).href);
  const titles = await page.locator('main .item-list a').allInnerTexts();
  const annexes = titles.map((t) => Number((/附件(\d+)/.exec(t) || [])[1]));
  assert.ok(annexes.length >= 2, titles.join(' | '));
  assert.deepEqual(annexes, [...annexes].sort((a, b) => a - b), titles.join(' | '));
  await page.goto(new URL('index.html', base).href);
  const home = await page.locator('#forms-heading + *').innerText().catch(() => page.locator('main').innerText());
  assert.ok(home.indexOf('附件1') < home.indexOf('附件2'), home);
  await ctx.close();
});

test('a form that refuses late returns, built after its deadline, shows the closed notice without a form', async (t) => {
  const closedSite = process.env.BROWSER_CLOSED_SITE;
  if (!closedSite) {
    t.skip('BROWSER_CLOSED_SITE not set (run.sh builds it)');
    return;
  }
  const srv = await server.start({ root: closedSite });
  try {
    const { ctx, page } = await open(new URL('forms/departments/index.html', srv.url).href);
    const closed = page.locator('.form-closed');
    assert.ok(await closed.isVisible(), 'the closed notice is shown');
    assert.match(await closed.innerText(), /在线报送已截止[\s\S]*2016年7月27日/);
    assert.match(await closed.innerText(), /万勇/);
    assert.equal(await page.locator('form.return-form').count(), 0, 'no form to fill');
    assert.equal(await page.locator('main input:not([type=hidden]), main textarea, main select').count(), 0, 'no fields');
    // The blank spreadsheet is still offered, for a late return the office agrees to.
    assert.ok(await page.locator('a[href$=".xlsx"]').first().isVisible());
    const violations = await h.axe(page);
    assert.equal(violations.length, 0, h.formatViolations('closed form', violations));
    fs.writeFileSync(h.artifact('closed-form.html'), await page.content());
    await ctx.close();
  } finally {
    await srv.close();
  }
});

test('the closed site builds its other, accepting form open', async (t) => {
  const closedSite = process.env.BROWSER_CLOSED_SITE;
  if (!closedSite) {
    t.skip('BROWSER_CLOSED_SITE not set');
    return;
  }
  const html = fs.readFileSync(path.join(closedSite, 'forms/committees/index.html'), 'utf8');
  assert.ok(html.includes('class="return-form"'));
});
