// Cross-site request protection on the running server: a state-changing request that
// does not come from an Enclave page is refused with a clear page, before any handler runs.
const { test, expect } = require('@playwright/test');

test('a cross-site POST to a server function is refused with a clear 403 page', async ({ request }) => {
  const response = await request.post('/api/sign_out', {
    headers: { Origin: 'https://evil.example', 'Content-Type': 'application/x-www-form-urlencoded' },
    data: '',
  });
  expect(response.status()).toBe(403);
  const body = await response.text();
  expect(body).toContain('This request was refused');
  expect(body).toMatch(/Reference: [0-9a-f-]{36}/);
});

test('a POST that does not say where it came from is refused too', async ({ request }) => {
  const response = await request.post('/api/sign_out', {
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    data: '',
  });
  expect(response.status()).toBe(403);
});

test('the same POST from the site itself passes the check', async ({ request, baseURL }) => {
  const response = await request.post('/api/sign_out', {
    headers: { Origin: new URL(baseURL).origin, 'Content-Type': 'application/x-www-form-urlencoded' },
    data: '',
  });
  expect(response.status()).toBeLessThan(400);
});
