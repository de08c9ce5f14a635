// "Test Social": a local stand-in for an external marketing publishing service, used by
// Enclave's connected-accounts feature and its tests. It speaks real OAuth 2.0 through
// panva's oidc-provider (authorization code + PKCE S256, confidential client, rotating
// refresh tokens with reuse detection, RFC 7009 revocation) and serves a tiny resource API
// that validates bearer tokens against oidc-provider's own token store.
//
// Contract and URLs: README.md next to this file. Environment:
//   INTEGRATION_PORT           port on 127.0.0.1 (default 4014; 0 = any free port)
//   INTEGRATION_REDIRECT_URI   the app's callback (required)
//   INTEGRATION_CLIENT_ID      default enclave-publish
//   INTEGRATION_CLIENT_SECRET  default publish-client-secret
//   INTEGRATION_ACCESS_TTL     access-token lifetime in seconds (default 60)
// Prints "integration provider listening on http://127.0.0.1:<port>" once ready.
import http from 'node:http';
import querystring from 'node:querystring';
import Provider from 'oidc-provider';
// The package's own in-memory adapter, over an unbounded store (its default store is a
// 1000-entry LRU, which a long test run could overflow and silently lose live tokens).
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

const requestedPort = Number(process.env.INTEGRATION_PORT ?? 4014);
const redirectUri = process.env.INTEGRATION_REDIRECT_URI;
if (!redirectUri) throw new Error('INTEGRATION_REDIRECT_URI is required');
const CLIENT_ID = process.env.INTEGRATION_CLIENT_ID || 'enclave-publish';
const CLIENT_SECRET = process.env.INTEGRATION_CLIENT_SECRET || 'publish-client-secret';
const ACCESS_TTL = Number(process.env.INTEGRATION_ACCESS_TTL || 60);
if (!Number.isInteger(ACCESS_TTL) || ACCESS_TTL <= 0) throw new Error('INTEGRATION_ACCESS_TTL must be a positive integer');

const TOKEN_PATH = '/token';
const REVOCATION_PATH = '/token/revocation';
const INTROSPECTION_PATH = '/token/introspection';

// ---- test-controlled state -------------------------------------------------------------
const stats = { refreshes: 0, refresh_reuse: 0, token_requests: 0, publications: 0, revocations: 0 };
const modes = { expiresIn: 'number', failStatus: 0, failCount: 0, slowMs: 0 };
function resetState() {
  for (const k of Object.keys(stats)) stats[k] = 0;
  Object.assign(modes, { expiresIn: 'number', failStatus: 0, failCount: 0, slowMs: 0 });
}
const messages = new Map(); // id -> { id, text, account_id, created_at }
let messageSeq = 0;

