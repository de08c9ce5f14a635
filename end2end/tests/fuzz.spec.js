// The hardening fuzz: every server function and every axum route gets generated malformed
// input (wrong types, missing and extra fields, huge and odd Unicode strings, random bytes,
// truncated multipart bodies, absurd numbers, broken HTTP framing), signed in and not.
// Every answer must be 2xx, 3xx or 4xx; the server log must show no panic; the server's
// resident memory must come back to where it was after the warm-up.
//
//   ENCLAVE_FUZZ_SEED=0x…          replay a run (the seed is printed)
//   ENCLAVE_FUZZ_REQUESTS=100000   a longer run (default 10000)
//   ENCLAVE_FUZZ_ONLY=17,4242      with the seed: send only these requests (after the setup)
//   ENCLAVE_FUZZ_SKIP=deep,many    leave out these body mutations (end2end/fuzz/generate.js) while a
//                                  crash they cause is being fixed (a different sequence, same seed)
//   ENCLAVE_FUZZ_CONCURRENCY (8), ENCLAVE_FUZZ_TIMEOUT_MS (30000), ENCLAVE_FUZZ_RSS_GROWTH_MB (64)
//
// The endpoints come from the source (end2end/fuzz/surface.js), not from a list here.
// scripts/test runs this file after the other spec files, in a Playwright run of its own.
const { test, expect } = require('@playwright/test');
const fs = require('node:fs');
const path = require('node:path');
const { surface, changesSession, ROOT } = require('../fuzz/surface');
const { Rng, parseSeed, hex } = require('../fuzz/rng');
const G = require('../fuzz/generate');
const { Client } = require('../fuzz/http');
const S = require('../fuzz/setup');

const BASE = process.env.BASE_URL || 'http://127.0.0.1:3000';
const ORIGIN = new URL(BASE).origin;
const HOST = new URL(BASE).host;
const SEED = parseSeed(process.env.ENCLAVE_FUZZ_SEED);
const TOTAL = Math.max(200, Number(process.env.ENCLAVE_FUZZ_REQUESTS || 10_000));
const CONCURRENCY = Math.max(1, Number(process.env.ENCLAVE_FUZZ_CONCURRENCY || 8));
const TIMEOUT_MS = Number(process.env.ENCLAVE_FUZZ_TIMEOUT_MS || 30_000);
const RSS_BOUND_MB = Number(process.env.ENCLAVE_FUZZ_RSS_GROWTH_MB || 64);
const ONLY = new Set((process.env.ENCLAVE_FUZZ_ONLY || '').split(',').map((s) => s.trim()).filter(Boolean).map(Number));
// The server's allowance on its rate-limited paths (per client address and minute; the
// server's default is 30). The fuzz spends at most a quarter of it per minute of run.
const AUTH_RATE = Number(process.env.ENCLAVE_AUTH_RATE_PER_MINUTE || 30);

const log = (...a) => console.log('fuzz:', ...a);
const mb = (kb) => (kb / 1024).toFixed(1);

/**
 * The paths the server rate-limits per client address (sign-in, invitations), read from
 * server/src/rate_limit.rs (`Action::of` and `per_user`). All tests share 127.0.0.1, so the
 * fuzz spends only a share of that allowance; per-user limits bind only its own users.
 */
function limitedPaths() {
  const file = path.join(ROOT, 'server', 'src', 'rate_limit.rs');
  const rules = [];
  if (fs.existsSync(file)) {
    const text = fs.readFileSync(file, 'utf8');
    const perUser = new Set([...(/fn\s+per_user[\s\S]*?\n\s*\}/.exec(text)?.[0] ?? '').matchAll(/Self::(\w+)/g)].map((m) => m[1]));
    const of = /fn\s+of\s*\(\s*path[\s\S]*?\n\s{4}\}/.exec(text)?.[0] ?? /fn\s+is_limited[\s\S]*?\n\}/.exec(text)?.[0] ?? '';
    for (const line of of.split('\n')) {
      const action = /=>\s*Some\(Self::(\w+)\)/.exec(line)?.[1];
      if (action && perUser.has(action)) continue;
      const starts = [...line.matchAll(/starts_with\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]);
      const ends = [...line.matchAll(/ends_with\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]);
      if (starts.length || ends.length) rules.push({ prefix: starts[0] ?? '', suffix: ends[0] ?? '' });
      else for (const m of line.matchAll(/"(\/[^"]*)"/g)) rules.push({ exact: m[1] });
    }
  }
  if (!rules.length) rules.push({ prefix: '/auth/', suffix: '' }, { exact: '/api/accept_invitation' }, { exact: '/api/invite_member' }, { exact: '/api/demo_sign_in' });
  return rules;
}

