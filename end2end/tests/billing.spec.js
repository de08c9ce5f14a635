// Billing against the Stripe stand-in (end2end/stripe/, started by scripts/test): a new
// organization on Free meets the seat limit with a way to lift it, chooses a plan, pays
// on the stand-in's Checkout page, and /billing shows the plan once Stripe's webhook has
// been processed (the return URL proves nothing). Members see the page read-only.
const { test, expect } = require('@playwright/test');
const { demoSignIn, seriousViolations, newPage, oidcSignIn } = require('./helpers');

const shot = (page, name) => page.screenshot({ path: `screenshots/${name}.png`, fullPage: true });
const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
const stripe = process.env.STRIPE_URL;

async function newOrganization(browser, login, name, options) {
  const { context, page } = await newPage(browser, options);
  await oidcSignIn(page, login);
  await expect(page).toHaveURL(/\/welcome$/);
  await page.getByLabel('Organization name').fill(name);
  await page.getByLabel(/SME/).check();
  await page.getByRole('button', { name: 'Create organization' }).click();
  await expect(page).toHaveURL(/\/brand$/);
  return { context, page };
}

async function invite(page, email) {
  await page.getByLabel('Email address').fill(email);
  await page.getByRole('button', { name: 'Send invitation' }).click();
}

test('a Free organization reaches its seat limit, chooses Team, pays on Checkout and gets the seats', async ({ browser }) => {
  test.skip(!stripe, 'STRIPE_URL (the stand-in) is set by scripts/test');
  const { context, page } = await newOrganization(browser, `payer-${stamp}`, `Billing Bakery ${stamp}`);

  // Free: three seats. The owner and two invitations fill them; the third is refused
  // with the way to lift the limit.
  await page.goto('/members');
  await invite(page, `first-${stamp}@example.test`);
  await expect(page.getByTestId('invitation-link')).toBeVisible();
  await invite(page, `second-${stamp}@example.test`);
  await expect(page.getByRole('alert')).toHaveCount(0);
  await invite(page, `third-${stamp}@example.test`);
  const refusal = page.getByRole('alert');
  await expect(refusal).toContainText('All 3 seats');
  await expect(refusal.getByRole('link', { name: 'Go to Billing' })).toBeVisible();
  await shot(page, 'billing-seat-limit');

  await refusal.getByRole('link', { name: 'Go to Billing' }).click();
  await expect(page).toHaveURL(/\/billing$/);
  await expect(page.getByTestId('plan-name')).toHaveText('Free');
  await expect(page.getByTestId('plan-status')).toHaveText('Free');
  const seats = page.getByRole('meter', { name: /Seats/ });
  await expect(seats).toHaveAttribute('value', '3');
  await expect(seats).toHaveAttribute('max', '3');
  expect(await seriousViolations(page)).toEqual([]);
  await shot(page, 'billing-free');

  // Choose Team: Stripe's (the stand-in's) Checkout page, then back.
  await page.getByRole('button', { name: 'Choose Team' }).click();
  await page.waitForURL(url => url.href.startsWith(stripe));
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  await page.getByRole('button', { name: 'Pay and subscribe' }).click();
  await page.waitForURL(/\/billing\?checkout=done$/);
  // The page waits for the webhook's processing, then shows the plan.
  await expect(page.getByTestId('confirmed')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('plan-name')).toHaveText('Team');
  await expect(page.getByTestId('plan-status')).toHaveText('Active');
  await expect(page.getByRole('button', { name: 'Manage billing' })).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);
  await shot(page, 'billing-paid');

  // Per-seat plans have no seat limit: the third invitation goes through.
  await page.goto('/members');
  await invite(page, `third-${stamp}@example.test`);
  await expect(page.getByTestId('invitation-link')).toBeVisible();
  await expect(page.getByRole('alert')).toHaveCount(0);

  // The Portal: change to Business there; the plan follows once Stripe says so.
  await page.goto('/billing');
  await page.getByRole('button', { name: 'Manage billing' }).click();
  await page.waitForURL(url => url.href.startsWith(stripe));
  await page.getByLabel('New plan').selectOption('price_sme_business');
  await page.getByRole('button', { name: /Change plan/ }).click();
  await page.getByRole('link', { name: /Return/ }).click();
  await expect(page).toHaveURL(/\/billing/);
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId('plan-name')).toHaveText('Business', { timeout: 1000 });
  }).toPass({ timeout: 30_000 });
  await context.close();
});

test('without JavaScript, Choose a plan still reaches Checkout (the form may go to Stripe)', async ({ browser }) => {
  test.skip(!stripe, 'STRIPE_URL (the stand-in) is set by scripts/test');
  const { context } = await newOrganization(browser, `nojs-${stamp}`, `Plain Pantry ${stamp}`);
  // The same session in a browser without JavaScript.
  const state = await context.storageState();
  await context.close();
  const off = await browser.newContext({ javaScriptEnabled: false, storageState: state });
  const page = await off.newPage();
  await page.goto('/billing');
  await expect(page.getByTestId('plan-name')).toHaveText('Free');
  await page.getByRole('button', { name: 'Choose Business' }).click();
  await page.waitForURL(url => url.href.startsWith(stripe));
  await expect(page.getByRole('button', { name: 'Pay and subscribe' })).toBeVisible();
  await off.close();
});

test('members see billing read-only', async ({ browser }) => {
  const { context, page } = await demoSignIn(browser, 'sam@northwind.example');
  await page.goto('/billing');
  await expect(page.getByTestId('plan-name')).toHaveText('Business');
  await expect(page.getByTestId('plan-status')).toContainText('Granted');
  await expect(page.getByText('Only owners can change the plan')).toBeVisible();
  await expect(page.getByRole('button', { name: /Choose|Manage billing/ })).toHaveCount(0);
  expect(await seriousViolations(page)).toEqual([]);
  await shot(page, 'billing-member');
  await context.close();
});
