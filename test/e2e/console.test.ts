/**
 * The web console end to end: Debian's chromium (driven by playwright-core) against a real dsjobs server process
 * that serves the built console (npm run build) and runs real processes. Nothing is mocked; the test talks to the
 * API only to prepare data and to check what the console did.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { ROOT, createJob, readLogs, startRun, startServer, waitForRun, type TestServer } from '../support/server.js';
import { launchBrowser, type TestBrowser } from '../support/browser.js';

let s: TestServer;
let browser: TestBrowser;
let tmp: string;
let projectId: string;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

before(async () => {
  assert.ok(existsSync(path.join(ROOT, 'dist', 'console', 'index.html')), 'the console is built by npm run build');
  // The runs wait on flag files the tests create on the host. A sandboxed run sees neither the host's /tmp nor a
  // checkout that lives under it, so this server runs them unsandboxed (the sandbox is tested in isolation.test.ts).
  mkdirSync(path.join(ROOT, 'tmp'), { recursive: true });
  tmp = mkdtempSync(path.join(ROOT, 'tmp', 'console-test-'));
  // A fixed port, so the restart in the last test comes back where the browser's follower reconnects.
  s = await startServer({ port: await freePort(), env: { DSJOBS_METRICS_INTERVAL_MS: '200', DSJOBS_SANDBOX: 'off' } });
  browser = await launchBrowser();
  projectId = (await s.api.createProject({ compartmentId: s.compartmentId, displayName: 'console-tests' })).id;
});

after(async () => {
  await browser?.close();
  await s?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Logs the context in as the administrator (the session cookie lands in its cookie jar). */
async function logIn(ctx: BrowserContext): Promise<void> {
  const res = await ctx.request.post(`${s.url}/20190101/console/login`, { data: { userName: 'admin', password: s.adminPassword } });
  assert.equal(res.status(), 200, await res.text());
}

/** A new page at 1366x768 that fails the test on any script error or console error (CSP violations included). */
async function openPage(t: { after: (fn: () => Promise<void>) => void }, opts: { serverGoesAway?: boolean } = {}): Promise<Page> {
  const ctx = await browser.context();
  await logIn(ctx);
  const page = await ctx.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // A 4xx the console handles itself (validation errors, the metrics probe) is logged by chromium as a failed
    // resource load; those are expected, anything else is not.
    if (m.type() !== 'error' || /status of (400|404|409)/.test(m.text())) return;
    if (opts.serverGoesAway && /ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET|ERR_INCOMPLETE_CHUNKED_ENCODING/.test(m.text())) return;
    problems.push(`console: ${m.text()}`);
  });
  t.after(async () => {
    await ctx.close();
    assert.deepEqual(problems, [], 'no errors in the browser');
  });
  page.setDefaultTimeout(20_000);
  return page;
}

const md5Hex = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** Waits until the run page's timeline lists exactly these steps, in this order. */
async function waitForTimeline(page: Page, labels: string[]): Promise<void> {
  const steps = page.getByTestId('timeline').locator('li.done strong');
  const deadline = Date.now() + 20_000;
  let got: string[] = [];
  while (Date.now() < deadline) {
    got = await steps.allInnerTexts();
    if (JSON.stringify(got) === JSON.stringify(labels)) return;
    await page.waitForTimeout(100);
  }
  assert.deepEqual(got, labels, 'the timeline');
}

/** Counts the page's GET /jobRuns? (list) calls, and records its event stream requests. */
function watchRequests(page: Page) {
  const seen = { lists: [] as string[], follows: [] as string[] };
  page.on('request', (r) => {
    const u = r.url();
    if (u.includes('/20190101/jobRuns?')) seen.lists.push(u);
    if (u.includes('/20190101/events?') && u.includes('follow=true')) seen.follows.push(u);
  });
  return seen;
}

test('create a job with the form: shape, env, arguments, artifact upload; lands on the job page', async (t) => {
  const page = await openPage(t);
  await page.goto(`${s.url}/projects`);
  await page.getByRole('link', { name: 'console-tests' }).first().click();
  await page.getByRole('link', { name: 'Create job' }).click();
  await page.getByLabel('Name', { exact: true }).fill('form-job');
  await page.getByLabel('Shape').selectOption('VM.Standard.E4.Flex');
  await page.getByLabel('OCPUs').fill('0.5');
  await page.getByLabel('Memory (GB)').fill('1');
  await page.getByLabel('Command line arguments').fill('--epochs 3');
  await page.getByLabel('Maximum runtime (minutes)').fill('10');
  await page.getByRole('button', { name: 'Add variable' }).click();
  await page.getByLabel('Name of variable 1').fill('LR');
  await page.getByLabel('Value of variable 1').fill('0.1');
  const content = Buffer.from('import os, sys\nprint("lr", os.environ["LR"], sys.argv[1:])\n');
  await page.getByLabel('Artifact').setInputFiles({ name: 'train.py', mimeType: 'text/x-python', buffer: content });
  await page.getByRole('button', { name: 'Create job' }).click();

  await page.waitForURL(/\/jobs\/ocid1\.datasciencejob\./);
  await page.getByRole('heading', { name: 'form-job' }).waitFor();
  const jobId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]);
  const job = await s.api.getJob(jobId);
  assert.equal(job.lifecycleState, 'ACTIVE');
  assert.equal(job.artifactFileName, 'train.py');
  assert.deepEqual(job.jobConfigurationDetails.environmentVariables, { LR: '0.1' });
  assert.equal(job.jobConfigurationDetails.commandLineArguments, '--epochs 3');
  assert.equal(job.jobConfigurationDetails.maximumRuntimeInMinutes, 10);
  assert.equal(job.jobInfrastructureConfigurationDetails.shapeName, 'VM.Standard.E4.Flex');
  assert.deepEqual(job.jobInfrastructureConfigurationDetails.jobShapeConfigDetails, { ocpus: 0.5, memoryInGBs: 1 });
  const uploaded = Buffer.from(await (await s.api.getArtifact(jobId)).arrayBuffer());
  assert.deepEqual(uploaded, content);
  // The artifact panel shows what the server stored.
  await page.getByText(md5Hex(content)).waitFor();
  await page.getByRole('link', { name: 'Download train.py' }).waitFor();
  // Deep link: a reload of the job page serves the console again.
  await page.reload();
  await page.getByRole('heading', { name: 'form-job' }).waitFor();
});

