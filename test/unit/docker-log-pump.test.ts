/**
 * The Docker executor's log copy (executors/docker/log-pump.ts): frames of Docker's multiplexed log stream into the
 * run's two files, and a resume after the server was killed that neither loses nor doubles a byte, even when the
 * files got bytes past the checkpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LogPump } from '../../src/executors/docker/log-pump.js';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

const messages: [1 | 2, string][] = Array.from({ length: 1000 }, (_, i) => [i % 3 === 0 ? 2 : 1, `line ${i} é✓\n`]);
const all = Buffer.concat(messages.map(([s, t]) => frame(s, t)));
const expected = (s: 1 | 2) => messages.filter(([k]) => k === s).map(([, t]) => t).join('');

test('frames split anywhere (even inside a header) reach the right file whole and in order', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pump-'));
  const files = { stdout: path.join(dir, 'stdout.log'), stderr: path.join(dir, 'stderr.log') };
  const pump = new LogPump(dir, files);
  for (let i = 0; i < all.length; i += 7) pump.push(all.subarray(i, i + 7));
  pump.close();
  assert.equal(readFileSync(files.stdout, 'utf8'), expected(1));
  assert.equal(readFileSync(files.stderr, 'utf8'), expected(2));
});

test('resume after a kill: bytes past the checkpoint are cut, the log is read again from its start, nothing doubled', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pump-'));
  const files = { stdout: path.join(dir, 'stdout.log'), stderr: path.join(dir, 'stderr.log') };
  const first = new LogPump(dir, files);
  const cut = Math.floor(all.length / 2);
  first.push(all.subarray(0, cut));
  first.save();
  // Killed after writing more than the checkpoint records (as between two checkpoint writes): no close().
  appendFileSync(files.stdout, 'written after the checkpoint\n');
  appendFileSync(files.stderr, 'partial');
  const second = new LogPump(dir, files);
  second.push(all);
  second.close();
  assert.equal(readFileSync(files.stdout, 'utf8'), expected(1));
  assert.equal(readFileSync(files.stderr, 'utf8'), expected(2));
});
