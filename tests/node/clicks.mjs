// Click, don't type: a citizen goes from the municipality's home page to a
// submitted application, and a member of staff from the staff area to a
// decision, only by following what the pages show, at 1280 px and on a
// 390 px phone, where no page may scroll sideways. Started by
// tests/it/browser.rs with DIMOS_PORT set to a server with the demo tenants.
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';
import { existsSync, mkdirSync } from 'node:fs';

const port = process.env.DIMOS_PORT;
if (!port) throw new Error('DIMOS_PORT is not set');
const executablePath = process.env.CHROMIUM_PATH
  || ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!executablePath) throw new Error('Debian chromium is not installed (apt-get install chromium)');
const shots = new URL('./screenshots/', import.meta.url).pathname;
mkdirSync(shots, { recursive: true });

const home = `http://alimos.localhost:${port}/`;
const browser = await chromium.launch({
  executablePath,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
    '--host-resolver-rules=MAP *.localhost 127.0.0.1',
  ],
});

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

// What a page shows after a click: waited for (a form sent by a click may
// still be loading when the next line runs on a busy machine).
async function seen(locator, message) {
  await locator.waitFor({ state: 'visible', timeout: 20000 }).catch((e) => {
    throw new Error(`${message} (${String(e.message || e).split('\n')[0]})`);
  });
}

let failed = 0;
const docPages = ['parking service page', 'parking application: the space', 'parking application: check your answers',
  'submitted', 'the case, claimed', 'service settings', 'nurseries points table', 'a nurseries criterion'];
const widths = [1280, 390];
const plates = { 1280: 'ΙΚΥ-1280', 390: 'ΙΚΥ-3900' };

