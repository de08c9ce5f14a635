// A local stand-in for the parts of Stripe's API that Enclave calls, speaking Stripe's own
// HTTP protocol (form-encoded bodies with bracket notation, Bearer sk_test_ keys,
// Idempotency-Key replay, list objects, Stripe's error shape), plus the two hosted pages a
// browser visits (Checkout and the Customer Portal) and signed webhook delivery.
//
// Why it exists: no Stripe mock can be installed here (see ../../../shared/BILLING-NOTES.md
// and issue 11). server/tests/stripe_standin.rs deserializes every shape served here with
// async-stripe 0.41's own types, so a missing or mistyped field fails a test rather than
// the first real payment.
//
// Everything is in memory in this one process; POST /_test/reset forgets it all.
// Configuration (environment):
//   STRIPE_STANDIN_PORT            port on 127.0.0.1 (default 4413; 0 = any free port)
//   STRIPE_STANDIN_PUBLIC_URL      base of the hosted pages (default http://127.0.0.1:PORT)
//   STRIPE_STANDIN_WEBHOOK_URL     where events are POSTed; unset = events recorded, never sent
//   STRIPE_STANDIN_WEBHOOK_SECRET  the whsec_… deliveries are signed with
//   STRIPE_STANDIN_PRICES          price_id=Label=unit_amount_cents=per_seat|flat, comma separated
//   STRIPE_STANDIN_RETRY_MS        delay before retrying a failed delivery (default 1000)
// Signing uses the official `stripe` npm package, so our Rust verifier is checked against
// Stripe's own signer rather than against a copy of itself.
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';
import Stripe from 'stripe';

const API_VERSION = '2023-10-16';
const CURRENCY = 'usd';
const PERIOD_SECS = 30 * 86400;
const MAX_ATTEMPTS = 3;
const DELIVERY_TIMEOUT_MS = 10_000;
const MAX_BODY_BYTES = 1024 * 1024;
const PRORATION_BEHAVIORS = ['create_prorations', 'none', 'always_invoice'];
const DELIVERY_MODES = ['normal', 'duplicate', 'reverse', 'drop_next', 'fail_then_retry', 'hold'];

const requestedPort = Number(process.env.STRIPE_STANDIN_PORT ?? 4413);
const WEBHOOK_URL = process.env.STRIPE_STANDIN_WEBHOOK_URL || '';
const WEBHOOK_SECRET = process.env.STRIPE_STANDIN_WEBHOOK_SECRET || '';
const RETRY_MS = Number(process.env.STRIPE_STANDIN_RETRY_MS || 1000);
let PUBLIC_URL = ''; // set once the port is known

if (WEBHOOK_URL && !WEBHOOK_SECRET) {
  console.error('stripe stand-in: STRIPE_STANDIN_WEBHOOK_URL is set but STRIPE_STANDIN_WEBHOOK_SECRET is not');
  process.exit(2);
}
const CATALOG = parseCatalog(process.env.STRIPE_STANDIN_PRICES || '');
// Only the signer is used; constructing the client makes no network call.
const signer = new Stripe('sk_test_standin_signer_only').webhooks;

// ---------------------------------------------------------------------------------------
// Small helpers

const nowSecs = () => Math.floor(Date.now() / 1000);
const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A Stripe-like id: prefix plus 24 characters of [0-9A-Za-z]. */
function newId(prefix) {
  const bytes = crypto.randomBytes(24);
  let s = '';
  for (const b of bytes) s += BASE62[b % 62];
  return prefix + s;
}

/** JSON with object keys sorted, so equal parameters compare equal whatever their order. */
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

