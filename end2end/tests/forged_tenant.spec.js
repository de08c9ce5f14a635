// Forged tenant: every server function that takes an id, called by a signed-in user of
// one organization with another organization's ids (in the arguments, an X-Tenant-Id
// header, or an extra form field), acts only on the session's organization or is refused.
const { test, expect } = require('@playwright/test');
const { demoSignIn } = require('./helpers');


/** Calls a server function from the page, as its own forms do (same origin). */
function call(page, endpoint, params = {}, headers = {}) {
  return page.evaluate(async ({ endpoint, params, headers }) => {
    const r = await fetch(`/api/${endpoint}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(params),
    });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch (_) { /* not JSON */ }
    return { ok: r.ok, status: r.status, text, json };
  }, { endpoint, params, headers });
}

async function refused(page, endpoint, params, words) {
  const r = await call(page, endpoint, params);
  expect(r.ok, `${endpoint} should be refused: ${r.text}`).toBe(false);
  expect(r.text).toContain(words);
}

function parseLink(link) {
  const url = new URL(link);
  const [, , org, invitation] = url.pathname.split('/');
  return { org, invitation, token: url.searchParams.get('token') };
}

test('server functions taking ids act only on the session organization', async ({ browser }) => {
  const nora = await demoSignIn(browser, 'nora@northwind.example'); // SME owner
  const ada = await demoSignIn(browser, 'ada@brightside.example');   // agency owner

  const accounts = (await call(nora.page, 'list_demo_accounts')).json;
  const byEmail = Object.fromEntries(accounts.map(a => [a.email, a]));
  const agencyOrg = byEmail['ada@brightside.example'].org_id;
  const northwindOrg = byEmail['nora@northwind.example'].org_id;
  const ben = byEmail['ben@brightside.example'].user_id;
  const viewer = (await call(ada.page, 'viewer')).json;
  const acme = viewer.active.clients.find(c => c.name === 'Acme Outdoors').workspace_id;

  // The agency owner has a pending invitation; Nora has one of her own.
  const stamp = Date.now().toString(36);
  const agencyInvite = parseLink((await call(ada.page, 'invite_member', { email: `forge-a-${stamp}@example.test`, role: 'member' })).json.link);
  const ownInvite = parseLink((await call(nora.page, 'invite_member', { email: `forge-n-${stamp}@example.test`, role: 'member' })).json.link);
  expect(agencyInvite.org).toBe(agencyOrg);
  expect(ownInvite.org).toBe(northwindOrg);

  // Ids of another organization in the arguments: refused, nothing changes there.
  await refused(nora.page, 'change_member_role', { user_id: ben, role: 'admin' }, 'not a member of this organization');
  await refused(nora.page, 'remove_member', { user_id: ben }, 'not a member of this organization');
  await refused(nora.page, 'revoke_invitation', { invitation_id: agencyInvite.invitation }, 'not pending');
  await refused(nora.page, 'switch_organization', { org_id: agencyOrg }, 'not a member of that organization');
  await refused(nora.page, 'brand_guidelines', { client: 'acme-outdoors' }, 'no client workspaces');
  await refused(nora.page, 'archive_client', { workspace_id: acme, archived: 'true' }, 'only agencies');
  await refused(nora.page, 'rename_client', { workspace_id: acme, name: 'Taken over' }, 'only agencies');
  await refused(nora.page, 'set_client_assignment', { workspace_id: acme, user_id: byEmail['nora@northwind.example'].user_id, assigned: 'true' }, 'only agencies');
  await refused(nora.page, 'demo_sign_in', { user_id: byEmail['nora@northwind.example'].user_id, org_id: agencyOrg }, 'not a demo account');
  // Accepting: a wrong token, and a token issued for another organization's invitation.
  await refused(nora.page, 'accept_invitation', { org_id: agencyOrg, invitation_id: agencyInvite.invitation, token: ownInvite.token }, 'not valid');
  await refused(nora.page, 'accept_invitation', { org_id: northwindOrg, invitation_id: agencyInvite.invitation, token: agencyInvite.token }, 'not valid');

  const agencyMembers = (await call(ada.page, 'members')).json;
  expect(agencyMembers.members.find(m => m.user_id === ben).role).toBe('member');
  expect(agencyMembers.invitations.find(i => i.invitation_id === agencyInvite.invitation).status).toBe('pending');

  // A header or an extra form field naming the other organization changes nothing:
  // the save lands in the session's organization.
  const forged = { 'X-Tenant-Id': agencyOrg, 'X-Org-Id': agencyOrg };
  const current = (await call(nora.page, 'brand_guidelines', {}, forged)).json;
  const voice = `Forged header test ${stamp}`;
  const saved = await call(nora.page, 'save_brand_guidelines', {
    voice, tone: current.tone, palette: current.palette, do_list: current.do_list, dont_list: current.dont_list,
    expected_version: String(current.version), org_id: agencyOrg, workspace_id: acme,
  }, forged);
  expect(saved.ok, saved.text).toBe(true);
  expect((await call(nora.page, 'brand_guidelines')).json.voice).toBe(voice);
  expect((await call(ada.page, 'brand_guidelines', { client: 'acme-outdoors' })).json.voice).toMatch(/Adventurous/);

  const invited = await call(nora.page, 'invite_member', { email: `forge-h-${stamp}@example.test`, role: 'member', org_id: agencyOrg }, forged);
  expect(invited.ok, invited.text).toBe(true);
  expect(parseLink(invited.json.link).org).toBe(northwindOrg);
  const agencyAfter = (await call(ada.page, 'members')).json;
  expect(agencyAfter.invitations.map(i => i.email)).not.toContain(`forge-h-${stamp}@example.test`);

  await nora.context.close();
  await ada.context.close();
});

test('agency staff cannot manage clients, and an owner cannot assign a stranger', async ({ browser }) => {
  const ben = await demoSignIn(browser, 'ben@brightside.example');
  const ada = await demoSignIn(browser, 'ada@brightside.example');
  const accounts = (await call(ben.page, 'list_demo_accounts')).json;
  const nora = accounts.find(a => a.email === 'nora@northwind.example').user_id;
  const acme = (await call(ada.page, 'viewer')).json.active.clients.find(c => c.name === 'Acme Outdoors').workspace_id;
  await refused(ben.page, 'archive_client', { workspace_id: acme, archived: 'true' }, 'only owners and admins');
  await refused(ada.page, 'set_client_assignment', { workspace_id: acme, user_id: nora, assigned: 'true' }, 'not a member of this organization');
  await ben.context.close();
  await ada.context.close();
});

test('a client in the arguments is checked against the assignment on every call', async ({ browser }) => {
  const cleo = await demoSignIn(browser, 'cleo@brightside.example'); // assigned to Acme only
  await refused(cleo.page, 'brand_guidelines', { client: 'blue-harbor-bank' }, 'not assigned to you');
  const acme = (await call(cleo.page, 'brand_guidelines', { client: 'acme-outdoors' })).json;
  await refused(cleo.page, 'save_brand_guidelines', {
    voice: 'x', tone: '', palette: '', do_list: '', dont_list: '', expected_version: '0', client: 'blue-harbor-bank',
  }, 'not assigned to you');
  expect(acme.scope_name).toContain('Acme Outdoors');
  await cleo.context.close();
});

test('a plain member cannot manage members even of their own organization', async ({ browser }) => {
  const sam = await demoSignIn(browser, 'sam@northwind.example');
  const accounts = (await call(sam.page, 'list_demo_accounts')).json;
  const nora = accounts.find(a => a.email === 'nora@northwind.example').user_id;
  await refused(sam.page, 'remove_member', { user_id: nora }, 'only owners and admins');
  await refused(sam.page, 'invite_member', { email: 'x@example.test', role: 'member' }, 'only owners and admins');
  await sam.context.close();
});
