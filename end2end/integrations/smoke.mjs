// Smoke test for provider.mjs, without a browser: drives the authorization code + PKCE flow
// through the devInteractions login and consent forms with fetch and a small cookie jar,
// then exercises tokens, the resource API, refresh rotation and reuse detection, the
// test controls and revocation.
//
//   node end2end/integrations/smoke.mjs
//     starts provider.mjs as a child process on a free port (INTEGRATION_ACCESS_TTL=4) and
//     stops it afterwards.
//   The /test/grant section mints tokens without the browser flow and checks they behave the same.
//   INTEGRATION_URL=http://127.0.0.1:4014 node end2end/integrations/smoke.mjs
//     uses a provider that is already running; INTEGRATION_REDIRECT_URI, _CLIENT_ID and
//     _CLIENT_SECRET must match the ones it was started with. Resets its counters and modes.
// Exit status 0 = every check passed.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const REDIRECT_URI = process.env.INTEGRATION_REDIRECT_URI || 'http://127.0.0.1:3000/integrations/social/callback';
const CLIENT_ID = process.env.INTEGRATION_CLIENT_ID || 'enclave-publish';
const CLIENT_SECRET = process.env.INTEGRATION_CLIENT_SECRET || 'publish-client-secret';
const SCOPE = process.env.SMOKE_SCOPE || 'publish';
const LOGIN = 'alice-smith';

let base = process.env.INTEGRATION_URL;
let child;

