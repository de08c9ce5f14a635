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

module.exports = { demoSignIn };