function escapeHtml(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function money(cents) {
  return `$${(cents / 100).toFixed(2)}`;
}

function dateText(secs) {
  return new Date(secs * 1000).toISOString().slice(0, 10);
}

function parseCatalog(text) {
  const catalog = new Map();
  for (const entry of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [id, label, amount, kind] = entry.split('=');
    if (!id?.startsWith('price_') || !label || !/^\d+$/.test(amount ?? '') || !['per_seat', 'flat'].includes(kind)) {
      console.error(`stripe stand-in: bad STRIPE_STANDIN_PRICES entry '${entry}' (want price_id=Label=cents=per_seat|flat)`);
      process.exit(2);
    }
    catalog.set(id, { id, label, unitAmount: Number(amount), kind });
  }
  return catalog;
}

/** A Stripe API error, thrown by handlers and turned into Stripe's error body. */
class ApiError extends Error {
  constructor(status, type, message, extra = {}) {
    super(message);
    this.status = status;
    this.body = { error: { type, message, ...extra } };
  }
}
const invalid = (message, param) => new ApiError(400, 'invalid_request_error', message, param ? { param } : {});
const missingParam = (param) =>
  new ApiError(400, 'invalid_request_error', `Missing required param: ${param}.`, { code: 'parameter_missing', param });
const noSuch = (kind, id, param, status = 400) =>
  new ApiError(status, 'invalid_request_error', `No such ${kind}: '${id}'`, { code: 'resource_missing', param });

// ---------------------------------------------------------------------------------------
// Stripe's form encoding: `a[b][0][c]=v`, `expand[]=x`. URLSearchParams undoes the
// percent-encoding (serde_qs encodes the brackets too), then keys are split on brackets.

function parseParams(text) {
  const root = Object.create(null);
  for (const [key, value] of new URLSearchParams(text)) {
    const m = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
    const path = m ? [m[1], ...[...m[2].matchAll(/\[([^[\]]*)\]/g)].map((x) => x[1])] : [key];
    let node = root;
    for (let i = 0; i < path.length; i++) {
      // `[]` appends: the next free index.
      const seg = path[i] === '' ? String(Object.keys(node).length) : path[i];
      if (i === path.length - 1) node[seg] = value;
      else {
        if (typeof node[seg] !== 'object') node[seg] = Object.create(null);
        node = node[seg];
      }
    }
  }
  return arrayify(root, '');
}

/** Objects whose keys are all indices become arrays (not under metadata, whose keys are free). */
function arrayify(node, name) {
  if (!node || typeof node !== 'object') return node;
  const keys = Object.keys(node);
  for (const k of keys) node[k] = arrayify(node[k], k);
  if (name !== 'metadata' && keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return keys.sort((a, b) => a - b).map((k) => node[k]);
  }
  return node;
}

function optString(params, name) {
  const v = params?.[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(`Invalid ${name}: must be a string`, name);
  return v;
}

function optInt(params, name, { min = 0, max = Number.MAX_SAFE_INTEGER, label = name } = {}) {
  const v = params?.[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || !/^-?\d+$/.test(v)) {
    throw new ApiError(400, 'invalid_request_error', `Invalid integer: ${v}`, { code: 'parameter_invalid_integer', param: label });
  }
  const n = Number(v);
  if (n < min || n > max) throw invalid(`Invalid ${label}: must be between ${min} and ${max}`, label);
  return n;
}

function optBool(params, name) {
  const v = params?.[name];
  if (v === undefined) return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw invalid(`Invalid boolean: ${v}`, name);
}

/** Stripe's metadata rules; an empty value removes the key on update. */
function metadataParam(value, param, existing = {}) {
  if (value === undefined) return existing;
  if (value === '') return {}; // `metadata=` clears all keys
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid('Invalid object', param);
  const out = { ...existing };
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw invalid(`Invalid value for ${param}[${k}]: must be a string`, `${param}[${k}]`);
    if (k.length > 40) throw invalid(`Metadata keys can have up to 40 characters; '${k}' has ${k.length}`, param);
    if (v.length > 500) throw invalid(`Metadata values can have up to 500 characters; ${param}[${k}] has ${v.length}`, param);
    if (v === '') delete out[k];
    else out[k] = v;
  }
  if (Object.keys(out).length > 50) throw invalid('Metadata can have up to 50 keys', param);
  return out;
}

function prorationParam(params, param = 'proration_behavior') {
  const v = params?.proration_behavior;
  if (v === undefined) return undefined;
  if (!PRORATION_BEHAVIORS.includes(v)) {
    throw invalid(`Invalid ${param}: must be one of ${PRORATION_BEHAVIORS.join(', ')}`, param);
  }
  return v;
}

function urlParam(params, name, required) {
  const v = optString(params, name);
  if (v === undefined) {
    if (required) throw missingParam(name);
    return undefined;
  }
  try {
    const u = new URL(v);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new ApiError(400, 'invalid_request_error', 'Not a valid URL', { code: 'url_invalid', param: name });
  }
  return v;
}

// ---------------------------------------------------------------------------------------
// State

let state;
const CONFIGURATION_ID = newId('bpc_'); // the one portal configuration
const STARTED = nowSecs();

function freshState() {
  return {
    customers: new Map(),
    subscriptions: new Map(),
    items: new Map(), // si_… → subscription id
    itemProration: new Map(), // si_… → last proration_behavior sent for it
    sessions: new Map(), // cs_test_… → { json, lineItems, subscriptionData }
    portals: new Map(),
    invoices: new Map(),
    prices: new Map(), // price objects served so far (catalog and ad-hoc ids)
    products: new Map(),
    events: [], // emission order
    eventById: new Map(),
    delivery: new Map(), // evt_… → { status, attempts, payload }
    deliveries: [], // every attempt
    idempotency: new Map(),
    mode: 'normal',
    held: [],
  };
}
state = freshState();

/** The price object for `id`: from the catalog, else a zero-amount price labelled by its id. */
function price(id) {
  if (typeof id !== 'string' || !id.startsWith('price_')) return undefined;
  let p = state.prices.get(id);
  if (p) return p;
  const entry = CATALOG.get(id) ?? { id, label: id, unitAmount: 0, kind: 'per_seat' };
  const productId = newId('prod_');
  state.products.set(productId, {
    id: productId, object: 'product', active: true, created: STARTED, default_price: id, description: null,
    images: [], livemode: false, metadata: {}, name: entry.label, package_dimensions: null, shippable: null,
    statement_descriptor: null, tax_code: null, type: 'service', unit_label: entry.kind === 'per_seat' ? 'seat' : null,
    updated: STARTED, url: null,
  });
  p = {
    id, object: 'price', active: true, billing_scheme: 'per_unit', created: STARTED, currency: CURRENCY,
    custom_unit_amount: null, livemode: false, lookup_key: null, metadata: {}, nickname: entry.label,
    product: productId,
    recurring: { aggregate_usage: null, interval: 'month', interval_count: 1, trial_period_days: null, usage_type: 'licensed' },
    tax_behavior: 'unspecified', tiers_mode: null, transform_quantity: null, type: 'recurring',
    unit_amount: entry.unitAmount, unit_amount_decimal: String(entry.unitAmount),
  };
  state.prices.set(id, p);
  return p;
}

function priceLabel(id) {
  return CATALOG.get(id)?.label ?? id;
}

/** The legacy `plan` that Stripe still sends beside each item's price. */
function planFor(p) {
  return {
    id: p.id, object: 'plan', active: true, aggregate_usage: null, amount: p.unit_amount,
    amount_decimal: p.unit_amount_decimal, billing_scheme: 'per_unit', created: p.created, currency: CURRENCY,
    interval: 'month', interval_count: 1, livemode: false, metadata: {}, nickname: p.nickname, product: p.product,
    tiers_mode: null, transform_usage: null, trial_period_days: null, usage_type: 'licensed',
  };
}

function requirePrice(id, param) {
  if (id === undefined) throw missingParam(param);
  const p = price(id);
  if (!p) throw noSuch('price', id, param);
  return p;
}

function getCustomer(id, param = 'id', status = 404) {
  const c = state.customers.get(id);
  if (!c) throw noSuch('customer', id, param, status);
  return c;
}

function getSubscription(id, param = 'id', status = 404) {
  const s = state.subscriptions.get(id);
  if (!s) throw noSuch('subscription', id, param, status);
  return s;
}

function itemObject(subscriptionId, p, quantity, created) {
  return {
    id: newId('si_'), object: 'subscription_item', billing_thresholds: null, created, metadata: {},
    plan: planFor(p), price: p, quantity, subscription: subscriptionId, tax_rates: [],
  };
}

function setItemPrice(item, p) {
  item.price = p;
  item.plan = planFor(p);
}

function amountOf(sub) {
  return sub.items.data.reduce((sum, it) => sum + it.price.unit_amount * (it.quantity ?? 1), 0);
}

function newInvoice(sub, now, { paid, reason }) {
  const customer = state.customers.get(sub.customer);
  const amount = sub.status === 'trialing' ? 0 : amountOf(sub);
  const inv = {
    id: newId('in_'), object: 'invoice', account_country: 'US', account_name: 'Stripe stand-in',
    amount_due: amount, amount_paid: paid ? amount : 0, amount_remaining: paid ? 0 : amount, attempt_count: 1,
    attempted: true, auto_advance: !paid, billing_reason: reason, collection_method: 'charge_automatically',
    created: now, currency: CURRENCY, customer: sub.customer, customer_email: customer?.email ?? null,
    customer_name: customer?.name ?? null, description: null, hosted_invoice_url: null, livemode: false,
    metadata: {}, number: null, paid, period_start: sub.current_period_start, period_end: sub.current_period_end,
    status: paid ? 'paid' : 'open', subscription: sub.id, subtotal: amount, total: amount,
  };
  state.invoices.set(inv.id, inv);
  return inv;
}

/**
 * A new subscription for `customer` with one item. `trialDays` > 0 starts a trial, whose
 * end is also the first period's end (as Stripe does); otherwise the period is 30 days.
 */
function createSubscription(action, { customer, p, quantity, metadata, trialDays }) {
  const now = action.created;
  const id = newId('sub_');
  const trialEnd = trialDays ? now + trialDays * 86400 : null;
  const periodEnd = trialEnd ?? now + PERIOD_SECS;
  const item = itemObject(id, p, quantity, now);
  const sub = {
    id, object: 'subscription', application: null, application_fee_percent: null,
    automatic_tax: { enabled: false, liability: null }, billing_cycle_anchor: periodEnd === trialEnd ? trialEnd : now,
    billing_cycle_anchor_config: null, billing_thresholds: null, cancel_at: null, cancel_at_period_end: false,
    canceled_at: null, cancellation_details: { comment: null, feedback: null, reason: null },
    collection_method: 'charge_automatically', created: now, currency: CURRENCY, current_period_end: periodEnd,
    current_period_start: now, customer: customer.id, days_until_due: null, default_payment_method: null,
    default_source: null, default_tax_rates: [], description: null, discount: null, ended_at: null,
    items: { object: 'list', data: [item], has_more: false, total_count: 1, url: `/v1/subscription_items?subscription=${id}` },
    latest_invoice: null, livemode: false, metadata: { ...metadata }, next_pending_invoice_item_invoice: null,
    on_behalf_of: null, pause_collection: null,
    payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: 'off' },
    pending_invoice_item_interval: null, pending_setup_intent: null, pending_update: null, schedule: null,
    start_date: now, status: trialEnd ? 'trialing' : 'active', test_clock: null, transfer_data: null,
    trial_end: trialEnd, trial_settings: { end_behavior: { missing_payment_method: 'create_invoice' } },
    trial_start: trialEnd ? now : null,
  };
  state.subscriptions.set(id, sub);
  state.items.set(item.id, id);
  const invoice = newInvoice(sub, now, { paid: true, reason: 'subscription_create' });
  sub.latest_invoice = invoice.id;
  return { sub, invoice };
}

function cancelNow(sub, now) {
  sub.status = 'canceled';
  sub.canceled_at = now;
  sub.ended_at = now;
  sub.cancel_at_period_end = false;
  sub.cancel_at = null;
  sub.cancellation_details = { comment: null, feedback: null, reason: 'cancellation_requested' };
}

