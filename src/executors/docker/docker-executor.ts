import { chmodSync, constants as fsc, copyFileSync, mkdirSync, promises as fsp, writeFileSync } from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import { archiveKindOf, extractArchive, type ArchiveLimits } from '../../archive/archive.js';
import { startEnvironment, type LaunchPlan } from '../../domain/launch.js';
import type { Resources } from '../../domain/resources.js';
import type {
  CleanupOptions,
  Executor,
  ExecutorHandle,
  ExitStatus,
  LaunchRequest,
  LaunchResult,
  Recovered,
  ResourceSample,
  RunIsolation,
} from '../executor.js';
import { containerSpec, GPUS_LABEL, IDENTITY_DIR, pidsLimitFor, RUN_LABEL, VOLUME_LABEL } from './container-spec.js';
import { decodeDockerHandle, DOCKER_HANDLE_VERSION, encodeDockerHandle, type DockerHandle } from './handle.js';
import { ApiBridge } from './api-bridge.js';
import { readyImage, type RegistryCredentials } from './images.js';
import { LogPump } from './log-pump.js';
import { containerReading, type CpuReading, type DockerStats } from './sampling.js';
import { directoryBytes } from '../local/sampling.js';
import type { SharedGpus, SharedVolumes } from '../local/local-executor.js';
import { readGpus, type GpuReading } from '../local/gpus.js';
import { spaceUsage, type Volume } from '../local/volume.js';

export interface DockerExecutorOptions {
  /** The engine's API socket (Docker's, or Podman's Docker-compatible one). */
  socketPath: string;
  runsDir: string;
  capacity: Resources;
  archiveLimits: ArchiveLimits;
  keepWorkDirs: boolean;
  pidsMax: number;
  pidsPerCpu: number;
  pull: 'missing' | 'never';
  registries: RegistryCredentials[];
  /** The host's pooled block storage volumes (the local executor's), null: the space is a plain directory. */
  volumes: SharedVolumes | null;
  /** The host's GPUs (the local executor's pool); a GPU shape's container gets its share as device requests. */
  gpus: SharedGpus;
  /** Reads the GPUs' use when sampling (nvidia-smi). */
  nvidiaSmiCommand?: string;
}

/** What the engine answered at start: whether containers can run here, and why not. */
export type EngineState = { available: true; version: string } | { available: false; reason: string };

const SPACE = 'space';
/** A run that failed with less than this left on its volume ran out of block storage (the local executor's rule). */
const VOLUME_FULL_BYTES = 1024 * 1024;
const isGone = (e: unknown) => (e as { statusCode?: number }).statusCode === 404;

/**
 * Runs container jobs on Docker Engine through its API (dockerode), with the run contract of local runs
 * (container-spec.ts says how each part maps). The run's output goes through Docker's json-file log into the run's
 * two log files (log-pump.ts); a restarted server finds its containers by the run id label.
 */
export class DockerExecutor implements Executor {
  readonly name = 'docker';
  private readonly docker: Docker;
  private engine: EngineState = { available: false, reason: 'not checked yet' };
  /** The log copy of each run this server follows, by container id: settled when the container's log has ended. */
  private readonly pumps = new Map<string, { done: Promise<void>; stop: () => void }>();
  /** How container runs on the bridge reach a loopback API endpoint (api-bridge.ts). */
  private readonly apiBridge = new ApiBridge();
  /** Each sampled run's CPU time at the previous round (CPU use is the difference). */
  private readonly lastCpu = new Map<string, CpuReading>();

  constructor(private readonly opts: DockerExecutorOptions) {
    this.docker = new Docker({ socketPath: opts.socketPath });
  }

  /** Asks the engine whether it answers (the start-up report says what it found). */
  async init(): Promise<EngineState> {
    try {
      const v = await this.docker.version();
      this.engine = { available: true, version: `${v.Version} (API ${v.ApiVersion})` };
    } catch (e) {
      this.engine = { available: false, reason: `no container engine answers on ${this.opts.socketPath}: ${(e as Error).message}` };
    }
    return this.engine;
  }

