'use strict';
// Keyboard only: each form is filled and sent with Tab, typing, arrow keys,
// Space and Enter, and every stop of the focus is visible.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../lib/harness');

let browser;
let ctx;
let base;
let dateOrder = 'mdy';

before(async () => {
  base = await h.baseUrl();
  browser = await h.launch();
  ctx = await h.newContext(browser, { javaScriptEnabled: false });
  // The order of the date field's segments follows the browser's UI locale
  // (en-US without Debian's chromium-l10n): find it once by typing a date.
  const probe = await (await h.newContext(browser)).newPage();
  await probe.setContent('<input type="date" id="d">');
  await probe.focus('#d');
  await probe.keyboard.type('01');
  await probe.keyboard.type('02');
  await probe.keyboard.type('2003');
  const v = await probe.inputValue('#d');
  dateOrder = v === '2003-01-02' ? 'mdy' : v === '2003-02-01' ? 'dmy' : 'ymd';
  await probe.context().close();
});
after(async () => {
  await ctx?.close();
  await browser?.close();
  await h.close();
});

/** What has the focus, and whether a person can see where it is. */
function focusState(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const cs = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2;
    const shadow = cs.boxShadow && cs.boxShadow !== 'none';
    const desc = `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.getAttribute('href') ? `[href="${el.getAttribute('href')}"]` : ''} “${(el.textContent || el.value || '').trim().slice(0, 20)}”`;
    return {
      desc,
      id: el.id,
      name: el.name || '',
      tag: el.tagName.toLowerCase(),
      type: el.type || '',
      inForm: !!el.closest('form.return-form'),
      visible: outline || shadow,
      style: `outline: ${cs.outlineStyle} ${cs.outlineWidth} ${cs.outlineColor}; box-shadow: ${cs.boxShadow}`,
      onScreen: r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0 && r.left < innerWidth && r.top < innerHeight,
    };
  });
}

async function checkFocus(page, where) {
  const f = await focusState(page);
  assert.ok(f, `${where}: Tab left the focus on the page body`);
  assert.ok(f.visible, `${where}: focus on ${f.desc} is not visible (${f.style})`);
  assert.ok(f.onScreen, `${where}: focused ${f.desc} is off screen`);
  return f;
}

/** Types a value into the focused field the way a person does. */
async function typeInto(page, field, value) {
  const kb = page.keyboard;
  if (field.kind === 'multi') {
    // The focus is on one checkbox of the group: Space ticks it.
    const opt = field.options.find((o) => o.id === (field._focused));
    if (opt && value.includes(opt.value)) await kb.press('Space');
  } else if (field.kind === 'select') {
    for (let i = 0; i < 20; i += 1) {
      if (await page.evaluate(() => document.activeElement.value) === value) break;
      await kb.press('ArrowDown');
    }
  } else if (field.type === 'date') {
    // Chromium's date field takes the digits segment by segment, in the
    // order of the browser's locale (found in before()); a year does not
    // move on by itself (years have up to 6 digits), so ArrowRight follows it.
    const [y, m, d] = value.split('-');
    const parts = { y, m, d };
    for (const [i, seg] of [...dateOrder].entries()) {
      await kb.type(parts[seg]);
      if (seg === 'y' && i < 2) await kb.press('ArrowRight');
    }
  } else {
    await kb.type(value);
  }
}

