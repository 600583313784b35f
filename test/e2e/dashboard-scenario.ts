/**
 * The dashboard's end-to-end scenario, driven in headless Chromium through the UI alone:
 * generate a dataset and train a model from Control, score samples, start a scoring job from
 * Models and read its evaluation, follow its alerts to the host's time series, then open every
 * tab by its URL. Every page error and console error is collected; a screenshot of each tab is
 * saved under test-results/screenshots/.
 */
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';

/** Where the screenshots go (git-ignored). */
export const SCREENSHOT_DIR = 'test-results/screenshots';

/** Chromium as the tests run it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

/** Collects the page's uncaught errors and console errors. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console error: ${msg.text()} (${msg.location().url})`);
  });
  page.on('requestfailed', (req) => {
    // A request the page gave up on itself (navigation away) is no error of the app
    const failure = req.failure()?.errorText ?? '';
    if (!failure.includes('ERR_ABORTED')) errors.push(`request failed: ${req.url()} ${failure}`);
  });
  return errors;
}

/** Waits until no loading indicator is on the page. */
export async function settled(page: Page, timeout = 60_000): Promise<void> {
  await expect.poll(() => page.locator('.state-loading').count(), { timeout }).toBe(0);
}

/** What the scenario needs of the server under test. */
export interface ScenarioTarget {
  /** The origin serving the dashboard under /app/ and the API at its root. */
  origin: string;
}

/** Generous waits: the machine running the tests may be busy. */
const LONG = 180_000;

