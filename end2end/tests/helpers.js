// Shared steps of the end2end tests.
const { expect } = require('@playwright/test');

/** A fresh browser context signed in as a demo account (development only). */
async function demoSignIn(browser, email, options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  await page.goto('/sign-in');
  await page.locator(`button[data-email="${email}"]`).click();
  await expect(page).toHaveURL(/\/brand$/);
  return { context, page };
}

/** axe-core's serious and critical findings on the page as it is now (none expected). */
async function seriousViolations(page) {
  const AxeBuilder = require('@axe-core/playwright').default;
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => ['serious', 'critical'].includes(v.impact))
    .map((v) => `${v.id}: ${v.help} (${v.nodes.length})`);
}

const site = new URL(process.env.BASE_URL || 'http://127.0.0.1:3000').origin;

// The provider's login page pulls a web font from the internet; there is none here.
async function newPage(browser, options = {}) {
  const context = await browser.newContext(options);
  await context.route(/fonts\.(googleapis|gstatic)\.com/, route => route.abort());
  return { context, page: await context.newPage() };
}

/** Signs in through the provider's login and consent screens. */
async function oidcSignIn(page, login, { beforeLogin } = {}) {
  await page.goto('/sign-in');
  await page.getByRole('link', { name: 'Sign in with Test ID' }).click();
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any password');
  if (beforeLogin) await beforeLogin();
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(url => url.origin === site && !url.pathname.startsWith('/auth/'));
}

module.exports = { demoSignIn, seriousViolations, newPage, oidcSignIn };
