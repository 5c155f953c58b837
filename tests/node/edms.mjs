// An outgoing document from draft to signature, only by clicking what the
// pages show: the council's secretary drafts a decision from the staff
// area and sends it for approval; the mayor finds it in "My documents",
// approves and signs it (it gets its outgoing protocol number); the
// secretary sends it by post. Every page on the way passes axe (WCAG 2.1
// AA). Started by tests/it/browser.rs with DIMOS_PORT set to a server with
// the demo tenants.
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

const context = await browser.newContext({ locale: 'el-GR', viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
const visited = [];
const look = async (label) => {
  await page.waitForLoadState();
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const v = results.violations;
  assert(v.length === 0, `${label}: axe:\n${v.map((x) => `${x.id}: ${x.help} ${x.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('\n')}`);
  visited.push(label);
  await page.screenshot({ path: `${shots}edms-${visited.length}.png`, fullPage: true });
};
const signIn = async (name) => {
  await page.goto(home);
  await page.getByRole('banner').getByRole('link', { name: 'Σύνδεση' }).click();
  await page.getByRole('button', { name: `Σύνδεση ως ${name}` }).click();
  await page.waitForURL((u) => u.hostname === 'alimos.localhost' && u.pathname === '/');
};
const signOut = async () => {
  await page.getByRole('button', { name: 'Αποσύνδεση', exact: true }).click();
  await page.waitForURL((u) => u.pathname === '/');
};
const staffArea = async () => {
  await page.getByRole('banner').getByRole('link', { name: 'Χώρος εργασίας' }).click();
};

let failed = 0;
try {
  // The mayor has signed in once; the admin gives him a signing certificate.
  await signIn('Ανδρέας Ιωάννου');
  await signOut();
  await signIn('Δημήτρης Βασιλείου');
  await page.goto(`${home}admin/signing`);
  await page.getByLabel('ΑΦΜ').fill('100000064');
  await page.getByRole('button', { name: 'Έκδοση πιστοποιητικού' }).click();
  await page.waitForLoadState();
  await signOut();

  // The secretary drafts a decision from the staff area.
  await signIn('Κατερίνα Δημητρίου');
  await staffArea();
  await page.getByRole('main').getByRole('link', { name: 'Σύνταξη εξερχομένου' }).click();
  await page.waitForURL((u) => u.pathname === '/edms/drafts/new');
  await look('draft form');
  await page.getByLabel('Απόφαση').check();
  await page.getByLabel('Θέμα').fill('Έγκριση κλαδέματος στην πλατεία');
  await page.getByLabel('Προς', { exact: true }).fill('Σύλλογος Κατοίκων Καλαμακίου');
  await page.getByLabel('Κείμενο').fill('Εγκρίνεται το κλάδεμα των δέντρων.\n\nΗ εργασία ορίζεται για τη Δευτέρα.');
  await page.getByLabel('1ος/η εγκρίνων/ουσα').selectOption({ label: 'Ανδρέας Ιωάννου — υπογράφει' });
  // Sent without a subject first: the error summary names it.
  await page.getByLabel('Θέμα').fill('');
  await page.getByRole('button', { name: 'Αποθήκευση σχεδίου' }).click();
  await page.getByRole('alert').waitFor();
  assert((await page.title()).startsWith('Σφάλμα:'), `the title says there is an error: ${await page.title()}`);
  await look('draft form with an error');
  await page.getByLabel('Θέμα').fill('Έγκριση κλαδέματος στην πλατεία');
  await page.getByRole('button', { name: 'Αποθήκευση σχεδίου' }).click();
  await page.waitForURL((u) => u.pathname.startsWith('/edms/records/'));
  await look('the draft');
  await page.getByRole('button', { name: 'Αποστολή για έγκριση' }).click();
  await page.getByText('Στάλθηκε για έγκριση').first().waitFor();
  await look('sent for approval');
  await signOut();

  // The mayor finds it in his documents, approves and signs it.
  await signIn('Ανδρέας Ιωάννου');
  await staffArea();
  await page.getByRole('main').getByRole('link', { name: 'Τα έγγραφά μου' }).click();
  await page.getByRole('link', { name: /^Για έγκριση ή υπογραφή/ }).click();
  await look('to approve');
  await page.getByRole('link', { name: /Έγκριση κλαδέματος στην πλατεία/ }).click();
  await look('the draft, for the mayor');
  await page.getByRole('button', { name: 'Έγκριση και ψηφιακή υπογραφή' }).click();
  await page.getByText(/Υπογράφηκε με αριθμό πρωτοκόλλου \d+\/\d{4}/).waitFor();
  await look('signed');
  const pdf = page.getByRole('link', { name: /\.pdf$/ });
  assert(await pdf.count() === 1, 'the signed PDF is listed');
  await signOut();

  // Back with the secretary, who sends it by post.
  await signIn('Κατερίνα Δημητρίου');
  await staffArea();
  await page.getByRole('main').getByRole('link', { name: 'Τα έγγραφά μου' }).click();
  await page.getByRole('link', { name: /^Χρεωμένα σε μένα/ }).click();
  await page.getByRole('link', { name: /^\d+\/\d{4}$/ }).first().click();
  await look('signed, to send');
  await page.getByLabel(/Ταχυδρομικά/).check();
  await page.getByRole('button', { name: 'Αποστολή', exact: true }).click();
  await page.getByText('Αποστάλθηκε').first().waitFor();
  await look('sent');
  await signOut();
  console.log(`ok   drafting → approval → signing: ${visited.length} pages`);
} catch (e) {
  failed += 1;
  console.log(`FAIL after ${visited.join(' → ')}\n     ${String(e.stack || e).split('\n').join('\n     ')}`);
  await page.screenshot({ path: `${shots}edms-failure.png`, fullPage: true }).catch(() => {});
}
await context.close();
await browser.close();
process.exit(failed ? 1 : 0);
