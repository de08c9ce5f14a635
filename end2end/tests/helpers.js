// Shared steps of the end2end tests.
const base = require('@playwright/test');
const { expect } = base;

const site = new URL(process.env.BASE_URL || 'http://127.0.0.1:3000').origin;

// Pages with JavaScript on whose navigations wait for hydration (`waitForHydration`).
const withJavaScript = new WeakSet();

/**
 * Waits until the app has hydrated the page shown now. `App` sets `data-hydrated` on
 * <html> from an Effect, and Effects run only in the browser, after hydration. Before
 * that, a click on a form submits it natively, the no-JavaScript way (a POST, then a
 * redirect), and the status or alert the test then waits for never shows.
 *
 * `goto` and `reload` of the helpers' pages call it already; call it after a click that
 * loads a new document (a plain form, a provider's redirect back) and before using a
 * form there, once the new page is shown (`toHaveURL`). Nothing to wait for on pages
 * with JavaScript off, or on pages that are not the app's (the provider's, the Stripe
 * stand-in's, a plain refusal page).
 */
async function hydrated(page) {
  if (!withJavaScript.has(page) || new URL(page.url()).origin !== site) return;
  if ((await page.locator('script[type="module"]').count()) === 0) return;
  await page.locator('html[data-hydrated]').waitFor({ state: 'attached', timeout: 30_000 });
}

/**
 * Makes `page.goto` and `page.reload` return once the app has hydrated the page, so a
 * test may use a form as soon as they return. For pages with JavaScript on.
 */
function waitForHydration(page) {
  withJavaScript.add(page);
  const goto = page.goto.bind(page);
  const reload = page.reload.bind(page);
  page.goto = async (...args) => {
    const response = await goto(...args);
    await hydrated(page);
    return response;
  };
  page.reload = async (...args) => {
    const response = await reload(...args);
    await hydrated(page);
    return response;
  };
  return page;
}

/** For tests of what happens before hydration: `page` stops waiting for it. */
function actBeforeHydration(page) {
  withJavaScript.delete(page);
  delete page.goto;
  delete page.reload;
}

/** Playwright's `test`, whose `page` waits for hydration after `goto` and `reload`. */
const test = base.test.extend({
  page: async ({ page }, use) => {
    await use(waitForHydration(page));
  },
});

/** A fresh browser context and page; the page waits for hydration unless JavaScript is off. */
async function freshPage(browser, options) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  if (options.javaScriptEnabled !== false) waitForHydration(page);
  return { context, page };
}

/** A fresh browser context signed in as a demo account (development only). */
async function demoSignIn(browser, email, options = {}) {
  const { context, page } = await freshPage(browser, options);
  await page.goto('/sign-in');
  await page.locator(`button[data-email="${email}"]`).click();
  await expect(page).toHaveURL(/\/brand$/);
  await hydrated(page);
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

// The provider's login page pulls a web font from the internet; there is none here.
async function newPage(browser, options = {}) {
  const { context, page } = await freshPage(browser, options);
  await context.route(/fonts\.(googleapis|gstatic)\.com/, route => route.abort());
  return { context, page };
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
  await hydrated(page);
}

module.exports = {
  test, expect, hydrated, waitForHydration, actBeforeHydration,
  demoSignIn, seriousViolations, newPage, oidcSignIn,
};
