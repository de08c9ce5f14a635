// The platform admins' console: a person who signed in is refused /admin until the
// operator grants them from the command line (`enclave admin grant`); then they walk
// every screen (screenshots in end2end/screenshots/, axe on each), replay a webhook
// delivery, and grant an organization an override that its owner sees on /billing.
const { test, expect } = require('@playwright/test');
const { execFileSync } = require('child_process');
const path = require('path');
const Stripe = require('stripe');
const { demoSignIn, hydrated, seriousViolations, newPage, oidcSignIn } = require('./helpers');

const shot = (page, name) => page.screenshot({ path: `screenshots/${name}.png`, fullPage: true });
const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
const enclave = process.env.ENCLAVE_BIN || path.resolve(__dirname, '../../target/debug/enclave');

// The operator's command, against the same database as the server (scripts/test exports
// its URLs).
function operator(...args) {
  return execFileSync(enclave, args, { encoding: 'utf8', env: process.env });
}

// A delivery for a customer no organization has: processing parks it.
async function deliverUnknownCustomerEvent(request) {
  const payload = JSON.stringify({
    id: `evt_admin_${stamp}`, object: 'event', type: 'customer.subscription.updated', api_version: '2023-10-16',
    livemode: false, created: Math.floor(Date.now() / 1000),
    data: { object: { id: `sub_admin${stamp}`, object: 'subscription', customer: `cus_admin${stamp}`, status: 'active' } },
  });
  const header = Stripe('sk_test_unused').webhooks.generateTestHeaderString({ payload, secret: 'whsec_e2e_current' });
  const response = await request.post('/webhooks/stripe', {
    headers: { 'Content-Type': 'application/json', 'Stripe-Signature': header },
    data: payload,
  });
  expect(response.status()).toBe(200);
}