let checks = 0;
let TTL; // the provider's access-token lifetime, read from the first token response
function ok(cond, what, detail) {
  if (!cond) {
    const err = new Error(`FAILED: ${what}${detail === undefined ? '' : ` — got ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}`);
    throw err;
  }
  checks += 1;
  console.log(`  ok  ${what}`);
}
const section = name => console.log(`\n${name}`);
const sleep = ms => new Promise(r => setTimeout(r, ms));

async function startProvider() {
  child = spawn(process.execPath, [path.join(here, 'provider.mjs')], {
    env: { ...process.env, INTEGRATION_PORT: '0', INTEGRATION_REDIRECT_URI: REDIRECT_URI,
      INTEGRATION_CLIENT_ID: CLIENT_ID, INTEGRATION_CLIENT_SECRET: CLIENT_SECRET, INTEGRATION_ACCESS_TTL: '4' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`provider did not start:\n${stderr}`)), 10_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`provider exited (${code}):\n${stderr}`)); });
  });
}

// ---- a minimal cookie jar (name + path; enough for oidc-provider's interaction cookies) ----
const jar = new Map();
function storeCookies(res) {
  for (const line of res.headers.getSetCookie()) {
    const [pair, ...attrs] = line.split(';').map(s => s.trim());
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    let cpath = '/';
    let expired = value === '';
    for (const a of attrs) {
      const [k, v = ''] = a.split('=');
      if (k.toLowerCase() === 'path') cpath = v;
      if (k.toLowerCase() === 'expires' && Date.parse(v) <= Date.now()) expired = true;
      if (k.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
    }
    const key = `${name}\t${cpath}`;
    if (expired) jar.delete(key); else jar.set(key, { name, value, path: cpath });
  }
}
function cookieHeader(url) {
  const p = new URL(url).pathname;
  return [...jar.values()].filter(c => p === c.path || p.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
    .map(c => `${c.name}=${c.value}`).join('; ');
}
async function browse(url, init = {}) {
  const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...init.headers, cookie: cookieHeader(url) } });
  storeCookies(res);
  return res;
}

const b64url = buf => Buffer.from(buf).toString('base64url');
const basic = (id = CLIENT_ID, secret = CLIENT_SECRET) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

// Runs /auth → login form → consent form → redirect_uri; returns { code, verifier, pages }.
async function authorize({ challenge = true, scope = SCOPE } = {}) {
  const verifier = b64url(crypto.randomBytes(32));
  const state = b64url(crypto.randomBytes(12));
  const q = new URLSearchParams({ client_id: CLIENT_ID, response_type: 'code', redirect_uri: REDIRECT_URI, scope, state });
  if (challenge) {
    q.set('code_challenge', b64url(crypto.createHash('sha256').update(verifier).digest()));
    q.set('code_challenge_method', 'S256');
  }
  let url = `${base}/auth?${q}`;
  const pages = [];
  for (let hop = 0; hop < 12; hop += 1) {
    const res = await browse(url);
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location'), url).href;
      if (url.startsWith(REDIRECT_URI)) {
        const back = new URL(url).searchParams;
        if (back.get('error')) return { error: back.get('error'), error_description: back.get('error_description'), pages };
        return { code: back.get('code'), verifier, pages, stateOk: back.get('state') === state, iss: back.get('iss') };
      }
      continue;
    }
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
    if (res.status !== 200 || !action || !prompt) throw new Error(`unexpected page at ${url} (${res.status}):\n${html.slice(0, 500)}`);
    pages.push(prompt);
    const form = prompt === 'login' ? { prompt, login: LOGIN, password: 'anything' } : { prompt };
    url = new URL(action.replace(/&amp;/g, '&'), url).href;
    const posted = await browse(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
    if (posted.status < 300 || posted.status >= 400) throw new Error(`form ${prompt} answered ${posted.status}: ${await posted.text()}`);
    url = new URL(posted.headers.get('location'), url).href;
  }
  throw new Error('too many redirects in the authorization flow');
}

async function token(params, { auth = 'basic', secret = CLIENT_SECRET } = {}) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const body = new URLSearchParams(params);
  if (auth === 'basic') headers.authorization = basic(CLIENT_ID, secret);
  else { body.set('client_id', CLIENT_ID); body.set('client_secret', secret); }
  const started = Date.now();
  const res = await fetch(`${base}/token`, { method: 'POST', headers, body });
  return { status: res.status, body: await res.json(), ms: Date.now() - started, headers: res.headers };
}
const exchange = (code, verifier, opts) =>
  token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }, opts);
const refresh = (rt, opts) => token({ grant_type: 'refresh_token', refresh_token: rt }, opts);
async function connect() {
  const a = await authorize();
  if (!a.code) throw new Error(`authorization failed: ${JSON.stringify(a)}`);
  const t = await exchange(a.code, a.verifier);
  if (t.status !== 200) throw new Error(`code exchange failed: ${JSON.stringify(t.body)}`);
  return t.body;
}

async function api(method, p, at, body) {
  const headers = {};
  if (at !== undefined) headers.authorization = `Bearer ${at}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, body: json, www: res.headers.get('www-authenticate') };
}
const me = at => api('GET', '/api/me', at);
const control = (p, body) => api('POST', `/test/${p}`, undefined, body);
const stats = async () => (await api('GET', '/test/stats')).body;
async function introspect(tok) {
  const res = await fetch(`${base}/token/introspection`, { method: 'POST', headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: tok }) });
  return res.json();
}
async function revoke(tok, hint) {
  const body = new URLSearchParams({ token: tok });
  if (hint) body.set('token_type_hint', hint);
  const res = await fetch(`${base}/token/revocation`, { method: 'POST', headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' }, body });
  return res.status;
}

async function main() {
  let s;
  if (!base) base = await startProvider();
  console.log(`provider at ${base}`);
  await control('reset');

  section('discovery');
  const meta = await (await fetch(`${base}/.well-known/openid-configuration`)).json();
  ok(meta.issuer === base, 'issuer is the base URL', meta.issuer);
  ok(meta.authorization_endpoint === `${base}/auth`, 'authorization endpoint /auth', meta.authorization_endpoint);
  ok(meta.token_endpoint === `${base}/token`, 'token endpoint /token', meta.token_endpoint);
  ok(meta.revocation_endpoint === `${base}/token/revocation`, 'revocation endpoint /token/revocation', meta.revocation_endpoint);
  ok(meta.code_challenge_methods_supported?.includes('S256'), 'S256 advertised', meta.code_challenge_methods_supported);

  section('authorization code + PKCE');
  const noPkce = await authorize({ challenge: false });
  ok(noPkce.error === 'invalid_request' && /PKCE/.test(noPkce.error_description || ''), 'a request without code_challenge is refused', noPkce);
  const first = await authorize();
  ok(first.pages.join(',') === 'login,consent', 'login then consent screens were shown', first.pages);
  ok(typeof first.code === 'string' && first.code.length > 20, 'got an authorization code');
  ok(first.stateOk, 'callback carries the state');
  ok(first.iss === base, 'callback carries iss (RFC 9207)', first.iss);
  const wrongVerifier = await exchange(first.code, b64url(crypto.randomBytes(32)));
  ok(wrongVerifier.status === 400 && wrongVerifier.body.error === 'invalid_grant', 'wrong code_verifier → invalid_grant', wrongVerifier.body);
  // The failed attempt above consumed that code; a fresh one (session and grant remembered → no screens).
  const second = await authorize();
  ok(second.pages.length === 0, 'second authorization reuses the session and grant (no screens)', second.pages);
  const badSecret = await exchange(second.code, second.verifier, { secret: 'wrong' });
  ok(badSecret.status === 401 && badSecret.body.error === 'invalid_client', 'wrong client secret → 401 invalid_client', badSecret.body);
  const third = await authorize();
  const t1 = await exchange(third.code, third.verifier);
  ok(t1.status === 200, 'code exchange with client_secret_basic → 200', t1.body);
  ok(t1.body.token_type === 'Bearer' && typeof t1.body.access_token === 'string', 'Bearer access token issued');
  ok(typeof t1.body.refresh_token === 'string', 'refresh token issued for scope "publish" (no offline_access needed)', t1.body);
  TTL = t1.body.expires_in;
  ok(Number.isInteger(TTL) && TTL > 0 && (!child || TTL === 4), `expires_in is the number INTEGRATION_ACCESS_TTL (${TTL})`, TTL);
  ok(t1.body.scope.split(' ').includes('publish'), `granted scope "${t1.body.scope}" includes publish (requested "${SCOPE}")`, t1.body.scope);
  if (!SCOPE.split(' ').includes('openid')) ok(!('id_token' in t1.body), 'no id_token without openid');
  ok(/no-store/.test(t1.headers.get('cache-control') || ''), 'token response is Cache-Control: no-store');
  const replay = await exchange(third.code, third.verifier);
  ok(replay.status === 400 && replay.body.error === 'invalid_grant', 'authorization code cannot be used twice', replay.body);
  s = await stats();
  ok(s.refresh_reuse === 0 && s.refreshes === 0, 'a replayed code is not counted as refresh reuse', s);

  section('resource API');
  // (the code replay above revoked t1's grant — oidc-provider revokes a grant whose code is replayed)
  const meDead = await me(t1.body.access_token);
  ok(meDead.status === 401, 'code replay revoked the tokens issued from that code', meDead);
  let t = await connect();
  const who = await me(t.access_token);
  ok(who.status === 200 && who.body.id === LOGIN && who.body.name === 'Alice Smith', 'GET /api/me → account id and name', who.body);
  const noAuth = await me(undefined);
  ok(noAuth.status === 401 && /error="invalid_token"/.test(noAuth.www) && noAuth.body.error === 'invalid_token', 'no bearer → 401 invalid_token + WWW-Authenticate', noAuth);
  const junk = await me('not-a-token');
  ok(junk.status === 401 && junk.body.error === 'invalid_token' && junk.body.error_description, 'unknown token → 401 invalid_token', junk.body);
  const posted = await api('POST', '/api/messages', t.access_token, { text: 'Hello from Enclave <3' });
  ok(posted.status === 201 && /^msg_\d+$/.test(posted.body.id) && posted.body.url === `${base}/posts/${posted.body.id}`, 'POST /api/messages → 201 id + url', posted.body);
  const page = await fetch(posted.body.url);
  ok(page.status === 200 && (await page.text()).includes('Hello from Enclave &lt;3'), 'GET /posts/<id> shows the text');
  const empty = await api('POST', '/api/messages', t.access_token, { text: '  ' });
  ok(empty.status === 400, 'empty text → 400', empty);
  const unauthPost = await api('POST', '/api/messages', 'nope', { text: 'x' });
  ok(unauthPost.status === 401 && /invalid_token/.test(unauthPost.www), 'POST with a bad token → 401', unauthPost);
  s = await stats();
  ok(s.publications === 1, 'stats.publications = 1', s);

  section('refresh rotation and reuse detection');
  await control('reset');
  const r1 = await refresh(t.refresh_token);
  ok(r1.status === 200 && r1.body.refresh_token && r1.body.refresh_token !== t.refresh_token, 'refresh → 200 with a new refresh token', r1.body);
  ok(r1.body.access_token !== t.access_token && r1.body.expires_in === TTL, 'refresh → new access token, same expires_in', r1.body);
  ok((await me(r1.body.access_token)).status === 200, 'new access token works');
  ok((await me(t.access_token)).status === 200, 'old access token still works until it expires (rotation does not revoke it)');
  s = await stats();
  ok(s.refreshes === 1 && s.refresh_reuse === 0, 'stats.refreshes = 1', s);
  const reuse = await refresh(t.refresh_token);
  ok(reuse.status === 400 && reuse.body.error === 'invalid_grant', 'reusing the old refresh token → invalid_grant', reuse.body);
  const newest = await refresh(r1.body.refresh_token);
  ok(newest.status === 400 && newest.body.error === 'invalid_grant', '…and the newest refresh token is now dead too', newest.body);
  ok((await me(r1.body.access_token)).status === 401, '…and the newest access token is revoked');
  ok((await me(t.access_token)).status === 401, '…and the original access token is revoked');
  s = await stats();
  ok(s.refresh_reuse === 1 && s.refreshes === 1 && s.token_requests === 3, 'stats: refresh_reuse = 1, refreshes = 1, token_requests = 3', s);

  section('expires_in modes');
  await control('reset');
  await control('mode', { expires_in: 'string' });
  t = await connect();
  ok(t.expires_in === String(TTL), `mode string: code grant carries expires_in "${TTL}"`, t.expires_in);
  let r = await refresh(t.refresh_token);
  ok(r.status === 200 && r.body.expires_in === String(TTL), `mode string: refresh carries expires_in "${TTL}"`, r.body.expires_in);
  await control('mode', { expires_in: 'missing' });
  r = await refresh(r.body.refresh_token);
  ok(r.status === 200 && !('expires_in' in r.body) && r.body.access_token, 'mode missing: no expires_in', r.body);
  await control('mode', { expires_in: 'number' });
  r = await refresh(r.body.refresh_token);
  ok(r.status === 200 && r.body.expires_in === TTL, `mode number: expires_in ${TTL}`, r.body.expires_in);
  const badMode = await control('mode', { expires_in: 'bogus' });
  ok(badMode.status === 400, 'unknown mode → 400');
  await control('mode', { expires_in: 'missing' });
  await control('reset');
  r = await refresh(r.body.refresh_token);
  ok(r.body.expires_in === TTL, 'reset restores mode number', r.body.expires_in);

  section('fail-token');
  await control('reset');
  await control('fail-token', { status: 503, count: 2 });
  const f1 = await refresh(r.body.refresh_token);
  const f2 = await refresh(r.body.refresh_token);
  ok(f1.status === 503 && f1.body.error === 'temporarily_unavailable', '1st token request → 503 temporarily_unavailable', f1);
  ok(f2.status === 503 && f2.body.error === 'temporarily_unavailable', '2nd token request → 503', f2.status);
  const f3 = await refresh(r.body.refresh_token);
  ok(f3.status === 200 && f3.body.refresh_token, '3rd request with the same refresh token succeeds (grant untouched)', f3.body);
  s = await stats();
  ok(s.token_requests === 3 && s.refreshes === 1 && s.refresh_reuse === 0, 'stats: token_requests = 3, refreshes = 1, refresh_reuse = 0', s);
  r = f3;

  section('slow-token');
  await control('slow-token', { ms: 300 });
  const slow = await refresh(r.body.refresh_token);
  ok(slow.status === 200 && slow.ms >= 300, `token response delayed (${slow.ms} ms)`, slow.ms);
  // Two concurrent refreshes with one refresh token (what single-flight must prevent):
  const [c1, c2] = await Promise.all([refresh(slow.body.refresh_token), refresh(slow.body.refresh_token)]);
  const statuses = [c1.status, c2.status].sort().join(',');
  ok(statuses === '200,400', 'concurrent refreshes with one token: one 200, one invalid_grant', [c1.body, c2.body]);
  const winner = c1.status === 200 ? c1 : c2;
  ok((await refresh(winner.body.refresh_token)).status === 400, '…and the race killed the winner\'s refresh token too');
  await control('slow-token', { ms: 0 });
  s = await stats();
  ok(s.refresh_reuse === 1, 'stats.refresh_reuse = 1 after the race', s);

  section('client_secret_post');
  t = await connect();
  const post = await refresh(t.refresh_token, { auth: 'post' });
  ok(post.status === 200 && post.body.refresh_token, 'refresh with client_id/client_secret in the body → 200', post.body);
  const postBad = await refresh(post.body.refresh_token, { auth: 'post', secret: 'wrong' });
  ok(postBad.status === 401 && postBad.body.error === 'invalid_client', 'client_secret_post with a wrong secret → invalid_client', postBad.body);
  t = post.body;

  section('revocation (RFC 7009)');
  await control('reset');
  ok(await revoke(t.access_token, 'access_token') === 200, 'revoke the access token → 200');
  ok((await me(t.access_token)).status === 401, 'revoked access token → 401');
  const afterAtRevoke = await refresh(t.refresh_token);
  ok(afterAtRevoke.status === 400 && afterAtRevoke.body.error === 'invalid_grant',
    'revoking an access token also kills the refresh token of its grant (oidc-provider revokes all of the grant\'s tokens)', afterAtRevoke.body);
  const kept = await authorize();
  ok(kept.pages.length === 0, '…but keeps the Grant itself: re-authorization needs no consent', kept.pages);
  t = (await exchange(kept.code, kept.verifier)).body;
  ok(await revoke(t.refresh_token, 'refresh_token') === 200, 'revoke the refresh token → 200');
  ok((await refresh(t.refresh_token)).body.error === 'invalid_grant', 'revoked refresh token → invalid_grant');
  ok((await me(t.access_token)).status === 401, 'revoking the refresh token revoked the grant: its access token → 401');
  ok(await revoke('unknown-token') === 200, 'revoking an unknown token → 200 (RFC 7009)');
  s = await stats();
  ok(s.revocations === 3 && s.refresh_reuse === 0, 'stats.revocations = 3 (and a revocation is not counted as reuse)', s);
  const again = await authorize();
  ok(again.pages.join(',') === 'consent', 'after revocation the next authorization asks for consent again', again.pages);

  section('access-token expiry');
  t = (await exchange(again.code, again.verifier)).body;
  ok((await me(t.access_token)).status === 200, 'fresh access token works');
  const ttl = Number(t.expires_in);
  if (ttl <= 10) {
    await sleep((ttl + 1) * 1000);
    const expired = await me(t.access_token);
    ok(expired.status === 401 && expired.body.error === 'invalid_token', `after ${ttl + 1}s the access token → 401`, expired);
    const rr = await refresh(t.refresh_token);
    ok(rr.status === 200 && (await me(rr.body.access_token)).status === 200, 'refresh after expiry → working access token', rr.body);
  } else {
    console.log(`  --  skipped (access TTL ${ttl}s)`);
  }

  section('/test/grant (a connected account without a browser)');
  await control('reset');
  const browserTokens = await connect();
  await control('reset');
  const g = await control('grant', { account: 'bob-jones' });
  ok(g.status === 200, 'POST /test/grant → 200', g);
  ok(Object.keys(g.body).join() === Object.keys(browserTokens).join(), `same members, same order as a code grant (${Object.keys(g.body).join(', ')})`, g.body);
  ok(g.body.token_type === 'Bearer' && g.body.scope === 'publish' && g.body.expires_in === TTL, `token_type Bearer, scope publish, expires_in ${TTL}`, g.body);
  ok(typeof g.body.access_token === 'string' && typeof g.body.refresh_token === 'string', 'access and refresh tokens issued');
  const [giAt, giRt, biAt, biRt] = await Promise.all([g.body.access_token, g.body.refresh_token, browserTokens.access_token, browserTokens.refresh_token].map(introspect));
  const shape = i => Object.keys(i).sort().join();
  ok(giAt.active && giAt.sub === 'bob-jones' && giAt.client_id === CLIENT_ID && shape(giAt) === shape(biAt), 'introspection: access token looks like a browser-flow one', [giAt, biAt]);
  ok(giRt.active && giRt.sub === 'bob-jones' && shape(giRt) === shape(biRt), 'introspection: refresh token looks like a browser-flow one', [giRt, biRt]);
  const gWho = await me(g.body.access_token);
  ok(gWho.status === 200 && gWho.body.id === 'bob-jones' && gWho.body.name === 'Bob Jones', 'GET /api/me → the account and its derived name', gWho.body);
  const gPost = await api('POST', '/api/messages', g.body.access_token, { text: 'posted without a browser' });
  const gMsg = (await api('GET', '/test/messages')).body.find(m => m.id === gPost.body.id);
  ok(gPost.status === 201 && gMsg?.account_id === 'bob-jones', 'POST /api/messages works and is attributed to the account', gPost.body);
  s = await stats();
  ok(s.token_requests === 0 && s.refreshes === 0 && s.refresh_reuse === 0, '/test/grant counts no token request or refresh', s);
  const other = await control('grant', { account: 'bob-jones', client_id: CLIENT_ID });
  ok(other.status === 200 && other.body.refresh_token !== g.body.refresh_token, 'explicit client_id → 200, a separate grant', other.body);
  ok((await control('grant', { account: 'x', client_id: 'no-such-client' })).status === 400, 'unknown client_id → 400');
  ok((await control('grant', {})).status === 400, 'missing account → 400');
  const g1 = await refresh(g.body.refresh_token);
  ok(g1.status === 200 && g1.body.refresh_token && g1.body.refresh_token !== g.body.refresh_token && g1.body.scope === 'publish', 'refresh → 200, rotated refresh token', g1.body);
  ok((await me(g1.body.access_token)).body.id === 'bob-jones', 'refreshed access token works at /api/me');
  s = await stats();
  ok(s.refreshes === 1 && s.token_requests === 1, 'stats.refreshes = 1', s);
  const gReuse = await refresh(g.body.refresh_token);
  ok(gReuse.status === 400 && gReuse.body.error === 'invalid_grant', 'reusing the old refresh token → invalid_grant', gReuse.body);
  ok((await refresh(g1.body.refresh_token)).status === 400, '…the rotated refresh token is dead too');
  ok((await me(g1.body.access_token)).status === 401 && (await me(g.body.access_token)).status === 401, '…and both access tokens of the grant are revoked');
  s = await stats();
  ok(s.refresh_reuse === 1 && s.refreshes === 1 && s.token_requests === 3, 'stats: refresh_reuse = 1, refreshes = 1, token_requests = 3', s);
  ok((await me(other.body.access_token)).status === 200, 'the other /test/grant grant of the same account is untouched');
  ok(await revoke(other.body.access_token, 'access_token') === 200 && (await refresh(other.body.refresh_token)).status === 400, 'revoking a /test/grant access token kills its refresh token');
  await control('slow-token', { ms: 300 });
  const race = (await control('grant', { account: 'bob-jones' })).body;
  const raced = await Promise.all([refresh(race.refresh_token), refresh(race.refresh_token)]);
  ok(raced.map(x => x.status).sort().join() === '200,400', 'concurrent refreshes of a /test/grant token: one 200, one invalid_grant', raced.map(x => x.body));
  await control('slow-token', { ms: 0 });
  await control('mode', { expires_in: 'string' });
  const gs = await control('grant', { account: 'bob-jones' });
  ok(gs.status === 200 && gs.body.expires_in === String(TTL), `mode string: /test/grant carries expires_in "${TTL}"`, gs.body);
  await control('mode', { expires_in: 'missing' });
  const gm = await control('grant', { account: 'bob-jones' });
  ok(gm.status === 200 && !('expires_in' in gm.body) && gm.body.access_token, 'mode missing: /test/grant has no expires_in', gm.body);
  await control('mode', { expires_in: 'number' });
  ok((await control('grant', { account: 'bob-jones' })).body.expires_in === TTL, `mode number: /test/grant expires_in ${TTL}`);

  section('reset');
  await control('reset');
  s = await stats();
  ok(Object.values(s).every(v => v === 0) && Object.keys(s).sort().join() === 'publications,refresh_reuse,refreshes,revocations,token_requests', 'stats are all zero after reset', s);

  console.log(`\nsmoke: ${checks} checks passed`);
}

main().then(() => { child?.kill(); process.exit(0); }, (err) => {
  console.error(`\n${err.stack || err}`);
  child?.kill();
  process.exit(1);
});
