/**
 * The server accepts on several handles of its one listening socket (config acceptHandles, src/api/accept-handles.ts):
 * with TLS, connections that queued up while the server could not accept (stopped with SIGSTOP) are all served, over
 * keep-alive too, and a stop frees the port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BIN, launchServer } from '../support/server.js';
import { until } from '../support/until.js';

/**
 * Rows of /proc/net/tcp for local address 127.0.0.1:`port` in state `st` (0A: listening, 01: established): their
 * inodes. (The server may listen on the same port on Docker's bridge gateway too: a socket of its own.)
 */
function socketInodes(port: number, st: string): string[] {
  const hexPort = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length > 9 && f[1] === hexPort && f[3] === st)
    .map((f) => f[9]);
}

/** How many descriptors process `pid` holds for socket `inode`. */
function descriptorsOf(pid: number, inode: string): number {
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`;
    } catch {
      return false;
    }
  }).length;
}

/** Child processes of `pid` (every thread's list). */
function childrenOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
}

test('with TLS, 16 connections queued while the server could not accept are all served on its 16 handles (the default); a stop frees the port', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-accept-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  // No volumes or warm sandboxes: this server only answers HTTP.
  const srv = await launchServer([BIN, 'server', '--port', '0', '--data-dir', path.join(dir, 'data'), '--tls-cert', cert, '--tls-key', key], {
    DSJOBS_LOG_LEVEL: 'warn',
    DSJOBS_BLOCK_STORAGE: 'directory',
    DSJOBS_WARM_SANDBOXES: '0',
  });
  const pid = srv.proc.pid!;
  const port = Number(new URL(srv.url).port);
  const agent = new https.Agent({ keepAlive: true, maxSockets: 16, ca: readFileSync(cert) });
  const get = () =>
    new Promise<{ status: number; socket: unknown }>((resolve, reject) => {
      const req = https.get(`${srv.url}/20190101/serverInfo`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, socket: req.socket }));
      });
      req.on('error', reject);
    });
  try {
    assert.match(srv.url, /^https:\/\//);
    const [listening] = socketInodes(port, '0A');
    assert.ok(listening, 'the listening socket is in /proc/net/tcp');
    // The copies arrive in the background after the start (the helper process takes 50-250 ms).
    await until('16 descriptors of the listening socket', () => descriptorsOf(pid, listening) === 16, 20_000);
    const helpers = childrenOf(pid).filter((c) => readFileSync(`/proc/${c}/cmdline`, 'utf8').split('\0')[1] === '-e');
    assert.deepEqual(helpers, [], 'the helper process has exited');

    // Stopped, the server accepts nothing: the kernel completes the 16 handshakes and queues the connections.
    process.kill(pid, 'SIGSTOP');
    let first: Promise<{ status: number; socket: unknown }[]>;
    try {
      first = Promise.all(Array.from({ length: 16 }, get));
      await until('16 connections queued', () => socketInodes(port, '01').length >= 16, 20_000);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const answers = await first;
    assert.deepEqual(answers.map((a) => a.status), Array(16).fill(200));
    // Keep-alive: the same 16 connections serve the next round.
    const again = await Promise.all(Array.from({ length: 16 }, get));
    assert.deepEqual(again.map((a) => a.status), Array(16).fill(200));
    assert.equal(new Set([...answers, ...again].map((a) => a.socket)).size, 16);

    agent.destroy();
    srv.proc.kill('SIGTERM');
    await new Promise((r) => (srv.proc.exitCode === null ? srv.proc.once('exit', r) : r(null)));
    assert.equal(srv.proc.exitCode, 0, srv.output());
    // No copy outlived the server's listening socket: the port is free.
    const taken = net.createServer();
    await new Promise<void>((resolve, reject) => taken.once('error', reject).listen(port, '127.0.0.1', resolve));
    await new Promise((r) => taken.close(r));
  } finally {
    agent.destroy();
    if (srv.proc.exitCode === null && srv.proc.signalCode === null) srv.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
