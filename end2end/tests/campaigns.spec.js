// Campaigns: add with simple defaults, search, filter, pages that never overlap, each
// agency client apart, plain-words form errors.
const { test, expect } = require('@playwright/test');
const { demoSignIn, hydrated, seriousViolations } = require('./helpers');

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
  expect(await seriousViolations(page)).toEqual([]);
  await page.getByLabel('Status').selectOption('active');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page.locator('.empty')).toContainText('No campaigns match');
  await page.screenshot({ path: 'screenshots/campaigns-empty-filter.png', fullPage: true });
  await hydrated(page); // the filters are a plain form: a new page

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

test('a campaign page holds its outputs; edits and deletes stay in the campaign', async ({ browser }) => {
  const { context, page } = await demoSignIn(browser, 'ben@brightside.example');
  await page.goto('/clients/acme-outdoors/campaigns');
  const name = `Trail Week ${stamp}`;
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByRole('button', { name: 'Add campaign' }).click();
  await page.locator(`tr[data-campaign="${name}"]`).getByRole('link', { name }).click();
  await expect(page).toHaveURL(/\/clients\/acme-outdoors\/campaigns\/[0-9a-f-]{36}$/);
  const campaignUrl = page.url();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(name);
  await expect(page.locator('.empty')).toContainText('No outputs yet');

  await page.getByLabel('Channel', { exact: true }).fill('email');
  await page.getByLabel('Headline').fill('Your trail, your week');
  await page.getByLabel('Text').fill('Seven days of guided hikes.');
  await page.getByRole('button', { name: 'Save output' }).click();
  const card = page.locator('li[data-output="Your trail, your week"]');
  await expect(card).toBeVisible();
  await expect(card).toContainText('draft');

  await card.getByRole('link', { name: 'Edit' }).click();
  await expect(page.getByRole('heading', { name: 'Edit output' })).toBeVisible();
  await page.getByLabel('Status', { exact: true }).first().selectOption('approved');
  await page.getByRole('button', { name: 'Save output' }).click();
  await expect(page.locator('li[data-output="Your trail, your week"]')).toContainText('approved');
  await expect(page.getByRole('heading', { name: /^Outputs \(1\)$/ })).toBeVisible();

  await page.getByLabel('Channel mix').fill('email, Instagram');
  await page.locator('#campaign-status').selectOption('active');
  await page.getByLabel('Owner').selectOption({ label: 'Ben Carter' });
  await page.getByRole('button', { name: 'Save campaign' }).click();
  await expect(page.locator('dl.summary')).toContainText('email, Instagram');
  await expect(page.locator('dl.summary')).toContainText('Ben Carter');
  expect(await seriousViolations(page)).toEqual([]);
  await expect(page.locator('.scope .status')).toHaveText('active');
  await page.screenshot({ path: 'screenshots/campaign-detail.png', fullPage: true });

  // Another client's URL with this campaign's id finds nothing there.
  await page.goto(campaignUrl.replace('acme-outdoors', 'blue-harbor-bank'));
  await expect(page.getByRole('alert')).toContainText('That campaign is not here');

  await page.goto(campaignUrl);
  await page.getByRole('button', { name: `Delete the email output Your trail, your week` }).click();
  await expect(page.locator('.empty')).toContainText('No outputs yet');
  await page.getByRole('button', { name: `Delete the campaign ${name}` }).click();
  await expect(page).toHaveURL(/\/clients\/acme-outdoors\/campaigns$/);
  await expect(page.locator(`tr[data-campaign="${name}"]`)).toHaveCount(0);
  await context.close();
});
