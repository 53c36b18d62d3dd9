/**
 * ADS's notebook runtime end to end (issue 22): `dsjobs job create -f` of ADS YAML specs, a real server, real
 * sandboxed runs executing notebooks on a real Jupyter kernel (Debian's python3-ipykernel for /usr/bin/python3,
 * installed by scripts/setup-host.sh). Runs are started and read through the official OCI SDK and the log API.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { DataScienceClient } from 'oci-datascience';
import { runCli } from '../support/cli.js';
import { makeOciClient } from '../support/oci-sdk-client.js';
import { readLogs, startServer, waitForRun, type TestServer } from '../support/server.js';

let s: TestServer;
let tmp: string;
let oci: { client: DataScienceClient; close(): void };

const haveJupyter = existsSync('/usr/bin/python3') && existsSync('/usr/share/jupyter/kernels/python3/kernel.json');
const skip = !haveJupyter && process.env.CI !== 'true' ? 'Jupyter (python3-ipykernel) is not installed: run scripts/setup-host.sh' : false;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-nb-test-'));
  s = await startServer();
  oci = makeOciClient(s.url, s.configFile);
});

after(async () => {
  oci?.close();
  await s?.close();
  rmSync(tmp, { recursive: true, force: true });
});

type Cell = string | { source: string; tags?: string[]; markdown?: boolean };

function notebook(cells: Cell[]): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: cells.map((c, i) => {
      const cell = typeof c === 'string' ? { source: c } : c;
      return cell.markdown
        ? { id: `c${i}`, cell_type: 'markdown', metadata: {}, source: cell.source }
        : { id: `c${i}`, cell_type: 'code', metadata: { tags: cell.tags ?? [] }, source: cell.source, outputs: [], execution_count: null };
    }),
  });
}

function spec(runtime: string): string {
  return `kind: job
spec:
  name: nb-test
  infrastructure:
    kind: infrastructure
    type: dataScienceJob
    spec:
      shapeName: Local.Light
  runtime:
    kind: runtime
    type: notebook
    spec:
${runtime
  .trim()
  .split('\n')
  .map((l) => `      ${l}`)
  .join('\n')}
`;
}

/** Writes the files, creates the job with the CLI, starts a run with the official SDK; returns ids. */
async function createAndStart(files: Record<string, string>, runtime: string, args?: string) {
  const d = mkdtempSync(path.join(tmp, 'job-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(d, name)), { recursive: true });
    writeFileSync(path.join(d, name), content);
  }
  writeFileSync(path.join(d, 'job.yaml'), spec(runtime));
  const created = await runCli(['job', 'create', '-f', path.join(d, 'job.yaml'), '--json'], {
    env: { DSJOBS_ENDPOINT: s.url, DSJOBS_DATA_DIR: s.dataDir },
    cwd: d,
    timeoutMs: 60_000,
  });
  assert.equal(created.code, 0, `job create: ${created.stderr}`);
  const job = JSON.parse(created.stdout) as { id: string; projectId: string; compartmentId: string };
  const run = await oci.client.createJobRun({
    createJobRunDetails: {
      projectId: job.projectId,
      compartmentId: job.compartmentId,
      jobId: job.id,
      jobConfigurationOverrideDetails: args !== undefined ? { jobType: 'DEFAULT', commandLineArguments: args } : undefined,
    },
  });
  return { job, runId: run.jobRun.id, dir: d };
}

async function finish(runId: string) {
  await waitForRun(s.api, runId, undefined, 180_000);
  const run = (await oci.client.getJobRun({ jobRunId: runId })).jobRun;
  const logs = (await readLogs(s, runId)).map((l) => l.message);
  return { run, logs, text: logs.join('\n') };
}

test('cell outputs reach a following reader while the notebook still runs', { skip }, async () => {
  // The last cell waits for this gate (the run shares the host's loopback): it opens only once the reader has seen
  // the earlier cells' lines, so they cannot have come from the end of the run.
  let open = false;
  const gate = http.createServer((_req, res) => res.end(open ? 'go' : 'wait'));
  await new Promise<void>((r) => gate.listen(0, '127.0.0.1', r));
  const port = (gate.address() as AddressInfo).port;
  try {
    const nb = notebook([
      'print("cell one says hi")',
      { source: '# A title', markdown: true },
      'import time\nfor i in range(3):\n    print(f"tick {i}", flush=True)\n    time.sleep(0.2)',
      `import time, urllib.request\nwhile urllib.request.urlopen("http://127.0.0.1:${port}/").read() != b"go":\n    time.sleep(0.2)\nprint("released")`,
    ]);
    const { runId } = await createAndStart({ 'stream.ipynb': nb }, 'notebookPathURI: stream.ipynb');
    const seen: string[] = [];
    const ac = new AbortController();
    let stateWhenSeen = '';
    for await (const rec of s.api.logs(runId, { follow: true, signal: ac.signal })) {
      seen.push(rec.message);
      if (rec.message === 'tick 2' && !open) {
        stateWhenSeen = (await s.api.getJobRun(runId)).lifecycleState;
        open = true;
      }
      if (rec.message === 'released') break;
    }
    ac.abort();
    assert.equal(stateWhenSeen, 'IN_PROGRESS', 'the lines were read while the run was going on');
    const { run, logs, text } = await finish(runId);
    assert.equal(run.lifecycleState, 'SUCCEEDED', text);
    const order = ['cell one says hi', 'tick 0', 'tick 1', 'tick 2', 'released'].map((l) => logs.indexOf(l));
    assert.ok(order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1])), text);
  } finally {
    gate.closeAllConnections();
    await new Promise((r) => gate.close(r));
  }
});

test('a cell that raises fails the run, naming the cell and the exception; later cells do not run', { skip }, async () => {
  const nb = notebook(['print("one")', 'x = 2', 'raise ValueError("boom in three")', 'print("never")']);
  const { runId } = await createAndStart({ 'raise.ipynb': nb }, 'notebookPathURI: raise.ipynb');
  const { run, logs, text } = await finish(runId);
  assert.equal(run.lifecycleState, 'FAILED', text);
  assert.match(run.lifecycleDetails ?? '', /notebook: cell 3 raised ValueError: boom in three/);
  assert.ok(logs.includes('one'), text);
  assert.ok(logs.some((l) => l.includes('ValueError: boom in three')), 'the traceback is in the log');
  assert.ok(!logs.includes('never'), text);
});

test('parameters from args and env are injected after the parameters cell; excluded tags are skipped', { skip }, async () => {
  const nb = notebook([
    { source: 'alpha = 1\nname = "nobody"\nbeta = 0.0', tags: ['parameters'] },
    { source: 'print("should be skipped")', tags: ['ignore'] },
    'print(f"alpha={alpha} {type(alpha).__name__} name={name} beta={beta}")',
  ]);
  const { runId } = await createAndStart(
    { 'work/params.ipynb': nb, 'work/helper.txt': 'x' },
    `source: work
entrypoint: params.ipynb
excludeTags: [ignore]
env:
- name: beta
  value: "2.5"`,
    '--alpha 5 --name world',
  );
  const { run, logs, text } = await finish(runId);
  assert.equal(run.lifecycleState, 'SUCCEEDED', text);
  assert.ok(logs.includes('alpha=5 int name=world beta=2.5'), text);
  assert.ok(!logs.includes('should be skipped'), text);
  assert.ok(logs.some((l) => l.includes('cell 2 skipped (tag ignore)')), text);
});