function readRssKb(pid) {
  if (!pid) return null;
  let status;
  try { status = fs.readFileSync(`/proc/${pid}/status`, 'utf8'); } catch { return null; }
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) : null;
}

/** The lowest of a few readings a second apart (a reading mid-request is not the level). */
async function settledRss(pid, readings = 5) {
  let low = Infinity;
  for (let k = 0; k < readings; k++) {
    await new Promise((r) => setTimeout(r, 1000));
    low = Math.min(low, readRssKb(pid));
  }
  return low;
}

function errorVariant(body) {
  try {
    const v = JSON.parse(body);
    if (typeof v === 'string') return v;
    if (v && typeof v === 'object') return Object.keys(v)[0];
  } catch { /* not JSON */ }
  return (body || '').replace(/\s+/g, ' ').slice(0, 60);
}

function preview(buf, n = 160) {
  if (!buf || !buf.length) return '';
  return JSON.stringify(buf.subarray(0, n).toString('latin1')) + (buf.length > n ? `… (${buf.length} bytes)` : '');
}

function curlFor(req, identityName) {
  const sh = (s) => `'${String(s).replace(/'/g, "'\\''")}'`;
  const h = Object.entries(req.headers).filter(([, v]) => String(v).length < 300).map(([k, v]) => `-H ${sh(`${k}: ${v}`)}`).join(' ');
  const printable = req.body.length <= 400 && /^[\x20-\x7e]*$/.test(req.body.toString('latin1'));
  const data = !req.body.length ? '' : printable ? ` --data-binary ${sh(req.body.toString('latin1'))}` : ` --data-binary @body.bin  # ${req.body.length} bytes, see the failures file`;
  const cookie = identityName !== 'anon' ? ` -H 'Cookie: enclave_session=<${identityName}>'` : '';
  return `curl -si -X ${req.method} ${sh(BASE + req.path)} ${h}${cookie}${data}`;
}

