import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RunLogIngester, readCheckpoint, LOG_FILE, MAX_LINE_BYTES } from '../../src/logs/run-log.js';

function setup() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-runlog-'));
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

// Lines of every kind: plain ASCII (copied byte for byte), quotes, backslashes, control characters, UTF-8, and
// invalid UTF-8 (replaced, as any JSON text must be valid Unicode).
test('every record is valid JSON and carries its line exactly, in order, with seq 1..n', async () => {
  const { dir, files } = setup();
  let rnd = 42;
  const next = () => ((rnd = (rnd * 1103515245 + 12345) & 0x7fffffff), rnd);
  const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '\t', '\u0001', '\u007f', 'é', '€', '𝄞', '{', '}', '/'];
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) {
    let l = '';
    const len = next() % 40;
    for (let k = 0; k < len; k++) l += next() % 3 === 0 ? alphabet[next() % alphabet.length] : String.fromCharCode(32 + (next() % 95));
    lines.push(l);
  }
  appendFileSync(files.stdout, lines.join('\n') + '\n');
  appendFileSync(files.stderr, Buffer.from([0x66, 0xff, 0x6f, 0x0a])); // "f\xffo": invalid UTF-8
  const ing = new RunLogIngester(dir, files, new EventEmitter(), 'r');
  await ing.finish();
  const recs = records(dir);
  assert.deepEqual(recs.map((r) => r.seq), recs.map((_, i) => i + 1));
  assert.deepEqual(recs.filter((r) => r.stream === 'stdout').map((r) => r.message), lines);
  assert.deepEqual(recs.filter((r) => r.stream === 'stderr').map((r) => r.message), ['f\ufffdo']);
  for (const r of recs) assert.match(r.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(readCheckpoint(dir).complete, true);
  rmSync(dir, { recursive: true, force: true });
});

test('a crash after appending but before the checkpoint neither loses nor duplicates lines', async () => {
  const { dir, files } = setup();
  appendFileSync(files.stdout, 'one\ntwo\n');
  const first = new RunLogIngester(dir, files, new EventEmitter(), 'r');
  first.close();
  // Simulate records written after the last checkpoint (the process died between the two writes).
  appendFileSync(path.join(dir, LOG_FILE), '{"seq":3,"time":"x","stream":"stdout","message":"ghost"}\n');
  appendFileSync(files.stdout, 'three\npartial');
  const second = new RunLogIngester(dir, files, new EventEmitter(), 'r');
  await second.finish();
  assert.deepEqual(records(dir).map((r) => [r.seq, r.message]), [
    [1, 'one'],
    [2, 'two'],
    [3, 'three'],
    [4, 'partial'],
  ]);
  rmSync(dir, { recursive: true, force: true });
});

test('a line longer than the cap is split into records that join back to it', async () => {
  const { dir, files } = setup();
  const long = 'x'.repeat(MAX_LINE_BYTES * 2 + 10);
  appendFileSync(files.stdout, `${long}\nshort\n`);
  const ing = new RunLogIngester(dir, files, new EventEmitter(), 'r');
  await ing.finish();
  const msgs = records(dir).map((r) => r.message);
  assert.equal(msgs.length, 4);
  assert.equal(msgs.slice(0, 3).join(''), long);
  assert.equal(msgs[3], 'short');
  rmSync(dir, { recursive: true, force: true });
});