test('the server serves the console at / and for deep links, and keeps the API 404 for unknown API paths', async () => {
  const index = await fetch(`${s.url}/runs/ocid1.datasciencejobrun.dsjobs.local.abc`);
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  const html = await index.text();
  const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(asset, html);
  const js = await fetch(`${s.url}${asset}`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(js.status, 200);
  assert.match(js.headers.get('cache-control') ?? '', /immutable/);
  assert.equal((await js.text()).length > 1000, true);
  const api404 = await fetch(`${s.url}/20190101/noSuchThing`);
  assert.equal(api404.status, 404);
  assert.deepEqual(Object.keys(await api404.json()).sort(), ['code', 'message']);
  assert.equal((await fetch(`${s.url}/assets/missing.js`)).status, 404);
  assert.equal((await fetch(`${s.url}/robots.txt`)).status, 404);
  const outside = await fetch(`${s.url}/not/a/console/page`);
  assert.equal(outside.status, 404);
  assert.equal(typeof ((await outside.json()) as { code: unknown }).code, 'string');
  assert.equal((await fetch(`${s.url}/`, { method: 'POST' })).status, 404);
});

test('create a job with an artifact dropped on the drop zone', async (t) => {
  const page = await openPage(t);
  await page.goto(`${s.url}/projects/${projectId}/jobs/new`);
  await page.getByLabel('Name', { exact: true }).fill('dropped-job');
  const dataTransfer = await page.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['echo dropped\n'], 'dropped.sh', { type: 'text/x-sh' }));
    return dt;
  });
  await page.getByTestId('job-artifact-dropzone').dispatchEvent('drop', { dataTransfer });
  await page.getByText('dropped.sh (13 B)').waitFor();
  await page.getByRole('button', { name: 'Create job' }).click();
  await page.waitForURL(/\/jobs\/ocid1\./);
  const jobId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]);
  assert.equal((await s.api.getJob(jobId)).artifactFileName, 'dropped.sh');
});

test('create a job from a pasted YAML spec (native format)', async (t) => {
  const page = await openPage(t);
  await page.goto(`${s.url}/projects/${projectId}/jobs/new`);
  await page.getByRole('tab', { name: 'YAML spec' }).click();
  await page.getByLabel(/Job spec/).fill('name: yaml-job\nartifact: ./hello.sh\nshape: Local.Light\nenv: {GREETING: hi}\nargs: "a b"\nmaxRuntime: 5m\n');
  await page.getByLabel('Artifact named by the spec').setInputFiles({ name: 'hello.sh', mimeType: 'text/x-sh', buffer: Buffer.from('echo "$GREETING" "$@"\n') });
  await page.getByRole('button', { name: 'Create job from spec' }).click();
  await page.waitForURL(/\/jobs\/ocid1\./);
  const jobId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]);
  const job = await s.api.getJob(jobId);
  assert.equal(job.displayName, 'yaml-job');
  assert.equal(job.projectId, projectId);
  assert.deepEqual(job.jobConfigurationDetails.environmentVariables, { GREETING: 'hi' });
  assert.equal(job.jobConfigurationDetails.commandLineArguments, 'a b');
  assert.equal(job.jobConfigurationDetails.maximumRuntimeInMinutes, 5);
  assert.equal(job.artifactFileName, 'hello.sh');

  // A spec error from the YAML reader is shown next to the spec, naming the field.
  await page.goto(`${s.url}/projects/${projectId}/jobs/new`);
  await page.getByRole('tab', { name: 'YAML spec' }).click();
  await page.getByLabel(/Job spec/).fill('kind: job\nspec:\n  runtime:\n    kind: runtime\n    type: container\n');
  await page.getByRole('button', { name: 'Create job from spec' }).click();
  const err = page.locator('[data-field="yaml-spec"] .field-error');
  await err.waitFor();
  assert.match(await err.innerText(), /container/);
});

test('create a gitPython job from a pasted ADS spec: no file to pick, the driver is the artifact', async (t) => {
  const page = await openPage(t);
  await page.goto(`${s.url}/projects/${projectId}/jobs/new`);
  await page.getByRole('tab', { name: 'YAML spec' }).click();
  const spec = ['kind: job', 'spec:', '  name: from-git', '  infrastructure:', '    kind: infrastructure', '    type: dataScienceJob',
    '    spec: {shapeName: Local.Light}', '  runtime:', '    kind: runtime', '    type: gitPython', '    spec:',
    '      url: https://example.com/r.git', '      entrypoint: pkg.mod:main', ''].join('\n');
  await page.getByLabel(/Job spec/).fill(spec);
  await page.getByRole('button', { name: 'Create job from spec' }).click();
  await page.waitForURL(/\/jobs\/ocid1\./);
  const job = await s.api.getJob(decodeURIComponent(new URL(page.url()).pathname.split('/')[2]));
  assert.equal(job.artifactFileName, 'driver_oci.py');
  assert.equal(job.jobConfigurationDetails.environmentVariables?.GIT_URL, 'https://example.com/r.git');
  assert.equal(job.jobConfigurationDetails.environmentVariables?.GIT_ENTRYPOINT, 'pkg.mod:main');
});

