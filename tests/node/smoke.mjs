// Browser smoke and accessibility test for Dimos. Started by
// tests/it/browser.rs with DIMOS_PORT set to a server that has the demo
// tenants. Uses Debian's chromium (never a downloaded browser) and checks
// every page with axe-core against WCAG 2.1 A and AA.
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const port = process.env.DIMOS_PORT;
if (!port) throw new Error('DIMOS_PORT is not set');
const executablePath = process.env.CHROMIUM_PATH
  || ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!executablePath) throw new Error('Debian chromium is not installed (apt-get install chromium)');
const shots = new URL('./screenshots/', import.meta.url).pathname;
mkdirSync(shots, { recursive: true });

const url = (host, path = '/') => `http://${host}:${port}${path}`;
const browser = await chromium.launch({
  executablePath,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
    '--host-resolver-rules=MAP *.localhost 127.0.0.1',
  ],
});

let passed = 0;
let failed = 0;
async function check(name, fn, options = {}) {
  const context = await browser.newContext({ locale: 'el-GR', ...options });
  const page = await context.newPage();
  try {
    await fn(page);
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}\n     ${String(e.stack || e).split('\n').join('\n     ')}`);
    await page.screenshot({ path: `${shots}${name.replace(/\W+/g, '-')}-failure.png`, fullPage: true }).catch(() => {});
  } finally {
    await context.close();
  }
}

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

// gov.gr's date boxes: the fieldset named `legend`, day, month and year.
async function fillDate(page, legend, iso) {
  const [y, m, d] = iso.split('-');
  const group = page.getByRole('group', { name: legend, exact: true });
  await group.getByLabel('Ημέρα').fill(d);
  await group.getByLabel('Μήνας').fill(m);
  await group.getByLabel('Έτος').fill(y);
}

async function axe(page, label) {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const v = results.violations;
  assert(v.length === 0, `${label}: axe violations:\n${v.map((x) => `${x.id} (${x.impact}): ${x.help}\n  ${x.nodes.map((n) => n.target.join(' ')).join('\n  ')}`).join('\n')}`);
}

async function shot(page, name) {
  await page.screenshot({ path: `${shots}${name}.png`, fullPage: true });
}

await check('tenant home is Greek, branded and accessible', async (page) => {
  const res = await page.goto(url('alimos.localhost'));
  assert(res.status() === 200, `status ${res.status()}`);
  assert((await page.getAttribute('html', 'lang')) === 'el', 'html lang is el');
  assert((await page.title()).includes('Δήμος Αλίμου'), `title: ${await page.title()}`);
  const bg = await page.$eval('header', (h) => getComputedStyle(h).backgroundColor);
  assert(bg === 'rgb(11, 83, 148)', `header colour is the tenant's: ${bg}`);
  const logoOk = await page.$eval('img.dimos-logo', (img) => img.complete && img.naturalWidth > 0);
  assert(logoOk, 'logo loads');
  await shot(page, 'alimos-el');
  await axe(page, 'alimos home (el)');
});

await check('language switch works without JavaScript and keeps the tenant', async (page) => {
  await page.goto(url('alimos.localhost'));
  await page.getByRole('link', { name: 'English' }).click();
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  assert((await page.getAttribute('html', 'lang')) === 'en', 'html lang is en');
  await seen(page.getByRole('heading', { name: 'Online services' }), 'English heading');
  assert((await page.title()).includes('Municipality of Alimos'), 'English tenant name');
  await shot(page, 'alimos-en');
  await axe(page, 'alimos home (en)');
  await page.getByRole('link', { name: 'Ελληνικά' }).click();
  await page.waitForFunction(() => document.documentElement.lang === 'el');
  assert((await page.getAttribute('html', 'lang')) === 'el', 'back to Greek');
});

await check('the second municipality has its own name and colours', async (page) => {
  await page.goto(url('papagou-cholargou.localhost'));
  assert((await page.title()).includes('Παπάγου'), 'own name');
  const bg = await page.$eval('header', (h) => getComputedStyle(h).backgroundColor);
  assert(bg === 'rgb(122, 31, 61)', `own colour: ${bg}`);
  await axe(page, 'papagou-cholargou home');
});

await check('skip link is the first stop for keyboard users', async (page) => {
  await page.goto(url('alimos.localhost'));
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement?.getAttribute('href'));
  assert(focused === '#main', `first tab stop: ${focused}`);
});

await check('portal and unknown hosts', async (page) => {
  await page.goto(url('localhost'));
  await seen(page.getByRole('link', { name: 'Δήμος Αλίμου' }), 'portal lists Alimos');
  await axe(page, 'portal');
  const res = await page.goto(url('nowhere.localhost'));
  assert(res.status() === 404, `unknown host status ${res.status()}`);
  await seen(page.getByRole('heading', { name: 'Δεν εξυπηρετείται δήμος σε αυτή τη διεύθυνση' }), '404 says why');
  await axe(page, 'unknown host page');
});