test('@fuzz every endpoint answers generated malformed input with 2xx/3xx/4xx, no panic, memory comes back', async ({ browser }, testInfo) => {
  test.setTimeout(180_000 + TOTAL * 60);
  const started = Date.now();

  // ---- The surface, from the source ----
  const s = surface();
  const names = s.serverFns.map((f) => f.endpoint);
  const unnamed = s.serverFns.filter((f) => !f.endpoint).map((f) => `${f.fn} (${f.file})`);
  expect(unnamed, 'server functions without #[server(endpoint = "…")] cannot be addressed by the fuzzer').toEqual([]);
  expect(s.serverFns.length, 'server functions found in app/src').toBeGreaterThan(20);
  for (const known of ['viewer', 'campaigns', 'save_persona', 'update_campaign', 'import_preview', 'sign_out', 'accept_invitation', 'invite_member']) {
    expect(names, `server function "${known}" found in app/src`).toContain(known);
  }
  const patterns = s.pages.map((p) => p.pattern);
  for (const known of ['/', '/sign-in', '/campaigns/{campaign}', '/clients/{client}/campaigns/{campaign}', '/import/{batch}', '/invitations/{org}/{invitation}', '/dev/outbox']) {
    expect(patterns, `page route ${known} found in app/src/lib.rs`).toContain(known);
  }
  const axumPaths = s.axum.map((r) => `${r.methods.join('|')} ${r.path}`);
  for (const known of ['POST /import/upload', 'GET /auth/{provider}/start', 'GET /auth/{provider}/callback']) {
    expect(axumPaths, `axum route ${known} found`).toContain(known);
  }
  for (const known of ['page', 'sort', 'q', 'token', 'return_to']) expect(s.queryKeys, `query key ${known} read by a page`).toContain(known);
  const mainFns = s.serverFns.filter((f) => !changesSession(f));
  const finalFns = s.serverFns.filter((f) => changesSession(f));
  for (const known of ['sign_out', 'sign_out_everywhere', 'leave_organization']) {
    expect(finalFns.map((f) => f.endpoint), `${known} is fuzzed last (it ends the fuzzer's session)`).toContain(known);
  }
  const limits = limitedPaths();
  expect(limits.some((r) => r.prefix === '/auth/'), 'the sign-in rate limit (/auth/*) found in server/src/rate_limit.rs').toBe(true);
  const isLimited = (p) => {
    const pathOnly = p.split('?')[0];
    return limits.some((r) => (r.exact !== undefined ? pathOnly === r.exact : pathOnly.startsWith(r.prefix) && pathOnly.endsWith(r.suffix)));
  };
  const authRoutes = s.axum.filter((r) => r.path.startsWith('/auth/'));
  const uploadRoutes = s.axum.filter((r) => /\/upload$/.test(r.path) && r.methods.includes('POST'));
  const otherAxum = s.axum.filter((r) => !authRoutes.includes(r) && !uploadRoutes.includes(r) && !r.path.startsWith('/api/'));
  const siteRoot = process.env.LEPTOS_SITE_ROOT || path.join(ROOT, 'target', 'site');
  const pkgDir = path.join(siteRoot, process.env.LEPTOS_SITE_PKG_DIR || 'pkg');
  const staticFiles = fs.existsSync(pkgDir) ? fs.readdirSync(pkgDir).filter((f) => !f.startsWith('.')).map((f) => `/pkg/${f}`) : [];
  if (!staticFiles.length) staticFiles.push('/pkg/enclave.js', '/pkg/enclave.css', '/pkg/enclave_bg.wasm');

  log(`seed ${hex(SEED)} (replay: ENCLAVE_FUZZ_SEED=${hex(SEED)}), ${TOTAL} requests (ENCLAVE_FUZZ_REQUESTS), ${CONCURRENCY} in flight, against ${BASE}`);
  log(`surface: ${s.serverFns.length} server functions (${mainFns.length} in the main phase, ${finalFns.length} that change the session last: ${finalFns.map((f) => f.endpoint).join(', ')}), `
    + `${s.pages.length} page routes, ${s.queryKeys.length} query keys, ${s.axum.length} axum routes (${s.axum.map((r) => r.path).join(', ')}), ${staticFiles.length} static files; `
    + `limited per client address: ${limits.map((r) => r.exact ?? `${r.prefix}*${r.suffix}`).join(', ')}`);

  const client = new Client(BASE, { maxSockets: CONCURRENCY, timeoutMs: TIMEOUT_MS });
  const serverPid = process.env.SERVER_PID ? Number(process.env.SERVER_PID) : null;
  const serverLog = process.env.SERVER_LOG;
  const logStart = serverLog && fs.existsSync(serverLog) ? fs.statSync(serverLog).size : null;
  const rssAtStart = readRssKb(serverPid);
  if (serverPid) expect(rssAtStart, `SERVER_PID=${serverPid} is the running server`).not.toBeNull();

  // ---- Who sends: nobody, two fresh tenants (they take the writes), two demo accounts (pages only) ----
  const stamp = `${Date.now().toString(36)}${SEED.toString(36)}`;
  const sme = await S.freshTenant({ browser, client, baseURL: BASE, origin: ORIGIN, kind: 'sme', stamp, uploadRoutes });
  const agency = await S.freshTenant({ browser, client, baseURL: BASE, origin: ORIGIN, kind: 'agency', stamp, uploadRoutes });
  const identities = { anon: new S.Identity('anon', undefined), sme: sme.identity, agency: agency.identity };
  const pools = { anon: { foreign: sme.pools }, sme: { ...sme.pools, foreign: agency.pools }, agency: { ...agency.pools, foreign: sme.pools } };
  for (const [name, email] of [['nora', 'nora@northwind.example'], ['ada', 'ada@brightside.example']]) {
    const demo = await S.demoIdentity(client, ORIGIN, email);
    if (!demo) continue;
    identities[name] = demo.identity;
    const seen = await S.viewer(client, ORIGIN, demo.identity);
    const clients = seen.viewer?.active?.clients ?? [];
    pools[name] = { client: clients.map((c) => c.slug), org: [demo.account.org_id], foreign: sme.pools };
    const firstScope = clients[0]?.slug;
    const list = await S.api(client, ORIGIN, demo.identity, 'campaigns', firstScope ? [['client', firstScope]] : []);
    pools[name].campaign = list.rows.map((r) => r.campaign_id);
  }
  const expectedOrg = {};
  for (const [name, id] of Object.entries(identities)) {
    if (name === 'anon') continue;
    const seen = await S.viewer(client, ORIGIN, id);
    expect(seen.viewer?.active?.org_id, `setup: ${name} is signed in and in an organization`).toBeTruthy();
    expectedOrg[name] = seen.viewer.active.org_id;
  }
  log(`identities: anonymous; ${sme.login} (new SME), ${agency.login} (new agency, clients ${agency.pools.client.join(', ')}); `
    + `${['nora', 'ada'].filter((n) => identities[n]).join(', ') || 'no demo accounts'} (pages only)`);

  // ---- The plan: heavy warm-up, regular warm-up, main, session-changing last ----
  const ctx = { surface: s, structs: s.structs, pools, origin: ORIGIN, host: HOST, mainFns, staticFiles, isLimited };
  const rng = new Rng(SEED);
  const heavy = [];
  {
    // Each of the biggest bodies once before the memory baseline, so that the allocator's
    // high-water mark is reached before it is measured.
    const h = rng.fork();
    const big = (fnName, encoding) => {
      const fn = mainFns.find((f) => f.endpoint === fnName) || mainFns[0];
      const body = encoding === 'json' ? Buffer.from(JSON.stringify({ name: 'x'.repeat(1_000_000) })) : Buffer.from(`name=${'%F0%9F%92%A5'.repeat(80_000)}&client=`);
      return { kind: 'serverfn', target: fn.path, method: 'POST', path: fn.path, headers: { Origin: ORIGIN, 'Content-Type': encoding === 'json' ? 'application/json' : 'application/x-www-form-urlencoded' }, body, note: `heavy-${encoding}` };
    };
    for (const id of ['anon', 'sme', 'agency']) {
      heavy.push({ ...big('save_persona', 'form'), identity: id }, { ...big('add_client', 'json'), identity: id });
      const route = uploadRoutes.find((r) => r.path.includes('{') === (id === 'agency')) || uploadRoutes[0];
      heavy.push({ ...G.uploadRequest(h, ctx, id, route, { tooLarge: true }), identity: id });
    }
    heavy.push({ ...G.serverFnRequest(h, ctx, mainFns[0], 'anon'), body: h.bytes(1_000_000), note: 'heavy-bytes', identity: 'anon' });
  }
  const warmCount = Math.min(300, Math.floor(TOTAL * 0.05));
  const finalCount = Math.max(50, Math.round(TOTAL * 0.01));
  const mainCount = TOTAL - heavy.length - warmCount - finalCount;
  const limitedBudget = Math.max(4, Math.floor((AUTH_RATE / 4) * Math.max(1, TOTAL / 10_000)));
  let limitedUsed = 0;
  let index = 0;
  const kindWeights = [[55, 'serverfn'], [22, 'page'], [2, 'invitation'], [3, 'upload'], [Math.max(0.5, (limitedBudget / TOTAL) * 100), 'auth'],
    [4, 'static'], [3, 'raw'], [2, 'odd'], [otherAxum.length ? 2 : 0, 'axum']];

  function draw(phase) {
    if (phase === 'final') {
      const id = rng.weighted([[2, 'anon'], [4, 'sme'], [4, 'agency']]);
      return { ...G.serverFnRequest(rng, ctx, rng.pick(finalFns), id), identity: id };
    }
    const kind = rng.weighted(kindWeights);
    let id = rng.weighted([[50, 'anon'], [20, 'sme'], [20, 'agency'], [5, 'nora'], [5, 'ada']]);
    if (!identities[id] || (identities[id].pagesOnly && !['page', 'invitation', 'static'].includes(kind))) id = id === 'nora' ? 'sme' : id === 'ada' ? 'agency' : id;
    let req;
    switch (kind) {
      case 'serverfn': req = G.serverFnRequest(rng, ctx, rng.pick(mainFns), id); break;
      case 'page': req = G.pageRequest(rng, ctx, id); break;
      case 'invitation': req = G.invitationRequest(rng, ctx, id); break;
      case 'upload': req = G.uploadRequest(rng, ctx, id, rng.pick(uploadRoutes)); break;
      case 'auth': req = G.authRequest(rng, ctx, id, rng.pick(authRoutes)); break;
      case 'static': req = G.staticRequest(rng, ctx); break;
      case 'raw': req = G.rawRequest(rng, ctx); id = 'anon'; break;
      case 'odd': req = G.oddRequest(rng, ctx); break;
      case 'axum': req = G.axumRequest(rng, ctx, rng.pick(otherAxum)); break;
    }
    req.identity = id;
    if (id !== 'anon' && rng.chance(0.04)) { req.cookieFuzz = G.cookieFuzz(rng); req.cookieAppend = rng.chance(0.5); }
    else if (id === 'anon' && rng.chance(0.04)) req.cookieFuzz = G.cookieFuzz(rng);
    return req;
  }

  /** The next request in seed order; rate-limited paths only while within the budget, spread evenly. */
  function generate(phase) {
    const i = index++;
    for (;;) {
      const req = draw(phase);
      if (req.limited || isLimited(req.path)) {
        if (limitedUsed >= Math.ceil((limitedBudget * (i + 1)) / TOTAL) + 2) continue;
        limitedUsed++;
        req.limited = true;
      }
      req.i = i;
      req.phase = phase;
      return req;
    }
  }

  // ---- Sending and judging ----
  const counts = { sent: 0, '2xx': 0, '3xx': 0, '4xx': 0, 429: 0, '5xx': 0, 'no answer': 0, 'cut short': 0, 'reset while sending a big body': 0, 'client refused': 0 };
  const resetsWhileSending = [];
  const retriedAfterReset = [];
  const byKind = {};
  const failures = [];
  const clientRefusals = [];
  let peakKb = rssAtStart ?? 0;
  const sampler = serverPid ? setInterval(() => { try { peakKb = Math.max(peakKb, readRssKb(serverPid)); } catch { /* gone */ } }, 1000) : null;

  const inFlight = new Map();
  let serverDied = null;
  // Gone, or a zombie that nobody has reaped yet (kill -0 would still succeed on it).
  const serverAlive = () => {
    if (!serverPid) return true;
    try { return !/^State:\s+[ZX]/m.test(fs.readFileSync(`/proc/${serverPid}/status`, 'utf8')); } catch { return false; }
  };

  function describe(req, headers, res) {
    const real = identities[req.identity]?.header;
    return {
      i: req.i, phase: req.phase, identity: req.identity, kind: req.kind, target: req.target, method: req.method, path: req.path,
      note: req.note, status: res?.status, problem: res?.problem, variant: errorVariant(res?.body), response: (res?.body || '').slice(0, 400),
      headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, k === 'Cookie' && real ? String(v).replace(real, `<${req.identity}>`) : String(v).slice(0, 300)])),
      bodyLength: req.raw ? req.raw.length : req.body.length,
      bodyBase64: (req.raw || req.body).subarray(0, 65536).toString('base64'),
      bodyPreview: preview(req.raw || req.body),
      curl: req.raw ? `(raw bytes: ${preview(req.raw, 300)})` : curlFor({ ...req, headers: Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'Cookie')) }, req.identity),
    };
  }

  async function sendOne(req) {
    const identity = identities[req.identity];
    const headers = { ...req.headers };
    const real = identity?.header;
    if (req.cookieFuzz) headers.Cookie = req.cookieAppend && real ? `${real}; ${req.cookieFuzz}` : req.cookieFuzz;
    else if (real) headers.Cookie = real;
    inFlight.set(req.i, { req, headers });
    const res = req.raw
      ? await client.sendRaw(req.raw, { complete: req.expectAnswer })
      : await client.send({ method: req.method, path: req.path, headers, body: req.body });
    if (res.status === 0 && !(req.raw && !req.expectAnswer) && !serverDied && (!serverAlive() || /ECONNREFUSED/.test(res.error))) {
      // The process is gone: what was in flight when it went is what to replay.
      serverDied = { at: req.i, suspects: [...inFlight.values()].map((f) => describe(f.req, f.headers)) };
    }
    inFlight.delete(req.i);
    if (serverDied) return;
    counts.sent++;
    if (res.retried && res.status !== 0) retriedAfterReset.push(`#${req.i} ${req.method} ${req.path.slice(0, 60)} (${res.retried})`);
    byKind[req.kind] = (byKind[req.kind] || 0) + 1;
    if (!req.raw && !req.cookieFuzz && req.identity !== 'anon') {
      const c = S.sessionCookieFrom(res);
      if (c !== undefined && c !== identity.cookie && (c || req.phase === 'final')) identity.cookie = c;
    }
    let problem;
    if (res.clientError) { counts['client refused']++; clientRefusals.push(`#${req.i} ${req.kind} ${req.note}: ${res.error}`); return; }
    if (res.status === 0) {
      if (req.raw && !req.expectAnswer) { counts['cut short']++; return; }
      // The server answered before reading a big body to its end (a refusal, the size
      // limit) and closed; the client, still writing, gets a reset instead of the answer.
      if (req.body.length >= 256 * 1024 && /EPIPE|ECONNRESET/.test(res.error)) {
        counts['reset while sending a big body']++;
        resetsWhileSending.push(`#${req.i} ${req.method} ${req.path.slice(0, 80)} (${req.body.length} bytes, ${req.identity})`);
        return;
      }
      counts['no answer']++;
      problem = `no answer: ${res.error}${res.retried ? ` (sent twice; the first time: ${res.retried})` : ''}`;
    } else if (res.status >= 500) {
      counts['5xx']++;
      problem = `status ${res.status}`;
    } else {
      counts[`${Math.floor(res.status / 100)}xx`]++;
      if (res.status === 429) counts[429]++;
      if (res.error) problem = `status ${res.status}, then the answer broke off: ${res.error}`;
    }
    if (problem) failures.push(describe(req, headers, { ...res, problem }));
  }

  async function runPhase(phase, list) {
    let next = 0;
    const t0 = Date.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      for (;;) {
        const k = next++;
        if (k >= list.length || serverDied) return;
        const req = typeof list[k] === 'function' ? list[k]() : list[k];
        if (ONLY.size && !ONLY.has(req.i)) continue;
        await sendOne(req);
        if (counts.sent % 2000 === 0) log(`… ${counts.sent} sent (${JSON.stringify(counts)})`);
      }
    }));
    return (Date.now() - t0) / 1000;
  }
  const lazy = (n, phase) => Array.from({ length: n }, () => () => generate(phase));

  // Heavy and regular warm-up, then the baseline.
  heavy.forEach((r) => { r.i = index++; r.phase = 'warm-up'; });
  await runPhase('warm-up', [...heavy, ...lazy(warmCount, 'warm-up')]);
  const measure = serverPid && !serverDied;
  const baselineKb = measure ? await settledRss(serverPid, 3) : null;
  if (measure) log(`memory: VmRSS ${mb(rssAtStart)} MB before the fuzz, ${mb(baselineKb)} MB after the warm-up (${heavy.length + warmCount} requests)`);
  else log(`memory: not measured (${serverDied ? 'the server died' : 'SERVER_PID not set'})`);

  const mainSeconds = await runPhase('main', lazy(mainCount, 'main'));

  // The signed-in half really was signed in: no request of the main phase ended a session.
  const alive = {};
  for (const name of serverDied ? [] : Object.keys(expectedOrg)) {
    const seen = await S.viewer(client, ORIGIN, identities[name]);
    alive[name] = seen.viewer?.active?.org_id === expectedOrg[name];
  }

  const finalSeconds = await runPhase('final', lazy(finalCount, 'final'));
  if (sampler) clearInterval(sampler);

  // Settle: jobs the fuzz queued finish, connections close; then the level, as the lowest of five readings.
  client.close();
  const afterKb = serverPid && !serverDied && serverAlive() ? await settledRss(serverPid, 5) : null;

  // ---- The server log, from where it stood before the fuzz ----
  let panics = [];
  let errorLines = [];
  if (serverLog && logStart !== null) {
    const text = fs.readFileSync(serverLog).subarray(logStart).toString('utf8').replace(/\x1b\[[0-9;]*m/g, '');
    const lines = text.split('\n');
    panics = lines.filter((l) => /panicked|\bpanic|overflowed its stack|fatal runtime error|SIGSEGV|SIGABRT|core dumped/i.test(l));
    errorLines = lines.filter((l) => /\bERROR\b/.test(l));
  }

  // ---- Report ----
  const seconds = (Date.now() - started) / 1000;
  log(`done: ${counts.sent} requests in ${seconds.toFixed(1)} s (main phase ${(mainCount / mainSeconds).toFixed(0)}/s; final ${finalSeconds.toFixed(1)} s): `
    + `2xx ${counts['2xx']}, 3xx ${counts['3xx']}, 4xx ${counts['4xx']} (429: ${counts[429]}), 5xx ${counts['5xx']}, no answer ${counts['no answer']}, `
    + `cut short on purpose ${counts['cut short']}; rate-limited paths ${limitedUsed} (budget ${limitedBudget} at ${AUTH_RATE}/min)`);
  log(`by kind: ${Object.entries(byKind).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (resetsWhileSending.length) log(`${resetsWhileSending.length} big bodies met a reset while still being sent (the server answered early and closed; not counted as failures): ${resetsWhileSending.slice(0, 5).join(' | ')}`);
  if (retriedAfterReset.length) log(`${retriedAfterReset.length} requests got no answer on a kept-alive connection and were answered when sent again on a fresh one: ${retriedAfterReset.slice(0, 5).join(' | ')}`);
  if (clientRefusals.length) log(`${clientRefusals.length} generated requests the HTTP client would not send (fuzzer bug), e.g. ${clientRefusals.slice(0, 3).join(' | ')}`);
  log(`sessions after the main phase: ${Object.entries(alive).map(([k, v]) => `${k} ${v ? 'signed in' : 'SIGNED OUT'}`).join(', ')}`);
  const growthKb = afterKb !== null && baselineKb !== null ? afterKb - baselineKb : null;
  if (growthKb !== null) {
    log(`memory: VmRSS after warm-up ${mb(baselineKb)} MB, after the run ${mb(afterKb)} MB (${growthKb >= 0 ? '+' : ''}${mb(growthKb)} MB, `
      + `${((growthKb * 1024) / (counts.sent || 1)).toFixed(0)} B per request; bound ${RSS_BOUND_MB} MB), peak ${mb(peakKb)} MB`);
  }
  if (serverLog) log(`server log: ${panics.length} panic lines, ${errorLines.length} ERROR lines during the run`);
  else log('server log: not read (SERVER_LOG not set)');
  if (errorLines.length) {
    const kinds = {};
    for (const l of errorLines) {
      const key = l.replace(/^\S+\s+/, '').replace(/[0-9a-f]{12,}/g, '…').replace(/\d+/g, 'N').slice(0, 160);
      kinds[key] = (kinds[key] || 0) + 1;
    }
    log('ERROR lines by kind:\n' + Object.entries(kinds).sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, v]) => `  ${v} × ${k}`).join('\n'));
  }
  if (failures.length) {
    const groups = {};
    for (const f of failures) {
      const key = `${f.status || 'no answer'} ${f.method} ${f.target} → ${f.variant}`;
      (groups[key] ||= { n: 0, ids: new Set(), first: f }).n++;
      groups[key].ids.add(f.identity);
    }
    log(`${failures.length} failing requests in ${Object.keys(groups).length} groups (status method target → answer; who; first request):\n`
      + Object.entries(groups).sort((a, b) => b[1].n - a[1].n).slice(0, 60).map(([k, g]) => `  ${g.n} × ${k}  [${[...g.ids].join(',')}]  #${g.first.i}`).join('\n')
      + (Object.keys(groups).length > 60 ? `\n  … and ${Object.keys(groups).length - 60} more groups` : ''));
    const file = testInfo.outputPath('fuzz-failures.json');
    const kept = [];
    const perGroup = {};
    for (const f of failures) {
      const key = `${f.status} ${f.method} ${f.target} ${f.variant}`;
      if ((perGroup[key] = (perGroup[key] || 0) + 1) <= 3 && kept.length < 500) kept.push(f);
    }
    fs.writeFileSync(file, JSON.stringify({ seed: hex(SEED), total: TOTAL, failures: kept }, null, 1));
    log(`first failing requests (up to three of each group, bodies base64, in ${file}):`);
    for (const f of failures.slice(0, 8)) {
      log(`  #${f.i} [${f.phase}, ${f.identity}, ${f.kind}: ${f.note}] ${f.problem}\n    ${f.method} ${f.path.slice(0, 300)}\n    body ${f.bodyPreview || '(none)'}\n`
        + `    answer ${JSON.stringify(f.response.slice(0, 200))}\n    ${f.curl.slice(0, 600)}\n    replay: ENCLAVE_FUZZ_SEED=${hex(SEED)} ENCLAVE_FUZZ_REQUESTS=${TOTAL} ENCLAVE_FUZZ_ONLY=${f.i}`);
    }
  }
  if (serverDied) {
    log(`THE SERVER PROCESS DIED during request #${serverDied.at}; the ${serverDied.suspects.length} requests in flight then (one of them, or one just before, killed it):`);
    for (const f of serverDied.suspects) {
      log(`  #${f.i} [${f.phase}, ${f.identity}, ${f.kind}: ${f.note}]\n    ${f.method} ${f.path.slice(0, 300)}\n    body ${f.bodyPreview || '(none)'}\n    ${f.curl.slice(0, 600)}`);
    }
    log(`replay them alone: ENCLAVE_FUZZ_SEED=${hex(SEED)} ENCLAVE_FUZZ_REQUESTS=${TOTAL} ENCLAVE_FUZZ_ONLY=${serverDied.suspects.map((f) => f.i).join(',')}`);
    fs.writeFileSync(testInfo.outputPath('fuzz-server-died.json'), JSON.stringify({ seed: hex(SEED), total: TOTAL, ...serverDied }, null, 1));
  }
  if (panics.length) log(`panic lines:\n${panics.slice(0, 10).map((l) => `  ${l.slice(0, 400)}`).join('\n')}`);

  expect.soft(serverDied && `died during #${serverDied.at}; in flight: ${serverDied.suspects.map((f) => `#${f.i}`).join(' ')}`, 'the server process stays up').toBeNull();
  expect.soft(failures.map((f) => `#${f.i} ${f.problem} ${f.method} ${f.path.slice(0, 120)}`).slice(0, 20), 'every answer is 2xx, 3xx or 4xx').toEqual([]);
  expect.soft(panics.slice(0, 5), 'no panic in the server log').toEqual([]);
  expect.soft(alive, 'the signed-in identities stayed signed in through the main phase').toEqual(Object.fromEntries(Object.keys(alive).map((k) => [k, true])));
  if (growthKb !== null && !ONLY.size) {
    expect.soft(growthKb / 1024, `server VmRSS growth over the run (MB; ${mb(baselineKb)} → ${mb(afterKb)})`).toBeLessThan(RSS_BOUND_MB);
  }
  if (!serverDied) expect(counts.sent, 'requests sent').toBe(ONLY.size ? counts.sent : TOTAL);
});