test('edit a job (name, description, block storage) and delete it', async (t) => {
  const job = await createJob(s, 'edit.sh', 'true\n', { projectId });
  const page = await openPage(t);
  await page.goto(`${s.url}/jobs/${job.id}`);
  await page.getByRole('button', { name: 'Edit' }).click();
  await page.getByLabel('Name', { exact: true }).fill('renamed-job');
  await page.getByLabel('Description').fill('edited in the console');
  await page.getByLabel('Block storage (GB)').fill('120');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('heading', { name: 'renamed-job' }).waitFor();
  const edited = await s.api.getJob(job.id);
  assert.equal(edited.displayName, 'renamed-job');
  assert.equal(edited.description, 'edited in the console');
  assert.equal(edited.jobInfrastructureConfigurationDetails.blockStorageSizeInGBs, 120);

  await page.getByRole('button', { name: 'Delete job…' }).click();
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.waitForURL(new RegExp(`/projects/${projectId.replace(/\./g, '\\.')}$`));
  const after = await s.api.getJob(job.id).catch((e) => e);
  assert.ok(after instanceof Error || ['DELETING', 'DELETED'].includes(after.lifecycleState), `job is gone: ${JSON.stringify(after)}`);
});

test('API validation errors appear next to the field they name', async (t) => {
  const page = await openPage(t);
  // Create job: unbalanced quotes in the arguments, refused by the server (not by the browser).
  await page.goto(`${s.url}/projects/${projectId}/jobs/new`);
  await page.getByLabel('Name', { exact: true }).fill('bad-args');
  await page.getByLabel('Command line arguments').fill('a "b');
  await page.getByLabel('Artifact').setInputFiles({ name: 'x.sh', mimeType: 'text/x-sh', buffer: Buffer.from('true\n') });
  await page.getByRole('button', { name: 'Create job' }).click();
  const argsError = page.locator('[data-field="job-args"] .field-error');
  await argsError.waitFor();
  assert.match(await argsError.innerText(), /^jobConfigurationDetails\.commandLineArguments: unterminated double quote/);
  assert.equal(await page.getByLabel('Command line arguments').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.locator('.field-error').count(), 1, 'only the named field shows an error');
  const jobs = await s.api.listJobs({ compartmentId: s.compartmentId, projectId, displayName: 'bad-args' });
  assert.equal(jobs.items.length, 0, 'nothing was created');

  // Start a run: an environment variable the server refuses, shown on the environment variables group.
  const job = await createJob(s, 'ok.sh', 'true\n', { projectId });
  await page.goto(`${s.url}/jobs/${job.id}/run`);
  await page.getByRole('button', { name: 'Add variable' }).click();
  await page.getByLabel('Name of variable 1').fill('LD_PRELOAD');
  await page.getByLabel('Value of variable 1').fill('/tmp/x.so');
  await page.getByRole('button', { name: 'Start run' }).click();
  const envError = page.locator('[data-field="run-env"] .field-error');
  await envError.waitFor();
  assert.match(await envError.innerText(), /^jobConfigurationOverrideDetails\.environmentVariables\.LD_PRELOAD: /);
  assert.match(page.url(), /\/run$/, 'stays on the form');
  const runs = await s.api.listJobRuns({ compartmentId: s.compartmentId, jobId: job.id });
  assert.equal(runs.items.length, 0);
});

test('start a run with an env override, land on its page and see its log lines appear live', async (t) => {
  const trigger = path.join(tmp, 'live-trigger');
  const script = ['echo "LR=$LR"', 'echo "to stderr" >&2', `while [ ! -e "$TRIGGER" ]; do sleep 0.05; done`, 'echo "after the trigger"', ''].join('\n');
  const job = await createJob(s, 'live.sh', script, { projectId, env: { LR: '0.1', TRIGGER: trigger } });
  const page = await openPage(t);
  await page.goto(`${s.url}/jobs/${job.id}`);
  await page.getByRole('link', { name: 'Start a run' }).click();
  await page.getByLabel('Run name').fill('live-run');
  await page.getByRole('button', { name: 'Add variable' }).click();
  await page.getByLabel('Name of variable 1').fill('LR');
  await page.getByLabel('Value of variable 1').fill('0.01');
  await page.getByRole('button', { name: 'Start run' }).click();
  await page.waitForURL(/\/runs\/ocid1\.datasciencejobrun\./);
  const runId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]);

  const log = page.getByTestId('log');
  await log.getByText('LR=0.01').waitFor();
  // stderr is told apart from stdout by a label, not only by colour.
  const errLine = log.locator('.log-stderr', { hasText: 'to stderr' });
  await errLine.waitFor();
  assert.equal(await errLine.locator('.log-stream').innerText(), 'err');
  // The run is still going: the lines above came live, not from a finished log.
  assert.equal((await s.api.getJobRun(runId)).lifecycleState, 'IN_PROGRESS');
  assert.equal(await log.getByText('after the trigger').count(), 0);
  await page.getByTestId('run-state').getByText('IN_PROGRESS').waitFor();
  // The timeline lists the run's lifecycle events from the events API, so far.
  await waitForTimeline(page, ['Accepted', 'Started']);
  // Resource charts from GET /jobRuns/{id}/metrics: one per metric, with its unit, drawn while the run goes on.
  const cpu = page.locator('figure[data-metric="CpuUtilization"]');
  await cpu.locator('svg path.series, svg circle.series-dot').first().waitFor();
  assert.match(await cpu.locator('figcaption').innerText(), /^CPU \(%\)/);
  await page.locator('figure[data-metric="MemoryUtilization"]').waitFor();
  writeFileSync(trigger, '');
  await log.getByText('after the trigger').waitFor();
  await page.getByTestId('run-state').getByText('SUCCEEDED').waitFor();
  await waitForTimeline(page, ['Accepted', 'Started', 'Succeeded']);
  await page.getByTestId('log-status').getByText('complete').waitFor();
  assert.equal(await log.locator('.log-line').count(), 3);
  // The run's effective configuration shows the override on top of the job's env.
  await page.getByRole('cell', { name: '0.01' }).waitFor();

  // Search and stream filter.
  await page.getByLabel('Search').fill('trigger');
  await log.locator('mark', { hasText: 'trigger' }).waitFor();
  assert.equal(await log.locator('.log-line').count(), 1);
  await page.getByLabel('Search').fill('');
  await page.getByLabel('Stream').selectOption('stderr');
  assert.equal(await log.locator('.log-line').count(), 1);

  // Download: the whole log as text.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download' }).click()]);
  const file = path.join(tmp, 'dl.log');
  await download.saveAs(file);
  const text = (await import('node:fs')).readFileSync(file, 'utf8');
  assert.match(text, /stdout LR=0\.01\n.*stderr to stderr\n.*stdout after the trigger\n$/);
});

