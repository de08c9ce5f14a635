// The fuzzer's own tenants and sessions. Signed-in fuzzing writes only into organizations
// created here (through the local OpenID provider, as a new user), never into the demo
// tenants that the other spec files read; the demo accounts only load pages (GET).
const E = require('./encode');

function sessionCookieFrom(res) {
  const list = [].concat(res.headers?.['set-cookie'] ?? []);
  for (const c of list) {
    const m = /^enclave_session=([^;]*)/.exec(c);
    if (m) return m[1];
  }
  return undefined;
}

class Identity {
  constructor(name, cookie, { pagesOnly = false } = {}) {
    this.name = name;
    this.cookie = cookie;
    this.pagesOnly = pagesOnly;
  }
  get header() {
    return this.cookie ? `enclave_session=${this.cookie}` : undefined;
  }
}

/** A server function called as the hydrated app would: url-encoded, JSON answer. */
async function api(client, origin, identity, endpoint, pairs = []) {
  const headers = { Origin: origin, Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' };
  if (identity?.header) headers.Cookie = identity.header;
  const body = Buffer.from(pairs.map(([k, v]) => `${E.pct(k, { keepBrackets: true })}=${E.pct(v)}`).join('&'));
  const res = await client.send({ method: 'POST', path: `/api/${endpoint}`, headers, body, full: true });
  const cookie = sessionCookieFrom(res);
  if (identity && cookie) identity.cookie = cookie;
  let json;
  try { json = JSON.parse(res.body); } catch { json = undefined; }
  if (res.status !== 200) {
    throw new Error(`setup: POST /api/${endpoint} as ${identity?.name ?? 'nobody'} answered ${res.status} ${res.error ?? ''}: ${String(res.body).slice(0, 300)}`);
  }
  return json;
}

/** Signs a new user in through the local OpenID provider's screens; returns the session id. */
async function oidcSignIn(browser, baseURL, login) {
  const site = new URL(baseURL).origin;
  const context = await browser.newContext({ baseURL });
  try {
    await context.route(/fonts\.(googleapis|gstatic)\.com/, (route) => route.abort());
    const page = await context.newPage();
    await page.goto('/sign-in');
    await page.getByRole('link', { name: /^Sign in with / }).first().click();
    await page.locator('input[name=login]').fill(login);
    await page.locator('input[name=password]').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL((url) => url.origin === site && !url.pathname.startsWith('/auth/'));
    const cookie = (await context.cookies()).find((c) => c.name === 'enclave_session')?.value;
    if (!cookie) throw new Error(`setup: no session cookie after signing in as ${login}`);
    return cookie;
  } finally {
    await context.close();
  }
}

/** Uploads a small CSV; returns the new batch id (from the redirect to its preview). */
async function uploadCsv(client, origin, identity, uploadRoutes, client_slug, resource, csv) {
  // An agency client's upload has a route of its own where there is one; otherwise (or
  // with a server built before it) the client is a form field.
  const scoped = uploadRoutes.find((r) => r.path.includes('{client}'));
  const paths = client_slug && scoped ? [scoped.path.replace('{client}', client_slug), '/import/upload'] : ['/import/upload'];
  const { body, boundary } = E.multipart([
    { name: 'client', value: client_slug ?? '' },
    { name: 'resource', value: resource },
    { name: 'file', value: Buffer.from(csv), filename: 'fuzz-setup.csv', contentType: 'text/csv' },
  ], null, 'fuzzsetupboundary');
  let res;
  for (const path of paths) {
    res = await client.send({ method: 'POST', path, body,
      headers: { Origin: origin, Cookie: identity.header, Accept: 'text/html', 'Content-Type': `multipart/form-data; boundary=${boundary}` } });
    const m = /\/import\/([0-9a-f-]{36})$/.exec(res.headers?.location ?? '');
    if (m) return m[1];
  }
  throw new Error(`setup: upload answered ${res.status} to ${res.headers?.location}`);
}

/**
 * A fresh organization of `kind` owned by a new user, with some data in it; returns the
 * identity and its pools of real ids (what the fuzzer uses to reach past "not found").
 */
async function freshTenant({ browser, client, baseURL, origin, kind, stamp, uploadRoutes }) {
  const login = `fuzz-${kind}-${stamp}`;
  const identity = new Identity(kind, await oidcSignIn(browser, baseURL, login));
  await api(client, origin, identity, 'create_organization', [['kind', kind], ['name', `Fuzz ${kind} ${stamp}`]]);
  const pools = { client: [], campaign: [], persona: [], batch: [], job: [], workspace: [], output: [], invitation: [], org: [], user: [] };
  let scopes = [undefined];
  if (kind === 'agency') {
    for (const name of ['Fuzz Client A', 'Fuzz Client B']) await api(client, origin, identity, 'add_client', [['name', `${name} ${stamp}`]]);
    const clients = await api(client, origin, identity, 'clients');
    for (const c of clients.clients) { pools.client.push(c.slug); pools.workspace.push(c.workspace_id); }
    scopes = pools.client.slice();
  }
  for (const scope of scopes) {
    const c = scope === undefined ? [] : [['client', scope]];
    for (let k = 0; k < 2; k++) {
      await api(client, origin, identity, 'save_persona', [...c, ['name', `Fuzz persona ${k}`], ['role_title', 'Buyer'], ['goals', 'Save time'], ['pains', 'Noise'], ['channels', 'email, social']]);
      const id = await api(client, origin, identity, 'add_campaign', [...c, ['name', `Fuzz campaign ${k}`], ['objective', 'Reach'], ['budget', '100.00'], ['starts_on', '2030-01-01'], ['ends_on', '2030-02-01']]);
      pools.campaign.push(id);
      const out = await api(client, origin, identity, 'save_output', [...c, ['campaign_id', id], ['channel', 'email'], ['headline', 'Hi'], ['body', 'Text'], ['status', 'draft']]);
      if (typeof out === 'string') pools.output.push(out);
    }
    const personas = await api(client, origin, identity, 'personas', c);
    for (const p of personas.personas) pools.persona.push(p.persona_id);
    pools.batch.push(await uploadCsv(client, origin, identity, uploadRoutes, scope, 'personas', 'Name,Role\nAda,Buyer\nBen,Owner\n'));
    pools.job.push(await api(client, origin, identity, 'generate_outputs', [...c, ['campaign_id', pools.campaign[pools.campaign.length - 1]]]));
  }
  const invited = await api(client, origin, identity, 'invite_member', [['email', `fuzz-invitee-${kind}-${stamp}@example.test`], ['role', 'member']]);
  const link = /\/invitations\/([0-9a-f-]{36})\/([0-9a-f-]{36})\?token=([A-Za-z0-9_-]+)/.exec(invited.link);
  if (link) { pools.invitation.push({ org: link[1], id: link[2], token: link[3] }); pools.org.push(link[1]); }
  return { identity, pools, login };
}

/** A demo account's session (development only), for loading pages; undefined elsewhere. */
async function demoIdentity(client, origin, email) {
  let accounts;
  try {
    accounts = await api(client, origin, null, 'list_demo_accounts');
  } catch {
    return undefined;
  }
  const a = accounts?.find((x) => x.email === email);
  if (!a) return undefined;
  const identity = new Identity(email.split('@')[0], undefined, { pagesOnly: true });
  await api(client, origin, identity, 'demo_sign_in', [['user_id', a.user_id], ['org_id', a.org_id]]);
  return { identity, account: a };
}

/** Who the session is now: null when signed out; `active.org_id` when in an organization. */
async function viewer(client, origin, identity) {
  const headers = { Origin: origin, Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' };
  if (identity.header) headers.Cookie = identity.header;
  const res = await client.send({ method: 'POST', path: '/api/viewer', headers, body: Buffer.alloc(0), full: true });
  try { return { status: res.status, viewer: JSON.parse(res.body) }; } catch { return { status: res.status, viewer: undefined, body: res.body }; }
}

module.exports = { Identity, api, oidcSignIn, freshTenant, demoIdentity, viewer, sessionCookieFrom };
