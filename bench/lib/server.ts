/**
 * Benchmark harness: a real dsjobs server process (node bin/dsjobs.js server, from dist/) on 127.0.0.1 port 0 with
 * its own data dir and DSJOBS_* environment; optionally with extra node flags (--cpu-prof). Same shape as
 * test/support/server.ts, plus node flags, graceful stop with a bound, and the process id for CPU accounting.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Http } from './http.js';
import { launchServer } from '../../test/support/server.js';
import type { RequestSigner } from '../../src/sdk/client.js';
import { configFileSigner } from '../../src/sdk/signer.js';
import { killRunProcesses, removeDataDir, unmountUnder } from '../../test/support/cleanup.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'bin', 'dsjobs.js');

export interface BenchServerOptions {
  /** DSJOBS_* settings (merged over DSJOBS_LOG_LEVEL=warn). */
  env?: Record<string, string>;
  /** Flags for node before the script, e.g. ['--cpu-prof', '--cpu-prof-dir=...']. */
  nodeArgs?: string[];
  dataDir?: string;
  /** A config file (--config), e.g. one whose shapes go to a Slurm cluster. */
  config?: string;
  /** Another build's bin/dsjobs.js (an A/B against it, bench/auth-cost.ts); default this checkout's. */
  bin?: string;
}

/** Servers alive now: an interrupted benchmark (Ctrl-C) still kills them and removes their data dirs. */
const live = new Set<BenchServer>();

/**
 * Data dirs of stopped servers, removed by removeStoppedDataDirs() when the whole benchmark run ends. Not after
 * each benchmark: on an ext4 without a journal (this VM's disk) the inode allocator skips every inode freed in the
 * last 60 s (360 s while its table block is dirty) one by one, so removing a finished benchmark's tens of thousands
 * of files made the next benchmark's file creations 10-50x dearer (0.2-0.8 ms each instead of ~15 us, measured
 * here with perf: recently_deleted / find_inode_bit) and charged the previous benchmark's clean-up to the next one.
 */
const stoppedDataDirs: string[] = [];

export function removeStoppedDataDirs(): void {
  for (const d of stoppedDataDirs.splice(0)) removeDataDir(d);
}
let hooked = false;
function hookSignals(): void {
  if (hooked) return;
  hooked = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const s of live) s.killNow();
      removeStoppedDataDirs();
      process.exit(130);
    });
  }
}

export class BenchServer {
  readonly http: Http;
  /** Signs as the administrator (the OCI config the server wrote) when the server's authentication is on. */
  readonly sign: RequestSigner | undefined;
  private exited: Promise<void>;
  private window: [number, number] | null = null;