test('cancel a long run from its page and see it end CANCELED', async (t) => {
  const job = await createJob(s, 'long.sh', 'echo started\nsleep 600\n', { projectId });
  const run = await startRun(s, job, { displayName: 'long-run' });
  const page = await openPage(t);
  await page.goto(`${s.url}/runs/${run.id}`);
  await page.getByTestId('log').getByText('started').waitFor();
  await page.getByRole('button', { name: 'Cancel run' }).click();
  await page.getByTestId('run-state').getByText('CANCELED').waitFor({ timeout: 30_000 });
  assert.equal((await s.api.getJobRun(run.id)).lifecycleState, 'CANCELED');
  assert.equal(await page.getByRole('button', { name: 'Cancel run' }).count(), 0);
  await page.getByText('Canceled', { exact: true }).waitFor(); // the timeline's last step
  await waitForTimeline(page, ['Accepted', 'Started', 'Canceling', 'Canceled']);
  const times = await page.getByTestId('timeline').locator('li.done').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-event-type')));
  assert.deepEqual(times, [
    'com.oraclecloud.datascience.createjobrun.begin',
    'com.oraclecloud.datascience.createjobrun.end',
    'com.oraclecloud.datascience.canceljobrun.begin',
    'com.oraclecloud.datascience.canceljobrun.end',
  ]);
});

test('a finished run: no "Live" and no Pause, no GPU charts without GPUs, the stream selector\'s text not clipped', async (t) => {
  const job = await createJob(s, 'done.py', 'import time\nprint("one", flush=True)\ntime.sleep(1)\nprint("two")\n', { projectId });
  const run = await startRun(s, job, { displayName: 'finished-run' });
  await waitForRun(s.api, run.id);
  const page = await openPage(t);
  await page.goto(`${s.url}/runs/${run.id}`);
  await page.getByTestId('run-state').getByText('SUCCEEDED').waitFor();
  await page.getByTestId('log').getByText('two').waitFor();
  await page.getByTestId('log-status').getByText('complete').waitFor();
  await page.locator('figure[data-metric="CpuUtilization"]').waitFor();
  await page.waitForLoadState('networkidle').catch(() => undefined);
  // Nothing more will come: the timeline is not "Live" and the log has nothing to pause.
  assert.equal(await page.getByTestId('live-status').count(), 0, 'no Live note on a finished run');
  assert.equal(await page.getByRole('button', { name: /^(Pause|Resume)/ }).count(), 0, 'no Pause on a finished run');
  assert.equal(await page.getByText('live', { exact: true }).count(), 0);
  // Local.Light has no GPUs: CPU, memory and disk charts only.
  assert.equal(await page.locator('figure[data-metric^="Gpu"]').count(), 0, 'no GPU charts for a run without GPUs');
  assert.equal(await page.locator('figure[data-metric="MemoryUtilization"]').count(), 1);
  // The selected option's text ends at least 4 px before the selector's arrow. The arrow's left edge: the console's
  // own arrow is 12 px wide, 8 px from the right border (styles.css); a native one is about 20 px inside the padding.
  const fit = JSON.parse(
    (await page.evaluate(`(() => {
      const e = document.getElementById('log-stream');
      const cs = getComputedStyle(e);
      const probe = document.createElement('span');
      probe.style.font = cs.font;
      probe.style.whiteSpace = 'pre';
      probe.textContent = e.options[e.selectedIndex].text;
      document.body.appendChild(probe);
      const text = probe.getBoundingClientRect().width;
      probe.remove();
      const arrowLeft = cs.appearance === 'none' ? e.clientWidth - 8 - 12 : e.clientWidth - parseFloat(cs.paddingRight) - 20;
      return JSON.stringify({ textRight: parseFloat(cs.paddingLeft) + text, arrowLeft, label: e.options[e.selectedIndex].text });
    })()`)) as string,
  );
  assert.equal(fit.label, 'stdout and stderr');
  assert.ok(fit.arrowLeft - fit.textRight >= 4, `the selector's text ends ${(fit.arrowLeft - fit.textRight).toFixed(1)} px before its arrow`);
});

