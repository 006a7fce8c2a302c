'use strict';
// The checks themselves, on pages made to fail them: a suite whose checks
// cannot fail would pass vacuously.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../lib/harness');

let browser;
let ctx;

before(async () => {
  browser = await h.launch();
  ctx = await h.newContext(browser, { viewport: { width: 375, height: 600 } });
});
after(async () => {
  await ctx?.close();
  await browser?.close();
});

const BAD = `<!DOCTYPE html><html><head><title>bad</title></head><body>
<main><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<p style="color:#bbb;background:#fff">faint text</p>
<input type="text">
<div style="width:600px">too wide</div>
<div id="cut" style="width:100px;overflow:hidden;white-space:nowrap">a long line of text that does not fit</div>
<style>#spill { height: 20px; line-height: 20px; }</style><div id="spill">line one<br>line two<br>line three</div>
</main></body></html>`;

test('harness: axe-core reports WCAG violations', async () => {
  const page = await ctx.newPage();
  await page.setContent(BAD);
  const ids = (await h.axe(page)).map((v) => v.id).sort();
  for (const id of ['color-contrast', 'html-has-lang', 'image-alt', 'label']) {
    assert.ok(ids.includes(id), `axe did not report ${id} (reported: ${ids.join(', ')})`);
  }
  await page.close();
});

test('harness: horizontal overflow and cut-off text are found', async () => {
  const page = await ctx.newPage();
  await page.setContent(BAD);
  const o = await h.overflow(page);
  assert.ok(o.scrollWidth > o.clientWidth, 'a 600 px box on a 375 px screen was not seen');
  assert.ok(o.culprits.some((c) => c.startsWith('div')), `culprits: ${o.culprits}`);
  const c = await h.clipped(page);
  assert.ok(c.some((x) => x.startsWith('div#cut')), `hidden overflow not found: ${c}`);
  assert.ok(c.some((x) => x.startsWith('div#spill')), `text spilling out of a fixed height not found: ${c}`);
  await page.close();
});

test('harness: .xlsx recognition', () => {
  assert.equal(h.isXlsx(Buffer.from('<!DOCTYPE html><html></html>'.repeat(10))), false);
});
