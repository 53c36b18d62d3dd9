import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ListCache, writing } from '../../src/store/list-cache.js';

test('a kept list is used until a write, and a load that a write overtook is not kept', async () => {
  const cache = new ListCache<number>();
  let table = [1];
  let loads = 0;
  const load = async () => {
    loads++;
    return [...table];
  };
  assert.deepEqual(await cache.get('k', load), [1]);
  assert.deepEqual(await cache.get('k', load), [1]);
  assert.equal(loads, 1);
  // Callers get their own array.
  (await cache.get('k', load)).push(99);
  assert.deepEqual(await cache.get('k', load), [1]);

  await writing(cache, async () => {
    table = [1, 2];
  });
  assert.deepEqual(await cache.get('k', load), [1, 2]);
  assert.equal(loads, 2);

  // A write that fails still marks the cache stale (a statement may have run before the error).
  await assert.rejects(
    writing(cache, async () => {
      table = [3];
      throw new Error('constraint');
    }),
  );
  assert.deepEqual(await cache.get('k', load), [3]);

  // A load in flight while a write goes ahead: its result is returned but not kept.
  let release!: () => void;
  const slow = cache.get('k2', async () => {
    await new Promise<void>((r) => (release = r));
    return [7];
  });
  cache.changed();
  release();
  assert.deepEqual(await slow, [7]);
  let asked = false;
  assert.deepEqual(
    await cache.get('k2', async () => {
      asked = true;
      return [8];
    }),
    [8],
  );
  assert.ok(asked);
});