for (const [n, id] of h.formIds().entries()) {
  const key = n % 2 === 0 ? 'Enter' : 'Space';
  test(`keyboard: forms/${id}: filled with Tab and typing, sent with ${key}; focus always visible`, { skip: !h.hasIntake() && 'the intake is not running' }, async () => {
    const page = await ctx.newPage();
    const where = `forms/${id}`;
    await page.goto(new URL(`forms/${id}/index.html`, base).href);
    const fields = await h.formFields(page);
    const answers = h.validAnswers(fields);
    const byId = new Map();
    for (const f of fields) {
      if (f.kind === 'multi') for (const o of f.options) byId.set(o.id, f);
      else byId.set(f.id, f);
    }
    // The first Tab reaches the skip link, which shows itself.
    await page.keyboard.press('Tab');
    const first = await checkFocus(page, where);
    assert.match(first.desc, /跳到正文/, `${where}: the first Tab stop is ${first.desc}, not the skip link`);
    const order = [];
    let sent = false;
    let lastId = null;
    for (let i = 0; i < 300 && !sent; i += 1) {
      await page.keyboard.press('Tab');
      const f = await checkFocus(page, where);
      if (f.inForm && f.tag === 'button') {
        await Promise.all([page.waitForURL(/\/receipts\//), page.keyboard.press(key)]);
        sent = true;
      } else if (f.inForm && f.id === lastId) {
        // A further stop inside the same control (a date field's calendar button).
      } else if (f.inForm) {
        const field = byId.get(f.id);
        assert.ok(field, `${where}: focus reached ${f.desc}, which is not a field of the form (honeypot?)`);
        if (field.kind === 'multi') field._focused = f.id;
        if (order[order.length - 1] !== field.name) order.push(field.name);
        await typeInto(page, field, answers[field.name]);
      }
      lastId = f.id;
    }
    assert.ok(sent, `${where}: Tab never reached the submit button`);
    assert.deepEqual(order, fields.map((f) => f.name), `${where}: Tab order of the fields`);
    const ref = (await page.locator('.receipt-ref').first().textContent()).trim();
    assert.match(ref, /^[A-Z2-9]{8}$/, `receipt reference “${ref}”`);
    // The receipt's answers are the ones typed.
    const text = await page.locator('main').textContent();
    for (const f of fields.filter((x) => ['text', 'uscc', 'mobile', 'email'].includes(x.kind))) {
      assert.ok(text.includes(answers[f.name]), `${where}: the receipt does not show ${f.name} = ${answers[f.name]} (typed by keyboard)`);
    }
    await page.close();
  });

  test(`keyboard: forms/${id}: after an empty return, Tab reaches the error summary before the fields and Enter on an error moves to its field`, { skip: !h.hasIntake() && 'the intake is not running' }, async () => {
    const page = await ctx.newPage();
    const where = `forms/${id} (with errors)`;
    await page.goto(new URL(`forms/${id}/index.html`, base).href);
    await page.locator('form.return-form button[type="submit"]').focus();
    await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.keyboard.press('Enter')]);
    await page.waitForSelector('.error-summary');
    // The 422 page's stylesheet may still be on its way (its focus styles
    // with it) when the DOM is there: look at the page a person sees.
    await page.waitForLoadState('load');
    let link = null;
    for (let i = 0; i < 100; i += 1) {
      await page.keyboard.press('Tab');
      const f = await checkFocus(page, where);
      assert.ok(!f.inForm, `${where}: Tab reached the form (${f.desc}) before the error summary`);
      if (await page.evaluate(() => !!document.activeElement.closest('.error-summary'))) {
        link = await page.evaluate(() => document.activeElement.getAttribute('href'));
        break;
      }
    }
    assert.ok(link, `${where}: Tab never reached the error summary`);
    await page.keyboard.press('Enter');
    const f = await checkFocus(page, where);
    assert.equal(`#${f.id}`, link, `${where}: Enter on ${link} moved the focus to ${f.desc}`);
    await page.close();
  });
}

test('keyboard: every link and control of the static pages shows its focus', async () => {
  const failures = [];
  for (const t of h.pageTypes()) {
    const page = await ctx.newPage();
    await page.goto(new URL(t.path, base).href);
    const stops = await page.locator('a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex="-1"])').count();
    for (let i = 0; i < Math.min(stops, 120); i += 1) {
      await page.keyboard.press('Tab');
      const f = await focusState(page);
      if (!f) break; // past the last stop
      if (!f.visible) failures.push(`${t.path}: ${f.desc}: ${f.style}`);
      if (!f.onScreen) failures.push(`${t.path}: ${f.desc} is focused off screen`);
    }
    await page.close();
  }
  assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
});
