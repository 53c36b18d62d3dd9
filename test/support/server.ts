/**
 * Test harness: a real dsjobs server process (node bin/dsjobs.js server) on port 0 with its own data dir. Nothing
 * is mocked: tests talk HTTP to it, and it runs real processes and a real SQLite database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDataDir } from './cleanup.js';
import { freshDatabase } from './postgres.js';
import { DsJobsClient, type JobRun, type RequestSigner } from '../../src/sdk/client.js';
import { configFileSigner } from '../../src/sdk/signer.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'dsjobs.js');

export interface TestServer {
  url: string;
  dataDir: string;
  compartmentId: string;
  /** The administrator's first console password, printed at first start (kept across restarts here). */
  adminPassword: string | null;
  /** The administrator's OCI config file, written by the server at first start (<dataDir>/oci/config). */
  configFile: string;
  /** Signs a request as the administrator (for raw fetch/http calls); the `api` client already does. */
  sign: RequestSigner;
  /** fetch() signed as the administrator. */
  fetch(url: string, init?: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal }): Promise<Response>;
  api: DsJobsClient;
  proc: ChildProcess;
  output: () => string;
  /** SIGKILL (default) or SIGTERM; resolves when the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts a new server process on the same data dir (after kill). */
  restart(): Promise<TestServer>;
  /** Stops the server and removes its data dir (kills leftover run processes first). */
  close(): Promise<void>;
}

/**
 * Spawns `node <args>` (a `dsjobs server` command line) and resolves once it has printed its URL and default
 * compartment. Shared by the tests and the benchmarks. The captured output is bounded (the last ~100 KB).
 */
export async function launchServer(
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs = 30_000,
  /** A command that execs node with the server's arguments after its own (it must keep the pid: exec, no fork). */
  wrap: string[] = [],
): Promise<{ proc: ChildProcess; url: string; compartmentId: string; output: () => string }> {
  const argv = [...wrap, process.execPath, ...args];
  const proc = spawn(argv[0], argv.slice(1), { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const { url, compartmentId } = await new Promise<{ url: string; compartmentId: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not start in ${timeoutMs / 1000} s:\n${out}`));
    }, timeoutMs);
    const check = () => {
      const u = /listening on (https?:\/\/\S+)/.exec(out);
      const c = /default compartment: (\S+)/.exec(out);
      if (u && c) {
        clearTimeout(timer);
        proc.stdout!.off('data', check);
        resolve({ url: u[1], compartmentId: c[1] });
      }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${out}`));
    });
  });
  return { proc, url, compartmentId, output: () => out };
}

export interface ServerOptions {
  /** The console password printed at the data dir's first start (a restart does not print it again). */
  adminPassword?: string | null;
  env?: Record<string, string>;
  dataDir?: string;
  config?: string;
  /** A fixed port (default 0: any free one); a restart listens on the same port, as a real restart would. */
  port?: number;
}

export async function startServer(opts: ServerOptions = {}): Promise<TestServer> {
  // The PostgreSQL run of the e2e files (postgres-e2e.test.ts): each server gets a database of its own, kept on restart.
  if (process.env.DSJOBS_TEST_POSTGRES === '1' && !opts.env?.DSJOBS_DATABASE) opts = { ...opts, env: { ...opts.env, DSJOBS_DATABASE: await freshDatabase() } };
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'dsjobs-test-'));
  const args = [BIN, 'server', '--port', String(opts.port ?? 0), '--data-dir', dataDir];
  if (opts.config) args.push('--config', opts.config);
  // Authentication is on, as the issue asks of the suites: every request the harness makes is signed.
  const { proc, url, compartmentId, output } = await launchServer(args, {
    DSJOBS_LOG_LEVEL: 'warn',
    DSJOBS_GRACE_PERIOD_MS: '2000',
    DSJOBS_AUTHENTICATION: 'on',
    ...opts.env,
  });
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.once('exit', () => resolve());
  });
  const configFile = path.join(dataDir, 'oci', 'config');
  const sign = configFileSigner(configFile);
  const api = new DsJobsClient({ endpoint: url, signer: sign });
  const server: TestServer = {
    url,
    dataDir,
    compartmentId,
    configFile,
    adminPassword: opts.adminPassword ?? /web console login \(shown once.*\): user admin, password (\S+)/.exec(output())?.[1] ?? null,
    sign,
    fetch: (u, init = {}) => signedFetch(sign, u, init),
    api,
    proc,
    output,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
    async restart() {
      await server.kill();
      return startServer({ ...opts, dataDir, adminPassword: server.adminPassword });
    },
    async close() {
      await server.kill('SIGTERM');
      removeDataDir(dataDir);
    },
  };
  return server;
}