test('an operator grants an admin, who walks the console, replays a delivery and lifts a limit the tenant then sees', async ({ browser, request }) => {
  test.skip(!process.env.DATABASE_URL, 'scripts/test exports the database URLs the operator command needs');
  const login = `ops-${stamp}`;
  const { context, page } = await newPage(browser);
  await oidcSignIn(page, login);

  // Signed in, but not an admin: refused in words.
  await page.goto('/admin');
  await expect(page.getByRole('alert')).toContainText('the admin console is for platform admins');

  expect(operator('admin', 'grant', `${login}@example.test`)).toContain('is a platform admin');
  expect(operator('admin', 'list')).toContain(`${login}@example.test`);

  // Overview.
  await page.goto('/admin');
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
  await expect(page.getByTestId('mrr')).toHaveText(/^\$[\d,]+\.\d\d$/);
  await expect(page.getByRole('navigation', { name: 'Admin console' }).getByRole('link', { name: 'Overview' }))
    .toHaveAttribute('aria-current', 'page');
  expect(await seriousViolations(page)).toEqual([]);
  await shot(page, 'admin-overview');

  // Organizations: search by the start of a name, open one.
  await page.getByRole('navigation', { name: 'Admin console' }).getByRole('link', { name: 'Organizations' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Organizations' })).toBeVisible();
  await page.getByLabel('Search').fill('northwind');
  await page.getByRole('button', { name: 'Show' }).click();
  await expect(page).toHaveURL(/search=northwind/);
  await hydrated(page); // the filters are a plain form: a new page
  const row = page.getByRole('row', { name: /Northwind Coffee/ });
  await expect(row).toBeVisible();
  await expect(row).toContainText('Business');
  expect(await seriousViolations(page)).toEqual([]);
  await shot(page, 'admin-organizations');
  await row.getByRole('link', { name: 'Northwind Coffee' }).click();
  await expect(page.getByRole('heading', { level: 2, name: 'Northwind Coffee' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Timeline' })).toBeVisible();

  // Override: the demo SME's 25 seats become 30; its owner sees it on /billing.
  const form = page.locator('form', { has: page.getByRole('heading', { name: 'Grant an override' }) });
  await form.getByLabel('What').selectOption('seats');
  await form.getByLabel('New value (empty: unlimited)').fill('30');
  await form.getByLabel('Reason').fill('Pilot with a larger team');
  await form.getByRole('button', { name: 'Grant override' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Seats set to 30.' })).toBeVisible();
  await expect(page.locator('.overrides')).toContainText('Pilot with a larger team');
  expect(await seriousViolations(page)).toEqual([]);
  await shot(page, 'admin-organization');

  const nora = await demoSignIn(browser, 'nora@northwind.example');
  await nora.page.goto('/billing');
  await expect(nora.page.getByRole('meter', { name: /Seats/ })).toHaveAttribute('max', '30');
  await shot(nora.page, 'admin-override-on-billing');
  // Ended, the plan's own 25 apply again.
  await page.getByRole('button', { name: 'End the Seats override' }).click();
  await expect(page.getByRole('status').filter({ hasText: "the plan's own limit applies again" })).toBeVisible();
  await nora.page.reload();
  await expect(nora.page.getByRole('meter', { name: /Seats/ })).toHaveAttribute('max', '25');
  await nora.context.close();

  // Webhook deliveries: a parked event, replayed.
  await deliverUnknownCustomerEvent(request);
  await page.goto(`/admin/webhooks`);
  const delivery = page.getByRole('row', { name: new RegExp(`evt_admin_${stamp}`) });
  await expect(delivery).toBeVisible();
  await expect(delivery).toContainText(/received|parked/);
  expect(await seriousViolations(page)).toEqual([]);
  await shot(page, 'admin-webhooks');
  await delivery.getByRole('button', { name: `Replay evt_admin_${stamp}` }).click();
  await expect(page.getByRole('status').filter({ hasText: 'is queued to be processed again' })).toBeVisible();

  // Reconciliation: run now (the worker reconciles against the stand-in).
  await page.getByRole('navigation', { name: 'Admin console' }).getByRole('link', { name: 'Reconciliation' }).click();
  await page.getByRole('button', { name: 'Run now' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'A reconciliation run is queued' })).toBeVisible();
  await expect(async () => {
    await page.reload();
    await expect(page.getByRole('table', { name: 'Reconciliation runs' }).getByRole('row')).not.toHaveCount(1);
  }).toPass({ timeout: 30_000 });
  expect(await seriousViolations(page)).toEqual([]);
  await shot(page, 'admin-reconciliation');

  // Jobs and the audit log, where this admin's own steps are.
  await page.getByRole('navigation', { name: 'Admin console' }).getByRole('link', { name: 'Jobs' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Jobs' })).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);
  await shot(page, 'admin-jobs');
  await page.getByRole('navigation', { name: 'Admin console' }).getByRole('link', { name: 'Audit log' }).click();
  await page.getByLabel('Action contains').fill('override');
  await page.getByRole('button', { name: 'Show' }).click();
  await expect(page.getByRole('row', { name: /set entitlement override/ })).toHaveCount(1);
  expect(await seriousViolations(page)).toEqual([]);
  await shot(page, 'admin-audit');

  // Revoked: refused on the next request.
  expect(operator('admin', 'revoke', `${login}@example.test`)).toContain('no longer a platform admin');
  await page.goto('/admin/organizations');
  await expect(page.getByRole('alert')).toContainText('the admin console is for platform admins');
  await context.close();
});

test('the console works without JavaScript: filters are links and forms', async ({ browser }) => {
  test.skip(!process.env.DATABASE_URL, 'scripts/test exports the database URLs the operator command needs');
  const login = `nojs-${stamp}`;
  const signIn = await newPage(browser);
  await oidcSignIn(signIn.page, login);
  operator('admin', 'grant', `${login}@example.test`);
  const cookies = await signIn.context.cookies();
  await signIn.context.close();
  const { context, page } = await newPage(browser, { javaScriptEnabled: false });
  await context.addCookies(cookies);
  await page.goto('/admin/organizations?kind=agency&sort=newest');
  await expect(page.getByRole('row', { name: /Brightside/ })).toBeVisible();
  await expect(page.getByRole('row', { name: /Northwind/ })).toHaveCount(0);
  await page.getByLabel('Kind').selectOption('sme');
  await page.getByRole('button', { name: 'Show' }).click();
  await expect(page).toHaveURL(/kind=sme/);
  await expect(page.getByRole('row', { name: /Northwind/ })).toBeVisible();
  await context.close();
});
