// Agency client management: the owner adds a client and assigns staff; the staff member
// gets it in the client switcher; archiving takes it away again on the next page load.
const { test, expect } = require('@playwright/test');
const { demoSignIn } = require('./helpers');


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
