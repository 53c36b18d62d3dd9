/**
 * Benchmark 1's isolated baseline, run as a `node` process of its own: the trivial script (`exit 0` as a `.sh`)
 * started through the same isolation path as a dsjobs run, without the service. The local executor is made exactly
 * as a server with the default configuration makes it (`createLocalExecutor`: native sandbox, cgroups, the
 * unprivileged run user, seccomp, a pooled block storage volume, warm sandboxes) and driven directly, `concurrency`
 * in flight, `total` times: start -> wait -> cleanup. No HTTP, no database, no log capture, no events. Prints one
 * JSON line.
 *
 * Plain JavaScript over the compiled server (dist/, which `npm run bench` builds first), like spawn-baseline.mjs.
 *
 * usage: node isolated-baseline.mjs DATA_DIR TOTAL CONCURRENCY MAX_SECONDS
 */
import { closedLoop } from './closed-loop.mjs';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../dist/config/config.js';
import { createLocalExecutor, hostCapacity } from '../../dist/server.js';
import { detectGpus } from '../../dist/executors/local/gpus.js';
import { newOcid } from '../../dist/domain/ids.js';

export async function isolatedLoop(dataDir, total, concurrency, maxSeconds) {
  // The executor keeps no handle of its own on the event loop (in a server the HTTP listener does): without this the
  // process would exit while it waits for the first run.
  const keepAlive = setInterval(() => {}, 60_000);
  // The same settings benchmark 1 gives its server (capacity for 16 Local.Light runs), through the same config loader.
  const cfg = loadConfig({ env: { ...process.env, DSJOBS_CAPACITY_CPUS: String(Math.max(16, concurrency)), DSJOBS_CAPACITY_MEMORY_IN_GBS: '1024' }, overrides: { dataDir } });
  const runsDir = path.join(dataDir, 'runs');
  mkdirSync(runsDir, { recursive: true });
  const artifactDir = path.join(dataDir, 'artifacts');
  mkdirSync(artifactDir, { recursive: true });
  const artifactPath = path.join(artifactDir, 'true.sh');
  writeFileSync(artifactPath, 'exit 0\n');
  const gpus = detectGpus(cfg.nvidiaSmiCommand).gpus;
  const log = pino({ level: 'warn' });
  const { executor } = await createLocalExecutor(cfg, { runsDir, capacity: hostCapacity(cfg, gpus.length), gpus, log });
  // Let the start-time pool fill and warm sandboxes come up, as a server has them before its first run.
  await new Promise((r) => setTimeout(r, 2000));
  const one = async () => {
    const runId = newOcid('datasciencejobrun', cfg.region);
    const launched = await executor.start({
      runId,
      artifactPath,
      plan: {
        artifactFileName: 'true.sh',
        entrypoint: null,
        args: [],
        env: { JOB_RUN_OCID: runId },
        resources: { cpus: 0.25, memoryInGBs: 0.5, gpus: 0 },
        shapeName: 'Local.Light',
        maximumRuntimeInMinutes: 60,
        mounts: [],
        blockStorageSizeInGBs: 50,
        network: true,
        conda: null,
      },
      pythonEnv: null,
    });
    const status = await executor.wait(launched.handle);
    await executor.cleanup(launched.handle);
    if (status.exitCode !== 0) throw new Error(`run ${runId} ended ${JSON.stringify(status)}`);
    return launched.isolation;
  };
  let isolation = null;
  for (let i = 0; i < 16; i++) isolation = await one(); // warm-up, not measured
  const { done, seconds } = await closedLoop(one, total, concurrency, maxSeconds);
  await executor.close();
  clearInterval(keepAlive);
  return { rate: done / seconds, n: done, seconds, isolation };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dataDir, ...nums] = process.argv.slice(2);
  const [total, concurrency, maxSeconds] = nums.map(Number);
  if (!dataDir || ![total, concurrency, maxSeconds].every((n) => Number.isFinite(n) && n > 0)) {
    console.error('usage: node isolated-baseline.mjs DATA_DIR TOTAL CONCURRENCY MAX_SECONDS');
    process.exit(2);
  }
  console.log(JSON.stringify(await isolatedLoop(dataDir, total, concurrency, maxSeconds)));
  // The executor's spawner and pool hold handles open; what was measured is printed.
  process.exit(0);
}
