'use strict';
// A small static server for the built site that passes the intake's paths
// (POST /forms/<id>, /receipts/…, /admin…) through to `gazette intake`, so the
// browser sees one origin, as it will behind the production web server.
//
// As a script: node lib/server.js SITE_DIR [INTAKE_URL]
// prints "listening on http://127.0.0.1:PORT/" once ready (PORT from
// GAZETTE_BROWSER_PORT, default 0 = any free port).

const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.xml': 'application/xml; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.json': 'application/json',
  '.pdf': 'application/pdf',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.csv': 'text/csv; charset=utf-8',
  '.zip': 'application/zip',
};

/** Paths the intake answers; everything else is a file of the built site. */
function isIntakePath(pathname, method = 'GET', search = '') {
  if (/^\/forms\/[^/]+$/.test(pathname)) return method === 'POST' || !pathname.includes('.');
  // A search query goes to the intake (results made on the server, for
  // browsers without JavaScript), as gazette serve does.
  if (/^\/search(\/|\/index\.html)?$/.test(pathname) && /(^|[?&])q=/.test(search)) return true;
  return pathname.startsWith('/receipts/')
    || pathname === '/admin' || pathname.startsWith('/admin/')
    || pathname === '/healthz';
}

function proxy(req, res, intake) {
  const target = new URL(intake);
  // Headers go through unchanged (Host and Origin included): the intake
  // compares the post's Origin with the Host it was sent to.
  const up = http.request({
    host: target.hostname,
    port: target.port,
    method: req.method,
    path: req.url,
    headers: { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress },
  }, (upRes) => {
    res.writeHead(upRes.statusCode, upRes.headers);
    upRes.pipe(res);
  });
  up.on('error', (e) => {
    res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`intake unreachable: ${e.message}\n`);
  });
  req.pipe(up);
}

function serveFile(req, res, root) {
  let pathname;
  try {
    pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  } catch {
    res.writeHead(400).end();
    return;
  }
  const file = path.join(root, path.normalize(pathname));
  if (!file.startsWith(root)) {
    res.writeHead(403).end();
    return;
  }
  let target = file;
  try {
    const st = fs.statSync(target);
    if (st.isDirectory()) {
      if (!pathname.endsWith('/')) {
        res.writeHead(301, { location: pathname + '/' }).end();
        return;
      }
      target = path.join(target, 'index.html');
    }
    fs.accessSync(target);
  } catch {
    const notFound = path.join(root, '404.html');
    res.writeHead(404, { 'content-type': TYPES['.html'] });
    res.end(fs.existsSync(notFound) ? fs.readFileSync(notFound) : 'not found');
    return;
  }
  const type = TYPES[path.extname(target).toLowerCase()] || 'application/octet-stream';
  res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  fs.createReadStream(target).pipe(res);
}

/** Starts the server; resolves to { url, close }. */
function start({ root, intake = '', port = 0 }) {
  root = path.resolve(root);
  const server = http.createServer((req, res) => {
    const { pathname, search } = new URL(req.url, 'http://x');
    if (intake && isIntakePath(pathname, req.method, search)) {
      proxy(req, res, intake);
    } else if (req.method === 'GET' || req.method === 'HEAD') {
      serveFile(req, res, root);
    } else {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}/`;
      resolve({ url, server, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

module.exports = { start, isIntakePath };

if (require.main === module) {
  const [root, intake] = process.argv.slice(2);
  if (!root) {
    console.error('usage: node lib/server.js SITE_DIR [INTAKE_URL]');
    process.exit(2);
  }
  start({ root, intake: intake || '', port: Number(process.env.GAZETTE_BROWSER_PORT || 0) })
    .then(({ url }) => console.log(`listening on ${url}`))
    .catch((e) => {
      console.error(e.message);
      process.exit(1);
    });
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
}
