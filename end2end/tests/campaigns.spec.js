// Campaigns: add with simple defaults, search, filter, pages that never overlap, each
// agency client apart, plain-words form errors.
const { test, expect } = require('@playwright/test');
const { demoSignIn } = require('./helpers');

const stamp = Date.now().toString(36);


test('an SME adds a campaign, finds it by search and status', async ({ browser }) => {
  const { context, page } = await demoSignIn(browser, 'nora@northwind.example');
  await page.getByRole('link', { name: 'Campaigns' }).click();
  await expect(page).toHaveURL(/\/campaigns$/);
  const name = `Spring Roast ${stamp}`;
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Objective').fill('Launch the spring single origin');
  await page.getByLabel('Budget').fill('1,500.50');
  await page.getByRole('button', { name: 'Add campaign' }).click();
  const row = page.locator(`tr[data-campaign="${name}"]`);
  await expect(row).toBeVisible();
  await expect(row).toContainText('draft');
  await expect(row).toContainText('1500.50');
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue('');

  await page.getByLabel('Search').fill(`roast ${stamp}`);
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/q=roast/);
  await expect(page.locator('table.campaigns tbody tr')).toHaveCount(1);
  await page.getByLabel('Status').selectOption('active');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page.locator('.empty')).toContainText('No campaigns match');
  await page.screenshot({ path: 'screenshots/campaigns-empty-filter.png', fullPage: true });

  await page.getByLabel('Name', { exact: true }).fill('Bad budget');
  await page.getByLabel('Budget').fill('lots');
  await page.getByRole('button', { name: 'Add campaign' }).click();
  await expect(page.getByRole('alert')).toContainText('write the budget as a number');
  await context.close();
});

test('pages never overlap and each agency client keeps its own campaigns', async ({ browser }) => {
  const { context, page } = await demoSignIn(browser, 'ben@brightside.example');
  await page.goto('/clients/acme-outdoors/campaigns');
  const tag = `pg${stamp}`;
  for (let i = 0; i < 27; i++) {
    const ok = await page.evaluate(async ({ name }) => {
      const r = await fetch('/api/add_campaign', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client: 'acme-outdoors', name, objective: '', budget: '', starts_on: '', ends_on: '' }),
      });
      return r.ok;
    }, { name: `${tag} ${String(i).padStart(2, '0')}` });
    expect(ok).toBe(true);
  }
  await page.goto(`/clients/acme-outdoors/campaigns?q=${tag}&sort=name`);
  const names = async () => page.locator('table.campaigns tbody tr td:first-child').allTextContents();
  const first = await names();
  expect(first).toHaveLength(25);
  await page.getByRole('link', { name: 'Next →' }).click();
  await expect(page).toHaveURL(/page=2/);
  await expect(page.locator('table.campaigns tbody tr')).toHaveCount(2);
  const second = await names();
  expect(new Set([...first, ...second]).size).toBe(27);
  await expect(page.getByText('Page 2 of 2')).toBeVisible();
  await page.screenshot({ path: 'screenshots/campaigns-page-2.png', fullPage: true });

  await page.goto(`/clients/blue-harbor-bank/campaigns?q=${tag}`);
  await expect(page.getByTestId('scope-name')).toHaveText('Blue Harbor Bank');
  await expect(page.locator('.empty')).toContainText('No campaigns match');
  await context.close();
});
