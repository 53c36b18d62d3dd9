/**
 * One default shape, and `dsjobs shapes` telling what this host can run (issue 24.8). The server's capacity is set
 * to a 2-CPU, 8 GB host so the answers do not depend on the test machine; the catalog is the default one plus a
 * fixed 64-CPU shape.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_SHAPES } from '../../src/domain/shapes.js';
import { DsJobsError } from '../../src/sdk/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { runCli } from '../support/cli.js';

const BIG = { name: 'Test.Cores64', series: 'GENERIC', ocpus: 64, memoryInGBs: 64, gpus: 0 };
let s: TestServer;
let dir: string;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-shapes-'));
  const config = path.join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ capacity: { cpus: 2, memoryInGBs: 8, gpus: 0 }, shapes: [...DEFAULT_SHAPES, BIG] }));
  writeFileSync(path.join(dir, 'hello.sh'), 'echo hello\n');
  s = await startServer({ config });
});
after(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

// DSJOBS_DATA_DIR: the CLI signs with the OCI config the server wrote there, found as a user's CLI finds it.
const cli = (args: string[]) => runCli(args, { endpoint: s.url, cwd: dir, env: { DSJOBS_DATA_DIR: s.dataDir } });
async function ok(args: string[]) {
  const r = await cli(args);
  assert.equal(r.code, 0, `dsjobs ${args.join(' ')}: ${r.stderr}`);
  return r;
}

/** Creates a job of `shapeName` through the API: its id, or the refusal's message. */
async function tryCreate(shapeName: string, ocpus?: number): Promise<{ ok: true } | { ok: false; message: string }> {
  const projectId = (await s.api.createProject({ compartmentId: s.compartmentId, displayName: 'shapes' })).id;
  try {
    await s.api.createJob({
      projectId,
      compartmentId: s.compartmentId,
      jobConfigurationDetails: { jobType: 'DEFAULT' },
      jobInfrastructureConfigurationDetails: {
        jobInfrastructureType: 'ME_STANDALONE',
        shapeName,
        blockStorageSizeInGBs: 50,
        jobShapeConfigDetails: ocpus === undefined ? undefined : { ocpus, memoryInGBs: 1 },
      },
    });
    return { ok: true };
  } catch (e) {
    if (e instanceof DsJobsError && e.status === 400) return { ok: false, message: e.message };
    throw e;
  }
}

test('the listed shapes are exactly those the server accepts; --all adds the others, each saying what it needs', async () => {
  const listed = JSON.parse((await ok(['shapes', '--json'])).stdout) as { name: string; isRunnableHere: boolean }[];
  const all = JSON.parse((await ok(['shapes', '--all', '--json'])).stdout) as { name: string; isFlex: boolean; isRunnableHere: boolean; notRunnableReason?: string }[];
  assert.deepEqual(all.map((x) => x.name), [...DEFAULT_SHAPES.map((x) => x.name), BIG.name], 'the whole catalog, in order');
  assert.deepEqual(listed.map((x) => x.name), all.filter((x) => x.isRunnableHere).map((x) => x.name));
  // A flex shape is accepted in a form that fits (its default form, 16 GB per OCPU, does not fit 8 GB).
  for (const shape of all) {
    const r = await tryCreate(shape.name, shape.isFlex ? 1 : undefined);
    assert.equal(r.ok, shape.isRunnableHere, `${shape.name}: ${JSON.stringify(r)}`);
    if (!r.ok) assert.match(r.message, new RegExp(`${shape.name.replace(/\./g, '\\.')} needs .* could never run`));
  }
  const big = all.find((x) => x.name === BIG.name)!;
  assert.equal(big.isRunnableHere, false);
  assert.equal(big.notRunnableReason, 'needs 64 CPU, 64 GB memory; this server has 2 CPU, 8 GB memory in all');
  assert.ok(!listed.some((x) => x.name === BIG.name));

  // People see the same: the 64-CPU shape is not runnable here, a flex shape shows its largest form here.
  const human = (await ok(['shapes', '--all'])).stdout;
  assert.match(human, /^Test\.Cores64\s+64\s+64\s+0\s+no: needs 64 CPU, 64 GB memory$/m);
  assert.match(human, /^VM\.Standard\.E4\.Flex\s+up to 64\s+up to 1024\s+0\s+yes, up to 2 OCPU, 8 GB$/m);
  assert.match(human, /^this host: 2 CPU, 8 GB memory, 0 GPU/m);
  assert.doesNotMatch((await ok(['shapes'])).stdout, /Test\.Cores64/);
});

test('a flex shape larger than the host is refused at create, saying why', async () => {
  const r = await tryCreate('VM.Standard.E4.Flex', 4);
  assert.equal(r.ok, false);
  assert.match((r as { message: string }).message, /VM\.Standard\.E4\.Flex needs 4 CPU, 1 GB memory but this server has 2 CPU, 8 GB memory in all, so it could never run/);
});

test('one default shape: serverInfo names it, shapes marks it, job create without --shape uses it', async () => {
  // 1 OCPU / 16 GB (VM.Standard.E4.Flex's default form) does not fit 8 GB, so the light local shape is the default.
  const info = await s.api.serverInfo();
  assert.equal(info.defaultShapeName, 'Local.Light');
  const listed = JSON.parse((await ok(['shapes', '--json'])).stdout) as { name: string; isDefault: boolean }[];
  assert.deepEqual(listed.filter((x) => x.isDefault).map((x) => x.name), ['Local.Light']);
  assert.match((await ok(['shapes'])).stdout, /^Local\.Light \*\s/m);

  const job = JSON.parse((await ok(['job', 'create', '--artifact', 'hello.sh', '--json'])).stdout);
  assert.equal(job.jobInfrastructureConfigurationDetails.shapeName, 'Local.Light');
  writeFileSync(path.join(dir, 'spec.yaml'), 'name: no-shape\nartifact: ./hello.sh\n');
  const fromSpec = JSON.parse((await ok(['job', 'create', '-f', 'spec.yaml', '--json'])).stdout);
  assert.equal(fromSpec.jobInfrastructureConfigurationDetails.shapeName, 'Local.Light');
});
