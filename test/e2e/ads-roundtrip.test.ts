/**
 * `dsjobs job get JOB --yaml` writes the job as an ADS spec and `dsjobs job create -f` of it makes an equivalent
 * job (issue 22), for every runtime type served: python, script (an archive), gitPython, notebook (a file, a
 * directory, an http(s) URL). Real CLI processes against a real server; a round-tripped notebook job is run.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { startServer, waitForRun, readLogs, type TestServer } from '../support/server.js';

let s: TestServer;
let tmp: string;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-roundtrip-'));
  s = await startServer();
});

after(async () => {
  await s?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function cli(args: string[], cwd: string) {
  const r = await runCli(args, { env: { DSJOBS_ENDPOINT: s.url, DSJOBS_DATA_DIR: s.dataDir }, cwd, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `dsjobs ${args.join(' ')}: ${r.stderr}`);
  return r;
}

const NB = JSON.stringify({
  nbformat: 4,
  nbformat_minor: 5,
  metadata: {},
  cells: [{ id: 'a', cell_type: 'code', metadata: {}, source: 'print("round trip ok")', outputs: [], execution_count: null }],
});

/** What makes two jobs the same job: everything but ids, times and state. */
function essence(j: any) {
  return {
    displayName: j.displayName,
    config: j.jobConfigurationDetails,
    infra: j.jobInfrastructureConfigurationDetails,
    mounts: j.jobStorageMountConfigurationDetailsList ?? [],
    freeformTags: j.freeformTags,
  };
}

async function artifactBytes(jobId: string): Promise<Buffer> {
  return Buffer.from(await (await s.api.getArtifact(jobId)).arrayBuffer());
}

const CASES: Array<{ name: string; files: Record<string, string>; runtime: string; run?: string }> = [
  {
    name: 'python',
    files: { 'train.py': 'print("hi")\n' },
    runtime: `type: python
    spec:
      scriptPathURI: train.py
      outputDir: out
      outputUri: oci://results@ns1/runs/\${JOB_RUN_OCID}
      maximumRuntimeInMinutes: 30
      args: [--lr, "0.1", two words]
      env:
      - name: PRICE
        value: $$5 and \${HOME}`,
  },
  {
    name: 'script directory',
    files: { 'proj/run.sh': 'echo hi\n', 'proj/lib/x.sh': 'true\n' },
    runtime: `type: script
    spec:
      scriptPathURI: proj
      entrypoint: run.sh`,
  },
  {
    name: 'gitPython',
    files: {},
    runtime: `type: gitPython
    spec:
      url: https://example.com/repo.git
      branch: dev
      entrypoint: pkg.mod:main
      pythonPath: [src, lib]
      outputDir: out
      outputUri: oci://results@ns1/git
      args: [a]`,
  },
  {
    name: 'notebook file',
    files: { 'nb.ipynb': NB },
    runtime: `type: notebook
    spec:
      notebookPathURI: nb.ipynb
      excludeTags: [skip]`,
    run: 'round trip ok',
  },
  {
    name: 'notebook directory',
    files: { 'work/sub/nb.ipynb': NB, 'work/data.csv': 'a,b\n' },
    runtime: `type: notebook
    spec:
      source: work
      entrypoint: sub/nb.ipynb`,
  },
  {
    name: 'notebook URL',
    files: {},
    runtime: `type: notebook
    spec:
      notebookPathURI: https://example.com/x.ipynb
      notebookEncoding: latin-1`,
  },
];

for (const c of CASES) {
  test(`round trip: ${c.name}`, async () => {
    const d = mkdtempSync(path.join(tmp, 'case-'));
    for (const [name, content] of Object.entries(c.files)) {
      mkdirSync(path.dirname(path.join(d, name)), { recursive: true });
      writeFileSync(path.join(d, name), content);
    }
    writeFileSync(
      path.join(d, 'job.yaml'),
      `kind: job
spec:
  name: rt-${c.name.replace(/ /g, '-')} $$x
  infrastructure:
    kind: infrastructure
    type: dataScienceJob
    spec:
      shapeName: Local.Light
      blockStorageSize: 60
      freeformTags: {team: ml}
  runtime:
    kind: runtime
    ${c.runtime}
`,
    );
    const first = JSON.parse((await cli(['job', 'create', '-f', 'job.yaml', '--json'], d)).stdout);

    const out1 = path.join(d, 'out1');
    const yaml1 = (await cli(['job', 'get', first.id, '--yaml', '--artifact-dir', out1], d)).stdout;
    assert.match(yaml1, /^kind: job\n/);
    // The python runtime's with_output(dir, uri) is written as its two fields, not as variables.
    if (c.name === 'python') assert.match(yaml1, /\n {6}outputDir: out\n {6}outputUri: oci:\/\/results@ns1\/runs\/\$\{JOB_RUN_OCID\}\n/);
    writeFileSync(path.join(d, 'again.yaml'), yaml1);
    const second = JSON.parse((await cli(['job', 'create', '-f', 'again.yaml', '--json'], d)).stdout);
    assert.notEqual(second.id, first.id);
    assert.deepEqual(essence(second), essence(first));

    // The code too: the same artifact bytes (python, script), or the same notebook files packed.
    const out2 = path.join(d, 'out2');
    const yaml2 = (await cli(['job', 'get', second.id, '--yaml', '--artifact-dir', out2], d)).stdout;
    assert.equal(yaml2.replaceAll(out2, out1), yaml1, 'the second job reads back to the same spec');
    if (c.name === 'python') assert.deepEqual(await artifactBytes(second.id), await artifactBytes(first.id));
    if (c.name.startsWith('notebook') && c.name !== 'notebook URL') {
      for (const [name, content] of Object.entries(c.files)) {
        const inCode = c.name === 'notebook directory' ? name.replace(/^work\//, '') : name;
        assert.equal(readFileSync(path.join(out2, 'code', inCode), 'utf8'), content);
      }
    }

    if (c.run) {
      const run = JSON.parse((await cli(['job', 'run', second.id, '--json'], d)).stdout);
      const done = await waitForRun(s.api, run.id, undefined, 120_000);
      const logs = (await readLogs(s, run.id)).map((l) => l.message);
      assert.equal(done.lifecycleState, 'SUCCEEDED', logs.join('\n'));
      assert.ok(logs.includes(c.run), logs.join('\n'));
    }
  });
}