await check('operator creates a municipality in the console, it is served at once', async (page) => {
  await page.goto(url('admin.localhost'));
  await seen(page.getByRole('link', { name: 'Δήμος Αλίμου' }), 'console lists tenants');
  await axe(page, 'operator list');
  await page.getByRole('link', { name: 'Νέος δήμος' }).click();
  await axe(page, 'operator form');
  await page.getByLabel('Σύντομο όνομα').fill('nea-smyrni');
  await page.getByLabel('Όνομα (ελληνικά)').fill('Δήμος Νέας Σμύρνης');
  await page.getByRole('button', { name: 'Δημιουργία' }).click();
  await seen(page.locator('.govgr-error-summary'), 'error summary shown');
  await shot(page, 'operator-form-errors');
  await axe(page, 'operator form with errors');
  await page.getByRole('link', { name: /Όνομα \(αγγλικά\)/ }).click();
  const focusedId = await page.evaluate(() => document.activeElement?.id);
  assert(focusedId === 'name-en', `error link moves focus to the field: ${focusedId}`);
  await page.getByLabel('Όνομα (αγγλικά)').fill('Municipality of Nea Smyrni');
  await page.getByRole('button', { name: 'Δημιουργία' }).click();
  await seen(page.getByText('Ο δήμος δημιουργήθηκε.'), 'created');
  await axe(page, 'operator tenant page');
  await page.goto(url('nea-smyrni.localhost'));
  assert((await page.title()).includes('Δήμος Νέας Σμύρνης'), 'served at once');
});

await check('a citizen signs in through the provider page and sees what to do to get verified', async (page) => {
  await page.goto(url('alimos.localhost'));
  await page.getByRole('link', { name: 'Σύνδεση' }).click();
  await page.waitForURL((u) => u.pathname.startsWith('/dev-idp/authorize'));
  await axe(page, 'development provider page');
  await page.getByRole('button', { name: 'Σύνδεση ως Μαρία Παπαδοπούλου' }).click();
  // Provider → callback → back where the person started.
  await page.waitForURL((u) => u.hostname === 'alimos.localhost' && !u.pathname.startsWith('/auth'));
  await seen(page.getByRole('link', { name: 'Μαρία Παπαδοπούλου' }), 'signed in: name in the header');
  await page.getByRole('link', { name: 'Μαρία Παπαδοπούλου' }).click();
  await seen(page.getByRole('heading', { name: 'Ο λογαριασμός μου' }), 'account page');
  await seen(page.getByText('Μη επαληθευμένος'), 'unverified');
  await seen(page.getByText('Επισκεφθείτε ένα ΚΕΠ ή το δημαρχείο'), 'told what to do');
  await shot(page, 'account-unverified');
  await axe(page, 'account page');
  await page.getByRole('button', { name: 'Αποσύνδεση', exact: true }).click();
  await page.waitForURL((u) => u.hostname === 'alimos.localhost' && u.pathname === '/');
  await seen(page.getByRole('link', { name: 'Σύνδεση' }), 'signed out');
});

await check('staff pages (verification desk, roles) are accessible', async (page) => {
  const signIn = async (who) => {
    await page.goto(url('alimos.localhost', '/auth/login?next=/'));
    await page.getByRole('button', { name: `Σύνδεση ως ${who}` }).click();
    await page.waitForURL((u) => u.hostname === 'alimos.localhost' && !u.pathname.startsWith('/auth'));
  };
  await signIn('Ελένη Γεωργίου');
  await page.getByRole('link', { name: 'Χώρος εργασίας' }).click();
  await axe(page, 'staff area');
  await page.getByRole('link', { name: 'Ταυτοποίηση πολιτών' }).click();
  await page.getByLabel('ΑΦΜ').fill('100000015');
  await page.getByRole('button', { name: 'Αναζήτηση' }).click();
  await page.waitForURL((u) => u.search.includes('100000015'));
  await axe(page, 'verification desk');
  await shot(page, 'staff-verify');
  await page.getByRole('button', { name: 'Αποσύνδεση', exact: true }).click();
  await page.waitForURL((u) => u.pathname === '/');
  await signIn('Δημήτρης Βασιλείου');
  await page.getByRole('link', { name: 'Χώρος εργασίας' }).click();
  await page.getByRole('link', { name: 'Ρόλοι και δικαιώματα' }).click();
  await seen(page.getByRole('heading', { name: 'Ποιος έχει ποιον ρόλο' }), 'grants listed');
  await axe(page, 'roles and permissions');
  await shot(page, 'admin-access');
});

