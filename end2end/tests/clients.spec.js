// Agency client management: the owner adds a client and assigns staff; the staff member
// gets it in the client switcher; archiving takes it away again on the next page load.
const { test, expect } = require('@playwright/test');
const { demoSignIn, seriousViolations } = require('./helpers');


test('owner adds a client, assigns staff, archives it; staff see it come and go', async ({ browser }) => {
  const name = `Cedar Books ${Date.now().toString(36)}`;
  const ada = await demoSignIn(browser, 'ada@brightside.example');
  await ada.page.getByRole('link', { name: 'Clients' }).click();
  await expect(ada.page.getByRole('heading', { name: 'Clients', level: 1 })).toBeVisible();
  await ada.page.getByLabel('Client name').fill(name);
  await ada.page.getByRole('button', { name: 'Add client' }).click();
  const card = ada.page.locator('li.client', { hasText: name });
  await expect(card).toBeVisible();
  await expect(card).toContainText('No staff assigned');
  await card.getByLabel(`Staff to assign to ${name}`).selectOption({ label: 'Cleo Marsh' });
  await card.getByRole('button', { name: 'Assign' }).click();
  await expect(card.locator('.staff')).toContainText('Cleo Marsh');
  await ada.page.screenshot({ path: 'screenshots/clients-assigned.png', fullPage: true });

  const cleo = await demoSignIn(browser, 'cleo@brightside.example');
  const links = cleo.page.locator('details.client-menu li a');
  await expect(links).toHaveText(['Acme Outdoors', name].sort());
  // Staff cannot manage clients: no add form, no controls.
  await cleo.page.goto('/clients');
  await expect(cleo.page.locator('li.client', { hasText: name })).toBeVisible();
  await expect(cleo.page.getByRole('button', { name: 'Add client' })).toHaveCount(0);

  await card.getByRole('button', { name: 'Archive' }).click();
  await expect(ada.page.locator('li.client', { hasText: `${name} (archived)` })).toBeVisible();
  // The archived client's address now says no, and the menu no longer offers it.
  const slug = await card.getAttribute('data-slug');
  await cleo.page.goto(`/clients/${slug}/brand`);
  await expect(cleo.page.getByRole('alert')).toContainText('was archived');
  await expect(cleo.page.locator('details.client-menu li a')).toHaveText(['Acme Outdoors']);
  await ada.context.close();
  await cleo.context.close();
});

test('an SME has no clients, and the page says so', async ({ browser }) => {
  const nora = await demoSignIn(browser, 'nora@northwind.example');
  await nora.page.goto('/clients');
  await expect(nora.page.getByRole('alert')).toContainText('only agencies have client workspaces');
  await nora.context.close();
});

test('staff switch clients from the menu and see each client\'s own guidelines, personas and campaigns', async ({ browser }) => {
  const stamp = Date.now().toString(36);
  const ben = await demoSignIn(browser, 'ben@brightside.example');
  const page = ben.page;
  // Something of each kind in Acme only.
  await page.goto('/clients/acme-outdoors/personas');
  await page.getByLabel('Name', { exact: true }).fill(`Hiker ${stamp}`);
  await page.getByRole('button', { name: 'Save persona' }).click();
  await expect(page.locator(`li[data-persona="Hiker ${stamp}"]`)).toBeVisible();
  await page.goto('/clients/acme-outdoors/campaigns');
  await page.getByLabel('Name', { exact: true }).fill(`Summit ${stamp}`);
  await page.getByRole('button', { name: 'Add campaign' }).click();
  await expect(page.locator(`tr[data-campaign="Summit ${stamp}"]`)).toBeVisible();

  const switchTo = async (name) => {
    await page.locator('details.client-menu summary').click();
    await page.locator('details.client-menu').getByRole('link', { name }).click();
    await expect(page.getByTestId('client-name')).toHaveText(name);
    // The menu closes once a client is picked.
    await expect(page.locator('details.client-menu')).not.toHaveAttribute('open', '');
  };
  await switchTo('Blue Harbor Bank');
  await expect(page).toHaveURL(/\/clients\/blue-harbor-bank\/campaigns$/);
  await expect(page.locator(`tr[data-campaign="Summit ${stamp}"]`)).toHaveCount(0);
  expect(await seriousViolations(page)).toEqual([]);
  await page.getByRole('link', { name: 'Personas' }).click();
  await expect(page.getByTestId('scope-name')).toHaveText('Blue Harbor Bank');
  await expect(page.locator(`li[data-persona="Hiker ${stamp}"]`)).toHaveCount(0);
  expect(await seriousViolations(page)).toEqual([]);
  await page.getByRole('link', { name: 'Brand guidelines' }).click();
  await expect(page.getByLabel('Voice')).toHaveValue(/plain English about money/);

  await switchTo('Acme Outdoors');
  await expect(page).toHaveURL(/\/clients\/acme-outdoors\/brand$/);
  await expect(page.getByLabel('Voice')).toHaveValue(/Adventurous and practical/);
  await page.getByRole('link', { name: 'Personas' }).click();
  await expect(page.locator(`li[data-persona="Hiker ${stamp}"]`)).toBeVisible();
  await page.getByRole('link', { name: 'Campaigns' }).click();
  await expect(page.locator(`tr[data-campaign="Summit ${stamp}"]`)).toBeVisible();
  await page.getByRole('link', { name: 'Dashboard' }).click();
  await expect(page).toHaveURL(/\/clients\/acme-outdoors\/dashboard$/);
  expect(await seriousViolations(page)).toEqual([]);
  await page.goto('/clients');
  expect(await seriousViolations(page)).toEqual([]);
  await ben.context.close();
});

test('with many clients the menu has a filter box that narrows the list', async ({ browser }) => {
  const stamp = Date.now().toString(36);
  const ada = await demoSignIn(browser, 'ada@brightside.example');
  const page = ada.page;
  for (let i = 0; i < 6; i++) {
    const ok = await page.evaluate(async (name) => {
      const r = await fetch('/api/add_client', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ name }),
      });
      return r.ok;
    }, `Filter Co ${stamp} ${i}`);
    expect(ok).toBe(true);
  }
  await page.goto('/clients/acme-outdoors/brand');
  await page.locator('details.client-menu summary').click();
  const filter = page.getByLabel('Find a client');
  await expect(filter).toBeVisible();
  await filter.fill('harbor');
  const visible = page.locator('details.client-menu li:not([hidden]) a');
  await expect(visible).toHaveText(['Blue Harbor Bank']);
  await page.screenshot({ path: 'screenshots/client-menu-filter.png' });
  await filter.press('Escape');
  await expect(page.locator('details.client-menu')).not.toHaveAttribute('open', '');
  await ada.context.close();
});