test('a notebook run\'s page shows its executed notebook: cells, outputs, the cell that raised highlighted, nothing of it as HTML', async (t) => {
  // The run writes the executed notebook where the notebook driver does (a real Jupyter run is ads-notebook's and
  // run-outputs' to test): the server keeps it with the run because the job is a notebook job (JOB_RUN_NOTEBOOK).
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [
      { cell_type: 'markdown', metadata: {}, source: ['# Report <script>window.__pwned = 1</script>'] },
      { cell_type: 'code', metadata: {}, execution_count: 1, source: 'print(x)', outputs: [{ output_type: 'stream', name: 'stdout', text: ['<img src=x onerror="window.__pwned=2">\n'] }] },
      {
        cell_type: 'code',
        metadata: { dsjobs: { failed: true } },
        execution_count: 2,
        source: 'raise ValueError("bad input")',
        outputs: [{ output_type: 'error', ename: 'ValueError', evalue: 'bad input', traceback: ['\u001b[31mValueError\u001b[0m: bad input'] }],
      },
    ],
  };
  const script = `open(".dsjobs-executed.ipynb", "w").write(${JSON.stringify(JSON.stringify(nb))})\nraise SystemExit(1)\n`;
  const job = await createJob(s, 'nb.py', script, { projectId, env: { JOB_RUN_NOTEBOOK: 'code/report.ipynb' } });
  const run = await startRun(s, job, { displayName: 'notebook-run' });
  await waitForRun(s.api, run.id);
  const page = await openPage(t);
  await page.goto(`${s.url}/runs/${run.id}`);
  const panel = page.getByTestId('notebook');
  await panel.getByRole('heading', { name: 'Executed notebook' }).waitFor();
  const failed = panel.getByTestId('notebook-failed-cell');
  await failed.getByText('raised here').waitFor().catch(async (e) => {
    throw new Error(`${(e as Error).message}\npanel: ${await panel.innerText()}\nlog: ${(await readLogs(s, run.id)).map((l) => l.message).join('\n')}`);
  });
  assert.match(await failed.innerText(), /raise ValueError\("bad input"\)[\s\S]*ValueError: bad input/);
  assert.ok(!(await failed.innerText()).includes('\u001b'), 'the traceback\'s colour codes are not shown');
  assert.equal(await failed.getAttribute('aria-label'), 'Cell 3, raised an error');
  // Markup in sources and outputs is shown as text, never made into elements.
  await panel.getByText('<img src=x onerror="window.__pwned=2">').waitFor();
  await panel.getByText('# Report <script>window.__pwned = 1</script>').waitFor();
  assert.equal(await panel.locator('img, script').count(), 0);
  assert.equal(await page.evaluate('window.__pwned'), undefined);
  // A run that is not a notebook run has no such panel.
  const plain = await startRun(s, await createJob(s, 'plain.py', 'print(1)\n', { projectId }));
  await waitForRun(s.api, plain.id);
  await page.goto(`${s.url}/runs/${plain.id}`);
  await page.getByTestId('run-state').getByText('SUCCEEDED').waitFor();
  assert.equal(await page.getByTestId('notebook').count(), 0);
});

