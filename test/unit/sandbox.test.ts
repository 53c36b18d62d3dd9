import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { hostSocketFiles, sandboxArgs, socketDirs, type SandboxSpec } from '../../src/executors/local/sandbox.js';

/**
 * A host service's socket outside /run and /tmp (as a database's under /var/lib), listening before the sandbox module
 * first reads the kernel's list (once per process).
 */
const socketDir = mkdtempSync('/var/tmp/dsjobs-sandbox-unit-');
const socketPath = path.join(socketDir, 'db.sock');
let service: net.Server;
before(async () => {
  service = net.createServer();
  await new Promise<void>((r) => service.listen(socketPath, () => r()));
});
after(() => {
  service.close();
  rmSync(socketDir, { recursive: true, force: true });
});

const spec = (over: Partial<SandboxSpec>): SandboxSpec => ({
  hide: ['/var/lib/dsjobs'],
  space: '/var/lib/dsjobs/volumes/vol-1',
  tmp: '/var/lib/dsjobs/volumes/vol-1/tmp',
  mounts: [],
  network: true,
  readOnly: [],
  devices: [],
  ...over,
});

/** The [flag, src, dest] triples of the bind options in an argument list. */
function binds(args: string[]): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < args.length; i++) if (args[i] === '--ro-bind' || args[i] === '--bind') out.push(args.slice(i, i + 3));
  return out;
}

test('read-only paths are bound only where the sandbox would hide or cover them', () => {
  const args = sandboxArgs(
    spec({
      readOnly: [
        '/usr/lib/node_modules/dsjobs/dist/dsjobs-supervisor', // visible through the read-only root: no bind
        '/var/lib/dsjobs/conda/env-1', // inside the hidden data directory
        '/tmp/checkout/dist/dsjobs-supervisor', // under /tmp, which is the run's own
      ],
    }),
  );
  const b = binds(args);
  assert.ok(!b.some((x) => x[1]!.startsWith('/usr/lib/node_modules')), 'a path the root bind shows is not bound again');
  assert.deepEqual(b.find((x) => x[1] === '/var/lib/dsjobs/conda/env-1'), ['--ro-bind', '/var/lib/dsjobs/conda/env-1', '/var/lib/dsjobs/conda/env-1']);
  assert.deepEqual(b.find((x) => x[1] === '/tmp/checkout/dist/dsjobs-supervisor')?.[0], '--ro-bind');
  // The hidden data directory's tmpfs comes before the read-only binds back into it.
  assert.ok(args.indexOf('/var/lib/dsjobs') < args.indexOf('/var/lib/dsjobs/conda/env-1'));
});

test('a read-only path under a storage mount destination is bound back on top of it', () => {
  const args = sandboxArgs(spec({ mounts: [{ source: '/srv/data', destination: '/opt/data' }], readOnly: ['/opt/data/env'] }));
  const b = binds(args);
  assert.ok(b.findIndex((x) => x[2] === '/opt/data') < b.findIndex((x) => x[2] === '/opt/data/env'));
});

test("the host's sockets: /run is an empty tmpfs; one elsewhere is covered with /dev/null, again after a mount shadows its directory", () => {
  assert.ok(hostSocketFiles().includes(socketPath), hostSocketFiles().join(', '));
  const args = sandboxArgs(spec({ mounts: [{ source: '/srv/data', destination: path.join(socketDir, 'new', 'data') }] }));
  for (const d of socketDirs()) assert.ok(args.join(' ').includes(`--tmpfs ${d}`), d);
  const covers = args.flatMap((a, i) => (a === '--ro-bind' && args[i + 1] === '/dev/null' && args[i + 2] === socketPath ? [i] : []));
  // Once with the system, once after the tmpfs that replaces the socket's directory (its entries bound back in).
  const shadow = args.findIndex((a, i) => a === '--tmpfs' && args[i + 1] === socketDir);
  assert.ok(shadow > 0, args.join(' '));
  assert.ok(covers.length === 2 && covers[0]! < shadow && covers[1]! > shadow, args.join(' '));
});
