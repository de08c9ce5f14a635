// Sign-in through a real OpenID provider (npm oidc-provider, started by scripts/test),
// onboarding, invitations, removal taking effect at once, and the sign-in error pages.
const { test, expect } = require('@playwright/test');
const { hydrated, newPage, oidcSignIn } = require('./helpers');
const fs = require('node:fs');

const shot = (page, name) => page.screenshot({ path: `screenshots/${name}.png`, fullPage: true });
const site = new URL(process.env.BASE_URL || 'http://127.0.0.1:3000').origin;
const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;

async function sessionCookie(context) {
  const cookies = await context.cookies();
  return cookies.find(c => c.name === 'enclave_session')?.value;
}

function expectLogged(reference) {
  const log = process.env.SERVER_LOG;
  if (!log) return; // run by hand against a server whose log we cannot read
  const text = fs.readFileSync(log, 'utf8');
  expect(text).toContain(`request_id=${reference}`);
}

async function problemOnPage(page, code) {
  const alert = page.getByTestId('sign-in-problem');
  await expect(alert).toHaveAttribute('data-problem', code);
  const reference = new URL(page.url()).searchParams.get('ref');
  expect(reference).toMatch(/^[0-9a-f]{12}$/);
  await expect(alert).toContainText(`Reference: ${reference}`);
  expectLogged(reference);
  return alert;
}

test('owner signs up, invites a member who accepts; removal denies the member at once', async ({ browser }) => {
  // The owner signs in for the first time and creates an SME organization.
  const owner = await newPage(browser);
  await oidcSignIn(owner.page, `owner-${stamp}`);
  await expect(owner.page).toHaveURL(/\/welcome$/);
  await expect(owner.page.getByRole('heading', { name: /Welcome, Owner/ })).toBeVisible();
  await shot(owner.page, 'identity-welcome');
  const orgName = `Harbour Tea ${stamp}`;
  await owner.page.getByLabel('Organization name').fill(orgName);
  await owner.page.getByLabel(/SME/).check();
  await owner.page.getByRole('button', { name: 'Create organization' }).click();
  await expect(owner.page).toHaveURL(/\/brand$/);
  await expect(owner.page.getByTestId('org-name')).toHaveText(orgName);
  const voice = `Shared voice ${stamp}`;
  await owner.page.getByLabel('Voice').fill(voice);
  await owner.page.getByRole('button', { name: 'Save guidelines' }).click();
  await expect(owner.page.getByRole('status')).toContainText('Saved (version 1)');

  // Settings show the kind, not editable.
  await owner.page.goto('/settings');
  await expect(owner.page.getByTestId('org-kind')).toContainText('SME');
  await expect(owner.page.getByTestId('org-kind')).toContainText('cannot be changed');
  await shot(owner.page, 'identity-settings');

  // Invite the second user; the link is shown once.
  await owner.page.goto('/members');
  await owner.page.getByLabel('Email address').fill(`member-${stamp}@example.test`);
  await owner.page.getByRole('button', { name: 'Send invitation' }).click();
  const link = await owner.page.getByTestId('invitation-link').inputValue();
  expect(link).toMatch(/\/invitations\/[0-9a-f-]{36}\/[0-9a-f-]{36}\?token=[A-Za-z0-9_-]{43}$/);
  await expect(owner.page.locator('table.invitations')).toContainText('pending');
  await shot(owner.page, 'identity-members-invited');

  // The outbox (development) holds the mail with the same link.
  await owner.page.goto('/dev/outbox');
  await expect(owner.page.locator('.outbox li').first()).toContainText(link);

  // The second user signs in; the session id changes at sign-in (no fixation).
  const member = await newPage(browser);
  let before;
  await oidcSignIn(member.page, `member-${stamp}`, {
    beforeLogin: async () => { before = await sessionCookie(member.context); },
  });
  const after = await sessionCookie(member.context);
  expect(before).toBeTruthy();
  expect(after).toBeTruthy();
  expect(after).not.toEqual(before);

  // Accepting the invitation opens the organization with the owner's guidelines.
  await member.page.goto(new URL(link).pathname + new URL(link).search);
  await shot(member.page, 'identity-accept');
  await member.page.getByRole('button', { name: 'Accept invitation' }).click();
  await expect(member.page).toHaveURL(/\/brand$/);
  await expect(member.page.getByTestId('org-name')).toHaveText(orgName);
  await expect(member.page.getByLabel('Voice')).toHaveValue(voice);

  // The link works once.
  await member.page.goto(new URL(link).pathname + new URL(link).search);
  await member.page.getByRole('button', { name: 'Accept invitation' }).click();
  await expect(member.page.getByRole('alert')).toContainText('already');

  // The owner removes the member ...
  await owner.page.goto('/members');
  const row = owner.page.locator(`tr[data-email="member-${stamp}@example.test"]`);
  await expect(row).toBeVisible();
  await row.getByRole('button', { name: /^Remove/ }).click();
  await expect(row).toHaveCount(0);

  // ... and the member's very next page load is denied, with a way forward.
  await member.page.goto('/brand');
  await expect(member.page.getByRole('alert')).toContainText('no longer a member of this organization');
  await expect(member.page.getByRole('link', { name: 'Choose an organization' })).toBeVisible();
  await expect(member.page.getByLabel('Voice')).toHaveCount(0);
  await shot(member.page, 'identity-removed');

  await owner.context.close();
  await member.context.close();
});