test('/ shows the job runs list, as README.md and console/README.md say; Projects is /projects', async (t) => {
  for (const doc of ['README.md', 'console/README.md']) {
    assert.match(readFileSync(path.join(ROOT, doc), 'utf8'), /`\/` (shows )?the job runs/i, `${doc} says what / shows`);
  }
  const job = await createJob(s, 'home.sh', 'echo home\n', { projectId });
  const run = await startRun(s, job, { displayName: 'home-run' });
  await waitForRun(s.api, run.id);
  const page = await openPage(t);
  await page.goto(`${s.url}/`);
  await page.getByRole('heading', { name: 'Job runs', level: 1 }).waitFor();
  await page.getByRole('link', { name: 'home-run' }).waitFor();
  assert.equal(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Job runs' }).getAttribute('aria-current'), 'page');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).click();
  await page.waitForURL(`${s.url}/projects`);
  await page.getByRole('link', { name: 'console-tests' }).first().waitFor();
  // A filter keeps the list where it is.
  await page.goto(`${s.url}/`);
  await page.getByLabel('State').selectOption('SUCCEEDED');
  await page.waitForURL(`${s.url}/?state=SUCCEEDED`);
  await page.getByRole('link', { name: 'home-run' }).waitFor();
});

test('a job naming a conda environment the server lacks: the job page warns that runs will be refused, and how to fix it', async (t) => {
  const page = await openPage(t);
  await page.goto(`${s.url}/projects/${projectId}/jobs/new`);
  await page.getByRole('tab', { name: 'YAML spec' }).click();
  // An ADS spec as the samples write it: a runtime conda slug.
  const spec = [
    'kind: job',
    'spec:',
    '  name: ads-conda',
    '  infrastructure:',
    '    kind: infrastructure',
    '    type: dataScienceJob',
    '    spec: {shapeName: Local.Light}',
    '  runtime:',
    '    kind: runtime',
    '    type: python',
    '    spec:',
    '      scriptPathURI: train.py',
    '      conda: {type: service, slug: pytorch110_p38_cpu_v1}',
    '',
  ].join('\n');
  await page.getByLabel(/Job spec/).fill(spec);
  await page.getByLabel('Artifact named by the spec').setInputFiles({ name: 'train.py', mimeType: 'text/x-python', buffer: Buffer.from('print(1)\n') });
  await page.getByRole('button', { name: 'Create job from spec' }).click();
  await page.waitForURL(/\/jobs\/ocid1\./);
  const warning = page.getByTestId('job-details');
  await warning.waitFor();
  const text = await warning.innerText();
  assert.match(text, /^Warning: Runs will be refused: jobConfigurationDetails\.environmentVariables\.CONDA_ENV_SLUG: no service conda environment 'pytorch110_p38_cpu_v1' on this server/);
  assert.match(text, /condaEnvironments/);
  assert.match(text, /remove the CONDA_ENV_\* variables/);
  assert.equal(await warning.getAttribute('role'), 'alert');
  // A job without conda has no such line.
  const plain = await createJob(s, 'plain.sh', 'echo plain\n', { projectId });
  await page.goto(`${s.url}/jobs/${plain.id}`);
  await page.getByRole('heading', { name: 'plain.sh' }).waitFor();
  assert.equal(await page.getByTestId('job-details').count(), 0);
});

test('runs list: server-side pages of 50, filters, live updates without a reload', async (t) => {
  const job = await createJob(s, 'quick.sh', 'exit 0\n', { projectId });
  const ids: string[] = [];
  for (let i = 0; i < 53; i++) ids.push((await startRun(s, job, { displayName: `bulk-${String(i).padStart(2, '0')}` })).id);
  await Promise.all(ids.map((id) => waitForRun(s.api, id, undefined, 60_000)));

  const page = await openPage(t);
  const requests: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/20190101/jobRuns?')) requests.push(r.url());
  });
  await page.goto(`${s.url}/runs?jobId=${encodeURIComponent(job.id)}`);
  const rows = page.locator('table.runs-table tbody tr[data-run-id]');
  await page.getByRole('link', { name: 'bulk-52' }).waitFor();
  assert.equal(await rows.count(), 50);
  assert.ok(requests.every((u) => new URL(u).searchParams.get('limit') === '50'), 'every list call is one page');
  await page.getByRole('button', { name: 'Next →' }).click();
  await page.getByRole('link', { name: 'bulk-00' }).waitFor();
  assert.equal(await rows.count(), 3);
  await page.getByRole('button', { name: '← Previous' }).click();
  await page.getByRole('link', { name: 'bulk-52' }).waitFor();

  // A run created elsewhere appears on its own at the top, and its state follows it to the end; the page stays one
  // page of 50 (the last row moves on to the next page) and the list is not asked again for it.
  await page.getByTestId('live-status').getByText('Live').waitFor();
  const marker = Date.now();
  const listCalls = requests.length;
  const fresh = await startRun(s, job, { displayName: 'fresh-run' });
  await page.getByRole('link', { name: 'fresh-run' }).waitFor({ timeout: 10_000 });
  await page.locator(`tr[data-run-id="${fresh.id}"]`).getByText('SUCCEEDED').waitFor({ timeout: 20_000 });
  assert.ok(await page.evaluate((m) => performance.timeOrigin < m, marker), 'the page was not reloaded');
  assert.equal(await rows.first().getAttribute('data-run-id'), fresh.id);
  assert.equal(await rows.count(), 50);
  assert.equal(requests.length, listCalls, 'the run came from the event stream, not from the list');
  // The row pushed off the page is the first of the next page (its token is asked again).
  await page.getByRole('button', { name: 'Next →' }).click();
  await page.getByRole('link', { name: 'bulk-03' }).waitFor();
  assert.equal(await rows.count(), 4);
  await page.getByRole('button', { name: '← Previous' }).click();
  await page.getByRole('link', { name: 'fresh-run' }).waitFor();

  // The state filter is applied by the server.
  await page.getByLabel('State').selectOption('SUCCEEDED');
  await page.waitForURL(/state=SUCCEEDED/);
  await page.waitForFunction(() => document.querySelectorAll('table.runs-table tbody tr[data-run-id]').length === 50);
  assert.ok(requests.some((u) => new URL(u).searchParams.get('lifecycleState') === 'SUCCEEDED'));
  await page.getByLabel('State').selectOption('FAILED');
  await page.getByText('No runs.').waitFor();
});

