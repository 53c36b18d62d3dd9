/**
 * Docker Engine for the container tests: started through the project's script when none answers
 * (scripts/docker-engine.sh), and the test images built when missing (scripts/docker-test-images.sh). Where the
 * engine cannot be had, the tests skip saying why, except under CI=true, where they fail.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** busybox only: the smallest image (start latency). */
export const BUSYBOX_IMAGE = 'dsjobs-test/busybox:1';
/** busybox, bash and python3: what the conformance suite's scripts need. */
export const TOOLS_IMAGE = 'dsjobs-test/tools:1';

let ready: string | null | undefined;

/** null when Docker and the test images are ready; else why not (thrown under CI=true). */
export function dockerReady(): string | null {
  if (ready !== undefined) return ready;
  try {
    for (const script of ['docker-engine.sh', 'docker-test-images.sh']) {
      execFileSync('bash', [path.join(ROOT, 'scripts', script)], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
    }
    ready = null;
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    ready = `Docker Engine is not available: ${err.stderr?.toString().trim() || err.message}`;
    if (process.env.CI === 'true') throw new Error(`${ready} (CI=true: container tests may not skip)`);
  }
  return ready;
}

/** `docker` CLI output, for probes (what a run left behind). */
export function docker(...args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8' });
}

/** The containers (any state) labeled with the run's id. */
export function containersOf(runId: string): string[] {
  return docker('ps', '-a', '--filter', `label=com.dsjobs.run-id=${runId}`, '--format', '{{.ID}} {{.Status}}')
    .split('\n')
    .filter(Boolean);
}

/** The local registry of the pull tests (scripts/docker-registry.sh): where it is, its login, and its test image. */
export interface TestRegistry {
  /** host:port, as image references name it (127.0.0.1:PORT). */
  address: string;
  username: string;
  password: string;
  /** An image only the registry has (ADDRESS/dsjobs-test/pulled:1). */
  image: string;
  /** That image's manifest digest (sha256:...). */
  digest: string;
}

/** Starts the registry when none answers and pushes its image when missing; dockerReady() must have said null. */
export function testRegistry(): TestRegistry {
  const out = execFileSync('bash', [path.join(ROOT, 'scripts', 'docker-registry.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  const v = Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  for (const k of ['address', 'username', 'password', 'image', 'digest']) if (!v[k]) throw new Error(`docker-registry.sh printed no ${k}: ${out}`);
  return v as unknown as TestRegistry;
}