test('an invitation for another address is refused in plain words', async ({ browser }) => {
  const owner = await newPage(browser);
  await oidcSignIn(owner.page, `owner2-${stamp}`);
  await owner.page.getByLabel('Organization name').fill(`Wrong Address Ltd ${stamp}`);
  await owner.page.getByRole('button', { name: 'Create organization' }).click();
  await expect(owner.page).toHaveURL(/\/brand$/);
  await owner.page.goto('/members');
  await owner.page.getByLabel('Email address').fill(`someone-else-${stamp}@example.test`);
  await owner.page.getByRole('button', { name: 'Send invitation' }).click();
  const link = await owner.page.getByTestId('invitation-link').inputValue();

  const stranger = await newPage(browser);
  await oidcSignIn(stranger.page, `stranger-${stamp}`);
  await stranger.page.goto(new URL(link).pathname + new URL(link).search);
  await stranger.page.getByRole('button', { name: 'Accept invitation' }).click();
  await expect(stranger.page.getByRole('alert')).toContainText(`sent to someone-else-${stamp}@example.test`);
  await owner.context.close();
  await stranger.context.close();
});

test('signed-out invitees are sent to sign in and brought back to the invitation', async ({ browser }) => {
  const { context, page } = await newPage(browser);
  const path = '/invitations/00000000-0000-0000-0000-000000000001/00000000-0000-0000-0000-000000000002?token=abc';
  await page.goto(path);
  await page.getByRole('link', { name: 'Sign in to accept' }).click();
  await expect(page).toHaveURL(/\/sign-in\?return_to=/);
  await page.getByRole('link', { name: 'Sign in with Test ID' }).click();
  await page.locator('input[name=login]').fill(`returning-${stamp}`);
  await page.locator('input[name=password]').fill('x');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page).toHaveURL(new RegExp(path.replace(/[?]/g, '\\?')));
  await hydrated(page);
  await page.getByRole('button', { name: 'Accept invitation' }).click();
  await expect(page.getByRole('alert')).toContainText('not valid');
  await context.close();
});

test('denied consent lands on a helpful page with a logged reference', async ({ browser }) => {
  const { context, page } = await newPage(browser);
  await page.goto('/sign-in');
  await page.getByRole('link', { name: 'Sign in with Test ID' }).click();
  await page.getByRole('link', { name: '[ Cancel ]' }).click();
  await expect(page).toHaveURL(/\/sign-in\?problem=denied/);
  const alert = await problemOnPage(page, 'denied');
  await expect(alert).toContainText('cancelled at Test ID');
  await shot(page, 'identity-denied');
  await context.close();
});

test('a callback whose state does not match this browser is refused', async ({ browser }) => {
  const { context, page } = await newPage(browser);
  // A sign-in is in progress in this browser ...
  await page.goto('/sign-in');
  await page.getByRole('link', { name: 'Sign in with Test ID' }).click();
  await expect(page.locator('input[name=login]')).toBeVisible();
  // ... and a callback arrives carrying someone else's state.
  await page.goto('/auth/e2e/callback?code=forged-code&state=forged-state');
  const alert = await problemOnPage(page, 'bad_state');
  await expect(alert).toContainText('could not be matched to your browser session');
  // With no sign-in in progress at all, the same.
  await page.goto('/auth/e2e/callback?code=forged-code&state=forged-state');
  await problemOnPage(page, 'bad_state');
  await context.close();
});

