// The link crawler in a real browser: for one person of each kind it
// starts at a municipality's home page (the operator at the console),
// follows every same-host link breadth-first and checks each kind of page
// with axe (WCAG 2.1 A and AA). Started by tests/it/browser.rs with
// DIMOS_PORT set to a server with the demo tenants; the HTTP crawler in
// tests/it/crawl.rs covers every person and every page on both databases,
// this one what only a browser sees.
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';
import { existsSync } from 'node:fs';

const port = process.env.DIMOS_PORT;
if (!port) throw new Error('DIMOS_PORT is not set');
const executablePath = process.env.CHROMIUM_PATH
  || ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!executablePath) throw new Error('Debian chromium is not installed (apt-get install chromium)');

// Pages per person at most, and kinds of page (paths with ids folded)
// checked with axe per person.
const BOUND = Number(process.env.DIMOS_CRAWL_BOUND || 80);

const url = (host, path = '/') => `http://${host}:${port}${path}`;
const browser = await chromium.launch({
  executablePath,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
    '--host-resolver-rules=MAP *.localhost 127.0.0.1',
  ],
});

// One person of each kind: anonymous, citizen, staff, municipal admin,
// national operator.
const people = [
  { kind: 'anonymous', host: 'alimos.localhost' },
  { kind: 'citizen', host: 'alimos.localhost', name: 'Γιώργος Νικολάου' },
  { kind: 'staff', host: 'alimos.localhost', name: 'Νίκος Κωνσταντίνου' },
  { kind: 'cleaning supervisor', host: 'alimos.localhost', name: 'Παναγιώτης Σταυρόπουλος' },
  { kind: 'cleaning crew', host: 'alimos.localhost', name: 'Βασίλης Μιχαηλίδης' },
  { kind: 'municipal admin', host: 'alimos.localhost', name: 'Δημήτρης Βασιλείου' },
  { kind: 'operator', host: 'admin.localhost' },
];

// `/cases/0191…/documents/0192…` and `/cases/0193…/documents/0194…` are one
// kind of page.
const shape = (u) => u.pathname
  .split('/')
  .map((s) => (/^[0-9a-f-]{8,}$|^\d+$/i.test(s) ? ':id' : s))
  .join('/');

const failures = [];
let pages = 0;
let checked = 0;
for (const who of people) {
  const context = await browser.newContext({ locale: 'el-GR' });
  const page = await context.newPage();
  if (who.name) {
    await page.goto(url(who.host, '/auth/login?next=/'));
    await page.getByRole('button', { name: `Σύνδεση ως ${who.name}` }).click();
    await page.waitForURL((u) => u.hostname === who.host && !u.pathname.startsWith('/auth'));
  }
  const origin = new URL(url(who.host)).origin;
  const queue = [url(who.host)];
  const seen = new Set(queue);
  const axed = new Set();
  let visited = 0;
  while (queue.length && visited < BOUND) {
    const target = queue.shift();
    visited += 1;
    // Downloads (documents, CSV, certificates) start instead of loading.
    let res;
    try {
      res = await page.goto(target);
    } catch (e) {
      if (/Download is starting|net::ERR_ABORTED/.test(String(e))) continue;
      throw e;
    }
    if (!res) continue;
    if (res.status() === 404 || res.status() >= 500) {
      failures.push(`${who.kind}: ${target} answered ${res.status()}`);
      continue;
    }
    if (!(res.headers()['content-type'] || '').startsWith('text/html') || !page.url().startsWith(origin)) continue;
    const kind = shape(new URL(page.url()));
    if (!axed.has(kind)) {
      axed.add(kind);
      checked += 1;
      const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
      for (const v of results.violations) {
        failures.push(`${who.kind}: ${page.url()}: ${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`);
      }
    }
    const links = await page.$$eval('a[href]', (as) => as.map((a) => a.href));
    for (const href of links) {
      const u = new URL(href);
      u.hash = '';
      // Signing in or out and switching language leave the person's walk.
      if (u.origin !== origin || u.pathname.startsWith('/auth/') || u.pathname.startsWith('/lang/')) continue;
      if (!seen.has(u.href)) { seen.add(u.href); queue.push(u.href); }
    }
  }
  pages += visited;
  console.log(`${who.kind}: ${visited} pages, ${axed.size} kinds of page checked with axe`);
  await context.close();
}
await browser.close();
console.log(`${pages} pages, ${checked} checked with axe, ${failures.length} problems`);
if (failures.length) {
  console.log(failures.join('\n'));
  process.exit(1);
}
