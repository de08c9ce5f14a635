// Demo users sign in and edit brand guidelines, with JavaScript on and off; agency
// staff see only their assigned clients. Screenshots land in end2end/screenshots/.
// `test` from the helpers: its `page` waits for hydration after `goto` and `reload`.
const { test, expect } = require('./helpers');
const AxeBuilder = require('@axe-core/playwright').default;

const shot = (page, name) => page.screenshot({ path: `screenshots/${name}.png`, fullPage: true });

async function signIn(page, email) {
  await page.goto('/sign-in');
  await page.locator(`button[data-email="${email}"]`).click();
  await expect(page).toHaveURL(/\/brand$/);
  await expect(page.getByRole('heading', { name: 'Brand guidelines' })).toBeVisible();
}

async function expectNoSeriousA11yIssues(page) {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter(v => ['serious', 'critical'].includes(v.impact));
  expect(bad.map(v => `${v.id}: ${v.help}`)).toEqual([]);
}

test('SME owner edits brand guidelines and the edit survives a reload (JavaScript on)', async ({ page }) => {
  await signIn(page, 'nora@northwind.example');
  await expect(page.getByTestId('org-name')).toHaveText('Northwind Coffee');
  await expect(page.locator('.env-badge')).toHaveText('development');
  await page.waitForLoadState('networkidle');
  await shot(page, 'sme-brand-before');
  await expectNoSeriousA11yIssues(page);
  const voice = `Warm and local ${Date.now()}`;
  await page.getByLabel('Voice').fill(voice);
  await page.getByRole('button', { name: 'Save guidelines' }).click();
  await expect(page.getByRole('status')).toContainText('Saved (version');
  await page.reload();
  await expect(page.getByLabel('Voice')).toHaveValue(voice);
  await shot(page, 'sme-brand-saved');
});

test('SME member edits brand guidelines with JavaScript disabled', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page, 'sam@northwind.example');
  const tone = `No-JS tone ${Date.now()}`;
  await page.getByLabel('Tone').fill(tone);
  await page.getByRole('button', { name: 'Save guidelines' }).click();
  await page.goto('/brand');
  await expect(page.getByLabel('Tone')).toHaveValue(tone);
  await shot(page, 'sme-brand-no-js');
  await context.close();
});

test('agency staff switch between assigned clients and see each one\'s guidelines', async ({ page }) => {
  await signIn(page, 'ben@brightside.example');
  await page.waitForLoadState('networkidle');
  const menu = page.locator('details.client-menu');
  await menu.locator('summary').click();
  await expect(menu.getByRole('link')).toHaveCount(2);
  await menu.getByRole('link', { name: 'Acme Outdoors' }).click();
  await expect(page).toHaveURL(/\/clients\/acme-outdoors\/brand$/);
  await expect(page.getByTestId('client-name')).toHaveText('Acme Outdoors');
  await expect(page.getByTestId('scope-name')).toContainText('Acme Outdoors');
  await expect(page.getByLabel('Voice')).toHaveValue(/Adventurous/);
  await shot(page, 'agency-acme');
  // The menu may still be open from the last pick (the header keeps its element).
  if (!(await menu.evaluate(d => d.open))) await menu.locator('summary').click();
  await menu.getByRole('link', { name: 'Blue Harbor Bank' }).click();
  await expect(page).toHaveURL(/\/clients\/blue-harbor-bank\/brand$/);
  await expect(page.getByTestId('scope-name')).toContainText('Blue Harbor Bank');
  await expect(page.getByLabel('Voice')).toHaveValue(/Calm, trustworthy/);
  await shot(page, 'agency-harbor');
  await expectNoSeriousA11yIssues(page);
});

test('staff assigned to one client are offered only that client, and another client\'s address says no', async ({ page }) => {
  await signIn(page, 'cleo@brightside.example');
  await expect(page).toHaveURL(/\/clients\/acme-outdoors\/brand$/);
  await expect(page.locator('details.client-menu li a')).toHaveText(['Acme Outdoors']);
  await page.goto('/clients/blue-harbor-bank/brand');
  await expect(page.getByRole('alert')).toContainText('not assigned to you');
  await expect(page.getByLabel('Voice')).toHaveCount(0);
  await shot(page, 'agency-no-access');
});

test('every save is kept in the history, and an earlier version can be restored', async ({ page }) => {
  await signIn(page, 'nora@northwind.example');
  const first = `History one ${Date.now()}`;
  const second = `History two ${Date.now()}`;
  for (const voice of [first, second]) {
    await page.getByLabel('Voice').fill(voice);
    await page.getByRole('button', { name: 'Save guidelines' }).click();
    await expect(page.getByRole('status').first()).toContainText('Saved (version');
    await page.reload();
  }
  const versions = page.locator('ol.versions li');
  const restoreFirst = versions.filter({ hasText: first });
  await expect(restoreFirst).toHaveCount(1);
  await restoreFirst.getByRole('button', { name: /^Restore version/ }).click();
  await expect(page.locator('.history').getByRole('status')).toContainText('Restored as version');
  await page.reload();
  await expect(page.getByLabel('Voice')).toHaveValue(first);
  await expect(versions.first()).toContainText('Current');
  await expect(versions.filter({ hasText: second })).toHaveCount(1);
  await shot(page, 'sme-brand-history');
});

test('signed-out visitors are told to sign in, not shown an opaque error', async ({ page }) => {
  await page.goto('/brand');
  await expect(page.getByRole('alert')).toContainText('not signed in');
  await expect(page.getByRole('link', { name: 'Go to sign-in' })).toBeVisible();
  await expectNoSeriousA11yIssues(page);
});