export { killRunProcesses, removeDataDir } from './cleanup.js';

/** fetch() with the headers `sign` adds (a JSON body is signed with its hash, as the OCI SDKs do). */
export function signedFetch(
  sign: RequestSigner,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal } = {},
): Promise<Response> {
  const method = init.method ?? 'GET';
  const headers = { ...(init.headers ?? {}) };
  let body = init.body;
  if (body === undefined && ['POST', 'PUT', 'PATCH'].includes(method)) body = '';
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  Object.assign(headers, sign({ method, url, headers, body }));
  return fetch(url, { method, headers, body, signal: init.signal });
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELED', 'DELETED']);

/** Polls until the run satisfies `pred` (default: terminal). Fails with the last state after `timeoutMs`. */
export async function waitForRun(
  api: DsJobsClient,
  runId: string,
  pred: (r: JobRun) => boolean = (r) => TERMINAL.has(r.lifecycleState),
  timeoutMs = 30_000,
): Promise<JobRun> {
  const start = Date.now();
  let last: JobRun | null = null;
  while (Date.now() - start < timeoutMs) {
    last = await api.getJobRun(runId);
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`run ${runId} did not reach the expected state in ${timeoutMs} ms; last: ${last?.lifecycleState} ${last?.lifecycleDetails}`);
}

/** Creates a project + job with the given artifact content and file name, uploads it; returns the job. */
export async function createJob(
  s: TestServer,
  fileName: string,
  content: string | Buffer,
  opts: {
    env?: Record<string, string>;
    args?: string;
    maxRuntimeMinutes?: number;
    shape?: string;
    ocpus?: number;
    memoryInGBs?: number;
    projectId?: string;
    /** OCI's jobEnvironmentConfigurationDetails: a container job (OCIR_CONTAINER). */
    environment?: Record<string, unknown>;
  } = {},
) {
  const projectId = opts.projectId ?? (await s.api.createProject({ compartmentId: s.compartmentId, displayName: 'test' })).id;
  const shape = opts.shape ?? 'Local.Light';
  const job = await s.api.createJob({
    projectId,
    compartmentId: s.compartmentId,
    displayName: fileName,
    jobConfigurationDetails: {
      jobType: 'DEFAULT',
      environmentVariables: opts.env,
      commandLineArguments: opts.args,
      maximumRuntimeInMinutes: opts.maxRuntimeMinutes,
    },
    jobInfrastructureConfigurationDetails: {
      jobInfrastructureType: 'ME_STANDALONE',
      shapeName: shape,
      blockStorageSizeInGBs: 50,
      jobShapeConfigDetails: opts.ocpus !== undefined || opts.memoryInGBs !== undefined ? { ocpus: opts.ocpus, memoryInGBs: opts.memoryInGBs } : undefined,
    },
    ...(opts.environment ? { jobEnvironmentConfigurationDetails: opts.environment } : {}),
  });
  const buf = typeof content === 'string' ? Buffer.from(content) : content;
  await s.api.uploadArtifact(job.id, fileName, buf, buf.length);
  return s.api.getJob(job.id);
}

/** Starts a run with optional overrides. */
export function startRun(
  s: TestServer,
  job: { id: string; projectId: string },
  o: { env?: Record<string, string>; args?: string; maxRuntimeMinutes?: number; shape?: string; displayName?: string } = {},
) {
  const hasOverride = o.env || o.args !== undefined || o.maxRuntimeMinutes !== undefined;
  return s.api.createJobRun({
    projectId: job.projectId,
    compartmentId: s.compartmentId,
    jobId: job.id,
    displayName: o.displayName,
    jobConfigurationOverrideDetails: hasOverride
      ? { jobType: 'DEFAULT', environmentVariables: o.env, commandLineArguments: o.args, maximumRuntimeInMinutes: o.maxRuntimeMinutes }
      : undefined,
    jobInfrastructureConfigurationOverrideDetails: o.shape
      ? { jobInfrastructureType: 'ME_STANDALONE', shapeName: o.shape, blockStorageSizeInGBs: 50 }
      : undefined,
  });
}

/** All log records of a run (not following). */
export async function readLogs(s: TestServer, runId: string, since = 0) {
  const out = [];
  for await (const rec of s.api.logs(runId, { since })) out.push(rec);
  return out;
}