await check('a case goes from the citizen to the staff agenda and back', async (page) => {
  const signIn = async (who) => {
    await page.goto(url('alimos.localhost', '/auth/login?next=/'));
    await page.getByRole('button', { name: `Σύνδεση ως ${who}` }).click();
    await page.waitForURL((u) => u.hostname === 'alimos.localhost' && !u.pathname.startsWith('/auth'));
  };
  const signOut = async () => {
    await page.getByRole('button', { name: 'Αποσύνδεση', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/');
  };
  await signIn('Μαρία Παπαδοπούλου');
  await page.goto(url('alimos.localhost', '/example/requests/new'));
  await axe(page, 'application form');
  await page.getByRole('button', { name: 'Υποβολή αίτησης' }).click();
  await seen(page.locator('.govgr-error-summary'), 'empty form refused with a summary');
  await page.getByLabel('Τίτλος ανακοίνωσης').fill('Εθελοντικός καθαρισμός παραλίας');
  await page.getByLabel('Κείμενο ανακοίνωσης').fill('Το Σάββατο στις 10:00.');
  await page.getByRole('button', { name: 'Υποβολή αίτησης' }).click();
  await page.waitForURL((u) => u.pathname.startsWith('/cases/'));
  await seen(page.getByText('Η αίτησή σας υποβλήθηκε'), 'confirmation with protocol number');
  await shot(page, 'case-submitted');
  await axe(page, 'case page (submitted)');
  await page.getByRole('link', { name: 'Οι αιτήσεις μου' }).first().click();
  await seen(page.getByRole('heading', { name: 'Οι αιτήσεις μου' }), 'my applications');
  await axe(page, 'my applications');
  await signOut();

  await signIn('Νίκος Κωνσταντίνου');
  await page.goto(url('alimos.localhost', '/staff/agenda?queue=available'));
  await axe(page, 'agenda (available)');
  await page.getByRole('button', { name: /^Ανάληψη/ }).first().click();
  await page.waitForURL((u) => u.pathname.startsWith('/staff/cases/'));
  await shot(page, 'staff-case');
  await axe(page, 'staff case file with task form');
  await page.getByRole('button', { name: 'Ολοκλήρωση εργασίας' }).click();
  await seen(page.locator('.govgr-error-summary'), 'task form errors shown');
  await axe(page, 'task form with errors');
  await page.getByLabel('Εκτίμηση').fill('Λείπει η ώρα λήξης');
  await page.getByLabel('Ζήτηση συμπληρωματικών στοιχείων').check();
  await page.getByLabel('Σχόλιο', { exact: true }).fill('Πόση ώρα θα διαρκέσει;');
  await page.getByRole('button', { name: 'Ολοκλήρωση εργασίας' }).click();
  await page.waitForURL((u) => u.pathname === '/staff/agenda');
  await signOut();

  await signIn('Μαρία Παπαδοπούλου');
  await page.goto(url('alimos.localhost', '/cases'));
  await page.locator('table a').first().click();
  assert((await page.locator('.dimos-quote').textContent()).includes('Πόση ώρα θα διαρκέσει;'), 'the request reaches the citizen');
  await axe(page, 'case page waiting for the citizen');
  await page.getByLabel('Αρχείο', { exact: true }).setInputFiles({
    name: 'πρόγραμμα.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n% programme\n'),
  });
  await page.getByRole('button', { name: 'Υποβολή εγγράφου', exact: true }).click();
  await seen(page.getByText('Το έγγραφο υποβλήθηκε.'), 'document uploaded without JavaScript');
  await seen(page.getByRole('link', { name: 'πρόγραμμα.pdf' }), 'listed on the case');
  await axe(page, 'case page with a document');
  await page.getByLabel('Η απάντησή σας').fill('Δύο ώρες.');
  await page.getByRole('button', { name: 'Αποστολή απάντησης' }).click();
  await seen(page.getByText('Η απάντησή σας στάλθηκε στον δήμο.'), 'answer sent');
  await page.getByRole('link', { name: /Απόδειξη κατάθεσης/ }).click();
  await axe(page, 'receipt');
  await signOut();

  await signIn('Δημήτρης Βασιλείου');
  for (const [path, label] of [['/admin/services', 'services'], ['/admin/services/example.request', 'service settings'],
    ['/staff/reports', 'reports'], ['/staff/protocol', 'protocol book'], ['/staff/cases', 'case search'],
    ['/admin/notifications', 'notification settings'], ['/account', 'account with notification preferences'],
    ['/parking/settings', 'parking settings'], ['/parking/register', 'parking register']]) {
    const res = await page.goto(url('alimos.localhost', path));
    assert(res.status() === 200, `${path}: ${res.status()}`);
    await axe(page, label);
  }
  await shot(page, 'case-search');
});

await check('a document is signed, and anyone verifies it (with a dropped file)', async (page) => {
  const signIn = async (who) => {
    await page.goto(url('alimos.localhost', '/auth/login?next=/'));
    await page.getByRole('button', { name: `Σύνδεση ως ${who}` }).click();
    await page.waitForURL((u) => u.hostname === 'alimos.localhost' && !u.pathname.startsWith('/auth'));
  };
  const signOut = async () => {
    await page.getByRole('button', { name: 'Αποσύνδεση', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/');
  };
  await signIn('Ανδρέας Ιωάννου');
  await signOut();
  await signIn('Δημήτρης Βασιλείου');
  await page.goto(url('alimos.localhost', '/admin/signing'));
  await axe(page, 'signing certificates');
  await page.getByLabel('ΑΦΜ').fill('100000064');
  await page.getByRole('button', { name: 'Έκδοση πιστοποιητικού' }).click();
  await seen(page.getByText('Το πιστοποιητικό εκδόθηκε.'), 'certificate issued');
  await axe(page, 'signing certificates (issued)');
  await shot(page, 'admin-signing');
  await signOut();

  await signIn('Ανδρέας Ιωάννου');
  await page.goto(url('alimos.localhost', '/staff/cases'));
  await page.locator('table a').first().click();
  // The municipality signs only what it issues: staff add their document
  // to the file (what the applicant sent has no sign button).
  await page.getByText('Προσθήκη εγγράφου στον φάκελο').click();
  await page.locator('#f-file').setInputFiles({ name: 'πρόγραμμα.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n% programme\n') });
  await page.getByRole('button', { name: 'Υποβολή εγγράφου' }).click();
  await page.getByRole('button', { name: /^Υπογραφή/ }).first().click();
  await seen(page.getByText('Το έγγραφο υπογράφηκε.'), 'signed');
  await axe(page, 'staff case file with a signature');
  await page.getByRole('link', { name: /^Επαλήθευση/ }).first().click();
  await page.waitForURL((u) => u.pathname.startsWith('/verify/'));
  await axe(page, 'signature verification page');
  // Dropped on the form instead of chosen: the script puts it in the input.
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['%PDF-1.4\n% programme\n'], 'πρόγραμμα.pdf', { type: 'application/pdf' }));
    const form = document.querySelector('form.dimos-upload');
    form.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  assert((await page.locator('.dimos-dropzone').textContent()).includes('πρόγραμμα.pdf'), 'dropped file announced');
  await page.getByRole('button', { name: 'Έλεγχος' }).click();
  await seen(page.getByText('Η υπογραφή είναι έγκυρη και το αρχείο δεν έχει αλλοιωθεί.'), 'verified');
  await axe(page, 'signature verification result');
  await shot(page, 'verify-result');
  await page.goto(url('alimos.localhost', '/verify?ref=12'));
  await seen(page.locator('.govgr-error-message'), 'a short code is refused');
  await axe(page, 'verification look-up with an error');
  await signOut();
});

