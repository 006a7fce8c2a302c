'use strict';
// The Nu HTML Checker (vnu.jar from npm, run with Java) on every built HTML
// page, and on the pages the intake renders (form with errors, receipt, its
// message page): zero errors. Warnings are printed, not counted.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('../lib/harness');

const VNU = require.resolve('vnu-jar/build/dist/vnu.jar');

after(() => h.close());

/** The fields of a built form page, read in the browser. */
async function fieldsOf(id) {
  const browser = await h.launch();
  try {
    const ctx = await h.newContext(browser, { javaScriptEnabled: false });
    const page = await ctx.newPage();
    await page.goto(new URL(`forms/${id}/index.html`, await h.baseUrl()).href);
    return await h.formFields(page);
  } finally {
    await browser.close();
  }
}

/** Fetches the intake's own pages into files, so vnu checks them too. */
async function intakePages(dir) {
  const base = await h.baseUrl();
  const out = [];
  const save = (name, html) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, html);
    out.push(file);
  };
  const post = (id, body) => fetch(new URL(`forms/${id}`, base), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(base).origin },
    body: new URLSearchParams(body).toString(),
  });
  for (const id of h.formIds()) {
    // An empty return: every required field in error.
    const bad = await post(id, { unit_name: '' });
    assert.equal(bad.status, 422, `POST forms/${id} (empty) answered ${bad.status}`);
    save(`form-${id}-errors.html`, await bad.text());
    // A valid return, made of the fields of the built form page: follow the redirect to the receipt.
    const model = await fieldsOf(id);
    const answers = h.validAnswers(model);
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(answers)) for (const x of [].concat(v)) body.append(k, x);
    const ok = await post(id, body);
    assert.equal(ok.status, 303, `POST forms/${id} (valid) answered ${ok.status}: ${(await ok.text()).slice(0, 300)}`);
    const receipt = await fetch(new URL(ok.headers.get('location'), base));
    assert.equal(receipt.status, 200);
    save(`receipt-${id}.html`, await receipt.text());
  }
  const missing = await fetch(new URL(`receipts/${'0'.repeat(32)}`, base));
  save('receipt-not-found.html', await missing.text());
  return out;
}

test('vnu: every built page and the intake\'s pages have no HTML errors', async (t) => {
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
  assert.equal(java.status, 0, 'java is missing: tests/browser/run.sh installs default-jre-headless');
  const pages = h.htmlPages().map((p) => path.join(h.SITE, p));
  const dir = h.artifact('vnu', 'intake', 'x');
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  if (h.hasIntake()) pages.push(...await intakePages(path.dirname(dir)));
  else t.diagnostic('the intake is not running: its pages are not checked');
  // vnu writes its JSON report to stderr.
  const r = spawnSync('java', ['-Xss2m', '-jar', VNU, '--format', 'json', '--exit-zero-always', ...pages], {
    encoding: 'utf8', maxBuffer: 64 << 20,
  });
  assert.equal(r.status, 0, `vnu failed: ${r.stderr.slice(0, 2000)}`);
  const report = r.stderr;
  const messages = JSON.parse(report).messages;
  const where = (m) => {
    const file = decodeURIComponent(m.url.replace(/^file:/, ''));
    const rel = file.startsWith(h.SITE) ? path.relative(h.SITE, file) : `intake: ${path.basename(file)}`;
    return `${rel}${m.lastLine ? `:${m.lastLine}` : ''}`;
  };
  const errors = messages.filter((m) => m.type === 'error' || m.type === 'non-document-error');
  const warnings = messages.filter((m) => m.type === 'info' && m.subType === 'warning');
  // Warnings: one line per message kind with its count and first page.
  const byMessage = new Map();
  for (const w of warnings) {
    const key = w.message;
    if (!byMessage.has(key)) byMessage.set(key, { n: 0, first: where(w) });
    byMessage.get(key).n += 1;
  }
  const lines = [`vnu: ${pages.length} pages, ${errors.length} errors, ${warnings.length} warnings`];
  for (const [msg, { n, first }] of byMessage) lines.push(`  warning ×${n} (first at ${first}): ${msg}`);
  fs.writeFileSync(h.artifact('vnu', 'report.json'), JSON.stringify(messages, null, 1));
  fs.writeFileSync(h.artifact('vnu', 'summary.txt'), lines.join('\n') + '\n');
  for (const l of lines) t.diagnostic(l);
  assert.equal(errors.length, 0, '\n' + errors.map((e) => `${where(e)}: ${e.message}\n    ${(e.extract || '').replace(/\n/g, ' ')}`).join('\n'));
});