  /** Containers are off by configuration: the engine is not asked. */
  disable(reason: string): void {
    this.engine = { available: false, reason };
  }

  /**
   * Makes the run endpoint reachable from containers on Docker's default bridge where it is a loopback one (see
   * api-bridge.ts). Call once the API listens, before runs are given the endpoint. Resolves with the start-up report's
   * line (null: nothing to do, the engine is off or the endpoint is not a loopback one).
   */
  async bridgeApi(endpoint: string, apiOnAllAddresses: boolean): Promise<{ on: boolean; line: string } | null> {
    if (!this.engine.available) return null;
    let where = 'the bridge network could not be inspected';
    try {
      const net = (await this.docker.getNetwork('bridge').inspect()) as { IPAM?: { Config?: { Gateway?: string; Subnet?: string }[] } };
      const cfg = (net.IPAM?.Config ?? []).find((c) => c.Gateway && c.Subnet && !c.Subnet.includes(':'));
      if (!cfg) throw new Error('it has no IPv4 gateway');
      where = `the bridge's gateway ${cfg.Gateway}`;
      const to = await this.apiBridge.start(endpoint, { gateway: cfg.Gateway!, subnet: cfg.Subnet! }, apiOnAllAddresses);
      if (!to) return null;
      const how = apiOnAllAddresses ? 'the server listens on all addresses' : `the bridge's gateway, forwarded to the API only, from the bridge's subnet ${cfg.Subnet} only`;
      return { on: true, line: `containers: runs on the bridge reach the API at ${to} (${how})` };
    } catch (e) {
      return {
        on: false,
        line: `containers: runs cannot reach the API at ${endpoint} (a loopback address; ${where} could not take its port: ${(e as Error).message}); set runEndpoint to an address containers reach`,
      };
    }
  }

  get state(): EngineState {
    return this.engine;
  }

  capacity(): Resources {
    return this.opts.capacity;
  }

  private runDir(runId: string): string {
    return path.join(this.opts.runsDir, runId);
  }

  logFiles(handle: ExecutorHandle): { stdout: string; stderr: string } {
    return this.filesOf(this.checked(handle).runDir);
  }

  private filesOf(runDir: string): { stdout: string; stderr: string } {
    return { stdout: path.join(runDir, 'stdout.log'), stderr: path.join(runDir, 'stderr.log') };
  }

  private checked(h: ExecutorHandle): DockerHandle {
    return decodeDockerHandle(h, this.opts.runsDir);
  }

  async start(req: LaunchRequest): Promise<LaunchResult> {
    if (!this.engine.available) throw new Error(`container runs cannot start: ${this.engine.reason}`);
    const { plan, runId } = req;
    if (!plan.container) throw new Error('the docker executor runs container jobs only');
    const image = await readyImage(this.docker, plan.container, this.opts);
    const runDir = this.runDir(runId);
    mkdirSync(runDir, { recursive: true });
    // The run's space: a pooled volume of its block storage size (the same as a local run's), else a directory.
    const size = plan.blockStorageSizeInGBs;
    // A GPU shape's GPUs, from the pool local runs take theirs from (admission counted them free).
    const gpus = this.opts.gpus.assign(runId, plan.resources.gpus);
    let volume: Volume | null = null;
    try {
      volume = size && this.opts.volumes ? await this.opts.volumes.take(size * 1024 ** 3) : null;
      return await this.startIn(req, image, runDir, volume, gpus);
    } catch (e) {
      if (volume) await this.opts.volumes!.release(volume, false).catch(() => {});
      this.opts.gpus.release(runId);
      throw e;
    }
  }

