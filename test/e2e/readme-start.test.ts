/**
 * The README's start command stops the server on SIGTERM (issue 24.4): `npx dsjobs server` left the server running
 * when a supervisor killed npx, because npm and a shell sit between them and do not pass the signal on. The command
 * is read from the README's first code block, so the test and the README cannot drift apart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, removeDataDir } from '../support/server.js';

/** `./bin/dsjobs.js server` out of "npm run setup && ./bin/dsjobs.js server  # set up, then start ...". */
function readmeStartCommand(): string[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = /```sh\n([^]*?)```/.exec(readme);
  assert.ok(block, 'README has no sh code block');
  const first = block[1].split('\n')[0].replace(/#.*/, '').trim();
  const parts = first.split('&&').map((p) => p.trim());
  assert.equal(parts[0], 'npm run setup', `the first command sets up: ${first}`);
  assert.equal(parts.length, 2, `then starts the server: ${first}`);
  return parts[1].split(/\s+/);
}

/** Processes whose command line mentions `needle` (the test's own data dir), from /proc. */
function processesWith(needle: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle)) found.push(Number(pid));
    } catch {
      /* ended meanwhile */
    }
  }
  return found;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

test("SIGTERM to the README's start command stops the server and closes its port", async (t) => {
  const cmd = readmeStartCommand();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-readme-'));
  t.after(() => {
    for (const pid of processesWith(dataDir)) process.kill(pid, 'SIGKILL');
    removeDataDir(dataDir);
  });
  // Exactly as written, run from the clone, with only a free port and a data dir of its own added.
  const child = spawn(cmd[0], [...cmd.slice(1), '--port', '0', '--data-dir', dataDir], {
    cwd: ROOT,
    env: { ...process.env, DSJOBS_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on" in 60 s:\n${output}`)), 60_000);
    const check = () => {
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => reject(new Error(`${cmd.join(' ')} exited with ${code}:\n${output}`)));
  });
  assert.equal(await portOpen(port), true);
  assert.ok(processesWith(dataDir).length > 0);

  child.kill('SIGTERM');
  await exited;
  // The server may take a moment after its parent (if any) is gone; generous bound, then the verdict.
  const deadline = Date.now() + 30_000;
  while (processesWith(dataDir).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(processesWith(dataDir), [], `processes of the server remain after SIGTERM:\n${output}`);
  assert.equal(await portOpen(port), false, 'the port still accepts connections');
  assert.match(output, /received SIGTERM: stopping the server/);
});
