// Stripe's webhook endpoint on the running server, with deliveries signed by Stripe's own
// npm package (`webhooks.generateTestHeaderString`): an independent check of our
// verifier. scripts/test sets STRIPE_WEBHOOK_SECRET to two secrets (a rotation).
const { test, expect } = require('@playwright/test');
const Stripe = require('stripe');

const stripe = Stripe('sk_test_unused');
const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;

function delivery(id) {
  return JSON.stringify({
    id, object: 'event', type: 'customer.subscription.updated', api_version: '2023-10-16',
    livemode: false, created: Math.floor(Date.now() / 1000),
    data: { object: { id: `sub_${stamp}`, object: 'subscription', customer: `cus_${stamp}`, status: 'active' } },
  });
}

async function post(request, payload, header) {
  return request.post('/webhooks/stripe', {
    headers: { 'Content-Type': 'application/json', ...(header ? { 'Stripe-Signature': header } : {}) },
    data: payload,
  });
}

test('a delivery signed by Stripe\'s library is recorded once; repeats are acknowledged', async ({ request }) => {
  const payload = delivery(`evt_${stamp}`);
  const header = stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_e2e_current' });
  const first = await post(request, payload, header);
  expect(first.status()).toBe(200);
  expect(await first.json()).toEqual({ received: true, duplicate: false });
  const again = await post(request, payload, header);
  expect(again.status()).toBe(200);
  expect(await again.json()).toEqual({ received: true, duplicate: true });
  // The secret being retired still verifies.
  const rotated = delivery(`evt_${stamp}_rotated`);
  const old = stripe.webhooks.generateTestHeaderString({ payload: rotated, secret: 'whsec_e2e_retired' });
  expect((await post(request, rotated, old)).status()).toBe(200);
});

test('unsigned, mis-signed, stale and tampered deliveries are refused with 400', async ({ request }) => {
  const payload = delivery(`evt_${stamp}_bad`);
  const now = Math.floor(Date.now() / 1000);
  const cases = {
    unsigned: [payload, null],
    'another secret': [payload, stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_someone_else' })],
    stale: [payload, stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_e2e_current', timestamp: now - 301 })],
    tampered: [payload.replace('active', 'canceled'), stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_e2e_current' })],
  };
  for (const [what, [body, header]] of Object.entries(cases)) {
    const response = await post(request, body, header);
    expect(response.status(), what).toBe(400);
  }
});
