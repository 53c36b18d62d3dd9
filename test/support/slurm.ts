/**
 * A two-node Slurm cluster for a test file (scripts/slurm-cluster.sh), and the config of a server whose Slurm
 * shapes run on it. One cluster per file: started in `before`, stopped in `after`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_SHAPES } from '../../src/domain/shapes.js';

const run = promisify(execFile);
const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/slurm-cluster.sh');

export interface SlurmCluster {
  dir: string;
  slurmConf: string;
  /** A directory standing for the cluster's shared file system (here the same disk). */
  sharedDir: string;
  /** Runs a Slurm tool against this cluster. */
  tool(name: string, args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** Why a cluster cannot be had here, or null. Under CI=true a missing Slurm is a failure, never a skip. */
export async function slurmMissing(): Promise<string | null> {
  try {
    await run('sh', ['-c', 'PATH="$PATH:/usr/sbin:/sbin"; command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null && command -v sbatch >/dev/null']);
  } catch {
    if (process.env.CI === 'true') throw new Error('Slurm (slurm-wlm, munge) is not installed; scripts/setup-host.sh installs it');
    return 'Slurm (slurm-wlm, munge) is not installed here (scripts/setup-host.sh installs it)';
  }
  if (process.getuid?.() !== 0) {
    if (process.env.CI === 'true') throw new Error('the Slurm tests need root (slurmd runs jobs as their users)');
    return 'the Slurm tests need root';
  }
  return null;
}

export async function startSlurmCluster(mode: 'tuned' | 'default' = 'tuned'): Promise<SlurmCluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-slurm-'));
  const sharedDir = path.join(dir, 'shared');
  await run('bash', [SCRIPT, 'start', dir, mode], { timeout: 120_000 });
  const slurmConf = path.join(dir, 'slurm.conf');
  return {
    dir,
    slurmConf,
    sharedDir,
    tool: async (name, args) => (await run(name, args, { env: { ...process.env, SLURM_CONF: slurmConf } })).stdout,
    async stop() {
      await run('bash', [SCRIPT, 'stop', dir]).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The test shapes: Slurm.Small (1 CPU, 1 GB, fixed) and Slurm.Flex go to Slurm; the default catalog stays local. */
export const SLURM_TEST_SHAPES = [
  ...DEFAULT_SHAPES,
  { name: 'Slurm.Small', series: 'GENERIC', ocpus: 1, memoryInGBs: 1, gpus: 0 },
  { name: 'Slurm.Flex', series: 'GENERIC', ocpus: 1, memoryInGBs: 1, gpus: 0, flex: { minOcpus: 1, maxOcpus: 4, minMemoryInGBs: 0.25, maxMemoryInGBs: 8, maxMemoryPerOcpuInGBs: 4 } },
];

/** Writes a server config whose Slurm shapes go to `c`; returns its path. */
export function slurmServerConfig(c: SlurmCluster, extra: Record<string, unknown> = {}): string {
  const file = path.join(c.dir, `server-${Date.now()}-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      shapes: SLURM_TEST_SHAPES,
      slurm: { slurmConf: c.slurmConf, sharedDir: c.sharedDir, shapes: [{ shape: 'Slurm.Small' }, { shape: 'Slurm.Flex' }] },
      ...extra,
    }),
  );
  return file;
}
