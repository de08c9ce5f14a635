// Connected accounts (issue 13) against the local OAuth 2.0 publishing provider
// (end2end/integrations/provider.mjs, started by scripts/test): connect through the
// provider's own login and consent screens, check, publish an output and see its remote
// link, a reused refresh token (the provider revokes the grant) shown as "needs
// reconnecting" with the reason,
// reconnect, and disconnect (revoked at the provider).
const { test, expect, demoSignIn, hydrated, seriousViolations } = require('./helpers');

const shot = (page, name) => page.screenshot({ path: `screenshots/${name}.png`, fullPage: true });
const api = process.env.ENCLAVE_INTEGRATION_SOCIAL_API_URL;
const provider = api ? api.replace(/\/api$/, '') : null;

async function control(path, body) {
  const response = await fetch(`${provider}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.ok).toBe(true);
  return response.json();
}

async function signedIn(browser, email) {
  const { context, page } = await demoSignIn(browser, email);
  // The provider's login page pulls a web font from the internet; there is none here.
  await context.route(/fonts\.(googleapis|gstatic)\.com/, route => route.abort());
  return { context, page };
}

/**
 * Through the provider's screens and back to the connections page: its login (unless
 * this browser is still signed in there) and its consent (unless still given).
 */
async function throughProvider(page, login) {
  const back = /connections\?connected=1$/;
  const loginBox = page.locator('input[name=login]');
  const consent = page.getByRole('button', { name: 'Continue' });
  await expect(loginBox.or(consent).or(page.getByRole('heading', { name: 'Connected accounts' }))).toBeVisible();
  if (await loginBox.isVisible()) {
    await loginBox.fill(login);
    await page.locator('input[name=password]').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
  }
  if (!back.test(page.url())) {
    await expect(consent.or(page.getByRole('heading', { name: 'Connected accounts' }))).toBeVisible();
    if (await consent.isVisible()) await consent.click();
  }
  await expect(page).toHaveURL(back);
  await hydrated(page);
  await expect(page.getByRole('status').filter({ hasText: 'Account connected.' })).toBeVisible();
}

async function connect(page, button, login) {
  await page.getByRole('link', { name: button }).click();
  await throughProvider(page, login);
}

test.beforeAll(() => {
  expect(provider, 'ENCLAVE_INTEGRATION_SOCIAL_API_URL is set by scripts/test').toBeTruthy();
});

test('an SME connects an account, checks it, publishes an output and sees where it went', async ({ browser }) => {
  const { context, page } = await signedIn(browser, 'nora@northwind.example');
  await page.goto('/connections');
  await expect(page.getByRole('heading', { name: 'Connected accounts' })).toBeVisible();
  await connect(page, 'Connect Test Social', 'northwind-social');
  const card = page.locator('ul.connections li').filter({ hasText: 'Northwind Social' });
  await expect(card).toContainText('Connected');
  await expect(card).toContainText('Access valid until');
  expect(await seriousViolations(page)).toEqual([]);
  await shot(page, 'connections-connected');

  await card.getByRole('button', { name: /^Check the connection/ }).click();
  await expect(page.getByRole('status').filter({ hasText: 'publishing as Northwind Social works' })).toBeVisible();

  // A campaign of the demo content that has outputs.
  await page.goto(`/campaigns?q=${encodeURIComponent('Loyalty card goes digital')}`);
  await page.locator('main a[href^="/campaigns/"]').first().click();
  await expect(page).toHaveURL(/\/campaigns\/[0-9a-f-]{36}$/);
  await hydrated(page);
  const publish = page.locator('section.publish');
  await expect(publish.getByRole('heading', { name: 'Publish' })).toBeVisible();
  const first = publish.getByTestId('publication').first();
  await expect(first.getByLabel('Account')).toContainText('Northwind Social · Test Social');
  const before = await control('/test/stats');
  await first.getByRole('button', { name: 'Publish' }).click();
  const link = first.locator('p.published a');
  await expect(link).toBeVisible({ timeout: 30_000 });
  await expect(link).toHaveAttribute('href', new RegExp(`^${provider}/posts/msg_\\d+$`));
  await expect(first.getByTestId('job')).toHaveAttribute('data-status', 'done');
  expect((await control('/test/stats')).publications).toBe(before.publications + 1);
  // The output itself now says so.
  await expect(page.locator('ul.outputs li').first().locator('.status')).toHaveText('published');
  await shot(page, 'publish-done');
  await context.close();
});

test('a refresh token used elsewhere revokes the grant: "needs reconnecting" with the reason, and reconnecting mends it', async ({ browser }) => {
  const { context, page } = await signedIn(browser, 'ada@brightside.example');
  await page.goto('/clients/acme-outdoors/connections');
  await connect(page, 'Connect Test Social', 'acme-social');
  await expect(page).toHaveURL(/\/clients\/acme-outdoors\/connections\?connected=1$/);
  // A copy of the refresh token was used elsewhere (a restored backup, a second
  // installation): Enclave's next refresh is a reuse, and the provider revokes the grant.
  const before = await control('/test/stats');
  expect((await control('/test/refresh-elsewhere', { account: 'acme-social' })).used).toBe(1);
  const card = page.locator('ul.connections li').filter({ hasText: 'Acme Social' });
  await card.getByRole('button', { name: /^Check the connection/ }).click();
  await expect(page.getByRole('alert')).toContainText('no longer accepts Enclave');
  await expect(card).toContainText('Needs reconnecting');
  await expect(card).toContainText('reconnect the account');
  expect((await control('/test/stats')).refresh_reuse).toBe(before.refresh_reuse + 1);
  await shot(page, 'connections-needs-reconnecting');

  // Another client of the same agency sees none of it.
  await page.goto('/clients/blue-harbor-bank/connections');
  await expect(page.locator('ul.connections li')).toHaveCount(0);

  await page.goto('/clients/acme-outdoors/connections');
  await page.locator('ul.connections li').filter({ hasText: 'Acme Social' }).getByRole('link', { name: 'Reconnect' }).click();
  await throughProvider(page, 'acme-social');
  await expect(page.locator('ul.connections li')).toHaveCount(1);
  await expect(page.locator('ul.connections li').first()).toContainText('Connected');
  await context.close();
});

test('disconnecting revokes the grant at the provider and deletes the connection', async ({ browser }) => {
  const { context, page } = await signedIn(browser, 'nora@northwind.example');
  await page.goto('/connections');
  await connect(page, 'Connect Test Social', 'northwind-leaving');
  const before = await control('/test/stats');
  const card = page.locator('ul.connections li').filter({ hasText: 'Northwind Leaving' });
  await card.getByRole('button', { name: 'Disconnect Northwind Leaving' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Account disconnected.' })).toBeVisible();
  await expect(card).toHaveCount(0);
  expect((await control('/test/stats')).revocations).toBe(before.revocations + 1);
  await context.close();
});

test('a failed connection is explained with a reference, never an opaque error', async ({ browser }) => {
  const { context, page } = await signedIn(browser, 'nora@northwind.example');
  await page.goto('/integrations/social/callback?code=forged&state=forged');
  await expect(page).toHaveURL(/\/connections\?problem=bad_state&ref=/);
  await expect(page.getByRole('alert')).toContainText('expired or was started in another browser');
  await expect(page.getByRole('alert')).toContainText('reference');
  await context.close();
});
