'use strict';
// Shared set-up for the browser tests: where the built site is, where it is
// served, the browser, and small helpers.
//
// run.sh sets GAZETTE_SITE_DIR (the built site), GAZETTE_BASE_URL (the site
// served with the intake behind it) and GAZETTE_INTAKE=1 when the intake is
// up. Run by hand without them, the tests serve ../../public themselves,
// without the intake, and skip what needs it.

const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');
const server = require('./server');

const HERE = path.resolve(__dirname, '..');
const SITE = path.resolve(process.env.GAZETTE_SITE_DIR || path.join(HERE, '..', '..', 'public'));
const ARTIFACTS = path.resolve(process.env.GAZETTE_ARTIFACTS || path.join(HERE, 'artifacts'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage', '--font-render-hinting=none',
];

let started = null;
/** The site's base URL, ending in "/". */
async function baseUrl() {
  if (process.env.GAZETTE_BASE_URL) return process.env.GAZETTE_BASE_URL.replace(/\/?$/, '/');
  if (!started) started = await server.start({ root: SITE });
  return started.url;
}

function hasIntake() {
  return process.env.GAZETTE_INTAKE === '1';
}

async function launch() {
  // playwright-core makes a fresh temporary user-data-dir for each launch.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 60_000 });
}

/** A browser context with the settings every test shares. */
async function newContext(browser, opts = {}) {
  const ctx = await browser.newContext({
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
    ...opts,
  });
  ctx.setDefaultTimeout(15_000);
  ctx.setDefaultNavigationTimeout(20_000);
  return ctx;
}

async function close() {
  if (started) {
    await started.close();
    started = null;
  }
}

/** Every built HTML page, as paths relative to the site ("notices/2016-216/index.html"). */
function htmlPages() {
  const out = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.html')) out.push(path.relative(SITE, p).split(path.sep).join('/'));
    }
  };
  walk(SITE);
  return out.sort();
}

/** The form ids of the built site (forms/<id>/index.html with an .xlsx beside it). */
function formIds() {
  const dir = path.join(SITE, 'forms');
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(dir, e.name, 'index.html')))
    .map((e) => e.name)
    .sort();
}

/** The manual ids of the built site. */
function manualIds() {
  const dir = path.join(SITE, 'manuals');
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(dir, e.name, 'print.html')))
    .map((e) => e.name)
    .sort();
}

/** The first chapter page of a manual (the first link of its contents). */
function firstChapter(manual) {
  const html = fs.readFileSync(path.join(SITE, 'manuals', manual, 'index.html'), 'utf8');
  const toc = html.slice(html.indexOf('class="manual-toc"'));
  const m = /<a href="([^"#]+\.html)"/.exec(toc);
  if (!m) throw new Error(`manuals/${manual}/index.html: no chapter link in its contents`);
  return path.posix.normalize(`manuals/${manual}/${m[1]}`);
}

/** The notice pages (pages with the 函 layout). */
function noticePages() {
  return htmlPages().filter((p) => p.startsWith('notices/') && p !== 'notices/index.html'
    && fs.readFileSync(path.join(SITE, p), 'utf8').includes('class="gongwen"'));
}

/** One page of each type, as { name, path } (path relative to the site). */
function pageTypes() {
  const manual = manualIds()[0];
  const form = formIds()[0];
  const notice = noticePages()[0];
  const guide = htmlPages().find((p) => /^guide\/[^/]+\/index\.html$/.test(p));
  const list = [
    { name: 'home', path: 'index.html' },
    { name: 'section', path: 'notices/index.html' },
    { name: 'notice', path: notice },
    { name: 'page', path: guide },
    { name: 'forms index', path: 'forms/index.html' },
    { name: 'form', path: `forms/${form}/index.html` },
    { name: 'form print', path: `forms/${form}/print.html` },
    { name: 'manuals index', path: 'manuals/index.html' },
    { name: 'manual contents', path: `manuals/${manual}/index.html` },
    { name: 'manual chapter', path: firstChapter(manual) },
    { name: 'manual print', path: `manuals/${manual}/print.html` },
    { name: 'manual offline', path: `manuals/${manual}/${manual}-offline.html` },
    { name: '404', path: '404.html' },
  ];
  return list.filter((t) => t.path && fs.existsSync(path.join(SITE, t.path)));
}

