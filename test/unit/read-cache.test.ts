import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadCache } from '../../src/service/read-cache.js';

test('a record is loaded once and kept; an invalidation drops it; a load that raced a write is not kept', async () => {
  const c = new ReadCache<{ v: number }>();
  let loads = 0;
  let value = 1;
  const load = async () => (loads++, { v: value });
  assert.deepEqual(await c.get('a', load), { v: 1 });
  assert.deepEqual(await c.get('a', load), { v: 1 });
  assert.equal(loads, 1);
  value = 2;
  c.invalidate('a');
  assert.deepEqual(await c.get('a', load), { v: 2 });
  assert.equal(loads, 2);

  // A write lands while a load is in flight: that load's (old) answer is returned but not kept.
  c.invalidate('a');
  let release!: () => void;
  const slow = c.get('a', async () => {
    await new Promise<void>((r) => (release = r));
    return { v: 2 };
  });
  await new Promise((r) => setImmediate(r));
  value = 3;
  c.invalidate('a');
  release();
  assert.deepEqual(await slow, { v: 2 });
  assert.deepEqual(await c.get('a', load), { v: 3 }, 'the next read loads again');
});

test('none is not kept, and the cache starts over past its bound', async () => {
  const c = new ReadCache<number>(2);
  let loads = 0;
  assert.equal(await c.get('x', async () => (loads++, null)), null);
  assert.equal(await c.get('x', async () => (loads++, null)), null);
  assert.equal(loads, 2);
  for (const id of ['a', 'b', 'c']) await c.get(id, async () => 1);
  let reloaded = false;
  await c.get('a', async () => ((reloaded = true), 1));
  assert.ok(reloaded, 'a was dropped when the bound was reached');
});

test('clear forgets every record, and a load in flight across it is not kept', async () => {
  const c = new ReadCache<number>();
  let value = 1;
  for (const id of ['a', 'b']) assert.equal(await c.get(id, async () => value), 1);
  let release!: () => void;
  const slow = c.get('c', async () => {
    await new Promise<void>((r) => (release = r));
    return 1;
  });
  await new Promise((r) => setImmediate(r));
  value = 2;
  c.clear();
  release();
  assert.equal(await slow, 1);
  for (const id of ['a', 'b', 'c']) assert.equal(await c.get(id, async () => value), 2, `${id} is read again`);
});