test('runs list follows the events API: rows come, change state and leave a state filter live, with no list polling', async (t) => {
  const trigger = path.join(tmp, 'follow-trigger');
  const job = await createJob(s, 'follow.sh', `while [ ! -e "$TRIGGER" ]; do sleep 0.05; done\n`, { projectId, env: { TRIGGER: trigger } });
  const all = await openPage(t);
  const running = await all.context().newPage();
  // The job's page (its runs) and the project's page (its jobs' last runs) follow the same way.
  const jobPage = await all.context().newPage();
  const projectPage = await all.context().newPage();
  const seenAll = watchRequests(all);
  const seenRunning = watchRequests(running);
  const seenOthers = [watchRequests(jobPage), watchRequests(projectPage)];
  await all.goto(`${s.url}/runs?jobId=${encodeURIComponent(job.id)}`);
  await running.goto(`${s.url}/runs?state=IN_PROGRESS&jobId=${encodeURIComponent(job.id)}`);
  await jobPage.goto(`${s.url}/jobs/${job.id}`);
  await projectPage.goto(`${s.url}/projects/${projectId}`);
  for (const p of [all, running, jobPage]) await p.getByText('No runs.').waitFor();
  const lastRun = projectPage.getByRole('row').filter({ has: projectPage.getByRole('link', { name: 'follow.sh' }) });
  await lastRun.getByText('no runs').waitFor();
  for (const p of [all, running, jobPage, projectPage]) await p.getByTestId('live-status').getByText('Live').waitFor();
  const othersLists = seenOthers.map((w) => w.lists.length);
  // The stream asks the server for this job's run events only.
  const follow = new URL(seenAll.follows[0]);
  assert.equal(follow.searchParams.get('jobId'), job.id);
  assert.match(follow.searchParams.get('type') ?? '', /succeededjobrun/);
  const lists = [seenAll.lists.length, seenRunning.lists.length];
  assert.deepEqual(lists, [1, 1], 'each page asked for its list once');

  const run = await startRun(s, job, { displayName: 'followed-run' });
  for (const p of [all, running]) await p.locator(`tr[data-run-id="${run.id}"]`).getByText('IN_PROGRESS').waitFor({ timeout: 10_000 });
  // The console used to ask for the list every 2 s: over 2.5 s it now asks nothing, and still gets the end.
  await all.waitForTimeout(2500);
  writeFileSync(trigger, '');
  await all.locator(`tr[data-run-id="${run.id}"]`).getByText('SUCCEEDED').waitFor({ timeout: 20_000 });
  // Not IN_PROGRESS any more: it leaves the filtered page.
  await running.getByText('No runs.').waitFor();
  // A second run joins the first at the top.
  const second = await startRun(s, job, { displayName: 'second-run' });
  await all.locator(`tr[data-run-id="${second.id}"]`).getByText('SUCCEEDED').waitFor({ timeout: 20_000 });
  const ids = await all.locator('table.runs-table tbody tr[data-run-id]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-run-id')));
  assert.deepEqual(ids, [second.id, run.id]);
  assert.deepEqual([seenAll.lists.length, seenRunning.lists.length], lists, 'no list call was made for the updates');
  assert.equal(seenAll.follows.length, 1, 'one event stream for the whole time');
  await jobPage.locator(`tr[data-run-id="${second.id}"]`).getByText('SUCCEEDED').waitFor();
  await jobPage.locator(`tr[data-run-id="${run.id}"]`).getByText('SUCCEEDED').waitFor();
  assert.equal(await jobPage.locator('table.runs-table tbody tr[data-run-id]').count(), 2);
  await lastRun.getByRole('link', { name: 'second-run' }).waitFor();
  await lastRun.getByText('SUCCEEDED').waitFor();
  assert.deepEqual(
    seenOthers.map((w) => w.lists.length),
    othersLists,
    'the job and project pages made no list call for the updates either',
  );
  for (const p of [running, jobPage, projectPage]) await p.close();
});

test('compartment picker: another compartment\'s projects, a bad id refused naming the field, back to the default', async (t) => {
  const other = `ocid1.compartment.dsjobs..console${Date.now().toString(36)}`;
  const elsewhere = await s.api.createProject({ compartmentId: other, displayName: 'project-elsewhere' });
  const page = await openPage(t);
  await page.goto(`${s.url}/projects`);
  await page.getByRole('link', { name: 'console-tests' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'project-elsewhere' }).count(), 0);
  const picker = page.locator('details.compartment');
  assert.match(await picker.locator('summary').innerText(), new RegExp(`${s.compartmentId.slice(-8)}.*\\(default\\)`));

  // A bad id: the server's reason, next to the field; nothing changes.
  await picker.locator('summary').click();
  await page.getByLabel('Compartment OCID').fill('not-a-compartment');
  await page.getByRole('button', { name: 'Use this compartment' }).click();
  const err = page.locator('[data-field="compartment-id"] .field-error');
  await err.waitFor();
  assert.match(await err.innerText(), /must be an OCID/);
  assert.equal(await page.getByLabel('Compartment OCID').getAttribute('aria-invalid'), 'true');

  // Another compartment: its projects, not the default's; kept across pages and reloads.
  await page.getByLabel('Compartment OCID').fill(other);
  await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Use this compartment' }).click()]);
  await page.getByRole('link', { name: 'project-elsewhere' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'console-tests' }).count(), 0);
  assert.match(await page.locator('details.compartment summary').innerText(), new RegExp(other.slice(-8)));
  await page.getByRole('link', { name: 'project-elsewhere' }).click();
  await page.locator('main h1', { hasText: 'project-elsewhere' }).waitFor();
  // A project created from the console lands in the picked compartment.
  await page.goto(`${s.url}/projects`);
  await page.getByLabel('Name').first().fill('made-elsewhere');
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.locator('main h1', { hasText: 'made-elsewhere' }).waitFor();
  const made = (await s.api.listProjects({ compartmentId: other })).items.map((p) => p.displayName).sort();
  assert.deepEqual(made, ['made-elsewhere', 'project-elsewhere']);
  assert.equal(elsewhere.compartmentId, other);

  // Back to the default (from the projects page, which the reload shows again).
  await page.goto(`${s.url}/projects`);
  await page.getByRole('link', { name: 'made-elsewhere' }).waitFor();
  await page.locator('details.compartment summary').click();
  await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: "Back to the server's default" }).click()]);
  await page.getByRole('link', { name: 'console-tests' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'project-elsewhere' }).count(), 0);
});

test('keyboard: skip link, tabs with arrow keys, visible focus', async (t) => {
  const page = await openPage(t);
  await page.goto(`${s.url}/projects/${projectId}/jobs/new`);
  await page.locator('main h1').waitFor();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
  assert.notEqual(outline, 'none', 'focus is visible');
  await page.getByRole('tab', { name: 'Form' }).focus();
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getByRole('tab', { name: 'YAML spec' }).getAttribute('aria-selected'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'YAML spec');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'yaml-spec');
  // Every form control on the form has a label.
  await page.getByRole('tab', { name: 'YAML spec' }).focus();
  await page.keyboard.press('ArrowLeft');
  await page.getByRole('button', { name: 'Add variable' }).click();
  await page.getByRole('button', { name: 'Add mount' }).click();
  const unlabeled = await page.evaluate(
    `Array.from(document.querySelectorAll('input, select, textarea')).filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map((el) => el.outerHTML)`,
  );
  assert.deepEqual(unlabeled, []);
});

