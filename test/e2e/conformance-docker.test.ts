/**
 * The Docker executor against the executor conformance suite (test/conformance/executor-conformance.ts): container
 * jobs of the test image (bash and python3) whose entrypoint runs the suite's artifact from the working directory.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { executorConformance } from '../conformance/executor-conformance.js';
import { startServer, type TestServer } from '../support/server.js';
import { containersOf, dockerReady, TOOLS_IMAGE } from '../support/docker.js';
import { describe, test } from 'node:test';

const GRACE_MS = 2000;

/** Host processes whose environment names the run: a container's processes are host processes too. */
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
  for (const c of containersOf(runId)) left.push(`container: ${c}`);
  const space = path.join(s.dataDir, 'runs', runId, 'space');
  if (existsSync(space)) left.push(`workspace: ${space}`);
  return left;
}

const skip = dockerReady();
if (skip) {
  describe('executor conformance: docker', () => {
    test('skipped', { skip }, () => {});
  });
} else {
  executorConformance({
    name: 'docker',
    start: () => startServer({ env: { DSJOBS_GRACE_PERIOD_MS: String(GRACE_MS) } }),
    shape: 'Local.Light',
    shapeMemoryInGBs: 0.5,
    graceMs: GRACE_MS,
    leftovers,
    environment: (fileName) => ({
      jobEnvironmentType: 'OCIR_CONTAINER',
      image: TOOLS_IMAGE,
      entrypoint: [fileName.endsWith('.py') ? 'python3' : 'bash', `/home/datascience/${fileName}`],
    }),
  });
}
