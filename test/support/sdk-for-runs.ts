/**
 * Where a sandboxed run can `require` the official OCI SDKs from. A run sees the host's tree read-only but a /tmp of
 * its own (docs/isolation.md), so a checkout under /tmp (a CI clone, say) has a node_modules no run can see. Then the
 * packages a run needs, with everything they depend on, are copied once per test process to a directory under
 * /var/tmp, which runs do see (and removed when the process exits).
 */
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './server.js';

let dir: string | null = null;

export function sdkDirForRuns(packages: string[] = ['oci-common', 'oci-datascience', 'oci-secrets']): string {
  const modules = path.join(ROOT, 'node_modules');
  if (!(modules === '/tmp' || modules.startsWith('/tmp/'))) return modules;
  if (dir) return dir;
  const target = mkdtempSync('/var/tmp/dsjobs-test-sdk-');
  // mkdtemp makes it 0700: the run user must read it.
  chmodSync(target, 0o755);
  const seen = new Set<string>();
  const queue = [...packages];
  while (queue.length > 0) {
    const name = queue.pop()!;
    const from = path.join(modules, name);
    if (seen.has(name) || !existsSync(from)) continue;
    seen.add(name);
    // The package's own nested node_modules come with it; the rest of its dependencies are hoisted beside it.
    cpSync(from, path.join(target, 'node_modules', name), { recursive: true, dereference: true });
    const pkg = JSON.parse(readFileSync(path.join(from, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    queue.push(...Object.keys(pkg.dependencies ?? {}));
  }
  process.once('exit', () => rmSync(target, { recursive: true, force: true }));
  // Named node_modules: what the packages require of each other is found there, as in a checkout.
  dir = path.join(target, 'node_modules');
  return dir;
}
