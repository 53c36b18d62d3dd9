/**
 * Screenshots of the web console's main pages for the docs (docs/screenshots/*.png, used by README.md), at a
 * laptop's 1366x768: `npm run screenshots` (after `npm run build`). Starts its own server with a temporary data
 * dir, fills it with a project, jobs and runs through the API, and removes it afterwards.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT, createJob, startRun, startServer, waitForRun } from '../test/support/server.js';
import { launchBrowser } from '../test/support/browser.js';

const out = path.join(ROOT, 'docs', 'screenshots');
mkdirSync(out, { recursive: true });

// Samples every 0.5 s, so the run page's resource charts have a few points by the time of the screenshot.
const s = await startServer({ env: { DSJOBS_METRICS_INTERVAL_MS: '500' } });
const browser = await launchBrowser();
try {
  const project = await s.api.createProject({ compartmentId: s.compartmentId, displayName: 'churn-model', description: 'Customer churn: data prep, training, batch scoring' });
  await s.api.createProject({ compartmentId: s.compartmentId, displayName: 'forecasting', description: 'Weekly demand forecasts' });
  const prep = await createJob(s, 'prepare.py', 'print("prepared 12,000 rows")\n', { projectId: project.id, env: { SOURCE: 'warehouse' } });
  const train = await createJob(
    s,
    'train.py',
    [
      'import os, sys, time',
      'lr = os.environ.get("LR")',
      'print(f"training with lr={lr} args={sys.argv[1:]}", flush=True)',
      'for epoch in range(1, 26):',
      '    print(f"epoch {epoch:2d}/25 loss={1/epoch:.4f} accuracy={1 - 0.5/epoch:.4f}", flush=True)',
      '    if epoch % 8 == 0: print(f"warning: learning rate {lr} may be high at epoch {epoch}", file=sys.stderr, flush=True)',
      'time.sleep(120)',
      '',
    ].join('\n'),
    { projectId: project.id, env: { LR: '0.1', EPOCHS: '25' }, args: '--epochs 25', maxRuntimeMinutes: 30 },
  );
  await waitForRun(s.api, (await startRun(s, prep)).id);
  const failed = await createJob(s, 'score.sh', 'echo "scoring"; echo "model not found" >&2; exit 2\n', { projectId: project.id });
  await waitForRun(s.api, (await startRun(s, failed)).id);
  const live = await startRun(s, train, { env: { LR: '0.01' }, displayName: 'train-lr-0.01' });
  await waitForRun(s.api, live.id, (r) => r.lifecycleState === 'IN_PROGRESS');

  const ctx = await browser.context();
  const login = await ctx.request.post(`${s.url}/20190101/console/login`, { data: { userName: 'admin', password: s.adminPassword } });
  if (login.status() !== 200) throw new Error(`console login: HTTP ${login.status()} ${await login.text()}`);
  const page = await ctx.newPage();
  const shot = async (url: string, name: string, ready: () => Promise<unknown>, fullPage = false) => {
    await page.goto(`${s.url}${url}`);
    await ready();
    await page.screenshot({ path: path.join(out, `${name}.png`), fullPage });
    console.log(`docs/screenshots/${name}.png`);
  };
  await shot('/projects', 'projects', () => page.getByRole('link', { name: 'churn-model' }).waitFor());
  await shot(`/projects/${project.id}`, 'project', () => page.getByRole('link', { name: 'train-lr-0.01' }).waitFor());
  await shot(`/projects/${project.id}/jobs/new`, 'create-job', async () => {
    await page.getByLabel('Name', { exact: true }).fill('train');
    await page.getByLabel('Shape').selectOption('VM.Standard.E4.Flex');
    await page.getByLabel('OCPUs').fill('1');
    await page.getByLabel('Memory (GB)').fill('4');
    await page.getByLabel('Command line arguments').fill('--epochs "not closed');
    await page.getByRole('button', { name: 'Add variable' }).click();
    await page.getByLabel('Name of variable 1').fill('LR');
    await page.getByLabel('Value of variable 1').fill('0.1');
    await page.getByLabel('Artifact').setInputFiles({ name: 'train.py', mimeType: 'text/x-python', buffer: Buffer.from('print(1)\n') });
    await page.getByRole('button', { name: 'Create job' }).click();
    await page.locator('[data-field="job-args"] .field-error').waitFor();
  });
  await shot(`/jobs/${train.id}`, 'job', () => page.getByRole('link', { name: 'train-lr-0.01' }).waitFor());
  await shot(
    `/runs/${live.id}`,
    'run',
    async () => {
      await page.getByTestId('log').getByText('epoch 25/25', { exact: false }).waitFor();
      await page.getByTestId('log-status').getByText('live').waitFor();
      // Six samples or more on the CPU chart (polled with source text: the console's CSP forbids waitForFunction's eval).
      const points = `((document.querySelector('figure[data-metric="CpuUtilization"] path.series') || { getAttribute: () => '' }).getAttribute('d') || '').split('L').length`;
      for (let i = 0; i < 200 && ((await page.evaluate(points)) as number) < 6; i++) await new Promise((r) => setTimeout(r, 100));
    },
    true,
  );
  await shot('/', 'runs', () => page.getByRole('link', { name: 'train-lr-0.01' }).waitFor());
  await s.api.cancelJobRun(live.id);
  await waitForRun(s.api, live.id);
  await ctx.close();
} finally {
  await browser.close();
  await s.close();
}