test('a code the provider does not accept (expired or forged) is reported, not a 401', async ({ browser }) => {
  const { context, page } = await newPage(browser);
  await page.goto('/sign-in');
  // The state this browser's sign-in carries, read off the request to the provider.
  const toProvider = page.waitForRequest(r => r.url().startsWith('http://127.0.0.1:') && new URL(r.url()).searchParams.has('state') && !r.url().startsWith(site));
  await page.getByRole('link', { name: 'Sign in with Test ID' }).click();
  const params = new URL((await toProvider).url()).searchParams;
  expect(params.get('code_challenge_method')).toBe('S256');
  expect(params.get('nonce')).toBeTruthy();
  await page.goto(`/auth/e2e/callback?code=expired-or-forged&state=${encodeURIComponent(params.get('state'))}`);
  const alert = await problemOnPage(page, 'code_rejected');
  await expect(alert).toContainText('did not accept the sign-in');
  await context.close();
});

test('an unreachable provider is reported in plain words', async ({ browser }) => {
  const { context, page } = await newPage(browser);
  await page.goto('/sign-in');
  await page.getByRole('link', { name: 'Sign in with Offline ID' }).click();
  const alert = await problemOnPage(page, 'unreachable');
  await expect(alert).toContainText('could not reach Offline ID');
  await shot(page, 'identity-unreachable');
  await context.close();
});

test('an account without an email address is told what is missing', async ({ browser }) => {
  const { context, page } = await newPage(browser);
  await oidcSignIn(page, `noemail-${stamp}`);
  const alert = await problemOnPage(page, 'no_email');
  await expect(alert).toContainText('did not share an email address');
  await context.close();
});

test('sign out of all devices ends every session of the user', async ({ browser }) => {
  const first = await newPage(browser);
  const second = await newPage(browser);
  const login = `traveller-${stamp}`;
  await oidcSignIn(first.page, login);
  await first.page.getByLabel('Organization name').fill(`Travel Co ${stamp}`);
  await first.page.getByRole('button', { name: 'Create organization' }).click();
  await expect(first.page).toHaveURL(/\/brand$/);
  await oidcSignIn(second.page, login);
  await expect(second.page).toHaveURL(/\/brand$/);
  await second.page.goto('/settings');
  await second.page.getByRole('button', { name: 'Sign out of all devices' }).click();
  await expect(second.page).toHaveURL(/\/sign-in/);
  await first.page.goto('/brand');
  await expect(first.page.getByRole('alert')).toContainText('not signed in');
  await first.context.close();
  await second.context.close();
});

test('an invitation is accepted with JavaScript off', async ({ browser }) => {
  const owner = await newPage(browser);
  await oidcSignIn(owner.page, `owner3-${stamp}`);
  const orgName = `No Script Ltd ${stamp}`;
  await owner.page.getByLabel('Organization name').fill(orgName);
  await owner.page.getByRole('button', { name: 'Create organization' }).click();
  await expect(owner.page).toHaveURL(/\/brand$/);
  await owner.page.goto('/members');
  await owner.page.getByLabel('Email address').fill(`noscript-${stamp}@example.test`);
  await owner.page.getByRole('button', { name: 'Send invitation' }).click();
  const link = await owner.page.getByTestId('invitation-link').inputValue();

  // The invitation page's form posts to the server itself; its own origin goes with it.
  const invitee = await newPage(browser, { javaScriptEnabled: false });
  await oidcSignIn(invitee.page, `noscript-${stamp}`);
  await invitee.page.goto(new URL(link).pathname + new URL(link).search);
  await invitee.page.getByRole('button', { name: 'Accept invitation' }).click();
  await expect(invitee.page).toHaveURL(/\/brand$/);
  await expect(invitee.page.getByTestId('org-name')).toHaveText(orgName);
  await owner.context.close();
  await invitee.context.close();
});