  private constructor(
    readonly url: string,
    readonly compartmentId: string,
    readonly dataDir: string,
    readonly proc: ChildProcess,
    private readonly opts: BenchServerOptions,
    private readonly out: { text: string },
    private readonly spawnedAt: number,
  ) {
    this.sign = opts.env?.DSJOBS_AUTHENTICATION === 'on' ? configFileSigner(path.join(dataDir, 'oci', 'config')) : undefined;
    this.http = new Http(url, 64, this.sign);
    live.add(this);
    hookSignals();
    this.exited = new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  output(): string {
    return this.out.text;
  }

  /** With --cpu-prof: the measured phase, so the profile summary can leave out start-up and set-up. */
  beginMeasure(): void {
    this.window = [performance.now() - this.spawnedAt, Infinity];
  }
  endMeasure(): void {
    if (this.window) this.window[1] = performance.now() - this.spawnedAt;
  }

  static async start(opts: BenchServerOptions = {}): Promise<BenchServer> {
    const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'dsjobs-bench-'));
    const args = [...(opts.nodeArgs ?? []), opts.bin ?? BIN, 'server', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...(opts.config ? ['--config', opts.config] : [])];
    const spawnedAt = performance.now();
    // Authentication off unless a benchmark asks for it (benchmark 3 measures its cost beside the unsigned figure).
    const launched = await launchServer(args, { DSJOBS_LOG_LEVEL: 'warn', DSJOBS_AUTHENTICATION: 'off', ...opts.env });
    const { proc, url, compartmentId } = launched;
    const out = {
      get text() {
        return launched.output();
      },
    };
    return new BenchServer(url, compartmentId, dataDir, proc, opts, out, spawnedAt);
  }

  /** SIGTERM (graceful: a --cpu-prof profile is written), SIGKILL after `boundMs`. Data dir is kept. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', boundMs = 15_000): Promise<void> {
    this.http.close();
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    const t = setTimeout(() => this.proc.kill('SIGKILL'), boundMs);
    await this.exited;
    clearTimeout(t);
    live.delete(this);
    const prof = this.profileFile();
    if (prof && this.window) writeFileSync(prof.replace(/\.cpuprofile$/, '.window.json'), JSON.stringify({ fromMs: this.window[0], toMs: this.window[1] }));
  }

  private profileFile(): string | null {
    const args = this.opts.nodeArgs ?? [];
    const dir = args.find((a) => a.startsWith('--cpu-prof-dir='))?.slice('--cpu-prof-dir='.length);
    const name = args.find((a) => a.startsWith('--cpu-prof-name='))?.slice('--cpu-prof-name='.length);
    return dir && name ? path.join(dir, name) : null;
  }

  /** A new server process on the same data dir (after stop). */
  restart(): Promise<BenchServer> {
    // A second profile must not overwrite the first.
    const nodeArgs = this.opts.nodeArgs?.map((a) => (a.startsWith('--cpu-prof-name=') ? a.replace(/\.cpuprofile$/, '-restart.cpuprofile') : a));
    return BenchServer.start({ ...this.opts, nodeArgs, dataDir: this.dataDir });
  }

  /**
   * Stops the server and kills the run processes it left behind and unmounts their volumes; the data dir itself is
   * removed at the end of the benchmark run (removeStoppedDataDirs).
   */
  async close(): Promise<void> {
    await this.stop();
    live.delete(this);
    killRunProcesses(this.dataDir);
    unmountUnder(this.dataDir);
    stoppedDataDirs.push(this.dataDir);
  }

  /** Synchronous teardown for an interrupted benchmark. */
  killNow(): void {
    try {
      this.proc.kill('SIGKILL');
    } catch {
      /* gone */
    }
    // Wait (bounded) until the server is dead (gone or a zombie), so nothing writes into the dir being removed.
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      let state = '';
      try {
        const st = readFileSync(`/proc/${this.proc.pid}/stat`, 'utf8');
        state = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
      } catch {
        break;
      }
      if (state === 'Z') break;
    }
    try {
      removeDataDir(this.dataDir);
    } catch (e) {
      console.error(`could not remove ${this.dataDir}: ${(e as Error).message}`);
    }
  }

  // ---- API helpers ----
  /**
   * A job of `content`. Shape Local.Light (0.25 CPU) unless `ocpus` is given: with cgroups on, a run gets its
   * shape's CPUs and no more, so a benchmark whose run must not be the bottleneck asks for a whole CPU.
   */
  async createJob(
    fileName: string,
    content: string,
    opts: { args?: string; env?: Record<string, string>; ocpus?: number; shape?: string } = {},
  ): Promise<{ id: string; projectId: string }> {
    const project = await this.http.json<{ id: string }>('POST', '/projects', { compartmentId: this.compartmentId, displayName: 'bench' });
    const job = await this.http.json<{ id: string; projectId: string }>('POST', '/jobs', {
      projectId: project.id,
      compartmentId: this.compartmentId,
      displayName: fileName,
      jobConfigurationDetails: { jobType: 'DEFAULT', commandLineArguments: opts.args, environmentVariables: opts.env },
      jobInfrastructureConfigurationDetails:
        opts.ocpus === undefined
          ? { jobInfrastructureType: 'ME_STANDALONE', shapeName: opts.shape ?? 'Local.Light', blockStorageSizeInGBs: 50 }
          : {
              jobInfrastructureType: 'ME_STANDALONE',
              shapeName: 'VM.Standard.E4.Flex',
              blockStorageSizeInGBs: 50,
              jobShapeConfigDetails: { ocpus: opts.ocpus, memoryInGBs: 1 },
            },
    });
    const buf = Buffer.from(content);
    const up = await this.http.request('POST', `/jobs/${job.id}/artifact`, buf, 60_000, {
      'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(fileName)}`,
      'content-type': 'application/octet-stream',
    });
    if (up.status !== 200 && up.status !== 204) throw new Error(`artifact upload: HTTP ${up.status} ${up.body.toString().slice(0, 300)}`);
    return job;
  }

  runBody(job: { id: string; projectId: string }, args?: string): Record<string, unknown> {
    return {
      projectId: job.projectId,
      compartmentId: this.compartmentId,
      jobId: job.id,
      jobConfigurationOverrideDetails: args === undefined ? undefined : { jobType: 'DEFAULT', commandLineArguments: args },
    };
  }
}

export const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELED', 'DELETED']);
