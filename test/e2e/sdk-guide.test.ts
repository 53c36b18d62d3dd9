/**
 * docs/sdk.md's scripts, run as a reader would: each `file=NAME` code block is saved into a directory outside the
 * repository and run with node (tsx for TypeScript) against a real test server, in the page's order, and must
 * print exactly the block that follows it. The official SDK comes from the same packages `npm install
 * oci-datascience oci-common` fetches (linked from this checkout's node_modules: the tests run offline).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, startServer, type TestServer } from '../support/server.js';

const GUIDE = readFileSync(path.join(ROOT, 'docs', 'sdk.md'), 'utf8');

interface Script {
  file: string;
  code: string;
  /** The plain code block after it ("It prints:"). */
  prints: string;
}

/** The guide's runnable blocks (```js file=NAME / ```ts file=NAME), each with the output block that follows it. */
function scripts(): Script[] {
  const out: Script[] = [];
  const re = /```(?:js|ts) file=(\S+)\n([\s\S]*?)```[\s\S]*?```\n([\s\S]*?)```/g;
  for (let m = re.exec(GUIDE); m; m = re.exec(GUIDE)) out.push({ file: m[1], code: m[2], prints: m[3] });
  return out;
}

let s: TestServer;
let dir: string;

before(async () => {
  s = await startServer();
  dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-sdk-guide-'));
  assert.ok(!realpathSync(dir).startsWith(realpathSync(ROOT)), 'the scripts run outside the repository');
  mkdirSync(path.join(dir, 'node_modules'));
  for (const pkg of ['oci-datascience', 'oci-common']) {
    symlinkSync(realpathSync(path.join(ROOT, 'node_modules', pkg)), path.join(dir, 'node_modules', pkg));
  }
});

after(async () => {
  await s?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * The reader's environment: the server's address, and its data dir, where the guide's scripts find the OCI config the
 * server wrote at first start (as the CLI does; no OCI_CLI_* variable of this process may point them elsewhere).
 */
function guideEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DSJOBS_ENDPOINT: s.url, DSJOBS_DATA_DIR: s.dataDir };
  delete env.OCI_CLI_CONFIG_FILE;
  delete env.OCI_CLI_PROFILE;
  return env;
}

function run(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // TypeScript as the guide runs it (npx tsx): with tsx's loader, here this checkout's copy.
  const args = file.endsWith('ts') ? ['--import', import.meta.resolve('tsx'), file] : [file];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: dir, env: guideEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} did not end in 120 s\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, 120_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('the guide installs the official SDK with npm and names its scripts', () => {
  assert.match(GUIDE, /^npm install oci-datascience oci-common$/m);
  assert.deepEqual(
    scripts().map((x) => x.file),
    ['first-job.mjs', 'first-job-dsjobs.mjs', 'runs.mts'],
  );
});

for (const sc of scripts()) {
  test(`docs/sdk.md: ${sc.file} runs outside the repository and prints what the guide says`, async () => {
    writeFileSync(path.join(dir, sc.file), sc.code.replaceAll('/path/to/dsjobs', ROOT));
    const r = await run(sc.file);
    assert.equal(r.code, 0, `${sc.file} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.equal(r.stdout, sc.prints);
  });
}
