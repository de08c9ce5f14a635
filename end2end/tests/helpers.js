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

module.exports = { demoSignIn, seriousViolations };
