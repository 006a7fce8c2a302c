'use strict';
// What a person does on the site, run once with JavaScript off and once with
// it on: read the notice, open every annex, download the blank spreadsheet,
// and return each form (an invalid return first, then a valid one).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const h = require('./harness');

const REF = /^[ABCDEFGHJKLMNPRSTUVWXYZ2-9]{8}$/;

/** A value of the same kind that the intake refuses. */
function broken(field, good) {
  switch (field.kind) {
    case 'uscc': return good.slice(0, 17) + (good[17] === 'A' ? 'B' : 'A'); // wrong check character
    case 'mobile': return '12345';
    case 'email': return 'admin@';
    case 'postcode': return '5140';
    case 'phone': return '电话';
    default: return null;
  }
}

function defineFlows({ javaScriptEnabled }) {
  const mode = javaScriptEnabled ? 'JS' : 'no-JS';
  let browser;
  let ctx;
  let base;
  const pageErrors = [];

  before(async () => {
    base = await h.baseUrl();
    browser = await h.launch();
    ctx = await h.newContext(browser, { javaScriptEnabled });
  });
  after(async () => {
    await ctx?.close();
    await browser?.close();
    await h.close();
  });

  const open = async (rel) => {
    const page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
    const res = await page.goto(new URL(rel, base).href);
    assert.equal(res.status(), 200, `${rel}: HTTP ${res.status()}`);
    return page;
  };

  for (const notice of h.noticePages()) {
    test(`${mode}: ${notice}: every annex link opens its page`, async () => {
      const page = await open(notice);
      const links = await page.$$eval('.gw-annex-list a', (as) => as.map((a) => ({ text: a.textContent.trim(), href: a.getAttribute('href') })));
      const rows = await page.locator('.attachment-table tbody tr').count();
      assert.ok(links.length > 0, `${notice}: no annex links in 附件说明`);
      assert.equal(links.length, rows, `${notice}: ${links.length} annex links but ${rows} rows in the attachment table`);
      for (const [i, link] of links.entries()) {
        // Follow the link as a reader does: click it on the notice.
        const [res] = await Promise.all([
          page.waitForNavigation(),
          page.locator('.gw-annex-list a').nth(i).click(),
        ]);
        assert.ok(res && res.status() === 200, `${notice}: annex ${i + 1} (${link.text} → ${link.href}) answered ${res && res.status()}`);
        const h1 = (await page.locator('h1').first().textContent()).trim();
        assert.ok(h1.length > 0, `${link.href}: no h1`);
        // The annex list names an annex as the document does (the seed's
        // 附件3 title differs from the manual's own): the numbers must agree.
        const number = link.text.match(/^附件(\d+)/);
        assert.ok(number ? h1.startsWith(`附件${number[1]}`) : (h1.includes(link.text) || link.text.includes(h1.replace(/^附件\d+\s*/, ''))),
          `${notice}: annex link “${link.text}” opened a page titled “${h1}”`);
        await page.goBack();
      }
      await page.close();
    });

    test(`${mode}: ${notice}: every attachment download answers`, async () => {
      const page = await open(notice);
      const downloads = await page.$$eval('.attachment-table a[download]', (as) => as.map((a) => a.href));
      assert.ok(downloads.length > 0, 'no downloads in the attachment table');
      for (const href of downloads) {
        const res = await ctx.request.get(href);
        assert.equal(res.status(), 200, `${href}: HTTP ${res.status()}`);
        const body = await res.body();
        if (href.endsWith('.xlsx')) assert.ok(h.isXlsx(body), `${href} is not an .xlsx file`);
        else if (href.endsWith('.html')) assert.match(body.toString('utf8', 0, 200), /^<!DOCTYPE html>/i, `${href} is not an HTML file`);
      }
      await page.close();
    });
  }

  for (const id of h.formIds()) {
    const formPath = `forms/${id}/index.html`;

    test(`${mode}: ${formPath}: the blank spreadsheet downloads`, async () => {
      const page = await open(formPath);
      const link = page.locator('.offline-route a[href$=".xlsx"]').first();
      const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
      assert.match(download.suggestedFilename(), /\.xlsx$/, `download named ${download.suggestedFilename()}`);
      const file = h.artifact('downloads', `${mode}-${id}.xlsx`);
      await download.saveAs(file);
      assert.ok(h.isXlsx(fs.readFileSync(file)), `${formPath}: the downloaded ${download.suggestedFilename()} is not an .xlsx (zip with xl/workbook.xml)`);
      await page.close();
    });

    test(`${mode}: ${formPath}: an invalid return shows the error summary, its links move focus, values are kept; corrected, it is accepted`, { skip: !h.hasIntake() && 'the intake is not running' }, async () => {
      const page = await open(formPath);
      const fields = await h.formFields(page);
      const good = h.validAnswers(fields);
      const answers = { ...good };
      const wrong = new Set();
      const emptied = fields.find((f) => f.required && f.kind === 'text');
      if (emptied) {
        answers[emptied.name] = '';
        wrong.add(emptied.name);
      }
      for (const f of fields) {
        const b = broken(f, good[f.name]);
        if (b !== null && f.kind !== 'text') {
          answers[f.name] = b;
          wrong.add(f.name);
        }
      }
      const multi = fields.find((f) => f.kind === 'multi' && f.required);
      if (multi) {
        answers[multi.name] = [];
        wrong.add(multi.name);
      }
      await h.fillForm(page, fields, answers);
      const [res] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST'),
        page.locator('form.return-form button[type="submit"]').click(),
      ]);
      await page.waitForLoadState();
      assert.equal(res.status(), 422, `invalid return answered ${res.status()}`);
      assert.match(await page.title(), /^错误/, 'the title of a page with errors starts with 错误');
      const summary = page.locator('.error-summary');
      assert.ok(await summary.isVisible(), 'no error summary');
      const links = await summary.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
      for (const name of wrong) {
        assert.ok(links.includes(`#f-${name}`), `the error summary has no link to field ${name} (links: ${links.join(' ')})`);
      }
      assert.equal(links.length, wrong.size, `expected ${wrong.size} errors (${[...wrong].join(', ')}), the summary lists ${links.join(' ')}`);
      // Each link moves focus to its field.
      for (const [i, href] of links.entries()) {
        await summary.locator('a').nth(i).click();
        const active = await page.evaluate(() => document.activeElement && document.activeElement.id);
        assert.equal(`#${active}`, href, `error summary link ${href} moved focus to #${active}`);
        const invalid = await page.evaluate(() => {
          const el = document.activeElement;
          return el.getAttribute('aria-invalid') === 'true' || !!el.closest('.field-error');
        });
        assert.ok(invalid, `${href}: the field is not marked as in error`);
      }
      // The values are kept, the wrong ones included.
      const kept = await h.formValues(page, fields);
      for (const f of fields) {
        assert.deepEqual(kept[f.name], answers[f.name], `field ${f.name}: the page sent back “${kept[f.name]}” instead of “${answers[f.name]}”`);
      }
      // Correct the errors on the re-rendered page and send it again.
      await h.fillForm(page, fields, good);
      await Promise.all([
        page.waitForURL(/\/receipts\//),
        page.locator('form.return-form button[type="submit"]').click(),
      ]);
      const ref = (await page.locator('.receipt-ref').first().textContent()).trim();
      assert.match(ref, REF, `receipt reference “${ref}”`);
      await page.close();
    });

    test(`${mode}: ${formPath}: a valid return reaches the receipt with its reference`, { skip: !h.hasIntake() && 'the intake is not running' }, async () => {
      const page = await open(formPath);
      const fields = await h.formFields(page);
      const good = h.validAnswers(fields);
      await h.fillForm(page, fields, good);
      if (javaScriptEnabled) {
        // Client-side hints must agree with the server: nothing the intake
        // accepts may be flagged by the page's own constraints.
        const flagged = await page.$$eval('form.return-form input, form.return-form select, form.return-form textarea',
          (els) => els.filter((e) => e.name !== 'website' && !e.checkValidity()).map((e) => `${e.name}=${e.value} (${e.validationMessage})`));
        assert.deepEqual(flagged, [], `the page flags values the intake accepts: ${flagged.join('; ')}`);
      }
      const [res] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST'),
        page.locator('form.return-form button[type="submit"]').click(),
      ]);
      await page.waitForURL(/\/receipts\//);
      assert.equal(res.status(), 303, `a valid return answered ${res.status()}`);
      const ref = (await page.locator('.receipt-ref').first().textContent()).trim();
      assert.match(ref, REF, `receipt reference “${ref}”`);
      const text = await page.locator('main').textContent();
      for (const f of fields.filter((x) => x.kind === 'text' || x.kind === 'uscc')) {
        assert.ok(text.includes(good[f.name]), `the receipt does not show ${f.name} = ${good[f.name]}`);
      }
      await page.screenshot({ path: h.artifact('screens', `receipt-${id}-${mode}.png`), fullPage: true });
      await page.close();
    });

    test(`${mode}: ${formPath}: the fields marked required are exactly those the intake requires`, { skip: !h.hasIntake() && 'the intake is not running' }, async () => {
      const page = await open(formPath);
      const fields = await h.formFields(page);
      await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST'),
        page.locator('form.return-form button[type="submit"]').click(),
      ]);
      await page.waitForLoadState();
      const links = await page.locator('.error-summary a').evaluateAll((as) => as.map((a) => a.getAttribute('href').slice(3)));
      const marked = fields.filter((f) => f.required).map((f) => f.name);
      assert.deepEqual([...links].sort(), [...marked].sort(), 'an empty return: the errors name other fields than those marked required');
      await page.close();
    });
  }

  test(`${mode}: no script errors on the pages visited`, () => {
    assert.deepEqual(pageErrors, []);
  });
}

module.exports = { defineFlows };
