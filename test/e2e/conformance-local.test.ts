/**
 * The local executor against the executor conformance suite (test/conformance/executor-conformance.ts), with its
 * default isolation: the native sandbox, cgroups, a block storage volume per run from the pool, warm sandboxes.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { executorConformance } from '../conformance/executor-conformance.js';
import { startServer, type TestServer } from '../support/server.js';

const GRACE_MS = 2000;

/** Host processes whose environment names the run: every process of it, sandboxed or not (root reads any environ). */
function processesOf(runId: string): string[] {
  const needle = Buffer.from(`JOB_RUN_OCID=${runId}\0`);
  const out: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/environ`).includes(needle)) {
        out.push(`process ${d}: ${readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').trim()}`);
      }
    } catch {
      /* gone meanwhile, or a kernel thread */
    }
  }
  return out;
}

async function leftovers(s: TestServer, runId: string): Promise<string[]> {
  const left = processesOf(runId);
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (line.includes(runId)) left.push(`mount: ${line}`);
  }
  const runDir = path.join(s.dataDir, 'runs', runId);
  try {
    const handle = JSON.parse(readFileSync(path.join(runDir, 'handle.json'), 'utf8')) as { cgroups?: { dirs?: Record<string, string> } | null };
    for (const dir of Object.values(handle.cgroups?.dirs ?? {})) if (existsSync(dir)) left.push(`cgroup: ${dir}`);
  } catch {
    /* no handle file (never started, or the run's files were deleted): nothing to check there */
  }
  if (existsSync(path.join(runDir, 'space'))) left.push(`workspace: ${path.join(runDir, 'space')}`);
  return left;
}

executorConformance({
  name: 'local (default isolation)',
  start: () => startServer({ env: { DSJOBS_GRACE_PERIOD_MS: String(GRACE_MS) } }),
  shape: 'Local.Light',
  shapeMemoryInGBs: 0.5,
  graceMs: GRACE_MS,
  leftovers,
});
