import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RunLogIngester, readCheckpoint, LOG_FILE, MAX_LINE_BYTES, quotaMessage } from '../../src/logs/run-log.js';

function setup(dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-quota-'))) {
  const files = { stdout: path.join(dir, 'stdout.log'), stderr: path.join(dir, 'stderr.log') };
  writeFileSync(files.stdout, '');
  writeFileSync(files.stderr, '');
  return { dir, files };
}

const records = (dir: string) =>
  readFileSync(path.join(dir, LOG_FILE), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

/** The log may end one record past the quota: a line of at most MAX_LINE_BYTES, escaped (6 bytes per byte at worst). */
const SLACK = MAX_LINE_BYTES * 6 + 1024;

test('output past the quota is dropped: a last record says so, the raw files are cut, later output is thrown away', async () => {
  const { dir, files } = setup();
  const quota = 256 * 1024;
  const line = 'x'.repeat(99);
  appendFileSync(files.stdout, `${line}\n`.repeat(10_000)); // 1 MB of raw output, about 1.7 MB as records
  let quotaCalls = 0;
  const ing = new RunLogIngester(dir, files, new EventEmitter(), 'r', { quotaBytes: quota, onQuota: () => quotaCalls++ });
  while (ing.pump()) {
    /* drain */
  }
  ing.pump();
  const size = statSync(path.join(dir, LOG_FILE)).size;
  assert.ok(size >= quota && size <= quota + SLACK, `log of ${size} bytes for a quota of ${quota}`);
  const recs = records(dir);
  assert.equal(recs.at(-1).message, quotaMessage(quota));
  assert.deepEqual(recs.map((r) => r.seq), recs.map((_, i) => i + 1));
  for (const r of recs.slice(0, -1)) assert.equal(r.message, line);
  assert.equal(readCheckpoint(dir).dropped, true);
  assert.equal(quotaCalls, 1);
  assert.equal(statSync(files.stdout).size, 0, 'the raw file is cut once the quota is reached');

  // More output: nothing is stored, and the raw file does not keep it.
  appendFileSync(files.stdout, `${line}\n`.repeat(1000));
  ing.pump();
  assert.equal(records(dir).length, recs.length);
  assert.equal(statSync(files.stdout).size, 0);

  // A restart resumes in the same state.
  ing.close();
  appendFileSync(files.stderr, 'after restart\n');
  const again = new RunLogIngester(dir, files, new EventEmitter(), 'r', { quotaBytes: quota, onQuota: () => quotaCalls++ });
  await again.finish();
  assert.equal(records(dir).length, recs.length);
  assert.equal(readCheckpoint(dir).complete, true);
  assert.equal(quotaCalls, 1);
  rmSync(dir, { recursive: true, force: true });
});

// A run that calls ftruncate(1, 200 MiB) makes its stdout a hole that reads back as NULs: each became \u0000 in the
// log (6 bytes per byte). The quota counts stored bytes, so the log stays within it whatever the expansion.
test('a hole of NULs in stdout costs at most the quota, not six times its size', async () => {
  const { dir, files } = setup();
  const quota = 1024 * 1024;
  truncateSync(files.stdout, 32 * 1024 * 1024);
  const ing = new RunLogIngester(dir, files, new EventEmitter(), 'r', { quotaBytes: quota });
  await ing.finish();
  const size = statSync(path.join(dir, LOG_FILE)).size;
  assert.ok(size <= quota + SLACK, `log of ${size} bytes for a quota of ${quota}`);
  assert.equal(records(dir).at(-1).message, quotaMessage(quota));
  rmSync(dir, { recursive: true, force: true });
});

test('the raw files are removed once the log is sealed (the log holds all they had)', async () => {
  const { dir, files } = setup();
  appendFileSync(files.stdout, 'one\ntwo');
  appendFileSync(files.stderr, 'err\n');
  const ing = new RunLogIngester(dir, files, new EventEmitter(), 'r');
  await ing.finish();
  assert.deepEqual(records(dir).map((r) => r.message).sort(), ['err', 'one', 'two']);
  assert.equal(existsSync(files.stdout), false);
  assert.equal(existsSync(files.stderr), false);
  rmSync(dir, { recursive: true, force: true });
});

// The log lives on a 1 MiB tmpfs that is filled up: capture stalls (reported once), loses and duplicates nothing,
// and goes on by itself once space is freed; the raw files are elsewhere, as a run's output keeps coming.
test('a full disk stalls capture without losing or duplicating a line; it resumes when space returns', { skip: process.getuid?.() !== 0 && 'needs root to mount a tmpfs' }, async (t) => {
  const mnt = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
  t.after(() => {
    execFileSync('umount', ['-l', mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });
  const raw = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-raw-'));
  t.after(() => rmSync(raw, { recursive: true, force: true }));
  const files = { stdout: path.join(raw, 'stdout.log'), stderr: path.join(raw, 'stderr.log') };
  writeFileSync(files.stdout, '');
  writeFileSync(files.stderr, '');
  const dir = path.join(mnt, 'run');
  mkdirSync(dir);
  const errors: Error[] = [];
  const ing = new RunLogIngester(dir, files, new EventEmitter(), 'r', { pollMs: 3_600_000, onError: (e) => errors.push(e) });
  // Fill the disk but for a few blocks.
  try {
    writeFileSync(path.join(mnt, 'filler'), Buffer.alloc(1024 * 1024));
  } catch {
    /* full: as intended */
  }
  const lines = Array.from({ length: 5000 }, (_, i) => `line ${i}`);
  appendFileSync(files.stdout, lines.join('\n') + '\n');
  while (ing.pump()) {
    /* drain until it stalls */
  }
  ing.pump();
  assert.equal(errors.length, 1, 'reported once');
  assert.equal((errors[0] as NodeJS.ErrnoException).code, 'ENOSPC');
  assert.ok(ing.stalled);
  assert.equal(ing.error, null, 'a full disk does not stop capture for good');
  await assert.rejects(ing.finish(), /ENOSPC/);
  rmSync(path.join(mnt, 'filler'));
  await ing.finish();
  assert.deepEqual(records(dir).map((r) => r.message), lines);
  assert.deepEqual(records(dir).map((r) => r.seq), lines.map((_, i) => i + 1));
  assert.equal(readCheckpoint(dir).complete, true);
});

test('consumed raw output is given back to the disk while the run goes on (holes punched, offsets kept)', async () => {
  const { dir, files } = setup();
  const chunk = `${'y'.repeat(1023)}\n`.repeat(1024); // 1 MiB
  for (let i = 0; i < 80; i++) appendFileSync(files.stdout, chunk);
  const ing = new RunLogIngester(dir, files, new EventEmitter(), 'r', { pollMs: 3_600_000 });
  while (ing.pump()) {
    /* drain */
  }
  const start = Date.now();
  while (statSync(files.stdout).blocks * 512 > 24 * 1024 * 1024 && Date.now() - start < 30_000) await new Promise((r) => setTimeout(r, 50));
  assert.ok(statSync(files.stdout).blocks * 512 <= 24 * 1024 * 1024, `${statSync(files.stdout).blocks * 512} bytes still allocated`);
  assert.equal(statSync(files.stdout).size, 80 * 1024 * 1024, 'the size (and so the offsets) stay');
  appendFileSync(files.stdout, 'last\n');
  await ing.finish();
  const recs = records(dir);
  assert.equal(recs.length, 80 * 1024 + 1);
  assert.equal(recs.at(-1).message, 'last');
  rmSync(dir, { recursive: true, force: true });
});
