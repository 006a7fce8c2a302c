'use strict';
// axe-core on every built page and on the pages only the intake renders
// (form with errors, receipt, its 404): zero violations of WCAG 2.0/2.1 A and AA.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const h = require('../lib/harness');

let browser;
let ctx;
let base;
const checked = [];

before(async () => {
  base = await h.baseUrl();
  browser = await h.launch();
  ctx = await h.newContext(browser, { bypassCSP: true });
});
after(async () => {
  await ctx?.close();
  await browser?.close();
  await h.close();
  fs.writeFileSync(h.artifact('axe-pages.txt'), checked.join('\n') + '\n');
  console.log(`# axe-core checked ${checked.length} pages`);
});

async function check(page, where) {
  const violations = await h.axe(page);
  checked.push(where);
  assert.equal(violations.length, 0, `\n${h.formatViolations(where, violations)}`);
}

const types = new Map(h.pageTypes().map((t) => [t.path, t.name]));

// Every page of the built site, its type named where it is one of the page types.
for (const rel of h.htmlPages()) {
  const type = types.get(rel);
  test(`axe: ${rel}${type ? ` (${type})` : ''}`, async () => {
    const page = await ctx.newPage();
    const res = await page.goto(new URL(rel, base).href);
    assert.ok(res.status() === 200 || (rel === '404.html' && res.status() === 404), `${rel}: HTTP ${res.status()}`);
    await check(page, rel);
    await page.close();
  });
}

test('axe: a missing page served by the site (404)', async () => {
  const page = await ctx.newPage();
  const res = await page.goto(new URL('no-such-page/', base).href);
  assert.equal(res.status(), 404);
  await check(page, '404 (served)');
  await page.close();
});

const intake = { skip: !h.hasIntake() && 'the intake is not running' };
for (const id of h.formIds()) {
  test(`axe: forms/${id}: form with errors (rendered by the intake)`, intake, async () => {
    const page = await ctx.newPage();
    await page.goto(new URL(`forms/${id}/index.html`, base).href);
    const fields = await h.formFields(page);
    const answers = h.validAnswers(fields);
    const uscc = fields.find((f) => f.kind === 'uscc');
    if (uscc) answers[uscc.name] = '11441700007280420A';
    const text = fields.find((f) => f.required && f.kind === 'text');
    if (text) answers[text.name] = '';
    await h.fillForm(page, fields, answers);
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.locator('form.return-form button[type="submit"]').click(),
    ]);
    await page.waitForLoadState();
    assert.equal(res.status(), 422);
    await check(page, `forms/${id} (with errors)`);
    await page.close();
  });

  test(`axe: forms/${id}: receipt`, intake, async () => {
    const page = await ctx.newPage();
    await page.goto(new URL(`forms/${id}/index.html`, base).href);
    const fields = await h.formFields(page);
    await h.fillForm(page, fields, h.validAnswers(fields));
    await Promise.all([page.waitForURL(/\/receipts\//), page.locator('form.return-form button[type="submit"]').click()]);
    await check(page, `receipt (${id})`);
    await page.close();
  });
}

test('axe: the intake\'s page for an unknown receipt', intake, async () => {
  const page = await ctx.newPage();
  const res = await page.goto(new URL(`receipts/${'0'.repeat(32)}`, base).href);
  assert.equal(res.status(), 404);
  await check(page, 'receipt not found (intake message page)');
  await page.close();
});

// The admin login, once the intake has one: the first of these paths that
// answers 200 is checked; until then the test is skipped.
test('axe: admin login', async (t) => {
  if (!h.hasIntake()) {
    t.skip('the intake is not running');
    return;
  }
  const page = await ctx.newPage();
  let found = null;
  for (const p of ['admin/login', 'admin/', 'admin']) {
    const res = await page.goto(new URL(p, base).href);
    if (res.status() === 200) {
      found = p;
      break;
    }
  }
  if (!found) {
    t.skip('no admin pages yet (GET /admin/login, /admin/ and /admin do not answer 200)');
  } else {
    await check(page, `admin login (/${found})`);
  }
  await page.close();
});