/**
 * Every visible text's contrast against the background it is drawn on (WCAG relative luminance). Sent as source
 * text: a function compiled by tsx would carry helper calls that do not exist in the page.
 */
const LOW_CONTRAST = `(() => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const f = (v) => { const x = v / 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
  const lum = (c) => 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = parse(getComputedStyle(el).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || el.closest('svg, .sr-only, .skip-link, option')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const l1 = lum(parse(getComputedStyle(el).color));
    const l2 = lum(background(el));
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    if (ratio < 4.5) bad.push(ratio.toFixed(2) + ' "' + n.textContent.trim().slice(0, 30) + '" in <' + el.tagName.toLowerCase() + ' class="' + el.className + '">');
  }
  return bad;
})()`;

const lowContrast = (page: Page) => page.evaluate(LOW_CONTRAST) as Promise<string[]>;

test('readable contrast (>= 4.5:1) on every main page at a laptop size', async (t) => {
  const job = await createJob(s, 'c.sh', 'echo out; echo err >&2; exit 3\n', { projectId });
  const run = await startRun(s, job);
  await waitForRun(s.api, run.id);
  const page = await openPage(t);
  for (const p of ['/', '/projects', `/projects/${projectId}`, `/projects/${projectId}/jobs/new`, `/jobs/${job.id}`, `/jobs/${job.id}/run`, '/runs', `/runs/${run.id}`]) {
    await page.goto(`${s.url}${p}`);
    await page.locator('main h1').first().waitFor();
    if (p.startsWith('/runs/')) await page.getByTestId('log').getByText('err').first().waitFor();
    await page.waitForLoadState('networkidle').catch(() => undefined);
    assert.deepEqual(await lowContrast(page), [], `contrast on ${p}`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${p} fits 1366 px without horizontal scrolling (${overflow} px over)`);
  }
});

test('live logs resume after the connection drops (server restart) without duplicates', async (t) => {
  const trigger = path.join(tmp, 'resume-trigger');
  const script = [
    'for i in $(seq 1 20); do echo "line $i"; done',
    `while [ ! -e "$TRIGGER" ]; do sleep 0.05; done`,
    'for i in $(seq 21 40); do echo "line $i"; done',
    '',
  ].join('\n');
  const job = await createJob(s, 'resume.sh', script, { projectId, env: { TRIGGER: trigger } });
  const run = await startRun(s, job);
  const page = await openPage(t, { serverGoesAway: true });
  await page.goto(`${s.url}/runs/${run.id}`);
  const log = page.getByTestId('log');
  await log.getByText('line 20', { exact: true }).waitFor();

  await s.kill('SIGKILL');
  await page.getByTestId('log-status').getByText(/resuming/).waitFor();
  // The run goes on while the server is down; it finishes its output before the server is back.
  writeFileSync(trigger, '');
  s = await s.restart();
  await waitForRun(s.api, run.id);
  await page.getByTestId('log-status').getByText('complete').waitFor({ timeout: 30_000 });
  const texts = await log.locator('.log-msg').allInnerTexts();
  assert.deepEqual(
    texts,
    Array.from({ length: 40 }, (_, i) => `line ${i + 1}`),
  );
  await page.getByTestId('run-state').getByText('SUCCEEDED').waitFor();
});

test('the runs list resumes its event stream after a server restart: nothing missed, nothing twice, no reload', async (t) => {
  const trigger = path.join(tmp, 'list-resume-trigger');
  const job = await createJob(s, 'list-resume.sh', `while [ ! -e "$TRIGGER" ]; do sleep 0.05; done\n`, { projectId, env: { TRIGGER: trigger } });
  const page = await openPage(t, { serverGoesAway: true });
  const seen = watchRequests(page);
  await page.goto(`${s.url}/runs?jobId=${encodeURIComponent(job.id)}`);
  await page.getByTestId('live-status').getByText('Live').waitFor();
  const first = await startRun(s, job, { displayName: 'before-restart' });
  const row = (id: string) => page.locator(`tr[data-run-id="${id}"]`);
  await row(first.id).getByText('IN_PROGRESS').waitFor({ timeout: 10_000 });
  const listCalls = seen.lists.length;

  await s.kill('SIGKILL');
  await page.getByTestId('live-status').getByText(/resuming/).waitFor();
  // The run ends while the server is down; the restarted server records it, and the console hears of it by resuming.
  writeFileSync(trigger, '');
  s = await s.restart();
  await page.getByTestId('live-status').getByText('Live').waitFor({ timeout: 30_000 });
  await row(first.id).getByText('SUCCEEDED').waitFor({ timeout: 30_000 });
  const after = await startRun(s, job, { displayName: 'after-restart' });
  await row(after.id).getByText('SUCCEEDED').waitFor({ timeout: 20_000 });

  const ids = await page.locator('table.runs-table tbody tr[data-run-id]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-run-id')));
  assert.deepEqual(ids, [after.id, first.id], 'each run once, newest first');
  // Resumed from the last event seen (after=), not loaded again.
  assert.ok(seen.follows.length >= 2);
  assert.ok(seen.follows.slice(1).every((u) => new URL(u).searchParams.get('after')), 'every reconnection resumes after an event id');
  assert.equal(seen.lists.length, listCalls, 'the list was not fetched again');
  const fromApi = (await s.api.listJobRuns({ compartmentId: s.compartmentId, jobId: job.id })).items;
  assert.deepEqual(
    fromApi.map((r) => [r.id, r.lifecycleState]),
    await Promise.all(ids.map(async (id) => [id, (await row(id!).locator('.badge').innerText()).trim()])),
    'the list converged to what the API says',
  );
});
