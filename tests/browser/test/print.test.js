'use strict';
// Paper and small screens (issue 13): Chromium prints the receipt, a manual
// and the notice to PDF (Page.printToPDF) and poppler reads them back; at
// 375 px the notice's metadata and a manual's contents are folded
// (<details>), open at 1280 px; axe at 375 px on every page type and the
// intake's pages; the intake's pages carry the site's navigation.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('../lib/harness');

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

function poppler(program, args) {
  const r = spawnSync(program, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.ok(!r.error, `${program} (poppler-utils) is needed: ${r.error}`);
  assert.equal(r.status, 0, `${program} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const pageCount = (pdf) => Number(/Pages:\s+(\d+)/.exec(poppler('pdfinfo', [pdf]))[1]);
const pageText = (pdf, n) => poppler('pdftotext', ['-layout', '-f', String(n), '-l', String(n), pdf, '-']);
const flat = (s) => s.replace(/\s+/g, '');

/** `page` printed as a person would (print media, the page's own @page size). */
async function printed(page, name) {
  await page.emulateMedia({ media: 'print' });
  const file = h.artifact('pdf', `${name}.pdf`);
  await page.pdf({ path: file, printBackground: true, preferCSSPageSize: true });
  await page.emulateMedia({ media: 'screen' });
  return file;
}

/** A return of the first form sent: the page at its receipt. */
async function receipt(ctx) {
  const page = await ctx.newPage();
  await page.goto(new URL(`forms/${h.formIds()[0]}/index.html`, base).href);
  const fields = await h.formFields(page);
  await h.fillForm(page, fields, h.validAnswers(fields));
  await Promise.all([page.waitForURL(/\/receipts\//), page.locator('form.return-form button[type="submit"]').click()]);
  await page.waitForLoadState();
  return page;
}

const intake = { skip: !h.hasIntake() && 'the intake is not running' };

test('print: the receipt has its reference, time, status and contacts on page 1', intake, async () => {
  const ctx = await h.newContext(browser);
  const page = await receipt(ctx);
  const reference = (await page.locator('.receipt-ref').innerText()).trim();
  // Each contact as printed (the 【待核实】 mark's screen-reader words aside).
  const contact = (await page.locator('.receipt-contact td').allInnerTexts()).map((t) => t.split('【')[0]);
  assert.ok(contact.length >= 3, `the receipt's contact table: ${contact}`);
  const pdf = await printed(page, 'receipt');
  const first = flat(pageText(pdf, 1));
  for (const want of [reference, '参考编号', '收到时间', '报送状态', '联系方式', ...contact.map(flat)]) {
    assert.ok(first.includes(flat(want)), `page 1 of the printed receipt lacks “${want}”:\n${pageText(pdf, 1)}`);
  }
  assert.ok(!first.includes('Ctrl+P'), 'the printed receipt tells people to press Ctrl+P');
  await ctx.close();
});

test('print: no keyboard shortcut is offered on a phone', intake, async () => {
  const ctx = await h.newContext(browser, { viewport: { width: 375, height: 800 }, isMobile: true, hasTouch: true });
  const page = await receipt(ctx);
  const text = await page.locator('.receipt-actions').innerText();
  assert.ok(!text.includes('Ctrl'), `on a phone: ${text}`);
  await ctx.close();
});

// Before issue 13 the 主管单位 manual printed as 23 pages, a new page before
// every short chapter, without page numbers.
test('print: the 主管单位 manual flows on, in fewer than 23 pages, numbered', async () => {
  const id = h.manualIds().find((m) => fs.readFileSync(path.join(h.SITE, 'manuals', m, 'print.html'), 'utf8').includes('适用对象：主管单位'));
  assert.ok(id, 'a bundled manual for 主管单位');
  const ctx = await h.newContext(browser);
  const page = await ctx.newPage();
  await page.goto(new URL(`manuals/${id}/print.html`, base).href);
  const pdf = await printed(page, `manual-${id}-flow`);
  const pages = pageCount(pdf);
  assert.ok(pages < 23 && pages >= 3, `manuals/${id}/print.html prints as ${pages} pages`);
  for (let n = 2; n <= pages; n++) {
    assert.match(pageText(pdf, n), new RegExp(`—\\s*${n}\\s*—`), `page ${n} has no page number — ${n} —`);
  }
  assert.doesNotMatch(pageText(pdf, 1), /—\s*1\s*—/, 'the cover carries a page number');
  await ctx.close();
});

test('print: the notice leaves out the download table and numbers its pages', async () => {
  const ctx = await h.newContext(browser);
  const page = await ctx.newPage();
  await page.goto(new URL(h.noticePages()[0], base).href);
  assert.ok(await page.locator('#attachments').isVisible(), 'the download table is on the screen');
  const pdf = await printed(page, 'notice-print');
  const pages = pageCount(pdf);
  const all = Array.from({ length: pages }, (_, i) => pageText(pdf, i + 1));
  assert.ok(!all.some((t) => t.includes('附件下载')), 'the web-only download table is printed');
  assert.ok(pages >= 2, `${pages} pages`);
  assert.match(all[1], /—\s*2\s*—/, `page 2 lacks — 2 —:\n${all[1]}`);
  // The title breaks where the notice says: each line of it whole on one line.
  const lines = await page.locator('.gw-title-line').allInnerTexts();
  for (const l of lines) {
    assert.ok(all[0].split('\n').some((row) => flat(row).includes(flat(l))), `the title line “${l}” is split:\n${all[0]}`);
  }
  await ctx.close();
});

test('phone: the notice metadata and a manual’s contents fold, wide screens show them', async () => {
  const notice = h.noticePages()[0];
  // A chapter page (the manual's first contents link may be its index page).
  const manual = h.manualIds()[0];
  const index = fs.readFileSync(path.join(h.SITE, 'manuals', manual, 'index.html'), 'utf8');
  const href = [...index.slice(index.indexOf('class="manual-toc"')).matchAll(/<a href="([^"#]+\.html)"/g)]
    .map((m) => m[1]).find((x) => !x.endsWith('index.html'));
  assert.ok(href, `manuals/${manual}/index.html: a chapter link`);
  const chapter = path.posix.normalize(`manuals/${manual}/${href}`);
  for (const [width, folded] of [[375, true], [1280, false]]) {
    const ctx = await h.newContext(browser, { viewport: { width, height: 800 } });
    const page = await ctx.newPage();
    await page.goto(new URL(notice, base).href);
    assert.equal(await page.locator('.notice-meta .doc-meta').isVisible(), !folded, `${notice} at ${width}px: metadata ${folded ? 'not folded' : 'hidden'}`);
    if (folded) {
      const box = await page.locator('.notice-meta').boundingBox();
      assert.ok(box.height < 80, `${notice} at ${width}px: the folded metadata is ${box.height}px tall`);
      await page.locator('.notice-meta > summary').click();
      assert.ok(await page.locator('.notice-meta .doc-meta').isVisible(), 'the summary opens the metadata');
    }
    await page.goto(new URL(chapter, base).href);
    assert.equal(await page.locator('.manual-side .toc').isVisible(), !folded, `${chapter} at ${width}px: contents ${folded ? 'not folded' : 'hidden'}`);
    if (folded) {
      // The chapter starts on the first screen, not below the contents.
      const top = await page.locator('.manual-chapter').evaluate((el) => el.getBoundingClientRect().top);
      assert.ok(top < 800, `${chapter} at ${width}px: the chapter starts at ${top}px`);
    }
    await ctx.close();
  }
});

// Justified text stretched around a URL that moved to the next line:
// “人 才 网 上 申 报”. Chromium adds the stretch to each character's box, so
// a Chinese character wider than its font size is a stretched one.
for (const width of [320, 360, 375, 414]) {
  test(`phone ${width}px: the 函 body does not spread Chinese around a URL`, async () => {
    const ctx = await h.newContext(browser, { viewport: { width, height: 800 } });
    const page = await ctx.newPage();
    await page.goto(new URL(h.noticePages()[0], base).href);
    const [excess, where] = await page.evaluate(() => {
      let worst = 0;
      let at = '';
      for (const p of document.querySelectorAll('.gw-body p')) {
        const size = parseFloat(getComputedStyle(p).fontSize);
        const walker = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
          for (let i = 0; i < node.length; i++) {
            if (!/[\u4e00-\u9fff]/.test(node.data[i])) continue;
            const r = document.createRange();
            r.setStart(node, i);
            r.setEnd(node, i + 1);
            const extra = r.getBoundingClientRect().width / size - 1;
            if (extra > worst) {
              worst = extra;
              at = node.data.slice(Math.max(0, i - 3), i + 4);
            }
          }
        }
      }
      return [worst, at];
    });
    assert.ok(excess < 0.25, `at ${width}px “${where}” is stretched by ${excess.toFixed(2)} em a character`);
    await ctx.close();
  });
}

// axe at 375 px on every page type (1280 px is axe.test.js).
for (const t of h.pageTypes()) {
  test(`axe 375px: ${t.name} (${t.path})`, async () => {
    const ctx = await h.newContext(browser, { viewport: { width: 375, height: 800 }, bypassCSP: true });
    const page = await ctx.newPage();
    const res = await page.goto(new URL(t.path, base).href);
    assert.ok(res.ok() || t.path === '404.html', `${t.path}: HTTP ${res.status()}`);
    const v = await h.axe(page);
    assert.equal(v.length, 0, `\n${h.formatViolations(`${t.path} at 375px`, v)}`);
    await ctx.close();
  });
}

test('axe 375px and the site navigation: the intake’s form with errors and receipt', intake, async () => {
  const ctx = await h.newContext(browser, { viewport: { width: 375, height: 800 }, bypassCSP: true });
  const home = await ctx.newPage();
  await home.goto(base);
  const nav = await home.locator('.site-nav a').evaluateAll((as) => as.map((a) => [new URL(a.href).pathname, a.textContent.trim()]));
  assert.ok(nav.length >= 4, `the site's navigation: ${JSON.stringify(nav)}`);
  const page = await ctx.newPage();
  await page.goto(new URL(`forms/${h.formIds()[0]}/index.html`, base).href);
  const fields = await h.formFields(page);
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'),
    page.locator('form.return-form button[type="submit"]').click(),
  ]);
  await page.waitForLoadState();
  assert.equal(res.status(), 422);
  const navOf = (p) => p.locator('.site-nav a').evaluateAll((as) => as.map((a) => [new URL(a.href).pathname, a.textContent.trim()]));
  assert.deepEqual(await navOf(page), nav, 'the 422 page carries the site navigation');
  let v = await h.axe(page);
  assert.equal(v.length, 0, `\n${h.formatViolations('422 at 375px', v)}`);
  await h.fillForm(page, fields, h.validAnswers(fields));
  await Promise.all([page.waitForURL(/\/receipts\//), page.locator('form.return-form button[type="submit"]').click()]);
  await page.waitForLoadState();
  assert.deepEqual(await navOf(page), nav, 'the receipt carries the site navigation');
  v = await h.axe(page);
  assert.equal(v.length, 0, `\n${h.formatViolations('receipt at 375px', v)}`);
  await ctx.close();
});
