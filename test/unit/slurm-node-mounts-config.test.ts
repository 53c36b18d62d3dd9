/** Config slurm.nodeMounts: defaults, and entries must name storage that storage.* declares. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/config.js';

const slurm = (extra: Record<string, unknown> = {}) => ({ sharedDir: '/shared', shapes: [{ shape: 'VM.Standard.E4.Flex' }], ...extra });

test('config slurm.nodeMounts: empty by default; entries name declared storage, nodePath optional', () => {
  assert.deepEqual(loadConfig({ env: {}, overrides: { slurm: slurm() } }).slurm?.nodeMounts, { fileSystems: [], buckets: [] });
  const c = loadConfig({
    env: {},
    overrides: {
      storage: { fileSystems: [{ mountTargetId: 'mt', exportId: 'ex', path: '/srv/ex' }], buckets: [{ namespace: 'n', bucket: 'b', path: '/srv/b' }] },
      slurm: slurm({ nodeMounts: { fileSystems: [{ mountTargetId: 'mt', exportId: 'ex', nodePath: '/nfs/ex' }], buckets: [{ namespace: 'n', bucket: 'b' }] } }),
    },
  });
  assert.equal(c.slurm?.nodeMounts.fileSystems[0]?.nodePath, '/nfs/ex');
  assert.equal(c.slurm?.nodeMounts.buckets[0]?.nodePath, undefined);
  assert.throws(
    () => loadConfig({ env: {}, overrides: { slurm: slurm({ nodeMounts: { fileSystems: [{ mountTargetId: 'mt', exportId: 'nope' }] } }) } }),
    (e: Error) => e.name === 'ConfigError' && e.message === 'config slurm.nodeMounts.fileSystems.0: no export mt:nope is declared in storage.fileSystems',
  );
  assert.throws(
    () => loadConfig({ env: {}, overrides: { slurm: slurm({ nodeMounts: { buckets: [{ namespace: 'n', bucket: 'x' }] } }) } }),
    /config slurm.nodeMounts.buckets.0: no bucket x@n is declared in storage.buckets/,
  );
  assert.throws(
    () => loadConfig({ env: {}, overrides: { slurm: slurm({ nodeMounts: { buckets: [], fileSystems: [{ mountTargetId: 'mt', exportId: 'ex', nodePath: 'rel' }] } }) } }),
    /config slurm.nodeMounts.fileSystems.0.nodePath: must be an absolute path/,
  );
});