function artifact(...parts) {
  const p = path.join(ARTIFACTS, ...parts);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  return p;
}

/** Runs axe-core on the page; returns violations of WCAG 2.0/2.1 A and AA rules. */
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
async function axe(page) {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      resultTypes: ['violations'],
    });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
    }));
  });
}

function formatViolations(where, violations) {
  return violations.map((v) => `${where}: [${v.id}] ${v.help} (${v.impact})\n`
    + v.nodes.slice(0, 5).map((n) => `    at ${n.target}\n      ${String(n.summary).replace(/\n/g, '\n      ')}`).join('\n')).join('\n');
}

/** Elements that stick out past the right edge of the viewport (for messages). */
async function overflow(page) {
  return page.evaluate(() => {
    const se = document.scrollingElement;
    const width = se.clientWidth;
    const res = { scrollWidth: se.scrollWidth, clientWidth: width, culprits: [] };
    if (se.scrollWidth <= width) return res;
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > width + 1) {
        const parent = el.parentElement && el.parentElement.getBoundingClientRect();
        if (parent && parent.right > width + 1 && el.parentElement !== document.body) continue;
        res.culprits.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : ''} right=${Math.round(r.right)}`);
        if (res.culprits.length >= 8) break;
      }
    }
    return res;
  });
}

/**
 * Text that is cut off: boxes that hide or clip their overflow while their
 * content is larger, and boxes whose text spills out of a fixed height (so it
 * runs into what follows). Visually hidden helpers (1 px boxes, off-screen)
 * are left out.
 */
async function clipped(page) {
  return page.evaluate(() => {
    const out = [];
    const isHiddenHelper = (el, cs, r) => (r.width <= 1 && r.height <= 1)
      || r.right < 0 || r.bottom < 0 || cs.visibility === 'hidden' || cs.display === 'none'
      || el.closest('[aria-hidden="true"]');
    const name = (el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\s+/).join('.') : ''}`;
    for (const el of document.body.querySelectorAll('*')) {
      const cs = getComputedStyle(el);
      if (cs.display === 'inline' || cs.display === 'none' || cs.display === 'contents') continue;
      const r = el.getBoundingClientRect();
      if (isHiddenHelper(el, cs, r)) continue;
      if (!el.textContent.trim()) continue;
      const hides = (v) => v === 'hidden' || v === 'clip';
      const scrolls = (v) => v === 'auto' || v === 'scroll';
      const wide = el.scrollWidth > el.clientWidth + 1;
      const tall = el.scrollHeight > el.clientHeight + 1;
      if ((wide && hides(cs.overflowX)) || (tall && hides(cs.overflowY))) {
        out.push(`${name(el)} hides its overflow: scroll ${el.scrollWidth}x${el.scrollHeight} > box ${el.clientWidth}x${el.clientHeight}`);
      } else if (cs.textOverflow === 'ellipsis' && wide) {
        out.push(`${name(el)} cuts its text with an ellipsis`);
      } else if (tall && !scrolls(cs.overflowY) && el.clientHeight > 0
        && el.tagName !== 'HTML' && el.tagName !== 'BODY') {
        // Text spilling out of a box whose height does not grow with it (a
        // height or max-height from CSS): with height auto it would be taller.
        const kids = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
        if (kids) {
          const before = el.clientHeight;
          const saved = [el.style.height, el.style.maxHeight];
          el.style.height = 'auto';
          el.style.maxHeight = 'none';
          const grows = el.clientHeight > before + 1;
          [el.style.height, el.style.maxHeight] = saved;
          if (grows) out.push(`${name(el)} text spills out of its fixed height (${el.scrollHeight} > ${el.clientHeight})`);
        }
      }
      if (out.length >= 10) break;
    }
    return out;
  });
}

