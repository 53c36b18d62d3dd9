import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sandboxArgs, type SandboxSpec } from '../../src/executors/local/sandbox.js';

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
