import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firesBetween, planFires, FIRE_GRACE_MS } from '../../src/service/schedules.js';

const t = (s: string) => Date.parse(s);

test('fire times follow the cron in its time zone, across a DST change', () => {
  // 02:30 every day in Europe/Paris: 01:30Z in winter (CET), 00:30Z in summer (CEST). 2026-03-29 has no 02:30 (the
  // clocks jump from 02:00 to 03:00): croner fires once that day, at 03:30 CEST.
  const fires = firesBetween('30 2 * * *', 'Europe/Paris', t('2026-03-27T00:00:00Z'), t('2026-03-31T00:00:00Z')).map((x) => new Date(x).toISOString());
  assert.equal(fires[0], '2026-03-27T01:30:00.000Z');
  assert.equal(fires[1], '2026-03-28T01:30:00.000Z');
  assert.equal(fires[2], '2026-03-29T01:30:00.000Z');
  assert.equal(fires[3], '2026-03-30T00:30:00.000Z');
  assert.equal(fires.length, 4);
  assert.deepEqual(firesBetween('*/15 * * * *', 'UTC', t('2026-01-01T00:00:00Z'), t('2026-01-01T01:00:00Z')).length, 4, 'after is exclusive, until inclusive');
});

test('on-time fires run; missed ones are skipped or run once by policy', () => {
  const now = t('2026-01-01T12:00:10Z');
  const onTime = [now - 10_000];
  assert.deepEqual(planFires(onTime, now, 'SKIP'), { run: true, fireMs: onTime[0], missed: 0 });
  const missed = [t('2026-01-01T09:00:00Z'), t('2026-01-01T10:00:00Z'), t('2026-01-01T11:00:00Z')];
  assert.deepEqual(planFires(missed, now, 'SKIP'), { run: false, fireMs: missed[2], missed: 3 });
  assert.deepEqual(planFires(missed, now, 'RUN_ONCE'), { run: true, fireMs: missed[2], missed: 3 });
  // Missed ones plus an on-time one: one run either way (the on-time one), the missed are counted.
  assert.deepEqual(planFires([...missed, now - FIRE_GRACE_MS], now, 'SKIP'), { run: true, fireMs: now - FIRE_GRACE_MS, missed: 3 });
  assert.deepEqual(planFires([], now, 'RUN_ONCE'), { run: false, fireMs: null, missed: 0 });
});