/** Top-level fields whose value changed, with their old values (Stripe's previous_attributes). */
function changedFields(before, after) {
  const previous = {};
  for (const k of Object.keys(after)) {
    if (canonical(before[k]) !== canonical(after[k])) previous[k] = before[k] ?? null;
  }
  return previous;
}

/** Runs `change` on a subscription and emits customer.subscription.updated if anything changed. */
function updateSubscription(action, sub, change) {
  const before = clone(sub);
  change(sub);
  const previous = changedFields(before, sub);
  if (Object.keys(previous).length > 0) emit(action, 'customer.subscription.updated', sub, previous);
  return sub;
}

// ---------------------------------------------------------------------------------------
// Events and webhook delivery

/**
 * One action = one API call, page form post or test control. Its events share one
 * `created` second and are handed to delivery together, after the response has been sent.
 */
function newAction(request = {}) {
  return { created: nowSecs(), events: [], requestId: request.requestId ?? null, idempotencyKey: request.idempotencyKey ?? null };
}

function emit(action, type, object, previousAttributes) {
  const data = { object: clone(object) };
  if (previousAttributes) data.previous_attributes = clone(previousAttributes);
  const event = {
    id: newId('evt_'), object: 'event', api_version: API_VERSION, created: action.created, data, livemode: false,
    pending_webhooks: WEBHOOK_URL ? 1 : 0,
    request: { id: action.requestId, idempotency_key: action.idempotencyKey }, type,
  };
  state.events.push(event);
  state.eventById.set(event.id, event);
  // The payload is fixed at emission so every attempt and duplicate is byte-identical.
  state.delivery.set(event.id, { status: WEBHOOK_URL ? 'queued' : 'no_endpoint', attempts: 0, payload: JSON.stringify(event) });
  action.events.push(event);
}

/** As served by /v1/events: pending_webhooks tells whether it has been delivered yet. */
function eventView(event) {
  const d = state.delivery.get(event.id);
  return { ...event, pending_webhooks: WEBHOOK_URL && d?.status !== 'delivered' ? 1 : 0 };
}

const queue = []; // jobs { eventId, wrongSignature, tries }
let pumping = false;
let pendingRetries = 0;
let flushing = 0;
let generation = 0; // bumped by reset: work from before a reset is abandoned
let settleWaiters = [];
const agent = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

function isSettled() {
  return queue.length === 0 && !pumping && pendingRetries === 0 && flushing === 0;
}

function notifyIfSettled() {
  if (!isSettled()) return;
  const waiters = settleWaiters;
  settleWaiters = [];
  for (const w of waiters) w();
}

function whenSettled() {
  return new Promise((resolve) => {
    settleWaiters.push(resolve);
    notifyIfSettled();
  });
}

/** Hands an action's events to delivery according to the current mode. */
function dispatch(events) {
  if (events.length === 0 || !WEBHOOK_URL) return;
  const ids = events.map((e) => e.id);
  const setStatus = (status) => ids.forEach((id) => (state.delivery.get(id).status = status));
  switch (state.mode) {
    case 'hold':
      setStatus('held');
      state.held.push(...ids);
      return;
    case 'drop_next':
      setStatus('dropped');
      state.mode = 'normal';
      return;
    case 'duplicate':
      for (const id of [...ids, ...ids]) queue.push({ eventId: id, wrongSignature: false, tries: 1 });
      break;
    case 'reverse':
      for (const id of [...ids].reverse()) queue.push({ eventId: id, wrongSignature: false, tries: 1 });
      break;
    case 'fail_then_retry':
      for (const id of ids) queue.push({ eventId: id, wrongSignature: true, tries: 1 });
      break;
    default:
      for (const id of ids) queue.push({ eventId: id, wrongSignature: false, tries: 1 });
  }
  pump();
}

/** One delivery at a time, in queue order; a failure is re-queued after RETRY_MS. */
async function pump() {
  if (pumping) return;
  pumping = true;
  while (queue.length > 0) {
    const gen = generation;
    const job = queue.shift();
    const ok = await attempt(job.eventId, job.wrongSignature);
    if (gen !== generation) continue; // a reset forgot this event meanwhile
    if (!ok) {
      if (job.tries < MAX_ATTEMPTS) {
        state.delivery.get(job.eventId).status = 'retrying';
        pendingRetries++;
        setTimeout(() => {
          pendingRetries--;
          if (gen !== generation) return notifyIfSettled();
          queue.push({ eventId: job.eventId, wrongSignature: false, tries: job.tries + 1 });
          pump();
        }, RETRY_MS);
      } else {
        state.delivery.get(job.eventId).status = 'failed';
      }
    }
  }
  pumping = false;
  notifyIfSettled();
}

/** POSTs one event; records the attempt; true on a 2xx answer. */
async function attempt(eventId, wrongSignature) {
  const d = state.delivery.get(eventId);
  const event = state.eventById.get(eventId);
  if (!d || !event) return true; // forgotten by a reset
  d.attempts += 1;
  if (d.status !== 'delivered') d.status = 'in_flight';
  const header = signer.generateTestHeaderString({
    payload: d.payload,
    // The wrong secret makes the receiver answer 400, as with a rotated-away secret.
    secret: wrongSignature ? `${WEBHOOK_SECRET}_wrong` : WEBHOOK_SECRET,
    timestamp: nowSecs(),
  });
  const record = {
    event_id: eventId, type: event.type, status: null, attempt: d.attempts,
    at: new Date().toISOString(), signature: wrongSignature ? 'wrong' : 'valid',
  };
  const gen = generation;
  try {
    record.status = await post(WEBHOOK_URL, d.payload, { 'Content-Type': 'application/json', 'Stripe-Signature': header });
  } catch (e) {
    record.error = e.message;
  }
  if (gen !== generation) return true;
  state.deliveries.push(record);
  const ok = record.status !== null && record.status >= 200 && record.status < 300;
  if (ok) d.status = 'delivered';
  else if (d.status !== 'delivered') {
    d.status = 'failed';
    console.error(`stripe stand-in: delivery of ${event.type} ${eventId} failed (${record.status ?? record.error})`);
  }
  return ok;
}