await check('a citizen applies for a disabled parking space; the technical service checks it', async (page) => {
  const signIn = async (who) => {
    await page.goto(url('alimos.localhost', '/auth/login?next=/'));
    await page.getByRole('button', { name: `Σύνδεση ως ${who}` }).click();
    await page.waitForURL((u) => u.hostname === 'alimos.localhost' && !u.pathname.startsWith('/auth'));
  };
  const signOut = async () => {
    await page.getByRole('button', { name: 'Αποσύνδεση', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/');
  };
  await signIn('Γιώργος Νικολάου');
  await page.goto(url('alimos.localhost', '/parking'));
  await axe(page, 'parking service page');
  await page.getByRole('link', { name: 'Υποβολή αίτησης' }).click();
  await page.waitForURL((u) => u.pathname === '/parking/apply');
  await axe(page, 'parking application, step 1');
  // One question page at a time, as gov.gr asks long forms.
  await page.getByLabel('Κινητό τηλέφωνο').fill('210 9892000');
  if (!(await page.getByLabel('Ηλεκτρονικό ταχυδρομείο').inputValue())) await page.getByLabel('Ηλεκτρονικό ταχυδρομείο').fill('giorgos@example.gr');
  await page.getByRole('button', { name: 'Συνέχεια' }).click();
  await seen(page.locator('.govgr-error-summary'), 'errors summarised');
  await seen(page.getByText('Δώστε ελληνικό κινητό').first(), 'the mobile explained');
  assert((await page.title()).startsWith('Σφάλμα:'), `the title says there is an error: ${await page.title()}`);
  await axe(page, 'parking application step with errors');
  await page.getByLabel('Κινητό τηλέφωνο').fill('69 1234 5678');
  await page.getByRole('button', { name: 'Συνέχεια' }).click();
  await page.waitForURL((u) => u.pathname === '/parking/apply/space');
  await page.getByLabel('Θέση στάθμευσης (διεύθυνση)').fill('Αριστοτέλους 53, Άλιμος');
  await page.getByLabel('Αριθμός κυκλοφορίας οχήματος').fill('ΓΔ-1');
  await page.getByRole('button', { name: 'Συνέχεια' }).click();
  await seen(page.getByText('Δώστε αριθμό κυκλοφορίας').first(), 'the plate explained');
  await page.getByLabel('Αριθμός κυκλοφορίας οχήματος').fill('iky 1234');
  await page.getByRole('button', { name: 'Συνέχεια' }).click();
  await page.waitForURL((u) => u.pathname === '/parking/apply/delivery');
  await axe(page, 'parking application, delivery');
  await page.getByLabel('Από το δημαρχείο').check();
  await page.getByRole('button', { name: 'Συνέχεια' }).click();
  await page.waitForURL((u) => u.pathname === '/parking/apply/check');
  await axe(page, 'parking application, check your answers');
  await shot(page, 'parking-check-answers');
  // Changing an answer returns to the check page.
  await page.getByRole('link', { name: 'Αλλαγή Θέση στάθμευσης (διεύθυνση)' }).click();
  await page.getByLabel('Θέση στάθμευσης (διεύθυνση)').fill('Αριστοτέλους 55, Άλιμος');
  await page.getByRole('button', { name: 'Συνέχεια' }).click();
  await page.waitForURL((u) => u.pathname === '/parking/apply/check');
  await seen(page.getByText('Αριστοτέλους 55, Άλιμος'), 'the changed answer');
  await page.getByLabel(/^Γνωμάτευση ΚΕΠΑ/).setInputFiles({
    name: 'kepa.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n% kepa\n'),
  });
  await page.getByRole('button', { name: 'Υποβολή αίτησης' }).click();
  await page.waitForURL((u) => u.pathname.startsWith('/cases/'));
  await seen(page.getByText('Η αίτησή σας υποβλήθηκε'), 'submitted with a protocol number');
  await seen(page.getByRole('link', { name: 'kepa.pdf' }), 'the document sent with the form');
  await axe(page, 'parking case page (submitted)');
  await shot(page, 'parking-submitted');
  await page.goto(url('alimos.localhost', '/parking/permits'));
  await axe(page, 'my parking permits');
  await signOut();

  await signIn('Νίκος Κωνσταντίνου');
  await page.goto(url('alimos.localhost', '/staff/agenda?queue=available'));
  await page.locator('tr', { hasText: 'ΙΚΥ-1234' }).getByRole('button', { name: /^Ανάληψη/ }).click();
  await page.waitForURL((u) => u.pathname.startsWith('/staff/cases/'));
  await seen(page.getByText('Αναπηρία κάτω άκρων 67% και άνω'), 'the eligibility helper');
  await axe(page, 'parking document check');
  await shot(page, 'parking-check');
  await page.getByLabel('Αναπηρία κάτω άκρων 67% και άνω').check();
  await page.getByLabel('Ο φάκελος είναι πλήρης').check();
  await page.getByRole('button', { name: 'Ολοκλήρωση εργασίας' }).click();
  await page.waitForURL((u) => u.pathname === '/staff/agenda');
  await axe(page, 'agenda after the check');
  await signOut();
});

await check('the nursery department sets up a school year; parents read the points table', async (page) => {
  await page.goto(url('alimos.localhost', '/auth/login?next=/'));
  await page.getByRole('button', { name: 'Σύνδεση ως Δημήτρης Βασιλείου' }).click();
  await page.waitForURL((u) => u.hostname === 'alimos.localhost' && !u.pathname.startsWith('/auth'));
  await page.getByRole('link', { name: 'Χώρος εργασίας' }).click();
  await page.getByRole('link', { name: 'Παιδικοί σταθμοί: σταθμοί και σχολικές χρονιές' }).click();
  await page.waitForURL((u) => u.pathname === '/nurseries/admin');
  await axe(page, 'nurseries admin (empty)');
  await page.getByLabel('Όνομα σταθμού').fill('Α΄ Παιδικός Σταθμός');
  await page.getByLabel('Διεύθυνση', { exact: true }).fill('Κύπρου 10, Άλιμος');
  await page.getByRole('button', { name: 'Προσθήκη σταθμού' }).click();
  await page.waitForURL((u) => u.search.includes('station-added'));
  await page.getByRole('link', { name: 'Προσθήκη σχολικής χρονιάς' }).click();
  await page.waitForURL((u) => u.pathname === '/nurseries/admin/years/new');
  await page.getByLabel('Σχολική χρονιά', { exact: true }).fill('2027-2028');
  await fillDate(page, 'Έναρξη αιτήσεων', '2027-05-20');
  await fillDate(page, 'Λήξη αιτήσεων', '2027-05-01');
  await fillDate(page, 'Ανακοίνωση αποτελεσμάτων', '2027-07-01');
  await fillDate(page, 'Ενστάσεις έως', '2027-07-10');
  await fillDate(page, 'Έναρξη σχολικής χρονιάς', '2027-09-01');
  await page.getByLabel('Ημέρες για αποδοχή θέσης').fill('10');
  await page.getByRole('button', { name: 'Προσθήκη σχολικής χρονιάς' }).click();
  await seen(page.locator('.govgr-error-summary'), 'the date order explained');
  await axe(page, 'nurseries admin with errors');
  await fillDate(page, 'Λήξη αιτήσεων', '2027-06-15');
  await page.getByRole('button', { name: 'Προσθήκη σχολικής χρονιάς' }).click();
  await page.waitForURL((u) => u.pathname.startsWith('/nurseries/admin/years/'));
  await axe(page, 'school year with its places');
  await page.getByLabel('Α΄ Παιδικός Σταθμός, Βρεφικό (6 μηνών – 2,5 ετών): θέσεις').fill('12');
  await page.getByLabel('Α΄ Παιδικός Σταθμός, Βρεφικό (6 μηνών – 2,5 ετών): δεσμευμένες').fill('2');
  await page.getByRole('button', { name: 'Αποθήκευση θέσεων' }).click();
  await page.waitForURL((u) => u.search.includes('places-saved'));
  await page.goto(url('alimos.localhost', '/nurseries'));
  const station = page.locator('tr', { hasText: 'Α΄ Παιδικός Σταθμός' });
  await seen(station.getByRole('cell', { name: '10', exact: true }), '12 places less 2 reserved');
  await axe(page, 'nurseries service page');
  await shot(page, 'nurseries-service');
});

await check('a parent applies for a nursery place, saves a draft, fixes errors and reads the points', async (page) => {
  const signIn = async (who, opener) => {
    await page.goto(url('alimos.localhost', '/auth/login?next=/'));
    if (opener) await page.getByText(opener).click();
    await page.getByRole('button', { name: `Σύνδεση ως ${who}` }).click();
    await page.waitForURL((u) => u.hostname === 'alimos.localhost' && !u.pathname.startsWith('/auth'));
  };
  const signOut = async () => {
    await page.getByRole('button', { name: 'Αποσύνδεση', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/');
  };
  const iso = (d) => d.toISOString().slice(0, 10);
  const day = (n) => { const d = new Date(); d.setUTCDate(d.getUTCDate() + n); return d; };
  const starts = day(90);
  const y = new Date().getUTCFullYear();
  // The nursery department opens a school year today.
  await signIn('Δημήτρης Βασιλείου');
  await page.goto(url('alimos.localhost', '/nurseries/admin'));
  await page.getByLabel('Όνομα σταθμού').fill('Β΄ Παιδικός Σταθμός');
  await page.getByLabel('Διεύθυνση', { exact: true }).fill('Θουκυδίδου 5, Άλιμος');
  await page.getByRole('button', { name: 'Προσθήκη σταθμού' }).click();
  await page.waitForURL((u) => u.search.includes('station-added'));
  await axe(page, 'nurseries admin with stations');
  await page.getByRole('link', { name: 'Προσθήκη σχολικής χρονιάς' }).click();
  await page.waitForURL((u) => u.pathname === '/nurseries/admin/years/new');
  await page.getByLabel('Σχολική χρονιά', { exact: true }).fill(`${y}-${y + 1}`);
  await fillDate(page, 'Έναρξη αιτήσεων', iso(day(-1)));
  await fillDate(page, 'Λήξη αιτήσεων', iso(day(20)));
  await fillDate(page, 'Ανακοίνωση αποτελεσμάτων', iso(day(30)));
  await fillDate(page, 'Ενστάσεις έως', iso(day(40)));
  await fillDate(page, 'Έναρξη σχολικής χρονιάς', iso(starts));
  await page.getByLabel('Ημέρες για αποδοχή θέσης').fill('10');
  await page.getByRole('button', { name: 'Προσθήκη σχολικής χρονιάς' }).click();
  await page.waitForURL((u) => u.pathname.startsWith('/nurseries/admin/years/'));
  await page.getByLabel('Β΄ Παιδικός Σταθμός, Βρεφικό (6 μηνών – 2,5 ετών): θέσεις').fill('10');
  await page.getByRole('button', { name: 'Αποθήκευση θέσεων' }).click();
  await page.waitForURL((u) => u.search.includes('places-saved'));
  await signOut();

  await signIn('Αλέξανδρος Αθανασίου', /γονείς επίδειξης/);
  await page.goto(url('alimos.localhost', '/nurseries'));
  await page.getByRole('link', { name: 'Υποβολή αίτησης' }).click();
  await page.waitForURL((u) => u.pathname === '/nurseries/apply');
  await axe(page, 'nursery application form');
  await page.getByLabel('Παιδί 1: ονοματεπώνυμο').fill('Μάριος Αθανασίου');
  await page.getByRole('button', { name: 'Αποθήκευση πρόχειρου' }).click();
  await page.waitForURL((u) => u.search.includes('saved'));
  await seen(page.getByText('Το πρόχειρο αποθηκεύτηκε'), 'draft saved');
  assert((await page.getByLabel('Παιδί 1: ονοματεπώνυμο').inputValue()) === 'Μάριος Αθανασίου', 'draft kept');
  await page.getByRole('button', { name: 'Υποβολή αίτησης' }).click();
  await seen(page.locator('.govgr-error-summary'), 'errors summarised');
  await axe(page, 'nursery application form with errors');
  const born = new Date(starts); born.setUTCMonth(born.getUTCMonth() - 14);
  await page.getByLabel('Παιδί 1: ημερομηνία γέννησης').fill(iso(born));
  await page.getByLabel('Κινητό τηλέφωνο').fill('69 0000 1001');
  if (!(await page.getByLabel('Ηλεκτρονικό ταχυδρομείο').inputValue())) await page.getByLabel('Ηλεκτρονικό ταχυδρομείο').fill('parent01@example.gr');
  await page.getByLabel('Παιδιά της οικογένειας').fill('1');
  await page.getByLabel('Ετήσιο οικογενειακό εισόδημα (€)').fill('15000');
  await page.getByLabel(/^Δημότης/).check();
  await page.getByLabel(/^Εργαζόμενη μητέρα/).check();
  await page.getByLabel('Επιλογή 1').selectOption({ label: 'Β΄ Παιδικός Σταθμός' });
  await page.getByLabel(/^Βεβαίωση εργασίας της μητέρας/).setInputFiles({
    name: 'ergasia.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n% work\n'),
  });
  await page.getByRole('button', { name: 'Υποβολή αίτησης' }).click();
  await page.waitForURL((u) => u.pathname.startsWith('/nurseries/applications/'));
  await seen(page.getByText('Η αίτησή σας υποβλήθηκε'), 'submitted');
  await seen(page.getByText('Τα μόριά σας: 120'), 'points line by line');
  await axe(page, 'nursery application page');
  await shot(page, 'nursery-application');
  await signOut();

  // The nursery manager checks it: a rejected line needs its reason.
  await signIn('Σοφία Αντωνίου');
  await page.goto(url('alimos.localhost', '/staff/agenda?queue=available'));
  await page.locator('tr', { hasText: 'Μάριος Αθανασίου' }).getByRole('button', { name: /^Ανάληψη/ }).click();
  await page.waitForURL((u) => u.pathname.startsWith('/staff/cases/'));
  await page.getByRole('link', { name: 'Έλεγχος κριτηρίων' }).click();
  await page.waitForURL((u) => u.pathname.endsWith('/review'));
  await axe(page, 'nursery application check');
  await page.locator('#f-review-resident-accepted').check();
  await page.locator('#f-review-working-mother-rejected').check();
  await page.locator('#f-review-income-accepted').check();
  await page.getByRole('button', { name: 'Ολοκλήρωση ελέγχου' }).click();
  await seen(page.locator('.govgr-error-summary'), 'the reason is asked for');
  await axe(page, 'nursery application check with errors');
  await page.locator('#f-reason-working-mother').fill('Η βεβαίωση εργασίας λείπει');
  await page.getByRole('button', { name: 'Ολοκλήρωση ελέγχου' }).click();
  await page.waitForURL((u) => u.pathname.startsWith('/staff/cases/'));
  await signOut();

  // The municipal admin's points table.
  await signIn('Δημήτρης Βασιλείου');
  await page.goto(url('alimos.localhost', '/nurseries/settings'));
  await axe(page, 'nurseries settings');
  await page.getByRole('link', { name: /^Αλλαγή/ }).first().click();
  await axe(page, 'a nursery criterion');
  await page.getByLabel('Μόρια').fill('πενήντα');
  await page.getByRole('button', { name: 'Αποθήκευση' }).click();
  await seen(page.locator('.govgr-error-summary'), 'errors on their inputs');
  await axe(page, 'a nursery criterion with errors');
  await page.getByLabel('Μόρια').fill('55');
  await page.getByRole('button', { name: 'Αποθήκευση' }).click();
  await page.waitForURL((u) => u.search.includes('done=changed'));
  await page.getByRole('link', { name: /^Αλλαγή εισοδηματικών/ }).click();
  await axe(page, 'nurseries settings, all in one form');
  await signOut();
});

await check('bulky waste: the department imports the streets, a citizen asks on a phone, the crew closes it', async (page) => {
  const signIn = async (who) => {
    await page.goto(url('alimos.localhost', '/auth/login?next=/'));
    await page.getByRole('button', { name: `Σύνδεση ως ${who}` }).click();
    await page.waitForURL((u) => u.hostname === 'alimos.localhost' && !u.pathname.startsWith('/auth'));
  };
  // On a phone the account links sit in the header's menu.
  const openMenu = async () => {
    const menu = page.locator('details.dimos-nav-narrow');
    if (await menu.isVisible() && !(await menu.evaluate((d) => d.open))) await menu.locator('summary').click();
  };
  const headerLink = async (name) => {
    await openMenu();
    await page.getByRole('banner').getByRole('link', { name }).click();
  };
  const signOut = async () => {
    await openMenu();
    await page.getByRole('button', { name: 'Αποσύνδεση', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/');
  };
  const narrow = async (label) => {
    const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(wide <= 0, `${label} scrolls sideways by ${wide} px on a phone`);
  };
  await signIn('Παναγιώτης Σταυρόπουλος');
  await headerLink('Χώρος εργασίας');
  await page.getByRole('link', { name: 'Αποκομιδές ογκωδών: ημέρες' }).click();
  await seen(page.getByRole('heading', { name: 'Αποκομιδές ογκωδών: ημέρες' }), 'the days');
  await axe(page, 'bulky days');
  await page.getByRole('link', { name: 'Εισαγωγή καταλόγου οδών' }).click();
  await axe(page, 'bulky street import');
  const csv = readFileSync(new URL('../../modules/bulky/data/alimos-streets.csv', import.meta.url), 'utf8');
  await page.getByLabel('Ο κατάλογος σε μορφή CSV').fill(csv);
  await page.getByRole('button', { name: 'Αντικατάσταση καταλόγου' }).click();
  await seen(page.getByText('Ο κατάλογος έχει 12 οδούς.'), 'the list imported');
  // The municipality's own tile server (here on loopback): a map on the
  // address step, its tiles allowed by that page's CSP alone.
  const tile = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
  let tilesServed = 0;
  const tiles = createServer((req, res) => {
    tilesServed += 1;
    res.writeHead(200, { 'content-type': 'image/png' });
    res.end(tile);
  });
  await new Promise((ok) => tiles.listen(0, '127.0.0.1', ok));
  const tilePort = tiles.address().port;
  await page.getByRole('link', { name: /^Ρυθμίσεις \(περιοχές/ }).click();
  await page.getByLabel('Διεύθυνση πλακιδίων').fill(`http://127.0.0.1:${tilePort}/{z}/{x}/{y}.png`);
  await page.getByLabel(/^Αναφορά πηγής/).fill('Δοκιμαστικά πλακίδια');
  await page.getByLabel('Κέντρο: γεωγρ. πλάτος').fill('37.9106');
  await page.getByLabel('Κέντρο: γεωγρ. μήκος').fill('23.7083');
  await page.getByLabel('Εστίαση', { exact: true }).fill('16');
  await page.getByRole('button', { name: 'Αποθήκευση', exact: true }).click();
  await seen(page.getByText('Οι ρυθμίσεις αποθηκεύτηκαν'), 'the map saved');
  await signOut();

  // An unverified citizen is enough for this service.
  await signIn('Μαρία Παπαδοπούλου');
  await page.goto(url('alimos.localhost'));
  await page.getByRole('link', { name: /Αποκομιδή ογκωδών/ }).first().click();
  await seen(page.getByRole('heading', { name: 'Αποκομιδή ογκωδών αντικειμένων' }), 'the service page');
  await axe(page, 'bulky service page');
  await narrow('bulky service page');
  const cspErrors = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });
  await page.getByRole('link', { name: 'Αίτηση αποκομιδής' }).click();
  await seen(page.locator('#f-map .leaflet-tile-loaded').first(), 'the map\'s tiles');
  // By keyboard first (focus, Enter: the pin at the centre), then a press.
  await page.locator('#f-map').focus();
  await page.keyboard.press('Enter');
  await seen(page.getByText('Επιλέξατε σημείο: 37.910600, 23.708300'), 'the pin by keyboard');
  await page.locator('#f-map').click({ position: { x: 250, y: 200 } });
  await page.waitForFunction(() => document.getElementById('f-lat').value !== '37.910600', null, { timeout: 20000 });
  assert(await page.locator('#f-lat').inputValue() !== '', 'the pin fills the form');
  assert(tilesServed > 0, 'tiles came from the municipality\'s server');
  assert(cspErrors.length === 0, `CSP: ${cspErrors.join('; ')}`);
  await shot(page, 'bulky-address-map-phone');
  await axe(page, 'bulky address');
  await page.getByLabel('Οδός', { exact: true }).fill('ποσειδ');
  await page.getByLabel('Αριθμός', { exact: true }).fill('12');
  await page.getByRole('button', { name: 'Συνέχεια' }).click();
  await seen(page.getByText(/μήπως εννοείτε: Λεωφόρος Ποσειδώνος/).first(), 'the near street offered');
  await axe(page, 'bulky address with errors');
  await page.getByLabel('Οδός', { exact: true }).fill('λεωφορος ποσειδωνος');
  await page.getByRole('button', { name: 'Συνέχεια' }).click();
  await seen(page.getByRole('heading', { name: 'Τι και πότε' }), 'step 2');
  await seen(page.getByText('Λεωφόρος Ποσειδώνος 12, 17455'), 'the address found');
  assert(await page.locator('input[name="lat"]').inputValue() !== '', 'the pin goes on to step 2');
  await axe(page, 'bulky items and day');
  await narrow('bulky items and day');
  await shot(page, 'bulky-request-phone');
  await page.getByLabel('Στρώμα', { exact: true }).fill('2');
  await page.getByLabel(/^Κλαδέματα πάνω από ένα κυβικό μέτρο/).fill('1');
  await page.getByLabel('Τηλέφωνο επικοινωνίας').fill('69 1234 5678');
  await page.getByRole('button', { name: 'Υποβολή αίτησης' }).click();
  await page.waitForURL((u) => u.pathname.startsWith('/cases/'));
  await seen(page.getByText(/2 × Στρώμα/).first(), 'what was asked, on the case page');
  await seen(page.getByText(/Η αποκομιδή ορίστηκε για τις/), 'the day in the history');
  await axe(page, 'bulky request page');
  await narrow('bulky request page');
  // The fee, paid at the (development) bank: the pay form's redirect to
  // another origin and the bank's redirect back pass the browser's CSP.
  const casePath = new URL(page.url()).pathname;
  await page.getByRole('button', { name: 'Πληρωμή 20,00 € με κάρτα' }).click();
  await page.waitForURL((u) => u.pathname.startsWith('/dev-pay/checkout/'));
  await seen(page.getByRole('heading', { name: 'Τράπεζα δοκιμών' }), 'the bank');
  await axe(page, 'development bank');
  await narrow('development bank');
  await page.getByRole('button', { name: 'Πληρωμή 20,00 €', exact: true }).click();
  await page.waitForURL((u) => u.hostname === 'alimos.localhost' && u.pathname === casePath && u.search.includes('done=paid'));
  await seen(page.getByText('Η πληρωμή καταχωρίστηκε.'), 'paid');
  await seen(page.getByText('Πληρώθηκαν 20,00 €'), 'the payment in the history');
  await signOut();

  // The crew walks to the day and closes the stop.
  await signIn('Βασίλης Μιχαηλίδης');
  await headerLink('Χώρος εργασίας');
  await page.getByRole('link', { name: 'Δρομολόγιο συνεργείου' }).click();
  await seen(page.getByRole('heading', { name: /Δρομολόγιο συνεργείου/ }), 'the crew page');
  for (let i = 0; i < 30 && !(await page.locator('strong', { hasText: 'Λεωφόρος Ποσειδώνος 12, 17455' }).isVisible()); i += 1) {
    const was = page.url();
    await page.getByRole('link', { name: 'Επόμενη ημέρα' }).click();
    await page.waitForURL((u) => u.href !== was);
  }
  await axe(page, 'bulky crew route');
  await narrow('bulky crew route');
  await shot(page, 'bulky-crew-phone');
  await page.getByRole('button', { name: /^Συλλέχθηκαν/ }).click();
  await seen(page.getByText('Καταγράφηκε· ο πολίτης ενημερώθηκε.'), 'recorded');
  await axe(page, 'bulky crew route after a stop');
  tiles.close();
}, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });

await browser.close();
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