// ---- storage -----------------------------------------------------------------------------
class Store {
  #m = new Map();
  get(key) {
    const e = this.#m.get(key);
    if (!e) return undefined;
    if (e.expiry !== undefined && e.expiry <= Date.now()) { this.#m.delete(key); return undefined; }
    return e.value;
  }
  set(key, value, { maxAge } = {}) {
    const expiry = typeof maxAge === 'number' && Number.isFinite(maxAge) ? Date.now() + maxAge : undefined;
    this.#m.set(key, { value, expiry });
    return this;
  }
  has(key) { return this.get(key) !== undefined; }
  delete(key) { return this.#m.delete(key); }
  /** Live keys starting with `prefix` (for the test controls). */
  keys(prefix) { return [...this.#m.keys()].filter(k => k.startsWith(prefix) && this.has(k)); }
}
const store = new Store();

// Display name from the login, as end2end/oidc/provider.mjs derives it.
function displayName(id) {
  return id.replace(/[-_.]+/g, ' ').replace(/\b\w/g, c => c.toUpperCase());
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

// The /test/mode expires_in mode, applied to a token response body in place.
function applyExpiresInMode(body) {
  if (!('expires_in' in body)) return body;
  if (modes.expiresIn === 'string') body.expires_in = String(body.expires_in);
  else if (modes.expiresIn === 'missing') delete body.expires_in;
  return body;
}

// POST /test/grant: what a completed browser flow (login + consent + code exchange) leaves
// behind, minted directly through oidc-provider's models. Mirrors the devInteractions consent
// (lib/actions/interaction.js: a new Grant with addOIDCScope) and issueTokens() in
// lib/helpers/grant_common.js, which lib/actions/grants/authorization_code.js calls: an
// AccessToken and a RefreshToken with gty 'authorization_code', bound to the Grant, the
// RefreshToken with rotations 0. The refresh_token grant, reuse detection, revocation and the
// resource API then treat these exactly like browser-flow tokens. Each call creates a new
// Grant, as a fresh browser session would. There is no session, so no sessionUid/sid; the
// tokens don't expire with a session anyway (expiresWithSession is false).
const GRANT_SCOPE = 'publish';
async function mintGrant(provider, accountId, client) {
  const grant = new provider.Grant({ accountId, clientId: client.clientId });
  grant.addOIDCScope(GRANT_SCOPE); // `publish` is a static (OIDC) scope; no resource scopes.
  const grantId = await grant.save();

  const at = new provider.AccessToken({
    accountId, client, grantId, gty: 'authorization_code',
  });
  at.scope = grant.getOIDCScopeFiltered(new Set(GRANT_SCOPE.split(' ')));
  const accessToken = await at.save();

  const rt = new provider.RefreshToken({
    accountId,
    authTime: Math.floor(Date.now() / 1000),
    client,
    grantId,
    gty: 'authorization_code',
    rotations: 0,
    scope: GRANT_SCOPE,
  });
  const refreshToken = await rt.save();

  // Same members, in the same order, as oidc-provider's buildTokenResponse().
  return applyExpiresInMode({
    access_token: accessToken,
    expires_in: at.expiration,
    refresh_token: refreshToken,
    scope: at.scope,
    token_type: at.tokenType,
  });
}

function buildProvider(issuer) {
  const provider = new Provider(issuer, {
    adapter: model => new MemoryAdapter(model, store),
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    // `publish` is registered as a static scope so consent grants it and it lands on the
    // access token (oidc-provider drops unknown scopes). `openid` is not needed.
    scopes: ['publish', 'offline_access', 'openid'],
    claims: { openid: ['sub'], profile: ['name'] },
    pkce: { required: () => true },
    cookies: { keys: ['enclave-integration-cookie-key'] },
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
    },
    // A refresh token on every code grant, whether or not offline_access was requested
    // (oidc-provider's default needs offline_access).
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Tokens outlive the browser session at the provider (default: bound to it unless
    // offline_access was granted).
    expiresWithSession: async () => false,
    // Every refresh rotates (the default only rotates confidential clients' tokens after 70%
    // of their lifetime). With rotation the old token is marked consumed, and
    // lib/actions/grants/refresh_token.js answers a consumed token with invalid_grant after
    // revoking the whole grant (all its access and refresh tokens, and the Grant itself).
    rotateRefreshToken: true,
    ttl: {
      AccessToken: ACCESS_TTL,
      AuthorizationCode: 60,
      RefreshToken: 14 * 24 * 60 * 60,
      Grant: 14 * 24 * 60 * 60,
      Interaction: 60 * 60,
      Session: 24 * 60 * 60,
    },
    findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id, name: displayName(id) }) }),
  });

  // A used refresh token revokes its grant at the token endpoint: that is reuse.
  // (A replayed authorization code also revokes its grant there; that is not counted.)
  provider.on('grant.revoked', (ctx) => {
    if (ctx?.oidc?.route === 'token' && ctx.oidc.params?.grant_type === 'refresh_token') stats.refresh_reuse += 1;
  });

  // Also accept client_secret_post: move body credentials into a Basic header before the
  // provider's own body parser runs (the client is registered as client_secret_basic).
  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && [TOKEN_PATH, REVOCATION_PATH, INTROSPECTION_PATH].includes(ctx.path)
        && !ctx.get('authorization') && ctx.is('application/x-www-form-urlencoded')) {
      const chunks = [];
      for await (const chunk of ctx.req) chunks.push(chunk);
      const params = querystring.parse(Buffer.concat(chunks).toString('utf8'));
      if (typeof params.client_id === 'string' && typeof params.client_secret === 'string') {
        const enc = s => encodeURIComponent(s);
        ctx.req.headers.authorization = `Basic ${Buffer.from(`${enc(params.client_id)}:${enc(params.client_secret)}`).toString('base64')}`;
        delete params.client_secret;
      }
      ctx.req.body = querystring.stringify(params);
    }
    return next();
  });

  // Test hooks around the token and revocation endpoints.
  provider.use(async (ctx, next) => {
    if (ctx.path === REVOCATION_PATH && ctx.method === 'POST') stats.revocations += 1;
    if (ctx.path !== TOKEN_PATH || ctx.method !== 'POST') return next();

    stats.token_requests += 1;
    if (modes.failCount > 0) {
      modes.failCount -= 1;
      ctx.status = modes.failStatus;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: 'temporarily_unavailable' };
    } else {
      await next();
      if (ctx.status === 200 && ctx.oidc?.params?.grant_type === 'refresh_token') stats.refreshes += 1;
      const body = ctx.body;
      if (body && typeof body === 'object' && !Buffer.isBuffer(body)) applyExpiresInMode(body);
    }
    if (modes.slowMs > 0) await sleep(modes.slowMs);
  });

  return provider;
}

