import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mountInfoOf } from '../../src/executors/local/volume.js';

test('mountinfo: the mount at a path (the top one), its shared propagation, escaped mount points', () => {
  const info = [
    '22 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
    '40 22 254:0 /srv/data/volumes /srv/data/volumes rw,relatime - ext4 /dev/vda rw',
    '41 40 7:3 / /srv/data/volumes/vol-1 rw,nosuid shared:7 - ext4 /dev/loop3 rw',
    '42 40 254:0 /srv/data/volumes /srv/data/volumes rw,relatime shared:5 master:2 - ext4 /dev/vda rw',
    '43 22 254:0 /a /my\\040data/volumes rw shared:9 - ext4 /dev/vda rw',
  ].join('\n');
  assert.deepEqual(mountInfoOf('/srv/data/volumes', info), { shared: true });
  assert.deepEqual(mountInfoOf('/', info), { shared: false });
  assert.deepEqual(mountInfoOf('/my data/volumes', info), { shared: true });
  assert.equal(mountInfoOf('/srv/data', info), null);
  assert.equal(mountInfoOf('/srv/data/volumes/vol-2', info), null);
});