  private async startIn(
    req: LaunchRequest,
    image: { id: string; labels: Record<string, string> },
    runDir: string,
    volume: Volume | null,
    gpus: string[],
  ): Promise<LaunchResult> {
    const { plan, runId } = req;
    const space = volume ? volume.mountPoint : path.join(runDir, SPACE);
    const work = path.join(space, 'work');
    const tmp = path.join(space, 'tmp');
    // A leftover of a start that died before its container was made: start clean (a volume comes emptied).
    if (!volume) await fsp.rm(space, { recursive: true, force: true });
    for (const d of [space, work, tmp]) {
      mkdirSync(d, { recursive: true });
      // Whatever user the image runs as writes here (mkdir's mode is cut by the umask); the sticky bit as on /tmp.
      chmodSync(d, 0o1777);
    }
    if (plan.artifactFileName) await this.placeArtifact(plan, req.artifactPath, work);
    // A run on the bridge reaches a loopback API endpoint through the bridge's gateway; with networking NONE, nothing.
    const env = { ...startEnvironment(plan, req.startEnv) };
    if (plan.network && env.DSJOBS_ENDPOINT) env.DSJOBS_ENDPOINT = this.apiBridge.endpointFor(env.DSJOBS_ENDPOINT);
    let identity: string | null = null;
    if (req.privateFiles?.length) {
      identity = path.join(space, 'identity');
      mkdirSync(identity, { mode: 0o755 });
      for (const f of req.privateFiles) {
        if (f.name.includes('/') || f.name.startsWith('.')) throw new Error(`a private file's name must be a plain name: ${f.name}`);
        // Readable by the image's user, whichever it is; only this run's container has the directory.
        writeFileSync(path.join(identity, f.name), f.content, { mode: 0o444, flag: 'wx' });
        env[f.env] = path.posix.join(IDENTITY_DIR, f.name);
      }
    }
    const files = this.filesOf(runDir);
    for (const f of [files.stdout, files.stderr]) await fsp.writeFile(f, '', { flag: 'a' });
    const pidsLimit = pidsLimitFor(plan.resources.cpus, this.opts.pidsPerCpu, this.opts.pidsMax);
    const spec = containerSpec({ runId, plan, env: { ...env }, work, tmp, identity, imageLabels: image.labels, pidsLimit, image: image.id, volume, gpus });
    const imageName = plan.container!.image;
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer(spec);
    } catch (e) {
      throw new Error(`image ${imageName}: the container could not be created: ${reason(e)}`);
    }
    const handle: DockerHandle = { v: DOCKER_HANDLE_VERSION, runDir, containerId: container.id, ...(volume ? { volume } : {}), ...(gpus.length ? { gpus } : {}) };
    try {
      await container.start();
    } catch (e) {
      await container.remove({ force: true }).catch(() => {});
      throw new Error(`image ${imageName}: the container could not start: ${reason(e)}`);
    }
    this.follow(handle);
    return { handle: encodeDockerHandle(handle), logFiles: files, isolation: this.isolation(plan, spec.HostConfig?.ReadonlyRootfs === true, volume !== null, gpus) };
  }

  private async placeArtifact(plan: LaunchPlan, artifactPath: string, work: string): Promise<void> {
    const kind = archiveKindOf(plan.artifactFileName);
    if (!kind) {
      const target = path.join(work, path.basename(plan.artifactFileName));
      // A copy, not a link: a run that rewrites its own script cannot change the job's immutable artifact.
      copyFileSync(artifactPath, target, fsc.COPYFILE_FICLONE);
      chmodSync(target, 0o755);
      return;
    }
    await extractArchive(artifactPath, kind, work, this.opts.archiveLimits);
  }

  private isolation(plan: LaunchPlan, readOnlyRoot: boolean, volume: boolean, gpus: string[]): RunIsolation {
    const warnings = volume ? [] : ["block storage: the working directory and /tmp are a directory of the server's data disk; their size is not enforced"];
    if (!readOnlyRoot) warnings.push('root file system: writable (the image asks for it with the label com.dsjobs.writable-rootfs=true)');
    return {
      sandbox: 'CONTAINER',
      network: plan.network ? 'HOST' : 'NONE',
      cpuLimit: 'ENFORCED',
      memoryLimit: 'ENFORCED',
      processTree: 'PID_NAMESPACE',
      blockStorage: volume ? 'VOLUME' : 'NOT_ENFORCED',
      gpus,
      warnings,
    };
  }

  /** Copies the container's output into the run's log files until its log ends (the container stopped). */
  private follow(handle: DockerHandle): Promise<void> {
    const known = this.pumps.get(handle.containerId);
    if (known) return known.done;
    const pump = new LogPump(handle.runDir, this.filesOf(handle.runDir));
    let stream: NodeJS.ReadableStream | null = null;
    let stopped = false;
    const done = (async () => {
      try {
        stream = await this.docker.getContainer(handle.containerId).logs({ follow: true, stdout: true, stderr: true });
        if (stopped) (stream as unknown as { destroy(): void }).destroy();
        await new Promise<void>((resolve, reject) => {
          stream!.on('data', (c: Buffer) => pump.push(c));
          stream!.on('end', () => resolve());
          stream!.on('close', () => resolve());
          stream!.on('error', (e) => (stopped ? resolve() : reject(e)));
        });
      } catch (e) {
        if (!isGone(e)) throw e;
      } finally {
        pump.close();
      }
    })();
    const entry = {
      done,
      stop: () => {
        stopped = true;
        (stream as unknown as { destroy(): void } | null)?.destroy();
      },
    };
    this.pumps.set(handle.containerId, entry);
    return done;
  }

  private async statusOf(handle: DockerHandle): Promise<ExitStatus & { running: boolean }> {
    const info = await this.docker.getContainer(handle.containerId).inspect();
    const s = info.State;
    if (s.Running || s.Restarting || s.Status === 'created') return { running: true, exitCode: null, signal: null };
    // Docker's init (tini) exits 128+N when the run's process died of signal N, as a shell reports it.
    const status = { running: false, exitCode: s.ExitCode, signal: null };
    if (s.ExitCode === 0) return status;
    if (s.OOMKilled) return { ...status, exhausted: 'memory' };
    const usage = handle.volume ? spaceUsage(handle.volume.mountPoint) : null;
    if (usage && usage.availableBytes < VOLUME_FULL_BYTES) return { ...status, exhausted: 'blockStorage' };
    return status;
  }

  async wait(h: ExecutorHandle): Promise<ExitStatus> {
    const handle = this.checked(h);
    const logs = this.follow(handle);
    try {
      await this.docker.getContainer(handle.containerId).wait({ condition: 'not-running' });
      const st = await this.statusOf(handle);
      await logs.catch(() => {});
      return { exitCode: st.exitCode, signal: st.signal, ...(st.exhausted ? { exhausted: st.exhausted } : {}) };
    } catch {
      await logs.catch(() => {});
      return { exitCode: null, signal: null };
    }
  }

  /**
   * A container another replica started on this engine (sharedEngine; that replica was lost): this server copies its
   * log into a run directory of its own, from the first message of the container's log (kept by the engine until the
   * container is removed), so the whole log is readable here with nothing lost or doubled. The block storage volume
   * and GPUs the handle names were taken from the pools of the replica that started it, which this one does not hold:
   * the handle drops them (that replica's next start removes a volume no run of its holds), so the run's working
   * directory stays where it was.
   */
  async adopt(h: ExecutorHandle, runId: string): Promise<ExecutorHandle> {
    const runDir = this.runDir(runId);
    // The stored handle's run directory is under the other replica's data directory: every other field is checked.
    const theirs = decodeDockerHandle({ ...h, runDir }, this.opts.runsDir);
    mkdirSync(runDir, { recursive: true });
    const files = this.filesOf(runDir);
    for (const f of [files.stdout, files.stderr]) await fsp.writeFile(f, '', { flag: 'a' });
    return encodeDockerHandle({ v: DOCKER_HANDLE_VERSION, runDir, containerId: theirs.containerId });
  }

  /** Stops copying the container's log here (the replica that adopted it copies it); the container is left alone. */
  letGo(h: ExecutorHandle): void {
    let handle: DockerHandle;
    try {
      handle = this.checked(h);
    } catch {
      return;
    }
    const pump = this.pumps.get(handle.containerId);
    if (!pump) return;
    pump.stop();
    this.pumps.delete(handle.containerId);
  }

  async signal(h: ExecutorHandle, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    let handle: DockerHandle;
    try {
      handle = this.checked(h);
    } catch {
      return;
    }
    // To PID 1, Docker's init, which passes it on to the run's process (`docker stop` sends SIGTERM, then SIGKILL
    // after the grace period: the run lifecycle keeps that clock).
    await this.docker.getContainer(handle.containerId).kill({ signal }).catch(() => {});
  }

  async find(runId: string): Promise<ExecutorHandle | null> {
    if (!this.engine.available) return null;
    const list = await this.docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${runId}`] } });
    const c = list[0];
    if (!c) return null;
    // The volume as the label recorded it: the decoder checks it as it checks a stored handle.
    let volume: DockerHandle['volume'];
    try {
      volume = c.Labels[VOLUME_LABEL] ? (JSON.parse(c.Labels[VOLUME_LABEL]) as DockerHandle['volume']) : undefined;
    } catch {
      volume = undefined;
    }
    const gpus = c.Labels[GPUS_LABEL] ? c.Labels[GPUS_LABEL].split(',') : [];
    return encodeDockerHandle({ v: DOCKER_HANDLE_VERSION, runDir: this.runDir(runId), containerId: c.Id, ...(volume ? { volume } : {}), ...(gpus.length ? { gpus } : {}) });
  }

  async recover(h: ExecutorHandle): Promise<Recovered> {
    let handle: DockerHandle;
    try {
      handle = this.checked(h);
    } catch (e) {
      return { state: 'lost', reason: (e as Error).message };
    }
    if (!this.engine.available) return { state: 'lost', reason: `its container cannot be reached: ${this.engine.reason}` };
    let st;
    try {
      st = await this.statusOf(handle);
    } catch (e) {
      if (isGone(e)) return { state: 'lost', reason: `its container ${handle.containerId.slice(0, 12)} is gone` };
      return { state: 'lost', reason: `its container could not be inspected: ${reason(e)}` };
    }
    // Its volume is a run's: the sweep after recovery must leave it.
    if (handle.volume) this.opts.volumes?.hold(handle.volume.mountPoint);
    if (handle.gpus) this.opts.gpus.hold(path.basename(handle.runDir), handle.gpus);
    const logs = this.follow(handle);
    if (st.running) return { state: 'running' };
    // Ended while the server was down: what it wrote meanwhile is copied before the run is settled.
    await logs.catch(() => {});
    return { state: 'exited', status: { exitCode: st.exitCode, signal: st.signal, ...(st.exhausted ? { exhausted: st.exhausted } : {}) } };
  }

  async discard(runId: string): Promise<void> {
    if (this.engine.available) {
      const list = await this.docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${runId}`] } });
      for (const c of list) await this.docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
    }
    this.opts.gpus.release(runId);
    if (!this.opts.keepWorkDirs) await fsp.rm(path.join(this.runDir(runId), SPACE), { recursive: true, force: true });
  }

  async afterRecovery(ended: (runIds: readonly string[]) => Promise<ReadonlySet<string>>): Promise<void> {
    if (!this.engine.available) return;
    // Containers of runs this store knows as ended (their cleanup was cut short) go; a container named after a run
    // the store does not know (another server's, on a shared engine) is left alone.
    const list = await this.docker.listContainers({ all: true, filters: { label: [RUN_LABEL] } });
    const byRun = new Map(list.map((c) => [c.Labels[RUN_LABEL]!, c.Id]));
    if (byRun.size === 0) return;
    for (const runId of await ended([...byRun.keys()])) {
      await this.docker.getContainer(byRun.get(runId)!).remove({ force: true }).catch(() => {});
    }
  }

  async cleanup(h: ExecutorHandle, opts: CleanupOptions = {}): Promise<void> {
    const handle = this.checked(h);
    const pump = this.pumps.get(handle.containerId);
    // Removing the container kills whatever of it still runs and deletes its Docker log (copied by now).
    await this.docker.getContainer(handle.containerId).remove({ force: true }).catch((e) => {
      if (!isGone(e)) throw e;
    });
    if (pump) {
      await pump.done.catch(() => {});
      this.pumps.delete(handle.containerId);
    }
    this.opts.gpus.release(path.basename(handle.runDir));
    const volume = handle.volume && this.opts.volumes?.owns(handle.volume.mountPoint) ? handle.volume : null;
    const space = volume ? volume.mountPoint : path.join(handle.runDir, SPACE);
    // The container is gone (removed above): nothing of the run writes to its work directory any more.
    if (opts.beforeRelease) await opts.beforeRelease(path.join(space, 'work'));
    await fsp.rm(path.join(space, 'identity'), { recursive: true, force: true });
    if (volume) {
      // The next run of the pool may be a local one: its directories get the modes a local run's have.
      for (const d of ['work', 'tmp']) await fsp.chmod(path.join(space, d), 0o755).catch(() => {});
      await this.opts.volumes!.release(volume, this.opts.keepWorkDirs);
    } else if (!this.opts.keepWorkDirs) {
      await fsp.rm(space, { recursive: true, force: true });
    }
  }

  async sample(runs: { runId: string; handle: ExecutorHandle; resources: Resources }[]): Promise<Map<string, ResourceSample>> {
    const out = new Map<string, ResourceSample>();
    const gpuReadings = runs.some((r) => Array.isArray(r.handle.gpus) && r.handle.gpus.length > 0)
      ? new Map((await readGpus(this.opts.nvidiaSmiCommand)).map((g) => [g.uuid, g]))
      : new Map<string, GpuReading>();
    await Promise.all(
      runs.map(async (r) => {
        try {
          const handle = this.checked(r.handle);
          // one-shot: the engine answers at once instead of waiting a second for a second reading of its own.
          const stats = (await this.docker.getContainer(handle.containerId).stats({ stream: false, 'one-shot': true } as { stream: false })) as DockerStats;
          const { sample, cpu } = containerReading(stats, r.resources, process.hrtime.bigint(), this.lastCpu.get(r.runId));
          if (cpu) this.lastCpu.set(r.runId, cpu);
          out.set(r.runId, { ...sample, ...(await this.diskUse(handle)), ...gpuUse((handle.gpus ?? []).flatMap((u) => gpuReadings.get(u) ?? [])) });
        } catch {
          /* a run whose reading fails is left out */
        }
      }),
    );
    const sampled = new Set(runs.map((r) => r.runId));
    for (const id of this.lastCpu.keys()) if (!sampled.has(id)) this.lastCpu.delete(id);
    return out;
  }

  /** The run's space in use: of its volume, or (no volume) the bytes under its directory, as for a local run. */
  private async diskUse(handle: DockerHandle): Promise<Pick<ResourceSample, 'diskBytes' | 'diskPercent'>> {
    if (handle.volume) {
      const u = spaceUsage(handle.volume.mountPoint);
      return u && u.totalBytes > 0 ? { diskBytes: u.usedBytes, diskPercent: Math.round((10_000 * u.usedBytes) / u.totalBytes) / 100 } : { diskBytes: null, diskPercent: null };
    }
    return { diskBytes: await directoryBytes(path.join(handle.runDir, SPACE)), diskPercent: null };
  }

  async forget(runId: string): Promise<void> {
    await fsp.rm(this.runDir(runId), { recursive: true, force: true });
  }

  protections(): { enforced: string[]; off: string[] } {
    if (!this.engine.available) return { enforced: [], off: [`containers: ${this.engine.reason}; container jobs are refused at create`] };
    const enforced = [
      `containers on Docker Engine ${this.engine.version} at ${this.opts.socketPath}: no added capabilities, no-new-privileges, the default seccomp profile, ` +
        `processes per run ${this.opts.pidsPerCpu} per CPU (${256} to ${this.opts.pidsMax}), the shape's CPUs and memory as limits, read-only root file system, no engine socket inside` +
        (this.opts.volumes ? ", the run's block storage volume as its working directory and /tmp" : ''),
    ];
    const off: string[] = [];
    if (!this.opts.volumes) off.push('containers: block storage size not enforced (a directory of the data disk: the host has no volumes)');
    const n = this.opts.gpus.count;
    if (n > 0) {
      enforced.push(
        `containers: GPUs: a GPU shape's run gets its own of the host's ${n} as device requests (--gpus device=UUID; the engine needs the NVIDIA Container Toolkit)`,
      );
    } else off.push('containers: GPUs: the host has none');
    return { enforced, off };
  }


  /**
   * Loads the images of a `docker save` tarball into the engine (for hosts with no registry); resolves with what the
   * engine says it loaded ("Loaded image: NAME:TAG" or "Loaded image ID: sha256:..."), or rejects with its reason.
   */
  async loadImages(tarball: NodeJS.ReadableStream): Promise<string[]> {
    if (!this.engine.available) throw new Error(`images cannot be loaded: ${this.engine.reason}`);
    const out = await this.docker.loadImage(tarball, { quiet: true });
    const loaded: string[] = [];
    let failure: string | null = null;
    for await (const chunk of out as AsyncIterable<Buffer>) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        const m = JSON.parse(line) as { stream?: string; error?: string };
        if (m.error) failure = m.error.trim();
        const name = /^Loaded image(?: ID)?: (\S+)/.exec(m.stream?.trim() ?? '');
        if (name) loaded.push(name[1]!);
      }
    }
    if (failure) throw new Error(failure);
    return loaded;
  }

  /** The engine's images (tagged ones: what a job's image can name). */
  async listImages(): Promise<{ id: string; repoTags: string[]; sizeInBytes: number; timeCreated: string }[]> {
    if (!this.engine.available) throw new Error(`images cannot be listed: ${this.engine.reason}`);
    const list = await this.docker.listImages();
    return list.map((i) => ({
      id: i.Id,
      repoTags: (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>'),
      sizeInBytes: i.Size,
      timeCreated: new Date(i.Created * 1000).toISOString(),
    }));
  }

  async close(): Promise<void> {
    await this.apiBridge.close();
    for (const p of this.pumps.values()) p.stop();
    await Promise.all([...this.pumps.values()].map((p) => p.done.catch(() => {})));
    this.pumps.clear();
  }
}

function reason(e: unknown): string {
  const json = (e as { json?: { message?: string } }).json;
  return (json?.message ?? (e as Error).message ?? String(e)).trim();
}

/** The run's GPUs' use, averaged over them (null where none was read), as a local run's. */
function gpuUse(readings: GpuReading[]): Pick<ResourceSample, 'gpuPercent' | 'gpuMemoryPercent'> {
  const avg = (xs: (number | null)[]) => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length === 0 ? null : Math.round((100 * v.reduce((a, b) => a + b, 0)) / v.length) / 100;
  };
  return {
    gpuPercent: avg(readings.map((g) => g.utilizationPercent)),
    gpuMemoryPercent: avg(readings.map((g) => (g.memoryUsedMiB !== null && g.memoryTotalMiB ? (100 * g.memoryUsedMiB) / g.memoryTotalMiB : null))),
  };
}
