const fs = require('fs');
// Background jobs: "Generate outputs" on a campaign runs as a job whose progress the page
// follows until the drafts are listed; a failing text generator shows its reason and
// Retry works; the Jobs page lists the scope's jobs. The server's generator is the
// OpenAI-compatible HTTP writer pointed at end2end/llm/stub.mjs (LLM_URL), which the
// tests switch between answering and failing.
const { test, expect } = require('@playwright/test');
const { demoSignIn, seriousViolations } = require('./helpers');

const stamp = Date.now().toString(36);
const llm = process.env.LLM_URL || 'http://127.0.0.1:4012';

async function llmMode(mode) {
  const r = await fetch(`${llm}/__mode`, { method: 'POST', body: JSON.stringify({ mode }) });
  expect(r.ok).toBe(true);
}

/** A campaign with two channels; returns the campaign page's path. */
async function campaignWithChannels(page, name, base = '') {
  await page.goto(`${base}/campaigns`);
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Objective').fill('Bring regulars back in spring');
  await page.getByRole('button', { name: 'Add campaign' }).click();
  await page.locator(`tr[data-campaign="${name}"]`).getByRole('link', { name }).click();
  await expect(page).toHaveURL(/\/campaigns\/[0-9a-f-]{36}$/);
  await page.getByLabel('Channel mix').fill('email, LinkedIn');
  await page.getByRole('button', { name: 'Save campaign' }).click();
  await expect(page.locator('dl.summary')).toContainText('email, LinkedIn');
  return new URL(page.url()).pathname;
}

test.afterEach(async () => {
  await llmMode('ok');
});

test('generate outputs: progress is shown until the drafts are listed', async ({ browser }) => {
  await llmMode('ok');
  const { context, page } = await demoSignIn(browser, 'nora@northwind.example');
  const name = `Generated ${stamp}`;
  await campaignWithChannels(page, name);
  const panel = page.locator('section.generate');
  await expect(panel.getByRole('checkbox').first()).toBeChecked();
  await panel.getByRole('button', { name: 'Generate outputs' }).click();
  const job = panel.getByTestId('job');
  // Seen waiting or running (with a progress bar), then done.
  await expect(job).toHaveAttribute('data-status', /queued|running/);
  await expect(panel.getByRole('progressbar')).toBeVisible();
  await page.screenshot({ path: 'screenshots/generate-running.png', fullPage: true });
  await expect(job).toHaveAttribute('data-status', 'done', { timeout: 30_000 });
  await expect(job).toContainText('Done: 2 drafts written.');
  // The outputs list reloaded by itself.
  await expect(page.locator(`li[data-output="${name} on email"]`)).toBeVisible();
  await expect(page.locator(`li[data-output="${name} on LinkedIn"]`)).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Outputs (2)' })).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);
  await page.screenshot({ path: 'screenshots/generate-done.png', fullPage: true });

  // The Jobs page lists it.
  await page.getByRole('link', { name: 'Jobs' }).click();
  await expect(page).toHaveURL(/\/jobs$/);
  await expect(page.locator('ul.jobs li').filter({ hasText: name }).first()).toContainText('Done: 2 drafts written.');
  expect(await seriousViolations(page)).toEqual([]);
  await page.screenshot({ path: 'screenshots/jobs.png', fullPage: true });
  await context.close();
});

test('a failing text generator shows the reason, and Retry works', async ({ browser }) => {
  const { context, page } = await demoSignIn(browser, 'ben@brightside.example');
  const name = `Flaky ${stamp}`;
  await campaignWithChannels(page, name, '/clients/acme-outdoors');
  await llmMode('fail');
  const panel = page.locator('section.generate');
  await panel.getByRole('button', { name: 'Generate outputs' }).click();
  const job = panel.getByTestId('job');
  // Three attempts with growing pauses, then failed for good: plain words and a
  // reference; the provider's own text is only in the server log under it.
  await expect(job).toHaveAttribute('data-status', 'failed', { timeout: 45_000 });
  await expect(job).toContainText('the text generator is unavailable (HTTP 503)');
  await expect(job).not.toContainText('overloaded');
  const reference = ((await job.textContent()).match(/reference ([0-9a-f]{12})/) || [])[1];
  expect(reference, 'the job names a reference').toBeTruthy();
  if (process.env.SERVER_LOG) {
    const line = fs.readFileSync(process.env.SERVER_LOG, 'utf8').split('\n').find((l) => l.includes(reference));
    expect(line, 'the reference is in the server log').toBeTruthy();
    expect(line).toContain('the model is overloaded');
  }
  expect(await seriousViolations(page)).toEqual([]);
  await page.screenshot({ path: 'screenshots/generate-failed.png', fullPage: true });

  await llmMode('ok');
  await job.getByRole('button', { name: 'Retry' }).click();
  await expect(job).toHaveAttribute('data-status', 'done', { timeout: 30_000 });
  await expect(page.locator(`li[data-output="${name} on email"]`)).toBeVisible();
  // The other client sees neither the job nor the drafts.
  await page.goto('/clients/blue-harbor-bank/jobs');
  await expect(page.getByRole('heading', { name: 'Jobs' })).toBeVisible();
  await expect(page.locator('ul.jobs li').filter({ hasText: name })).toHaveCount(0);
  await context.close();
});

test('with JavaScript off, a generation is started and its result shows after a reload', async ({ browser }) => {
  await llmMode('ok');
  const { context, page } = await demoSignIn(browser, 'sam@northwind.example', { javaScriptEnabled: false });
  const name = `No-JS drafts ${stamp}`;
  const path = await campaignWithChannels(page, name);
  await page.getByRole('button', { name: 'Generate outputs' }).click();
  await expect(page).toHaveURL(new RegExp(`${path}$`));
  const job = page.getByTestId('job');
  await expect(job).toHaveAttribute('data-status', /queued|running|done/);
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId('job')).toHaveAttribute('data-status', 'done', { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  await expect(page.locator(`li[data-output="${name} on LinkedIn"]`)).toBeVisible();
  await context.close();
});