// ---- plain-HTTP parts: resource API, posts, test controls ----------------------------------
function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 256 * 1024) throw new Error('body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text.trim() === '' ? {} : JSON.parse(text);
}

function unauthorized(res, description) {
  sendJson(res, 401, { error: 'invalid_token', error_description: description }, {
    'WWW-Authenticate': `Bearer error="invalid_token", error_description="${description}"`,
  });
}

// Looks the bearer token up in oidc-provider's own store. Returns the AccessToken or sends 401.
async function authenticate(provider, req, res) {
  const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(req.headers.authorization || '');
  if (!m) { unauthorized(res, 'missing bearer token'); return undefined; }
  const at = await provider.AccessToken.find(m[1]); // undefined when unknown, expired or revoked
  if (!at || at.isExpired) { unauthorized(res, 'access token is unknown, expired or revoked'); return undefined; }
  if (at.clientId !== CLIENT_ID) { unauthorized(res, 'access token was issued to another client'); return undefined; }
  const grant = await provider.Grant.find(at.grantId);
  if (!grant || grant.accountId !== at.accountId) { unauthorized(res, 'grant has been revoked'); return undefined; }
  return at;
}

const escapeHtml = s => String(s).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

function postPage(msg) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test Social · ${escapeHtml(msg.id)}</title>
<style>body{font-family:system-ui,sans-serif;background:#f3f4f6;margin:0;padding:2rem}
article{max-width:36rem;margin:auto;background:#fff;border-radius:12px;padding:1.5rem;box-shadow:0 1px 4px #0002}
header{color:#555;font-size:.9rem;margin-bottom:.75rem}p{white-space:pre-wrap;font-size:1.1rem;margin:0}</style></head>
<body><article><header><strong>${escapeHtml(displayName(msg.account_id))}</strong> · Test Social · ${escapeHtml(msg.created_at)}</header>
<p id="post-text">${escapeHtml(msg.text)}</p></article></body></html>`;
}

async function handleApi(provider, req, res, url) {
  if (url.pathname === '/api/me' && req.method === 'GET') {
    const at = await authenticate(provider, req, res);
    if (!at) return;
    return sendJson(res, 200, { id: at.accountId, name: displayName(at.accountId) });
  }
  if (url.pathname === '/api/messages' && req.method === 'POST') {
    const at = await authenticate(provider, req, res);
    if (!at) return;
    if (!String(at.scope || '').split(' ').includes('publish')) {
      return sendJson(res, 403, { error: 'insufficient_scope', error_description: 'the publish scope is required' }, {
        'WWW-Authenticate': 'Bearer error="insufficient_scope", scope="publish"',
      });
    }
    let body;
    try { body = await readJson(req); } catch { return sendJson(res, 400, { error: 'invalid_request', error_description: 'body must be JSON' }); }
    const text = body?.text;
    if (typeof text !== 'string' || text.trim() === '') {
      return sendJson(res, 400, { error: 'invalid_request', error_description: 'text must be a non-empty string' });
    }
    messageSeq += 1;
    const id = `msg_${messageSeq}`;
    messages.set(id, { id, text, account_id: at.accountId, created_at: new Date().toISOString() });
    stats.publications += 1;
    return sendJson(res, 201, { id, url: `${provider.issuer}/posts/${id}` });
  }
  return sendJson(res, 404, { error: 'not_found' });
}

async function handleTest(provider, req, res, url) {
  const ip = req.socket.remoteAddress || '';
  if (!['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(ip)) return sendJson(res, 403, { error: 'loopback only' });
  let body = {};
  if (req.method === 'POST') {
    try { body = await readJson(req); } catch { return sendJson(res, 400, { error: 'body must be JSON' }); }
  }
  switch (`${req.method} ${url.pathname}`) {
    case 'GET /test/stats':
      return sendJson(res, 200, { ...stats });
    case 'GET /test/messages':
      return sendJson(res, 200, [...messages.values()]);
    // "The refresh token was used elsewhere": rotates the account's live refresh tokens
    // here (as a second copy refreshing would) and ends its access tokens (as expiry
    // would), so the next refresh by the real holder is a reuse and revokes the grant.
    case 'POST /test/refresh-elsewhere': {
      if (typeof body.account !== 'string' || !body.account) return sendJson(res, 400, { error: 'account is required' });
      let used = 0;
      for (const key of store.keys('RefreshToken:')) {
        const payload = store.get(key);
        if (payload?.accountId !== body.account || payload.consumed) continue;
        const token = await provider.RefreshToken.find(key.slice('RefreshToken:'.length));
        if (token) { await token.consume(); used += 1; }
      }
      for (const key of store.keys('AccessToken:')) {
        if (store.get(key)?.accountId !== body.account) continue;
        const token = await provider.AccessToken.find(key.slice('AccessToken:'.length));
        if (token) await token.destroy();
      }
      return sendJson(res, 200, { used });
    }
    case 'POST /test/reset':
      resetState();
      return sendJson(res, 200, { ok: true });
    case 'POST /test/mode': {
      if (!['number', 'string', 'missing'].includes(body.expires_in)) {
        return sendJson(res, 400, { error: 'expires_in must be "number", "string" or "missing"' });
      }
      modes.expiresIn = body.expires_in;
      return sendJson(res, 200, { ok: true, expires_in: modes.expiresIn });
    }
    case 'POST /test/grant': {
      // Not a request to /token: counts nothing in /test/stats, and fail-token / slow-token
      // don't apply. The expires_in mode does.
      if (!body || typeof body !== 'object' || Array.isArray(body)) return sendJson(res, 400, { error: 'body must be a JSON object' });
      const { account, client_id: clientId = CLIENT_ID } = body;
      if (typeof account !== 'string' || account.trim() === '') {
        return sendJson(res, 400, { error: 'account must be a non-empty string' });
      }
      if (typeof clientId !== 'string') return sendJson(res, 400, { error: 'client_id must be a string' });
      const client = await provider.Client.find(clientId);
      if (!client) return sendJson(res, 400, { error: `unknown client_id ${JSON.stringify(clientId)}` });
      return sendJson(res, 200, await mintGrant(provider, account, client));
    }
    case 'POST /test/fail-token': {
      const status = Number(body.status ?? 503);
      const count = Number(body.count ?? 1);
      if (!Number.isInteger(status) || status < 400 || status > 599 || !Number.isInteger(count) || count < 0) {
        return sendJson(res, 400, { error: 'status must be 400-599 and count a non-negative integer' });
      }
      Object.assign(modes, { failStatus: status, failCount: count });
      return sendJson(res, 200, { ok: true, status, count });
    }
    case 'POST /test/slow-token': {
      const ms = Number(body.ms ?? 0);
      if (!Number.isFinite(ms) || ms < 0) return sendJson(res, 400, { error: 'ms must be a non-negative number' });
      modes.slowMs = ms;
      return sendJson(res, 200, { ok: true, ms });
    }
    default:
      return sendJson(res, 404, { error: 'not_found' });
  }
}

// ---- server --------------------------------------------------------------------------------
let provider;
let providerCallback;
const server = http.createServer((req, res) => {
  const url = new URL(req.url, provider.issuer);
  const route = async () => {
    if (url.pathname.startsWith('/api/')) return handleApi(provider, req, res, url);
    if (url.pathname.startsWith('/test/')) return handleTest(provider, req, res, url);
    const post = /^\/posts\/([A-Za-z0-9_]+)$/.exec(url.pathname);
    if (post && req.method === 'GET') {
      const msg = messages.get(post[1]);
      res.writeHead(msg ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8' });
      return res.end(msg ? postPage(msg) : '<!doctype html><title>Not found</title><p>No such post.</p>');
    }
    return providerCallback(req, res);
  };
  route().catch((err) => {
    console.error(err);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
    else res.end();
  });
});

server.listen(requestedPort, '127.0.0.1', () => {
  const { port } = server.address();
  provider = buildProvider(`http://127.0.0.1:${port}`);
  providerCallback = provider.callback();
  console.log(`integration provider listening on http://127.0.0.1:${port}`);
});

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