/** Runs the scenario on `page`; returns the ids it created. */
export async function runScenario(page: Page, target: ScenarioTarget) {
  const { origin } = target;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const shot = (name: string) => page.screenshot({ path: `${SCREENSHOT_DIR}/${name}.png`, fullPage: true });
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(origin + path);
    expect(res.status, `GET ${path}`).toBe(200);
    return (await res.json()) as T;
  };

  // The root leads to the dashboard's first tab
  await page.goto(`${origin}/`);
  await page.waitForURL(`${origin}/app/control`);
  await expect.poll(() => page.title()).toBe('Control · TADS');

  // Control: a form that breaks the contract is refused before it is sent
  const gen = page.getByRole('form', { name: 'Generate a dataset' });
  await gen.getByLabel('Hosts').fill('0');
  await gen.getByRole('button', { name: 'Generate' }).click();
  await gen.getByText('host_count must be an integer in [1, 10000]; got 0').waitFor();

  // Control: generate two small datasets, normal-only to train on and one with anomalies
  const generate = async (name: string, seed: number, rate: number) => {
    await gen.getByLabel('Name').fill(name);
    await gen.getByLabel('Hosts').fill('5');
    await gen.getByLabel('Duration (s)').fill('14400');
    await gen.getByLabel('Interval (s)').fill('60');
    await gen.getByLabel('Seed').fill(String(seed));
    await gen.getByLabel('Anomaly rate').fill(String(rate));
    await gen.getByRole('button', { name: 'Generate' }).click();
    const row = page
      .getByRole('table', { name: 'Recent datasets' })
      .getByRole('row', { name: new RegExp(name) });
    await row.getByText('completed').waitFor({ timeout: LONG });
    const list = await api<{ items: { id: string; name: string; row_count: number }[] }>('/datasets');
    const found = list.items.find((d) => d.name === name);
    expect(found?.row_count).toBe(5 * 240);
    return found!;
  };
  const normal = await generate('e2e-normal', 7, 0);
  const ds = await generate('e2e-fleet', 11, 0.1);

  // Control: train on the normal data
  const train = page.getByRole('form', { name: 'Train a model' });
  await train.getByLabel('Dataset').selectOption(normal.id);
  await train.getByLabel('Name').fill('e2e-model');
  await train.getByRole('button', { name: 'Train' }).click();
  const modelRow = page.getByRole('table', { name: 'Recent models' }).getByRole('row', { name: /e2e-model/ });
  await modelRow.getByText('completed').waitFor({ timeout: LONG });
  const models = await api<{ items: { id: string; name: string }[] }>('/models');
  const modelId = models.items.find((m) => m.name === 'e2e-model')!.id;

  // Control: score two sample records, one far off
  const score = page.getByRole('form', { name: 'Score samples' });
  await score.getByLabel('Model').selectOption(modelId);
  await score.getByRole('button', { name: 'Fill with sample records' }).click();
  await expect.poll(() => score.getByLabel('Records').inputValue()).toContain('host-0001');
  await score.getByRole('button', { name: 'Score' }).click();
  const scores = page.getByRole('table', { name: 'Scores' });
  await scores.waitFor();
  expect(await scores.getByRole('row').count()).toBe(3);
  await expect.poll(() => scores.getByRole('row').nth(2).textContent()).toContain('anomalous');
  await settled(page);
  await shot('control');

  // Models: start a scoring job and follow it to its evaluation
  await page.goto(`${origin}/app/models?model=${modelId}`);
  const job = page.getByRole('form', { name: 'Score a dataset' });
  await job.getByLabel('Dataset').selectOption(ds.id);
  await job.getByRole('button', { name: 'Start scoring job' }).click();
  const jobs = page.getByRole('table', { name: 'Jobs of this model' });
  await jobs.getByText('completed').waitFor({ timeout: LONG });
  const confusion = page.getByRole('table', { name: 'Confusion matrix' });
  await confusion.waitFor({ timeout: LONG });
  const evaluation = await api<{
    job_id: string;
    anomalies: number;
    pointwise: { confusion: { tp: number; fp: number; tn: number; fn: number } };
    events: { alerts: number };
    roc_curve: { threshold: number | null; fpr: number; tpr: number }[];
    pr_curve: unknown[];
  }>(`/models/${modelId}/eval?dataset_id=${ds.id}`);
  const c = evaluation.pointwise.confusion;
  expect(await confusion.textContent()).toContain(`TP ${c.tp.toLocaleString('en-US')}`);
  expect(await confusion.textContent()).toContain(`TN ${c.tn.toLocaleString('en-US')}`);
  expect(evaluation.roc_curve[0]).toEqual({ threshold: null, fpr: 0, tpr: 0 });
  expect(evaluation.pr_curve.length).toBeGreaterThan(1);
  await page.getByLabel('Curve', { exact: true }).selectOption('pr');
  await page.getByRole('img', { name: 'Precision–recall curve' }).locator('canvas').waitFor();
  await page.getByLabel('Curve', { exact: true }).selectOption('roc');
  await page.getByRole('img', { name: 'ROC curve' }).locator('canvas').waitFor();
  await page.getByRole('table', { name: 'Error distribution' }).waitFor();
  await page.getByRole('table', { name: 'Events by anomaly type' }).waitFor();
  expect(await page.locator('.chart canvas').count()).toBeGreaterThanOrEqual(2);
  await settled(page);
  await shot('models');

  // Alerts: the job's alerts, each with a link to its host's series
  expect(evaluation.events.alerts).toBeGreaterThan(0);
  await page.goto(`${origin}/app/alerts?source=${evaluation.job_id}`);
  const alerts = page.getByRole('table', { name: 'Alerts' });
  await alerts.waitFor();
  await expect.poll(() => alerts.getByRole('row').count()).toBe(Math.min(200, evaluation.events.alerts) + 1);
  await settled(page);
  await shot('alerts');
  const first = alerts.getByRole('row').nth(1);
  const host = (await first.getByRole('button').first().textContent())!;
  await first.getByRole('link', { name: 'time series' }).click();
  await page.waitForURL(/\/app\/analytics\?/);
  expect(new URL(page.url()).searchParams.get('host')).toBe(host);
  await page.getByRole('img', { name: 'Time series' }).locator('canvas').first().waitFor();
  await settled(page);
  expect(await page.getByLabel('Host', { exact: true }).inputValue()).toBe(host);
  await shot('analytics-alert');

  // Every tab by its URL
  for (const tab of ['control', 'runs', 'analytics', 'models', 'inference', 'alerts']) {
    await page.goto(`${origin}/app/${tab}`);
    await page.locator('a.tab.active').waitFor();
    expect(new URL(page.url()).pathname).toBe(`/app/${tab}`);
    await settled(page);
    if (tab === 'analytics') {
      await page.getByRole('img', { name: 'Time series' }).locator('canvas').first().waitFor();
      // A histogram over a range and a bin number of one's own (counted from the sorted values)
      await page.getByLabel('Histogram range').selectOption('custom');
      await page.getByLabel('Range from').fill('20');
      await page.getByLabel('Range to').fill('80');
      await page.getByLabel('Bins').fill('37');
      await page.getByText(/37 bins over \[20, 80\]/).waitFor();
      await settled(page);
    }
    if (tab === 'inference') {
      // A run's detail: the two sample records scored from Control
      await page.getByRole('table', { name: 'Inference runs' }).getByRole('row').nth(1).click();
      await page.getByRole('heading', { name: 'Inference run', exact: true }).waitFor();
      await settled(page);
      expect(await page.locator('.card').first().textContent()).toBe('Records2');
    }
    if (tab === 'runs') {
      await page.getByRole('table', { name: 'Datasets' }).getByText('e2e-fleet').click();
      await page.getByRole('heading', { name: 'Parameters', exact: true }).waitFor();
      await settled(page);
    }
    await shot(tab);
  }
  return { datasetId: ds.id, modelId, jobId: evaluation.job_id };
}
