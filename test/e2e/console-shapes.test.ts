/**
 * The console uses the server's one default shape and says what this host can run of each shape (issue 24.8).
 * Capacity is set to 4 CPUs and 32 GB, so the default is VM.Standard.E4.Flex, which is not the first shape listed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type TestServer } from '../support/server.js';
import { launchBrowser, type TestBrowser } from '../support/browser.js';

let s: TestServer;
let browser: TestBrowser;
let dir: string;
let projectId: string;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-console-shapes-'));
  const config = path.join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ capacity: { cpus: 4, memoryInGBs: 32, gpus: 0 } }));
  s = await startServer({ config });
  browser = await launchBrowser();
  projectId = (await s.api.createProject({ compartmentId: s.compartmentId, displayName: 'shapes' })).id;
});
after(async () => {
  await browser?.close();
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("the job form preselects the server's default shape and shows a flex shape's largest form here", async () => {
  assert.equal((await s.api.serverInfo()).defaultShapeName, 'VM.Standard.E4.Flex');
  assert.notEqual((await s.api.listJobShapes())[0].name, 'VM.Standard.E4.Flex');
  const ctx = await browser.context();
  try {
    // The console asks for a login first; the administrator's session cookie lands in the context's cookie jar.
    const login = await ctx.request.post(`${s.url}/20190101/console/login`, { data: { userName: 'admin', password: s.adminPassword } });
    assert.equal(login.status(), 200, await login.text());
    const page = await ctx.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${s.url}/projects/${projectId}/jobs/new`);
    const select = page.getByLabel('Shape');
    await page.waitForFunction(() => (document.querySelector('select#job-shape') as HTMLSelectElement | null)?.value === 'VM.Standard.E4.Flex');
    assert.equal(await select.inputValue(), 'VM.Standard.E4.Flex');
    const label = await select.locator('option[value="VM.Standard.E4.Flex"]').innerText();
    assert.match(label, /flex, up to 4 OCPU, 32 GB here/);
    assert.match(label, /\(default\)/);

    // A YAML spec that names no shape gets the same default.
    await page.getByRole('tab', { name: 'YAML spec' }).click();
    await page.getByLabel(/Job spec/).fill('name: yaml-no-shape\nartifact: ./hello.sh\n');
    await page.getByLabel('Artifact named by the spec').setInputFiles({ name: 'hello.sh', mimeType: 'text/x-sh', buffer: Buffer.from('echo hi\n') });
    await page.getByRole('button', { name: 'Create job from spec' }).click();
    await page.waitForURL(/\/jobs\/ocid1\./);
    const jobId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]);
    assert.equal((await s.api.getJob(jobId)).jobInfrastructureConfigurationDetails.shapeName, 'VM.Standard.E4.Flex');
  } finally {
    await ctx.close();
  }
});