/** Values that the intake accepts, by field kind (the class input-<kind> or the element). */
const VALID = {
  text: (f) => ({
    unit_name: '梅州市测试局', committee_name: '梅州市工程技术人员中级职称评审委员会',
    founder_name: '梅州市测试局', office_name: '梅州市测试局人事科', series: '工程技术',
    specialties: '建筑工程、市政工程', admin_name: '张三', admin_title: '科长', admin_section: '办公室',
    filled_by: '李四', address: '梅州市梅江区江南路1号',
  }[f.name] || '测试填写'),
  uscc: () => '11441700007280420Y',
  postcode: () => '514000',
  phone: () => '0753-2128309',
  mobile: () => '13800138000',
  email: () => 'admin@example.org',
  docnum: () => '粤人社函〔2016〕12号',
  date: (f, i) => ['2016-07-01', '2019-06-30', '2016-07-27'][i % 3],
  textarea: () => '无',
};

/** The fields of the form on the page: { name, kind, tag, type, required, options }. */
async function formFields(page) {
  return page.$$eval('form.return-form .field', (fields) => fields.map((div) => {
    const el = div.querySelector('input, select, textarea');
    const multi = div.tagName === 'FIELDSET';
    const kind = multi ? 'multi'
      : el.tagName === 'SELECT' ? 'select'
        : el.tagName === 'TEXTAREA' ? 'textarea'
          : ([...el.classList].find((c) => c.startsWith('input-')) || 'input-text').slice(6);
    return {
      name: el.name,
      id: el.id,
      kind,
      tag: el.tagName.toLowerCase(),
      type: el.type,
      required: multi ? !!div.querySelector('legend .req') : el.required,
      options: multi ? [...div.querySelectorAll('input')].map((i) => ({ id: i.id, value: i.value }))
        : el.tagName === 'SELECT' ? [...el.options].map((o) => o.value).filter(Boolean) : [],
    };
  }));
}

/** A valid answer for each field: a string, or an array of option values. */
function validAnswers(fields) {
  let dates = 0;
  const out = {};
  for (const f of fields) {
    if (f.kind === 'multi') out[f.name] = f.options.slice(1, 3).map((o) => o.value);
    else if (f.kind === 'select') out[f.name] = f.options[0];
    else if (f.kind === 'date') out[f.name] = VALID.date(f, dates++);
    else out[f.name] = (VALID[f.kind] || VALID.text)(f);
  }
  return out;
}

/** Fills the form with the mouse-free Playwright API (fill, check, selectOption). */
async function fillForm(page, fields, answers) {
  for (const f of fields) {
    const v = answers[f.name];
    if (v === undefined) continue;
    if (f.kind === 'multi') {
      for (const o of f.options) {
        const box = page.locator(`[id="${o.id}"]`);
        if (v.includes(o.value)) await box.check();
        else await box.uncheck();
      }
    } else if (f.kind === 'select') {
      await page.locator(`[id="${f.id}"]`).selectOption(v);
    } else {
      await page.locator(`[id="${f.id}"]`).fill(v);
    }
  }
}

/** The values the form on the page now holds, in the shape of answers. */
async function formValues(page, fields) {
  const out = {};
  for (const f of fields) {
    if (f.kind === 'multi') {
      out[f.name] = await page.$$eval(`input[name="${f.name}"]:checked`, (els) => els.map((e) => e.value));
    } else {
      out[f.name] = await page.locator(`[id="${f.id}"]`).inputValue();
    }
  }
  return out;
}

/** Whether a buffer is an .xlsx: a zip holding the workbook parts. */
function isXlsx(buf) {
  const s = buf.toString('latin1');
  return buf.length > 100 && s.startsWith('PK\x03\x04') && s.includes('[Content_Types].xml')
    && s.includes('xl/workbook.xml');
}

module.exports = {
  SITE, ARTIFACTS, baseUrl, hasIntake, launch, newContext, close, htmlPages, formIds, manualIds,
  firstChapter, noticePages, pageTypes, artifact, axe, formatViolations, overflow, clipped,
  formFields, validAnswers, fillForm, formValues, isXlsx,
};
