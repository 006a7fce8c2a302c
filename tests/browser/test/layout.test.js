'use strict';
// Screens and paper: screenshots at 375 px and 1280 px, no horizontal
// overflow on a phone, 200% zoom (适老化) without cut-off text, the 字号
// tools, and print to PDF on A4 with the navigation hidden.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const h = require('../lib/harness');

let browser;
let base;
const intakePages = []; // { name, html } rendered by the intake, filled in before()

before(async () => {
  base = await h.baseUrl();
  browser = await h.launch();
  if (h.hasIntake()) {
    // The intake's pages: a form with errors and a receipt, captured once.
    const ctx = await h.newContext(browser);
    const page = await ctx.newPage();
    const id = h.formIds()[0];
    await page.goto(new URL(`forms/${id}/index.html`, base).href);
    const fields = await h.formFields(page);
    const answers = h.validAnswers(fields);
    await Promise.all([page.waitForLoadState(), page.locator('form.return-form button[type="submit"]').click()]);
    await page.waitForSelector('.error-summary');
    intakePages.push({ name: `forms/${id} (with errors)`, url: null, html: await page.content() });
    await h.fillForm(page, fields, answers);
    await Promise.all([page.waitForURL(/\/receipts\//), page.locator('form.return-form button[type="submit"]').click()]);
    intakePages.push({ name: `receipt (${id})`, url: page.url() });
    await ctx.close();
  }
});
after(async () => {
  await browser?.close();
  await h.close();
});

/** Loads a page of the site (path relative to it) or an intake page into `page`. */
async function load(page, target) {
  if (typeof target === 'string') {
    const res = await page.goto(new URL(target, base).href);
    assert.ok(res.ok() || target === '404.html', `${target}: HTTP ${res.status()}`);
  } else if (target.url) {
    await page.goto(target.url);
  } else {
    // A page the intake answered to a POST: put its HTML back at the same origin.
    await page.goto(new URL('forms/', base).href);
    await page.setContent(target.html, { waitUntil: 'load' });
  }
  return page;
}

async function open(ctx, target) {
  return load(await ctx.newPage(), target);
}

const label = (t) => (typeof t === 'string' ? t : t.name);

test('screenshots at 375 px and 1280 px of the notice, a manual chapter and a form', async () => {
  const shots = [
    ['notice', h.noticePages()[0]],
    ['manual-chapter', h.firstChapter(h.manualIds()[0])],
    ['form', `forms/${h.formIds()[0]}/index.html`],
  ];
  const made = [];
  for (const width of [375, 1280]) {
    const ctx = await h.newContext(browser, { viewport: { width, height: 800 } });
    for (const [name, rel] of shots) {
      const page = await open(ctx, rel);
      const file = h.artifact('screens', `${name}-${width}.png`);
      await page.screenshot({ path: file, fullPage: true });
      assert.ok(fs.statSync(file).size > 1000, `${file} is empty`);
      made.push(file);
      await page.close();
    }
    await ctx.close();
  }
  fs.writeFileSync(h.artifact('screens', 'index.txt'), made.join('\n') + '\n');
});

test('no horizontal overflow at 375 px on any page', async () => {
  const ctx = await h.newContext(browser, { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const failures = [];
  const targets = [...h.htmlPages(), ...intakePages];
  const page = await ctx.newPage();
  for (const t of targets) {
    await load(page, t);
    const o = await h.overflow(page);
    if (o.scrollWidth > o.clientWidth) failures.push(`${label(t)}: scrollWidth ${o.scrollWidth} > ${o.clientWidth}: ${o.culprits.join(', ')}`);
  }
  await ctx.close();
  assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
  console.log(`# overflow at 375 px: ${targets.length} pages checked`);
});

const zoomTargets = () => [...h.pageTypes().map((t) => t.path), ...intakePages];

test('200% zoom (page zoom: a 1280 px window at 200% = 640 CSS px): nothing overflows or is cut off', async () => {
  const ctx = await h.newContext(browser, { viewport: { width: 640, height: 450 }, deviceScaleFactor: 2 });
  const failures = [];
  const page = await ctx.newPage();
  for (const t of zoomTargets()) {
    await load(page, t);
    const o = await h.overflow(page);
    if (o.scrollWidth > o.clientWidth) failures.push(`${label(t)}: scrollWidth ${o.scrollWidth} > ${o.clientWidth}: ${o.culprits.join(', ')}`);
    for (const c of await h.clipped(page)) failures.push(`${label(t)}: ${c}`);
  }
  await ctx.close();
  assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
});

test('200% text size (root font-size 200% at 1280 px and at 375 px): nothing overflows or is cut off', async () => {
  const failures = [];
  for (const width of [1280, 375]) {
    const ctx = await h.newContext(browser, { viewport: { width, height: 800 } });
    const page = await ctx.newPage();
    for (const t of zoomTargets()) {
      await load(page, t);
      await page.addStyleTag({ content: 'html { font-size: 200% !important; }' });
      const o = await h.overflow(page);
      if (o.scrollWidth > o.clientWidth) failures.push(`${label(t)} @${width}px: scrollWidth ${o.scrollWidth} > ${o.clientWidth}: ${o.culprits.join(', ')}`);
      for (const c of await h.clipped(page)) failures.push(`${label(t)} @${width}px: ${c}`);
    }
    await ctx.close();
  }
  assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
});

test('the 字号 大/中/小 tools change the text size without JavaScript', async () => {
  const ctx = await h.newContext(browser, { javaScriptEnabled: false });
  const page = await open(ctx, h.noticePages()[0]);
  const size = () => page.locator('article').first().evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
  const normal = await size();
  await page.locator('.page-tools a', { hasText: '大' }).click();
  const large = await size();
  await page.locator('.page-tools a', { hasText: '小' }).click();
  const small = await size();
  await page.locator('.page-tools a', { hasText: '中' }).click();
  const medium = await size();
  assert.ok(large > normal, `大: ${large}px is not larger than ${normal}px`);
  assert.ok(small < normal, `小: ${small}px is not smaller than ${normal}px`);
  assert.equal(medium, normal, `中: ${medium}px is not the normal ${normal}px`);
  await ctx.close();
});

// A4 portrait with the @page margins of print.css (37/26/35/28 mm): 156 mm
// of text width; a blank form prints on A4 landscape with 12 mm margins, or,
// when its columns do not fit there, one unit per A4 portrait page (20/18 mm).
const MM = 96 / 25.4;
const PT = 72 / 25.4;
const PORTRAIT = { width: 210, left: 28, right: 26 };
const LANDSCAPE = { width: 297, left: 12, right: 12 };
const FORM_PORTRAIT = { width: 210, left: 20, right: 18 };
const textWidthPx = (p) => Math.floor((p.width - p.left - p.right) * MM);

/** Words of a PDF outside the text column, with pdftotext -bbox (poppler-utils). */
function wordsOutside(pdf, left, right) {
  const r = spawnSync('pdftotext', ['-bbox', pdf, '-'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) return null;
  const out = [];
  const pageWidth = Number(/<page width="([\d.]+)"/.exec(r.stdout)?.[1]);
  for (const m of r.stdout.matchAll(/<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)<\/word>/g)) {
    if (Number(m[1]) < left - 2 || Number(m[2]) > right + 2) out.push(`“${m[3]}” at x ${m[1]}–${m[2]} pt`);
  }
  return { pageWidth, out, text: r.stdout.replace(/<[^>]+>/g, '') };
}

/** The paper of a form's print view: as its built page says (vertical or not). */
function formPaper(id) {
  const html = fs.readFileSync(require('node:path').join(h.SITE, `forms/${id}/print.html`), 'utf8');
  return html.includes('form-print-vertical') ? FORM_PORTRAIT : LANDSCAPE;
}

const printTargets = () => [
  { name: 'notice', path: h.noticePages()[0], paper: PORTRAIT },
  ...h.manualIds().map((m) => ({ name: `manual-${m}-print`, path: `manuals/${m}/print.html`, paper: PORTRAIT })),
  ...h.formIds().map((id) => ({ name: `form-${id}-blank`, path: `forms/${id}/print.html`, paper: formPaper(id) })),
];

for (const t of printTargets()) {
  const paper = t.paper;
  const orientation = paper === LANDSCAPE ? 'landscape' : 'portrait';
  // A4 portrait for the vertical blank forms too (their @page says so).
  test(`print: ${t.path}: navigation hidden, fits A4 ${orientation}, PDF made`, async () => {
    const ctx = await h.newContext(browser, { viewport: { width: textWidthPx(paper), height: 1000 } });
    const page = await open(ctx, t.path);
    await page.emulateMedia({ media: 'print' });
    const shown = await page.evaluate(() => {
      const sel = ['.site-header', '.site-nav', '.site-footer', '.breadcrumb', '.page-tools', '.skip-link', '.manual-side', '.pager', 'nav[aria-label="当前位置"]'];
      const out = [];
      for (const s of sel) {
        for (const el of document.querySelectorAll(s)) {
          const r = el.getBoundingClientRect();
          const onPaper = getComputedStyle(el).display !== 'none' && r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0;
          if (onPaper) out.push(s);
        }
      }
      return out;
    });
    assert.deepEqual(shown, [], `${t.path}: shown in print: ${shown.join(', ')}`);
    const o = await h.overflow(page);
    assert.ok(o.scrollWidth <= o.clientWidth, `${t.path}: wider than the A4 ${orientation} text column (${textWidthPx(paper)}px) in print: ${o.culprits.join(', ')}`);
    const file = h.artifact('pdf', `${t.name}.pdf`);
    await page.pdf({ path: file, format: 'A4', landscape: paper === LANDSCAPE, printBackground: true, preferCSSPageSize: true });
    const pdf = fs.readFileSync(file);
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-', `${file} is not a PDF`);
    const words = wordsOutside(file, paper.left * PT, (paper.width - paper.right) * PT);
    if (words) {
      assert.ok(Math.abs(words.pageWidth - paper.width * PT) < 2, `${file}: page width ${words.pageWidth} pt is not A4 ${orientation}`);
      assert.deepEqual(words.out.slice(0, 10), [], `${file}: text outside the A4 text column`);
      assert.ok(!words.text.includes('跳到正文'), `${file}: the skip link is printed`);
      const title = (await page.title()).split(' - ')[0];
      assert.ok(words.text.replace(/\s/g, '').includes(title.replace(/\s/g, '').slice(0, 12)), `${file}: the title “${title}” is not in the PDF text`);
    }
    await ctx.close();
  });
}