function post(target, body, headers) {
  return new Promise((resolve, reject) => {
    const url = new URL(target);
    const transport = url.protocol === 'https:' ? https : http;
    const req = transport.request(
      url,
      {
        method: 'POST',
        agent: url.protocol === 'https:' ? agent.https : agent.http,
        headers: { ...headers, 'Content-Length': Buffer.byteLength(body), 'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' },
        timeout: DELIVERY_TIMEOUT_MS,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${DELIVERY_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** A deterministic PRNG (mulberry32) so a shuffled flush can be replayed from its seed. */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Delivers every held event (1 + duplicates times each), one after the other. */
async function flush({ order = 'emitted', duplicates = 0, seed = 1 }) {
  if (!['emitted', 'reverse', 'shuffle'].includes(order)) throw invalid('order must be emitted, reverse or shuffle', 'order');
  if (!Number.isInteger(duplicates) || duplicates < 0 || duplicates > 20) throw invalid('duplicates must be an integer 0..20', 'duplicates');
  flushing++;
  try {
    // Whatever the queue is still sending goes first, so the flush order is the one asked for.
    await new Promise((resolve) => {
      const check = () => (queue.length === 0 && !pumping && pendingRetries === 0 ? resolve() : setTimeout(check, 5));
      check();
    });
    const gen = generation;
    const held = state.held;
    state.held = [];
    let sequence = held.flatMap((id) => Array(1 + duplicates).fill(id));
    if (order === 'reverse') sequence.reverse();
    if (order === 'shuffle') {
      const random = seeded(Number(seed) || 0);
      for (let i = sequence.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [sequence[i], sequence[j]] = [sequence[j], sequence[i]];
      }
    }
    const first = state.deliveries.length;
    for (const id of sequence) {
      for (let tries = 1; tries <= MAX_ATTEMPTS && gen === generation; tries++) {
        if (await attempt(id, false)) break;
        if (tries < MAX_ATTEMPTS) await new Promise((r) => setTimeout(r, RETRY_MS));
      }
      if (gen !== generation) break;
    }
    return { delivered: sequence.length, order: sequence, attempts: state.deliveries.slice(first) };
  } finally {
    flushing--;
    notifyIfSettled();
  }
}

// ---------------------------------------------------------------------------------------
// Lists: newest first, `limit` 1..100 (default 10), `starting_after` / `ending_before` ids.

function listOf(all, params, url) {
  const limit = optInt(params, 'limit', { min: 1, max: 100 }) ?? 10;
  let rows = all;
  const after = optString(params, 'starting_after');
  const before = optString(params, 'ending_before');
  if (after !== undefined) {
    const i = rows.findIndex((r) => r.id === after);
    if (i < 0) throw invalid(`No such object: '${after}'`, 'starting_after');
    rows = rows.slice(i + 1);
  } else if (before !== undefined) {
    const i = rows.findIndex((r) => r.id === before);
    if (i < 0) throw invalid(`No such object: '${before}'`, 'ending_before');
    rows = rows.slice(Math.max(0, i - limit), i);
    return { object: 'list', data: rows, has_more: i - limit > 0, url };
  }
  return { object: 'list', data: rows.slice(0, limit), has_more: rows.length > limit, url };
}

const newestFirst = (map) => [...map.values()].reverse();

/** `created=…` or `created[gte|gt|lte|lt]=…` */
function createdFilter(params) {
  const c = params.created;
  if (c === undefined) return () => true;
  if (typeof c === 'string') {
    const exact = optInt(params, 'created', { label: 'created' });
    return (t) => t === exact;
  }
  const bound = (k) => optInt(c, k, { label: `created[${k}]` });
  const [gte, gt, lte, lt] = ['gte', 'gt', 'lte', 'lt'].map(bound);
  return (t) => (gte === undefined || t >= gte) && (gt === undefined || t > gt) && (lte === undefined || t <= lte) && (lt === undefined || t < lt);
}

/** `expand[]=customer`, `expand[]=data.subscription`, … for the ids this stand-in knows. */
function expand(obj, paths) {
  const list = paths === undefined ? [] : Array.isArray(paths) ? paths : [paths];
  for (const path of list) expandPath(obj, String(path).split('.'));
  return obj;
}

function expandPath(node, segs) {
  if (Array.isArray(node)) return node.forEach((n) => expandPath(n, segs));
  if (!node || typeof node !== 'object') return;
  const [head, ...rest] = segs;
  if (rest.length > 0) return expandPath(node[head], rest);
  const id = node[head];
  if (typeof id !== 'string') return;
  const found =
    state.customers.get(id) ?? state.subscriptions.get(id) ?? state.invoices.get(id) ?? state.products.get(id) ?? state.prices.get(id);
  if (!found) throw invalid(`This property cannot be expanded (${segs.join('.')}).`, 'expand');
  node[head] = clone(found);
}

// ---------------------------------------------------------------------------------------
// /v1 API

function routeApi(method, path, params, action) {
  let m;
  const ok = (body) => ({ status: 200, body });

  // Customers
  if (path === '/v1/customers' && method === 'POST') {
    const email = optString(params, 'email');
    if (email !== undefined && email !== '' && !/^[^@\s]+@[^@\s]+$/.test(email)) {
      throw new ApiError(400, 'invalid_request_error', `Invalid email address: ${email}`, { code: 'email_invalid', param: 'email' });
    }
    const customer = {
      id: newId('cus_'), object: 'customer', address: addressParam(params.address), balance: 0, created: action.created,
      currency: null, default_source: null, delinquent: false, description: optString(params, 'description') ?? null,
      discount: null, email: email || null, invoice_prefix: crypto.randomBytes(4).toString('hex').toUpperCase(),
      invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
      livemode: false, metadata: metadataParam(params.metadata, 'metadata'), name: optString(params, 'name') || null,
      next_invoice_sequence: 1, phone: optString(params, 'phone') || null, preferred_locales: [], shipping: null,
      tax_exempt: 'none', test_clock: null,
    };
    state.customers.set(customer.id, customer);
    emit(action, 'customer.created', customer);
    return ok(expand(clone(customer), params.expand));
  }
  if (path === '/v1/customers' && method === 'GET') {
    const email = optString(params, 'email');
    const inRange = createdFilter(params);
    const all = newestFirst(state.customers).filter((c) => (email === undefined || c.email === email) && inRange(c.created));
    return ok(expand(clone(listOf(all, params, '/v1/customers')), prefixed(params.expand)));
  }
  if ((m = path.match(/^\/v1\/customers\/([^/]+)$/))) {
    const customer = getCustomer(m[1]);
    if (method === 'GET') return ok(expand(clone(customer), params.expand));
    if (method === 'POST') {
      const before = clone(customer);
      for (const f of ['email', 'name', 'description', 'phone']) {
        const v = optString(params, f);
        if (v !== undefined) customer[f] = v || null;
      }
      if (params.address !== undefined) customer.address = addressParam(params.address);
      customer.metadata = metadataParam(params.metadata, 'metadata', customer.metadata);
      const previous = changedFields(before, customer);
      if (Object.keys(previous).length > 0) emit(action, 'customer.updated', customer, previous);
      return ok(expand(clone(customer), params.expand));
    }
  }

  // Checkout sessions
  if (path === '/v1/checkout/sessions' && method === 'POST') return ok(createCheckoutSession(params, action));
  if ((m = path.match(/^\/v1\/checkout\/sessions\/([^/]+)$/)) && method === 'GET') {
    const s = state.sessions.get(m[1]);
    if (!s) throw noSuch('checkout.session', m[1], 'id', 404);
    return ok(expand(clone(s.json), params.expand));
  }

  // Customer Portal sessions
  if (path === '/v1/billing_portal/sessions' && method === 'POST') {
    const customerId = optString(params, 'customer');
    if (customerId === undefined) throw missingParam('customer');
    getCustomer(customerId, 'customer', 400);
    const id = newId('bps_');
    const portal = {
      id, object: 'billing_portal.session', configuration: CONFIGURATION_ID, created: action.created,
      customer: customerId, flow: null, livemode: false, locale: null, on_behalf_of: null,
      return_url: urlParam(params, 'return_url', false) ?? null, url: `${PUBLIC_URL}/portal/${id}`,
    };
    state.portals.set(id, portal);
    return ok(clone(portal));
  }

  // Subscriptions
  if (path === '/v1/subscriptions' && method === 'GET') {
    const customer = optString(params, 'customer');
    const priceId = optString(params, 'price');
    const status = optString(params, 'status');
    const statuses = ['active', 'all', 'canceled', 'ended', 'incomplete', 'incomplete_expired', 'past_due', 'paused', 'trialing', 'unpaid'];
    if (status !== undefined && !statuses.includes(status)) throw invalid(`Invalid status: must be one of ${statuses.join(', ')}`, 'status');
    const statusMatches = (s) =>
      status === 'all' ? true
        : status === undefined ? s.status !== 'canceled'
          : status === 'ended' ? ['canceled', 'incomplete_expired'].includes(s.status)
            : s.status === status;
    const inRange = createdFilter(params);
    const all = newestFirst(state.subscriptions).filter(
      (s) =>
        (customer === undefined || s.customer === customer) &&
        (priceId === undefined || s.items.data.some((it) => it.price.id === priceId)) &&
        statusMatches(s) && inRange(s.created),
    );
    return ok(expand(clone(listOf(all, params, '/v1/subscriptions')), prefixed(params.expand)));
  }
  if ((m = path.match(/^\/v1\/subscriptions\/([^/]+)$/))) {
    const sub = getSubscription(m[1]);
    if (method === 'GET') return ok(expand(clone(sub), params.expand));
    if (method === 'POST') return ok(expand(clone(updateSubscriptionFromApi(sub, params, action)), params.expand));
    if (method === 'DELETE') {
      if (sub.status === 'canceled') throw invalid(`No such subscription: '${sub.id}'`, 'id');
      cancelNow(sub, action.created);
      emit(action, 'customer.subscription.deleted', sub);
      return ok(clone(sub));
    }
  }

  // Subscription items
  if (path === '/v1/subscription_items' && method === 'GET') {
    const subId = optString(params, 'subscription');
    if (subId === undefined) throw missingParam('subscription');
    const sub = getSubscription(subId, 'subscription', 400);
    return ok(clone(listOf([...sub.items.data], params, '/v1/subscription_items')));
  }
  if ((m = path.match(/^\/v1\/subscription_items\/([^/]+)$/))) {
    const subId = state.items.get(m[1]);
    if (!subId) throw noSuch('subscription_item', m[1], 'id', 404);
    const sub = state.subscriptions.get(subId);
    const item = sub.items.data.find((it) => it.id === m[1]);
    if (method === 'GET') return ok(clone(item));
    if (method === 'POST') {
      if (sub.status === 'canceled') throw invalid('A canceled subscription can only update its cancellation_details and metadata.');
      const proration = prorationParam(params);
      const quantity = optInt(params, 'quantity', { min: 0 });
      const newPrice = params.price === undefined ? undefined : requirePrice(optString(params, 'price'), 'price');
      const metadata = metadataParam(params.metadata, 'metadata', item.metadata);
      if (proration !== undefined) state.itemProration.set(item.id, proration);
      updateSubscription(action, sub, () => {
        if (quantity !== undefined) item.quantity = quantity;
        if (newPrice) setItemPrice(item, newPrice);
        item.metadata = metadata;
      });
      return ok(clone(item));
    }
  }

  // Events, invoices, prices, products (read-only)
  if (path === '/v1/events' && method === 'GET') return ok(listEvents(params));
  if ((m = path.match(/^\/v1\/events\/([^/]+)$/)) && method === 'GET') {
    const e = state.eventById.get(m[1]);
    if (!e) throw noSuch('event', m[1], 'id', 404);
    return ok(eventView(e));
  }
  if ((m = path.match(/^\/v1\/invoices\/([^/]+)$/)) && method === 'GET') {
    const inv = state.invoices.get(m[1]);
    if (!inv) throw noSuch('invoice', m[1], 'id', 404);
    return ok(expand(clone(inv), params.expand));
  }
  if ((m = path.match(/^\/v1\/prices\/([^/]+)$/)) && method === 'GET') {
    const p = CATALOG.has(m[1]) ? price(m[1]) : state.prices.get(m[1]);
    if (!p) throw noSuch('price', m[1], 'id', 404);
    return ok(expand(clone(p), params.expand));
  }
  if ((m = path.match(/^\/v1\/products\/([^/]+)$/)) && method === 'GET') {
    const p = state.products.get(m[1]);
    if (!p) throw noSuch('product', m[1], 'id', 404);
    return ok(clone(p));
  }

  throw new ApiError(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${path}). The Stripe stand-in implements only what Enclave calls.`);
}

/** Expansions on a list apply to `data.…`. */
function prefixed(paths) {
  const list = paths === undefined ? [] : Array.isArray(paths) ? paths : [paths];
  return list.map((p) => (String(p).startsWith('data.') ? p : `data.${p}`));
}

function addressParam(a) {
  if (a === undefined || a === '') return null;
  if (typeof a !== 'object') throw invalid('Invalid address', 'address');
  const f = (k) => (typeof a[k] === 'string' && a[k] !== '' ? a[k] : null);
  return { city: f('city'), country: f('country'), line1: f('line1'), line2: f('line2'), postal_code: f('postal_code'), state: f('state') };
}

function createCheckoutSession(params, action) {
  const mode = optString(params, 'mode');
  if (mode === undefined) throw missingParam('mode');
  if (mode !== 'subscription') throw invalid(`The stand-in implements only mode=subscription, not '${mode}'`, 'mode');
  const successUrl = urlParam(params, 'success_url', true);
  const cancelUrl = urlParam(params, 'cancel_url', false);
  const customerId = optString(params, 'customer');
  const customerEmail = optString(params, 'customer_email');
  if (customerId !== undefined && customerEmail !== undefined) {
    throw invalid('You may only specify one of these parameters: customer, customer_email.', 'customer_email');
  }
  const customer = customerId === undefined ? undefined : getCustomer(customerId, 'customer', 400);
  if (params.customer_update !== undefined && !customer) throw invalid('customer_update can only be used with customer.', 'customer_update');
  const addressUpdate = params.customer_update?.address;
  if (addressUpdate !== undefined && !['auto', 'never'].includes(addressUpdate)) {
    throw invalid('Invalid customer_update[address]: must be one of auto, never', 'customer_update[address]');
  }
  const automaticTax = optBool(params.automatic_tax, 'enabled') ?? false;
  // Stripe refuses automatic tax for a customer without an address unless Checkout may save one
  // (the case cashier-stripe#1778 hit in production).
  if (automaticTax && customer && !customer.address && addressUpdate !== 'auto' && params.customer_update?.shipping !== 'auto') {
    throw invalid(
      'Automatic tax calculation in Checkout requires a valid address on the Customer. Add a valid address to the Customer or set either `customer_update[address]` to \'auto\' or `customer_update[shipping]` to \'auto\' to save the address entered in Checkout to the Customer.',
      'automatic_tax[enabled]',
    );
  }
  const lines = params.line_items;
  if (lines === undefined) throw missingParam('line_items');
  if (!Array.isArray(lines) || lines.length === 0) throw invalid('Invalid array', 'line_items');
  const lineItems = lines.map((line, i) => {
    if (line.price_data !== undefined) throw invalid('The stand-in does not implement price_data; pass a price id', `line_items[${i}][price_data]`);
    const p = requirePrice(optString(line, 'price'), `line_items[${i}][price]`);
    const quantity = optInt(line, 'quantity', { min: 1, max: 999999, label: `line_items[${i}][quantity]` });
    if (quantity === undefined) throw missingParam(`line_items[${i}][quantity]`);
    return { price: p, quantity };
  });
  const sd = params.subscription_data ?? {};
  const trialDays = optInt(sd, 'trial_period_days', { min: 1, max: 730, label: 'subscription_data[trial_period_days]' });
  const clientReference = optString(params, 'client_reference_id');
  if (clientReference !== undefined && clientReference.length > 200) throw invalid('client_reference_id can have up to 200 characters', 'client_reference_id');
  const amount = lineItems.reduce((sum, l) => sum + l.price.unit_amount * l.quantity, 0);
  const id = newId('cs_test_');
  const json = {
    id, object: 'checkout.session', after_expiration: null, allow_promotion_codes: null,
    amount_subtotal: trialDays ? 0 : amount, amount_total: trialDays ? 0 : amount,
    automatic_tax: { enabled: automaticTax, liability: null, status: automaticTax ? 'requires_location_inputs' : null },
    billing_address_collection: null, cancel_url: cancelUrl ?? null, client_reference_id: clientReference ?? null,
    client_secret: null, consent: null, consent_collection: null, created: action.created, currency: CURRENCY,
    currency_conversion: null, custom_fields: [],
    custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
    customer: customer?.id ?? null, customer_creation: customer ? null : 'always', customer_details: null,
    customer_email: customerEmail ?? null, expires_at: action.created + 86400, invoice: null, invoice_creation: null,
    livemode: false, locale: null, metadata: metadataParam(params.metadata, 'metadata'), mode,
    payment_intent: null, payment_link: null, payment_method_collection: 'always',
    payment_method_configuration_details: null, payment_method_options: {}, payment_method_types: ['card'],
    payment_status: 'unpaid', phone_number_collection: { enabled: false }, recovered_from: null, setup_intent: null,
    shipping_address_collection: null, shipping_cost: null, shipping_details: null, shipping_options: [],
    status: 'open', submit_type: null, subscription: null, success_url: successUrl,
    tax_id_collection: { enabled: false }, total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: 'hosted', url: `${PUBLIC_URL}/checkout/${id}`,
  };
  state.sessions.set(id, {
    json,
    lineItems,
    subscriptionData: { metadata: metadataParam(sd.metadata, 'subscription_data[metadata]'), trialDays },
  });
  return clone(json);
}

function updateSubscriptionFromApi(sub, params, action) {
  const onlyMetadata = Object.keys(params).every((k) => ['metadata', 'cancellation_details', 'expand'].includes(k));
  if (sub.status === 'canceled' && !onlyMetadata) {
    throw invalid('A canceled subscription can only update its cancellation_details and metadata.');
  }
  const proration = prorationParam(params);
  const cancelAtPeriodEnd = optBool(params, 'cancel_at_period_end');
  const metadata = metadataParam(params.metadata, 'metadata', sub.metadata);
  // Validate every item change before applying any of them.
  const changes = (Array.isArray(params.items) ? params.items : params.items === undefined ? [] : [null]).map((it, i) => {
    if (!it || typeof it !== 'object') throw invalid('Invalid array', 'items');
    const itemId = optString(it, 'id');
    const existing = itemId === undefined ? undefined : sub.items.data.find((x) => x.id === itemId);
    if (itemId !== undefined && !existing) throw noSuch('subscription_item', itemId, `items[${i}][id]`);
    const deleted = optBool(it, 'deleted') ?? false;
    const p = it.price === undefined ? undefined : requirePrice(optString(it, 'price'), `items[${i}][price]`);
    if (!existing && !p) throw missingParam(`items[${i}][price]`);
    const quantity = optInt(it, 'quantity', { min: 0, label: `items[${i}][quantity]` });
    return { existing, deleted, p, quantity };
  });
  return updateSubscription(action, sub, () => {
    for (const c of changes) {
      if (c.deleted && c.existing) {
        sub.items.data = sub.items.data.filter((x) => x !== c.existing);
        state.items.delete(c.existing.id);
        continue;
      }
      const item = c.existing ?? itemObject(sub.id, c.p, c.quantity ?? 1, action.created);
      if (!c.existing) {
        sub.items.data.push(item);
        state.items.set(item.id, sub.id);
      }
      if (c.p) setItemPrice(item, c.p);
      if (c.quantity !== undefined) item.quantity = c.quantity;
      if (proration !== undefined) state.itemProration.set(item.id, proration);
    }
    sub.items.total_count = sub.items.data.length;
    if (cancelAtPeriodEnd === true && !sub.cancel_at_period_end) {
      sub.cancel_at_period_end = true;
      sub.cancel_at = sub.current_period_end;
      sub.canceled_at = action.created;
      sub.cancellation_details = { comment: null, feedback: null, reason: 'cancellation_requested' };
    } else if (cancelAtPeriodEnd === false && sub.cancel_at_period_end) {
      sub.cancel_at_period_end = false;
      sub.cancel_at = null;
      sub.canceled_at = null;
      sub.cancellation_details = { comment: null, feedback: null, reason: null };
    }
    sub.metadata = metadata;
  });
}

function listEvents(params) {
  const type = optString(params, 'type');
  let types = params.types;
  if (types !== undefined && !Array.isArray(types)) types = [types];
  const inRange = createdFilter(params);
  const deliverySuccess = optBool(params, 'delivery_success');
  // `*` is Stripe's wildcard in `type` (e.g. customer.subscription.*).
  const typeMatches = (t) => type === undefined || new RegExp(`^${type.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(t);
  const notDelivered = ['failed', 'dropped', 'no_endpoint', 'retrying'];
  const all = [...state.events].reverse().filter((e) => {
    const status = state.delivery.get(e.id)?.status;
    return (
      typeMatches(e.type) && (types === undefined || types.includes(e.type)) && inRange(e.created) &&
      (deliverySuccess === undefined || (deliverySuccess ? status === 'delivered' : notDelivered.includes(status)))
    );
  });
  return listOf(all.map(eventView), params, '/v1/events');
}

// ---------------------------------------------------------------------------------------
// Hosted pages: small and accessible (lang, title, one h1, labelled controls, a main landmark).

function page(title, body) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Stripe test stand-in</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; background: #f6f8fa; color: #1a1f36; }
  main { max-width: 32rem; margin: 3rem auto; padding: 2rem; background: #fff; border: 1px solid #d0d7de; border-radius: 8px; }
  h1 { font-size: 1.4rem; margin-top: 0; } h2 { font-size: 1.1rem; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .4rem 1rem; }
  dt { font-weight: 600; } dd { margin: 0; }
  button { font: inherit; padding: .6rem 1.2rem; border: 0; border-radius: 6px; background: #1a1f36; color: #fff; cursor: pointer; }
  button.danger { background: #a4262c; }
  select { font: inherit; padding: .4rem; }
  a { color: #0a4fa3; }
  .note { color: #4f566b; font-size: .9rem; }
  form { margin: 1rem 0; }
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

function notFoundPage(res, what) {
  sendHtml(res, 404, page('Not found', `<h1>Not found</h1><p>No such ${escapeHtml(what)}.</p>`));
}

function priceText(p) {
  const kind = CATALOG.get(p.id)?.kind ?? 'per_seat';
  return kind === 'per_seat' ? `${money(p.unit_amount)} per seat per month` : `${money(p.unit_amount)} per month`;
}

function checkoutPage(res, s) {
  const { json, lineItems, subscriptionData } = s;
  const [line] = lineItems;
  const email = json.customer ? state.customers.get(json.customer)?.email : json.customer_email;
  const total = lineItems.reduce((sum, l) => sum + l.price.unit_amount * l.quantity, 0);
  const complete = json.status === 'complete';
  const body = `<h1>Subscribe to ${escapeHtml(priceLabel(line.price.id))}</h1>
<p class="note">Stripe test stand-in: nothing is charged and no card is needed.</p>
<dl>
  <dt>Plan</dt><dd>${escapeHtml(priceLabel(line.price.id))}</dd>
  <dt>Price</dt><dd>${escapeHtml(priceText(line.price))}</dd>
  <dt>Quantity</dt><dd>${line.quantity}</dd>
  <dt>Total</dt><dd>${escapeHtml(money(total))} per month</dd>
  ${subscriptionData.trialDays ? `<dt>Trial</dt><dd>${subscriptionData.trialDays} days free</dd>` : ''}
  <dt>Email</dt><dd>${escapeHtml(email ?? 'not given')}</dd>
</dl>
${complete
    ? `<p role="status">This checkout is complete.</p><p><a href="${escapeHtml(successTarget(json))}">Continue</a></p>`
    : `<form method="post" action="/checkout/${escapeHtml(json.id)}"><button type="submit">Pay and subscribe</button></form>
${json.cancel_url ? `<p><a href="${escapeHtml(json.cancel_url)}">Back</a></p>` : ''}`}`;
  sendHtml(res, 200, page(`Checkout: ${priceLabel(line.price.id)}`, body));
}

function successTarget(json) {
  return json.success_url.replaceAll('{CHECKOUT_SESSION_ID}', json.id);
}

/** "Paying": subscription, invoice and the events Stripe sends, invoices before the completion. */
function payCheckout(s, action) {
  const { json, lineItems, subscriptionData } = s;
  if (json.status === 'complete') return; // a second click changes nothing
  let customer = json.customer ? state.customers.get(json.customer) : undefined;
  if (!customer) {
    customer = {
      id: newId('cus_'), object: 'customer', address: null, balance: 0, created: action.created, currency: null,
      default_source: null, delinquent: false, description: null, discount: null, email: json.customer_email,
      invoice_prefix: crypto.randomBytes(4).toString('hex').toUpperCase(),
      invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
      livemode: false, metadata: {}, name: null, next_invoice_sequence: 1, phone: null, preferred_locales: [],
      shipping: null, tax_exempt: 'none', test_clock: null,
    };
    state.customers.set(customer.id, customer);
    emit(action, 'customer.created', customer);
  }
  const [first, ...rest] = lineItems;
  const { sub, invoice } = createSubscription(action, {
    customer, p: first.price, quantity: first.quantity, metadata: subscriptionData.metadata, trialDays: subscriptionData.trialDays,
  });
  for (const l of rest) {
    const item = itemObject(sub.id, l.price, l.quantity, action.created);
    sub.items.data.push(item);
    state.items.set(item.id, sub.id);
  }
  sub.items.total_count = sub.items.data.length;
  Object.assign(invoice, { amount_due: sub.status === 'trialing' ? 0 : amountOf(sub) });
  invoice.amount_paid = invoice.total = invoice.subtotal = invoice.amount_due;
  Object.assign(json, {
    customer: customer.id, status: 'complete', subscription: sub.id,
    // A trial charges nothing now: Stripe says no_payment_required rather than paid.
    payment_status: subscriptionData.trialDays ? 'no_payment_required' : 'paid',
    customer_details: { address: customer.address, email: customer.email, name: customer.name, phone: null, tax_exempt: 'none', tax_ids: [] },
  });
  emit(action, 'customer.subscription.created', sub);
  emit(action, 'invoice.paid', invoice);
  emit(action, 'invoice.payment_succeeded', invoice);
  emit(action, 'checkout.session.completed', json);
}

function portalPage(res, portal) {
  const customer = state.customers.get(portal.customer);
  const subs = newestFirst(state.subscriptions).filter((s) => s.customer === portal.customer && s.status !== 'canceled');
  const options = (current) =>
    [...CATALOG.values()]
      .map((c) => `<option value="${escapeHtml(c.id)}"${c.id === current ? ' selected' : ''}>${escapeHtml(c.label)} (${escapeHtml(priceText(price(c.id)))})</option>`)
      .join('');
  const sections = subs.map((sub) => {
    const item = sub.items.data[0];
    const renewal = sub.cancel_at_period_end ? `Cancels on ${dateText(sub.current_period_end)}` : `Renews on ${dateText(sub.current_period_end)}`;
    return `<section aria-labelledby="h-${sub.id}">
<h2 id="h-${sub.id}">Current plan: ${escapeHtml(priceLabel(item.price.id))}</h2>
<dl>
  <dt>Status</dt><dd>${escapeHtml(sub.status)}</dd>
  <dt>Quantity</dt><dd>${item.quantity}</dd>
  ${sub.trial_end && sub.status === 'trialing' ? `<dt>Trial ends</dt><dd>${dateText(sub.trial_end)}</dd>` : ''}
  <dt>Renewal</dt><dd>${renewal}</dd>
</dl>
<form method="post" action="/portal/${escapeHtml(portal.id)}">
  <input type="hidden" name="subscription" value="${escapeHtml(sub.id)}">
  <label for="price-${sub.id}">New plan</label>
  <select id="price-${sub.id}" name="price">${options(item.price.id)}</select>
  <button type="submit" name="action" value="change">Change plan</button>
</form>
<form method="post" action="/portal/${escapeHtml(portal.id)}">
  <input type="hidden" name="subscription" value="${escapeHtml(sub.id)}">
  <button type="submit" name="action" value="cancel" class="danger">Cancel subscription</button>
</form>
</section>`;
  });
  const body = `<h1>Manage billing</h1>
<p class="note">Stripe test stand-in customer portal${customer?.email ? ` for ${escapeHtml(customer.email)}` : ''}.</p>
${sections.length ? sections.join('\n') : '<p>No current subscription.</p>'}
${portal.return_url ? `<p><a href="${escapeHtml(portal.return_url)}">Return</a></p>` : ''}`;
  sendHtml(res, 200, page('Manage billing', body));
}

function portalAction(portal, form, action) {
  const sub = state.subscriptions.get(form.subscription);
  if (!sub || sub.customer !== portal.customer || sub.status === 'canceled') return 'That subscription cannot be changed.';
  if (form.action === 'cancel') {
    cancelNow(sub, action.created);
    emit(action, 'customer.subscription.deleted', sub);
    return null;
  }
  if (form.action === 'change') {
    const p = price(form.price);
    if (!p || !CATALOG.has(p.id)) return 'Unknown plan.';
    updateSubscription(action, sub, () => {
      const item = sub.items.data[0];
      // A flat plan is one unit; a per-seat plan keeps the seat count until the app syncs it.
      if (CATALOG.get(p.id).kind === 'flat') item.quantity = 1;
      setItemPrice(item, p);
    });
    return null;
  }
  return 'Unknown action.';
}

// ---------------------------------------------------------------------------------------
// Test-only controls (/_test/*, JSON in and out, no authentication)

async function routeTest(method, path, body, action) {
  let m;
  if (path === '/_test/health' && method === 'GET') return { ok: true };
  if (path === '/_test/reset' && method === 'POST') {
    generation++;
    queue.length = 0;
    state = freshState();
    notifyIfSettled();
    return { reset: true };
  }
  if (path === '/_test/delivery') {
    if (method === 'GET') return { mode: state.mode, held: state.held.length };
    if (method === 'POST') {
      if (!DELIVERY_MODES.includes(body.mode)) throw invalid(`mode must be one of ${DELIVERY_MODES.join(', ')}`, 'mode');
      state.mode = body.mode;
      return { mode: state.mode };
    }
  }
  if (path === '/_test/flush' && method === 'POST') return flush(body);
  if (path === '/_test/settle' && method === 'POST') {
    await whenSettled();
    return { settled: true, held: state.held.length };
  }
  if (path === '/_test/deliveries' && method === 'GET') return state.deliveries;
  if (path === '/_test/state' && method === 'GET') return stateView();
  if (path === '/_test/subscriptions' && method === 'POST') {
    const customer = getCustomer(body.customer, 'customer', 400);
    const p = requirePrice(body.price, 'price');
    const quantity = body.quantity ?? 1;
    if (!Number.isInteger(quantity) || quantity < 0) throw invalid('quantity must be a whole number', 'quantity');
    if (body.status !== undefined && !['active', 'trialing'].includes(body.status)) throw invalid('status must be active or trialing', 'status');
    const trialDays = body.status === 'active' ? undefined : body.trial_days ?? (body.status === 'trialing' ? 14 : undefined);
    if (trialDays !== undefined && (!Number.isInteger(trialDays) || trialDays < 1)) throw invalid('trial_days must be a positive integer', 'trial_days');
    const metadata = metadataParam(body.metadata ?? {}, 'metadata');
    const { sub, invoice } = createSubscription(action, { customer, p, quantity, metadata, trialDays });
    emit(action, 'customer.subscription.created', sub);
    emit(action, 'invoice.paid', invoice);
    return clone(sub);
  }
  if ((m = path.match(/^\/_test\/subscriptions\/([^/]+)\/(past_due|pay|cancel|end_trial|drift)$/)) && method === 'POST') {
    const sub = getSubscription(m[1]);
    const what = m[2];
    if (sub.status === 'canceled' && what !== 'drift') throw invalid(`Subscription ${sub.id} is canceled`);
    if (what === 'past_due') {
      const invoice = newInvoice(sub, action.created, { paid: false, reason: 'subscription_cycle' });
      invoice.next_payment_attempt = action.created + 3 * 86400;
      emit(action, 'invoice.payment_failed', invoice);
      updateSubscription(action, sub, () => {
        sub.status = 'past_due';
        sub.latest_invoice = invoice.id;
      });
    } else if (what === 'pay') {
      let invoice = state.invoices.get(sub.latest_invoice);
      if (invoice?.status === 'open') {
        Object.assign(invoice, { status: 'paid', paid: true, amount_paid: invoice.amount_due, amount_remaining: 0, auto_advance: false, next_payment_attempt: null });
      } else {
        invoice = newInvoice(sub, action.created, { paid: true, reason: 'subscription_cycle' });
      }
      emit(action, 'invoice.paid', invoice);
      updateSubscription(action, sub, () => {
        sub.status = 'active';
        sub.latest_invoice = invoice.id;
      });
    } else if (what === 'cancel') {
      cancelNow(sub, action.created);
      emit(action, 'customer.subscription.deleted', sub);
    } else if (what === 'end_trial') {
      if (sub.status !== 'trialing') throw invalid(`Subscription ${sub.id} is not trialing (it is ${sub.status})`);
      updateSubscription(action, sub, () => {
        // The trial ended now: trial_end stays, in the past; a paid period starts.
        sub.status = 'active';
        sub.trial_end = action.created;
        sub.current_period_start = action.created;
        sub.current_period_end = action.created + PERIOD_SECS;
        sub.billing_cycle_anchor = action.created;
      });
    } else {
      // Drift: Stripe changes and Enclave is not told (no event).
      const item = sub.items.data[0];
      if (body.quantity !== undefined) {
        if (!Number.isInteger(body.quantity) || body.quantity < 0) throw invalid('quantity must be a whole number', 'quantity');
        item.quantity = body.quantity;
      }
      if (body.price !== undefined) setItemPrice(item, requirePrice(body.price, 'price'));
      if (body.status !== undefined) {
        const statuses = ['active', 'past_due', 'trialing', 'canceled', 'unpaid', 'incomplete', 'incomplete_expired', 'paused'];
        if (!statuses.includes(body.status)) throw invalid(`status must be one of ${statuses.join(', ')}`, 'status');
        if (body.status === 'canceled') cancelNow(sub, action.created);
        else sub.status = body.status;
      }
    }
    return clone(sub);
  }
  throw new ApiError(404, 'invalid_request_error', `No test control ${method} ${path}`);
}

function stateView() {
  const subscriptions = newestFirst(state.subscriptions).map((s) => {
    const view = clone(s);
    for (const it of view.items.data) it.last_proration_behavior = state.itemProration.get(it.id) ?? null;
    return view;
  });
  const held = state.held.length;
  return {
    customers: newestFirst(state.customers),
    subscriptions,
    checkout_sessions: newestFirst(state.sessions).map((s) => s.json),
    portal_sessions: newestFirst(state.portals),
    invoices: newestFirst(state.invoices),
    delivery_mode: state.mode,
    counts: {
      customers: state.customers.size, subscriptions: state.subscriptions.size, checkout_sessions: state.sessions.size,
      portal_sessions: state.portals.size, invoices: state.invoices.size, events: state.events.length,
      deliveries: state.deliveries.length, held, queued: queue.length,
    },
  };
}

// ---------------------------------------------------------------------------------------
// HTTP plumbing

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ApiError(413, 'invalid_request_error', 'Request body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Stripe-Version': API_VERSION, ...headers });
  res.end(text);
}

function sendHtml(res, status, html) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(html), 'Cache-Control': 'no-store' });
  res.end(html);
}

function redirect(res, location) {
  res.writeHead(303, { Location: location, 'Content-Length': 0, 'Cache-Control': 'no-store' });
  res.end();
}

/**
 * Deliver the action's events only once the answer has left (as Stripe does), also when
 * the client hung up before reading it.
 */
function afterResponse(res, action) {
  if (action.events.length === 0) return;
  let handed = false;
  const go = () => {
    if (handed) return;
    handed = true;
    setImmediate(() => dispatch(action.events));
  };
  if (res.writableFinished) go();
  else {
    res.once('finish', go);
    res.once('close', go);
  }
}

function authorized(req) {
  const h = req.headers.authorization || '';
  if (h.startsWith('Bearer ')) return h.slice(7).trim().startsWith('sk_test_');
  if (h.startsWith('Basic ')) return Buffer.from(h.slice(6), 'base64').toString().split(':')[0].startsWith('sk_test_');
  return false;
}

async function handleApi(req, res, url, raw) {
  if (!authorized(req)) {
    return sendJson(res, 401, {
      error: { type: 'invalid_request_error', message: 'Invalid API Key provided: the stand-in accepts any key starting sk_test_ (as a Bearer token).' },
    });
  }
  const method = req.method;
  const params = parseParams(url.search.slice(1));
  if (method === 'POST' || method === 'DELETE') Object.assign(params, parseParams(raw));
  const key = method === 'POST' ? req.headers['idempotency-key'] : undefined;
  const fingerprint = `${method} ${url.pathname} ${canonical(params)}`;
  if (key) {
    const stored = state.idempotency.get(key);
    if (stored) {
      if (stored.fingerprint !== fingerprint) {
        return sendJson(res, 400, {
          error: {
            type: 'idempotency_error',
            message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
          },
        });
      }
      return sendJson(res, stored.status, stored.body, { 'Idempotent-Replayed': 'true', 'Idempotency-Key': key, 'Request-Id': stored.requestId });
    }
  }
  const action = newAction({ requestId: newId('req_'), idempotencyKey: key ?? null });
  let result;
  try {
    result = routeApi(method, url.pathname, params, action);
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    result = { status: e.status, body: e.body };
    action.events = []; // handlers validate before they change anything
  }
  const body = JSON.stringify(result.body);
  if (key) state.idempotency.set(key, { fingerprint, status: result.status, body, requestId: action.requestId });
  sendJson(res, result.status, body, { 'Request-Id': action.requestId, ...(key ? { 'Idempotency-Key': key } : {}) });
  afterResponse(res, action);
}

async function handleTest(req, res, url, raw) {
  let body = {};
  if (raw.trim() !== '') {
    try {
      body = JSON.parse(raw);
    } catch {
      return sendJson(res, 400, { error: { type: 'invalid_request_error', message: 'The body of a /_test request must be JSON' } });
    }
  }
  const action = newAction();
  try {
    const out = await routeTest(req.method, url.pathname, body ?? {}, action);
    sendJson(res, 200, out);
    afterResponse(res, action);
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    sendJson(res, e.status, e.body);
  }
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://standin.invalid');
  const raw = await readBody(req);
  let m;
  if (url.pathname.startsWith('/v1/')) return handleApi(req, res, url, raw);
  if (url.pathname.startsWith('/_test/')) return handleTest(req, res, url, raw);
  if ((m = url.pathname.match(/^\/checkout\/([^/]+)$/))) {
    const s = state.sessions.get(m[1]);
    if (!s) return notFoundPage(res, 'checkout session');
    if (req.method === 'GET') return checkoutPage(res, s);
    if (req.method === 'POST') {
      const action = newAction();
      payCheckout(s, action);
      redirect(res, successTarget(s.json));
      return afterResponse(res, action);
    }
  }
  if ((m = url.pathname.match(/^\/portal\/([^/]+)$/))) {
    const portal = state.portals.get(m[1]);
    if (!portal) return notFoundPage(res, 'portal session');
    if (req.method === 'GET') return portalPage(res, portal);
    if (req.method === 'POST') {
      const action = newAction();
      const form = Object.fromEntries(new URLSearchParams(raw));
      const problem = portalAction(portal, form, action);
      if (problem) return sendHtml(res, 400, page('Manage billing', `<h1>Manage billing</h1><p role="alert">${escapeHtml(problem)}</p><p><a href="/portal/${escapeHtml(portal.id)}">Back</a></p>`));
      redirect(res, `${PUBLIC_URL}/portal/${portal.id}`);
      return afterResponse(res, action);
    }
  }
  sendJson(res, 404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${url.pathname})` } });
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => {
    if (e instanceof ApiError) return sendJson(res, e.status, e.body);
    console.error('stripe stand-in: internal error', e);
    if (!res.headersSent) sendJson(res, 500, { error: { type: 'api_error', message: `stand-in bug: ${e.message}` } });
    else res.destroy();
  });
});

server.listen(requestedPort, '127.0.0.1', () => {
  const { port } = server.address();
  PUBLIC_URL = (process.env.STRIPE_STANDIN_PUBLIC_URL || `http://127.0.0.1:${port}`).replace(/\/+$/, '');
  console.log(`stripe stand-in listening on http://127.0.0.1:${port}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
