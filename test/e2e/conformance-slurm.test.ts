/**
 * The Slurm executor against the executor conformance suite (test/conformance/executor-conformance.ts), on a
 * two-node cluster on this machine (scripts/slurm-cluster.sh): the runs' shape goes to Slurm, their files and logs
 * travel through the shared directory.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import { executorConformance } from '../conformance/executor-conformance.js';
import { startServer, type TestServer } from '../support/server.js';
import { slurmMissing, slurmServerConfig, startSlurmCluster, type SlurmCluster } from '../support/slurm.js';

const GRACE_MS = 2000;
const missing = await slurmMissing();
let cluster: SlurmCluster;

/** Host processes whose environment names the run (the nodes are this machine). */
function processesOf(runId: string): string[] {
  const needle = Buffer.from(`JOB_RUN_OCID=${runId}\0`);
  const out: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/environ`).includes(needle)) out.push(`process ${d}: ${readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').trim()}`);
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

async function leftovers(_s: TestServer, runId: string): Promise<string[]> {
  const left = processesOf(runId);
  const queue = await cluster.tool('squeue', ['-h', '-o', '%i %T', `--name=${runId}`]);
  for (const line of queue.split('\n').filter((l) => l.trim() !== '')) left.push(`slurm job: ${line.trim()}`);
  const work = path.join(cluster.sharedDir, 'runs', runId, 'work');
  if (existsSync(work)) left.push(`work directory: ${work}`);
  return left;
}

describe('slurm cluster', { skip: missing ?? false }, () => {
  before(async () => {
    cluster = await startSlurmCluster();
  });
  after(async () => {
    await cluster?.stop();
  });
  executorConformance({
    name: 'slurm (two nodes, shared directory)',
    start: () => startServer({ config: slurmServerConfig(cluster), env: { DSJOBS_GRACE_PERIOD_MS: String(GRACE_MS) } }),
    shape: 'Slurm.Small',
    shapeMemoryInGBs: 1,
    graceMs: GRACE_MS,
    leftovers,
  });
});
