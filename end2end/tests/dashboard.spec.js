// The dashboard of a brand-new workspace leads the user step by step, and its counts
// (computed by the database) follow what they add.
const { test, expect } = require('@playwright/test');
const { newPage, oidcSignIn } = require('./helpers');

const stamp = Date.now().toString(36);

test('a new SME is led from guidelines to personas to a first campaign', async ({ browser }) => {
  const { context, page } = await newPage(browser);
  await oidcSignIn(page, `dash-${stamp}`);
  await page.getByLabel('Organization name').fill(`Dashboard Deli ${stamp}`);
  await page.getByRole('button', { name: 'Create organization' }).click();
  await expect(page).toHaveURL(/\/brand$/);

  await page.getByRole('link', { name: 'Dashboard' }).click();
  const next = page.locator('.next-step');
  await expect(next).toContainText('start with the brand guidelines');
  await expect(page.locator('.attention, .empty').first()).toBeVisible();
  await page.screenshot({ path: 'screenshots/dashboard-new.png', fullPage: true });
  await next.getByRole('link', { name: 'Write brand guidelines' }).click();
  await page.getByLabel('Voice').fill('Friendly deli talk');
  await page.getByRole('button', { name: 'Save guidelines' }).click();
  await expect(page.getByRole('status')).toContainText('Saved');

  await page.goto('/dashboard');
  await expect(next).toContainText('add a persona');
  await next.getByRole('link', { name: 'Add a persona' }).click();
  await page.getByLabel('Name', { exact: true }).fill('Lunchtime Lou');
  await page.getByRole('button', { name: 'Save persona' }).click();
  await expect(page.locator('li.card[data-persona="Lunchtime Lou"]')).toBeVisible();

  await page.goto('/dashboard');
  await expect(next).toContainText('Plan your first campaign');
  await next.getByRole('link', { name: 'Add a campaign' }).click();
  await page.getByLabel('Name', { exact: true }).fill('Soup season');
  await page.getByRole('button', { name: 'Add campaign' }).click();
  await expect(page.locator('tr[data-campaign="Soup season"]')).toBeVisible();

  await page.goto('/dashboard');
  await expect(next).toHaveCount(0);
  const stat = label => page.locator('.stat', { has: page.locator('.label', { hasText: new RegExp(`^${label}$`) }) }).locator('.value');
  await expect(stat('personas')).toHaveText('1');
  await expect(stat('campaigns')).toHaveText('1');
  await expect(stat('active campaigns')).toHaveText('0');
  await expect(page.locator('.attention')).toContainText('1 campaign still in draft');
  await expect(page.locator('.recent')).toContainText('Soup season');
  await page.screenshot({ path: 'screenshots/dashboard-filled.png', fullPage: true });
  await context.close();
});