for (const width of widths) {
  const context = await browser.newContext({ locale: 'el-GR', viewport: { width, height: 900 } });
  const page = await context.newPage();
  const visited = [];
  // Every page reached: nothing wider than the screen, and axe-clean.
  const look = async (label) => {
    await page.waitForLoadState();
    const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(wide <= 0, `${label} at ${width} px scrolls sideways by ${wide} px (${page.url()})`);
    const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
    const v = results.violations;
    assert(v.length === 0, `${label} at ${width} px: axe:\n${v.map((x) => `${x.id}: ${x.help} ${x.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('\n')}`);
    visited.push(label);
    await page.screenshot({ path: `${shots}clicks-${width}-${visited.length}.png`, fullPage: true });
    // Small pictures for docs/ (DOCS_SCREENSHOTS=docs/screenshots).
    if (process.env.DOCS_SCREENSHOTS && docPages.includes(label)) {
      const name = label.replace(/[^a-z]+/gi, '-').replace(/-$/, '');
      await page.screenshot({ path: `${process.env.DOCS_SCREENSHOTS}/${name}-${width}.jpg`, type: 'jpeg', quality: 50 });
    }
  };
  // On a phone the account links sit in the header's menu.
  const headerLink = async (name) => {
    const menu = page.locator('details.dimos-nav-narrow');
    if (await menu.isVisible()) {
      if (!(await menu.evaluate((d) => d.open))) await menu.locator('summary').click();
    }
    await page.getByRole('banner').getByRole('link', { name }).click();
  };
  const signOut = async () => {
    const menu = page.locator('details.dimos-nav-narrow');
    if (await menu.isVisible() && !(await menu.evaluate((d) => d.open))) await menu.locator('summary').click();
    await page.getByRole('button', { name: 'Αποσύνδεση', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/');
  };
  try {
    // The citizen: home → sign in → the service's card → apply → submitted.
    await page.goto(home);
    await look('home');
    await page.getByRole('banner').getByRole('link', { name: 'Σύνδεση' }).click();
    await page.getByRole('button', { name: 'Σύνδεση ως Γιώργος Νικολάου' }).click();
    await page.waitForURL((u) => u.hostname === 'alimos.localhost' && u.pathname === '/');
    await look('home, signed in');
    await page.getByRole('link', { name: /στάθμευσης/ }).first().click();
    await page.waitForURL((u) => u.pathname === '/parking');
    await look('parking service page');
    await page.getByRole('link', { name: 'Υποβολή αίτησης' }).click();
    await page.waitForURL((u) => u.pathname === '/parking/apply');
    await look('parking application: your details');
    await page.getByLabel('Κινητό τηλέφωνο').fill('69 1234 5678');
    const email = page.getByLabel('Ηλεκτρονικό ταχυδρομείο');
    if (!(await email.inputValue())) await email.fill('giorgos@example.gr');
    await page.getByRole('button', { name: 'Συνέχεια' }).click();
    await page.waitForURL((u) => u.pathname === '/parking/apply/space');
    await look('parking application: the space');
    await page.getByLabel('Θέση στάθμευσης (διεύθυνση)').fill('Αριστοτέλους 53, Άλιμος');
    await page.getByLabel('Αριθμός κυκλοφορίας οχήματος').fill(plates[width]);
    await page.getByRole('button', { name: 'Συνέχεια' }).click();
    await page.waitForURL((u) => u.pathname === '/parking/apply/delivery');
    await look('parking application: delivery');
    await page.getByLabel('Από το δημαρχείο').check();
    await page.getByRole('button', { name: 'Συνέχεια' }).click();
    await page.waitForURL((u) => u.pathname === '/parking/apply/check');
    await look('parking application: check your answers');
    await page.getByLabel(/^Γνωμάτευση ΚΕΠΑ/).setInputFiles({
      name: 'kepa.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n% kepa\n'),
    });
    await page.getByRole('button', { name: 'Υποβολή αίτησης' }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/cases/'));
    await seen(page.getByText('Η αίτησή σας υποβλήθηκε'), 'the confirmation');
    assert(await page.evaluate(() => window.scrollY) === 0, 'the confirmation is at the top');
    await look('submitted');
    await headerLink('Οι αιτήσεις μου');
    await look('my applications');
    await signOut();

    // Staff: the staff area → the agenda → the case → a decision.
    await page.getByRole('banner').getByRole('link', { name: 'Σύνδεση' }).click();
    await page.getByRole('button', { name: 'Σύνδεση ως Νίκος Κωνσταντίνου' }).click();
    await page.waitForURL((u) => u.hostname === 'alimos.localhost' && u.pathname === '/');
    await headerLink('Χώρος εργασίας');
    await look('staff area');
    await page.getByRole('main').getByRole('link', { name: 'Η ατζέντα μου' }).click();
    await look('agenda');
    await page.getByRole('link', { name: /^Διαθέσιμες/ }).first().click();
    await look('available tasks');
    await page.locator('tr', { hasText: plates[width] }).getByRole('button', { name: /^Ανάληψη/ }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/staff/cases/'));
    await look('the case, claimed');
    await page.getByLabel('Αναπηρία κάτω άκρων 67% και άνω').check();
    await page.getByLabel('Ο φάκελος είναι πλήρης').check();
    await page.getByRole('button', { name: 'Ολοκλήρωση εργασίας' }).click();
    await page.waitForURL((u) => u.pathname === '/staff/agenda');
    await look('agenda after the decision');
    await signOut();

    // The municipal admin: the staff area → a service's settings, with
    // the process drawn.
    await page.getByRole('banner').getByRole('link', { name: 'Σύνδεση' }).click();
    await page.getByRole('button', { name: 'Σύνδεση ως Δημήτρης Βασιλείου' }).click();
    await page.waitForURL((u) => u.hostname === 'alimos.localhost' && u.pathname === '/');
    await headerLink('Χώρος εργασίας');
    await page.getByRole('main').getByRole('link', { name: 'Ρυθμίσεις υπηρεσιών' }).click();
    await look('services');
    await page.getByRole('main').getByRole('link', { name: /στάθμευσης/ }).first().click();
    await look('service settings');
    await headerLink('Χώρος εργασίας');
    await page.getByRole('main').getByRole('link', { name: /πίνακας μοριοδότησης/ }).click();
    await look('nurseries points table');
    await page.getByRole('main').getByRole('link', { name: /^Αλλαγή/ }).first().click();
    await look('a nurseries criterion');
    await signOut();
    console.log(`ok   ${width} px: ${visited.length} pages`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${width} px after ${visited.join(' → ')}\n     ${String(e.stack || e).split('\n').join('\n     ')}`);
    await page.screenshot({ path: `${shots}clicks-${width}-failure.png`, fullPage: true }).catch(() => {});
  }
  await context.close();
}
await browser.close();
console.log(`clicks: ${widths.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
