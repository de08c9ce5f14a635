// The soak's load: signed-in demo users load pages and save campaigns at a fixed rate
// (open loop: a request starts every 1/RATE s whatever the previous ones do), for
// DURATION seconds. Every campaign the server answered as saved is written to SAVED (one
// name per line) so scripts/soak can check each is in the database afterwards.
// With GENERATE_CAMPAIGN (an id of Nora's campaigns) it also asks for that campaign's
// drafts every GENERATE_EVERY seconds (default 15: under the 60 an hour a user may) and
// writes each job id the server answered with to JOBS, so the script can check that
// every job finished once although a worker was killed under it.
// Prints one JSON line of counts at the end. Runs against BASE_URL; Node 18+ (fetch).
import fs from 'node:fs';

const base = process.env.BASE_URL;
const rate = Number(process.env.RATE || 200);
const duration = Number(process.env.DURATION || 600);
const savedFile = process.env.SAVED;
const run = process.env.RUN || Date.now().toString(36);
const writeShare = Number(process.env.WRITE_SHARE || 0.2);
const generateCampaign = process.env.GENERATE_CAMPAIGN;
const generateEvery = Number(process.env.GENERATE_EVERY || 15);
const jobsFile = process.env.JOBS;
if (!base || !savedFile) throw new Error('BASE_URL and SAVED are required');
if (generateCampaign && !jobsFile) throw new Error('GENERATE_CAMPAIGN needs JOBS');

const origin = new URL(base).origin;
const form = (fields) => new URLSearchParams(fields).toString();

async function call(fn, fields, cookie) {
  return fetch(`${base}/api/${fn}`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Accept: 'application/json',
      Origin: origin,
      ...(cookie ? { Cookie: cookie } : {}),
    },
    body: form(fields),
  });
}

// Demo accounts: an SME owner and an agency member with a client.
async function signIn(email) {
  const accounts = await (await call('list_demo_accounts', {})).json();
  const a = accounts.find((x) => x.email === email);
  if (!a) throw new Error(`no demo account ${email}`);
  const r = await call('demo_sign_in', { user_id: a.user_id, org_id: a.org_id });
  const cookie = (r.headers.getSetCookie?.() || [r.headers.get('set-cookie')])
    .filter(Boolean).map((c) => c.split(';')[0]).join('; ');
  if (!cookie) throw new Error(`demo sign-in of ${email} set no cookie (HTTP ${r.status})`);
  return cookie;
}

const people = [
  { cookie: await signIn('nora@northwind.example'), client: null,
    pages: ['/', '/campaigns', '/personas', '/dashboard', '/jobs'] },
  { cookie: await signIn('ben@brightside.example'), client: 'acme-outdoors',
    pages: ['/clients/acme-outdoors/campaigns', '/clients/acme-outdoors/personas',
      '/clients/acme-outdoors/dashboard', '/clients/blue-harbor-bank/campaigns'] },
];

const counts = { requests: 0, ok: 0, unavailable: 0, errors: 0, saved: 0, generations: 0, byStatus: {}, firstErrors: [] };
const jobs = jobsFile ? fs.createWriteStream(jobsFile) : null;

// One request for drafts: a job id (a new job, or the one already under way).
async function generate() {
  let status = 0;
  counts.requests++;
  try {
    const r = await call('generate_outputs', { campaign_id: generateCampaign }, people[0].cookie);
    status = r.status;
    const body = await r.text();
    if (status >= 200 && status < 300) {
      const job = JSON.parse(body);
      if (!/^[0-9a-f-]{36}$/.test(job)) throw new Error(`generate_outputs answered ${body}`);
      jobs.write(`${job}\n`);
      counts.generations++;
    } else if (status !== 503 && counts.firstErrors.length < 5) {
      counts.firstErrors.push(`generate_outputs ${status}: ${body.slice(0, 200)}`);
    }
  } catch (e) {
    status = -1;
    if (counts.firstErrors.length < 5) counts.firstErrors.push(String(e.cause?.code || e.message));
  }
  counts.byStatus[status] = (counts.byStatus[status] || 0) + 1;
  if (status >= 200 && status < 300) counts.ok++;
  else if (status === 503) counts.unavailable++;
  else counts.errors++;
}
const saved = fs.createWriteStream(savedFile);
let n = 0;
let inFlight = 0;
let started = Date.now();

async function one() {
  const who = people[n % people.length];
  const write = Math.random() < writeShare;
  const i = n++;
  counts.requests++;
  inFlight++;
  let status = 0;
  let name;
  try {
    if (write) {
      name = `soak-${run}-${i}`;
      const r = await call('add_campaign', {
        ...(who.client ? { client: who.client } : {}),
        name, objective: 'soak', budget: '', starts_on: '', ends_on: '',
      }, who.cookie);
      status = r.status;
      await r.arrayBuffer();
    } else {
      const path = who.pages[i % who.pages.length];
      const r = await fetch(`${base}${path}`, { headers: { Cookie: who.cookie, Accept: 'text/html' } });
      status = r.status;
      await r.arrayBuffer();
    }
  } catch (e) {
    status = -1;
    if (counts.firstErrors.length < 5) counts.firstErrors.push(String(e.cause?.code || e.message));
  } finally {
    inFlight--;
  }
  counts.byStatus[status] = (counts.byStatus[status] || 0) + 1;
  if (status >= 200 && status < 400) {
    counts.ok++;
    if (write) { counts.saved++; saved.write(`${name}\n`); }
  } else if (status === 503) {
    counts.unavailable++;
    const at = (Date.now() - started) / 1000;
    counts.unavailableFrom = Math.min(counts.unavailableFrom ?? at, at);
    counts.unavailableTo = Math.max(counts.unavailableTo ?? at, at);
  } else {
    counts.errors++;
  }
}

started = Date.now();
const pending = new Set();
const generating = generateCampaign
  ? setInterval(() => {
    const p = generate();
    pending.add(p);
    p.finally(() => pending.delete(p));
  }, generateEvery * 1000)
  : null;
await new Promise((resolve) => {
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - started) / 1000) * rate);
    while (counts.requests < due && inFlight < 512) {
      const p = one();
      pending.add(p);
      p.finally(() => pending.delete(p));
    }
    if (Date.now() - started >= duration * 1000) { clearInterval(timer); resolve(); }
  }, 5);
});
if (generating) clearInterval(generating);
await Promise.all(pending);
saved.end();
await new Promise((r) => saved.on('close', r));
if (jobs) {
  jobs.end();
  await new Promise((r) => jobs.on('close', r));
}
counts.seconds = (Date.now() - started) / 1000;
counts.rate = counts.requests / counts.seconds;
console.log(JSON.stringify(counts));
