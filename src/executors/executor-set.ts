import type { LaunchPlan } from '../domain/launch.js';
import type { Resources } from '../domain/resources.js';
import type {
  CleanupOptions,
  Executor,
  ExecutorHandle,
  NodeGroupState,
  ExitStatus,
  LaunchRequest,
  LaunchResult,
  Recovered,
  ResourceSample,
} from './executor.js';

/**
 * An engine of an `ExecutorSet`: an executor, and which runs it serves. The set asks its engines in order; the first
 * whose `serves` says yes runs the plan (e.g. containers go to Docker, the shapes a cluster serves to Slurm, the rest
 * to local processes).
 */
export interface Engine {
  executor: Executor;
  serves(plan: LaunchPlan): boolean;
  /**
   * True when the engine admits runs itself (a cluster scheduler queues them): the server's own capacity is not
   * asked for them.
   */
  admitsItself?: boolean;
  /**
   * The server's own engine (local processes), wherever it is in the order: handles that name no engine are its,
   * and the server's capacity is its. Default: the first engine.
   */
  home?: boolean;
  /**
   * True when the engine's runs do not live on the server's machine (a cluster's jobs, their logs on a shared disk):
   * with several replicas, another replica can re-attach to them by their handle when the one that started them is
   * lost (service/replicas.ts).
   */
  outlivesServer?: boolean;
}

/** The field of a handle that names the engine which wrote it; handles without it are the home engine's. */
const ENGINE = 'engine';

/**
 * Several executors behind the one `Executor` interface, so the run lifecycle (service/runs.ts) has one executor to
 * talk to whatever runs where. Each handle carries the name of the engine that started it, so every later call
 * (wait, signal, recover, cleanup) reaches that engine, also after a restart. One engine is the home one (the local
 * executor): handles written before there were several engines have no name and are its, and the server's capacity
 * is its.
 */
export class ExecutorSet implements Executor {
  readonly name: string;
  private readonly byName = new Map<string, Engine>();

  private readonly home: Engine;

  /** `engines` in the order they are asked; the one marked `home` (default: the first) is the home engine. */
  constructor(private readonly engines: Engine[]) {
    if (engines.length === 0) throw new Error('an executor set needs at least one executor');
    this.home = engines.find((e) => e.home) ?? engines[0]!;
    for (const e of engines) {
      if (this.byName.has(e.executor.name)) throw new Error(`two executors are named '${e.executor.name}'`);
      this.byName.set(e.executor.name, e);
    }
    this.name = engines.map((e) => e.executor.name).join('+');
  }

  /** The engine that runs `plan`, or null when none does (the caller says why the run cannot be served). */
  route(plan: LaunchPlan): Engine | null {
    return this.engines.find((e) => e.serves(plan)) ?? null;
  }

  /** Why a storage mount of `plan` cannot reach the engine that runs it (runs.ts names the field), null: all can. */
  refusesMount(plan: LaunchPlan): { index: number; reason: string } | null {
    return this.route(plan)?.executor.refusesMount?.(plan) ?? null;
  }

  /** Where this server's own buckets are staged for a run of `plan`; null: the default (the server's data dir). */
  stagingDirFor(plan: LaunchPlan, runId: string): string | null {
    return this.route(plan)?.executor.mountStagingDir?.(runId) ?? null;
  }

  /** The engine named, if this set has it. */
  engine(name: string): Engine | null {
    return this.byName.get(name) ?? null;
  }

  /** Whether the server's capacity admits this run (false: its engine queues it itself). */
  admittedHere(plan: LaunchPlan): boolean {
    return !this.route(plan)?.admitsItself;
  }

  /** The name of the engine that wrote `handle`. */
  nameOf(handle: ExecutorHandle): string {
    const name = handle[ENGINE];
    return typeof name === 'string' ? name : this.home.executor.name;
  }

  private of(handle: ExecutorHandle): Executor {
    const name = handle[ENGINE];
    if (name === undefined) return this.home.executor;
    const e = typeof name === 'string' ? this.byName.get(name) : undefined;
    if (!e) throw new Error(`the run's handle names executor ${JSON.stringify(name)}, which this server does not have`);
    return e.executor;
  }

  /** The server's own capacity: what its home engine (local processes) hands out. */
  capacity(): Resources {
    return this.home.executor.capacity();
  }

  async start(req: LaunchRequest): Promise<LaunchResult> {
    const e = this.route(req.plan);
    if (!e) throw new Error(`no executor of this server runs this job (shape ${req.plan.shapeName})`);
    const r = await e.executor.start(req);
    return { ...r, handle: { ...r.handle, [ENGINE]: e.executor.name } };
  }

  /** Whether the run of `handle` lives off this server's machine, so another replica can re-attach to it (Engine.outlivesServer). */
  outlivesServer(handle: ExecutorHandle): boolean {
    const name = handle[ENGINE];
    return typeof name === 'string' && this.byName.get(name)?.outlivesServer === true;
  }

  /** The handle of a run another replica started, made this server's (Executor.adopt); as it is where its engine has no adopt. */
  async adopt(handle: ExecutorHandle, runId: string): Promise<ExecutorHandle> {
    const ex = this.of(handle);
    return ex.adopt ? { ...(await ex.adopt(handle, runId)), [ENGINE]: handle[ENGINE] } : handle;
  }

  /** Another replica took the run over: this server stops following it (Executor.letGo). */
  letGo(handle: ExecutorHandle): void {
    try {
      this.of(handle).letGo?.(handle);
    } catch {
      /* an engine this server does not have: it follows nothing of the run */
    }
  }

  /** Whether the engine of `handle` queues its runs itself (it has untilRunning). */
  queuesRuns(handle: ExecutorHandle): boolean {
    try {
      return this.of(handle).untilRunning !== undefined;
    } catch {
      return false;
    }
  }

  async untilRunning(handle: ExecutorHandle, waiting: (details: string) => void): Promise<boolean> {
    const ex = this.of(handle);
    return ex.untilRunning ? ex.untilRunning(handle, waiting) : true;
  }

  wait(handle: ExecutorHandle): Promise<ExitStatus> {
    return this.of(handle).wait(handle);
  }

  nodeGroups(handle: ExecutorHandle): NodeGroupState[] | null {
    try {
      const ex = this.of(handle);
      return ex.nodeGroups ? ex.nodeGroups(handle) : null;
    } catch {
      return null;
    }
  }

  async signal(handle: ExecutorHandle, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    let ex: Executor;
    try {
      ex = this.of(handle);
    } catch {
      return; // an engine this server does not have: nothing of it can be reached
    }
    await ex.signal(handle, signal);
  }

  async find(runId: string): Promise<ExecutorHandle | null> {
    for (const e of this.engines) {
      const h = await e.executor.find(runId);
      if (h) return { ...h, [ENGINE]: e.executor.name };
    }
    return null;
  }

  async recover(handle: ExecutorHandle): Promise<Recovered> {
    let ex: Executor;
    try {
      ex = this.of(handle);
    } catch (err) {
      return { state: 'lost', reason: (err as Error).message };
    }
    return ex.recover(handle);
  }

  async discard(runId: string): Promise<void> {
    for (const e of this.engines) await e.executor.discard(runId);
  }

  async afterRecovery(ended: (runIds: readonly string[]) => Promise<ReadonlySet<string>>): Promise<void> {
    for (const e of this.engines) await e.executor.afterRecovery(ended);
  }

  cleanup(handle: ExecutorHandle, opts?: CleanupOptions): Promise<void> {
    return this.of(handle).cleanup(handle, opts);
  }

  async sample(handles: { runId: string; handle: ExecutorHandle; resources: Resources }[]): Promise<Map<string, ResourceSample>> {
    const groups = new Map<Executor, typeof handles>();
    for (const h of handles) {
      let ex: Executor;
      try {
        ex = this.of(h.handle);
      } catch {
        continue;
      }
      groups.set(ex, [...(groups.get(ex) ?? []), h]);
    }
    const out = new Map<string, ResourceSample>();
    for (const [ex, hs] of groups) for (const [id, s] of await ex.sample(hs)) out.set(id, s);
    return out;
  }

  async forget(runId: string): Promise<void> {
    for (const e of this.engines) await e.executor.forget(runId);
  }

  protections(): { enforced: string[]; off: string[] } {
    if (this.engines.length === 1) return this.engines[0]!.executor.protections();
    const enforced: string[] = [];
    const off: string[] = [];
    for (const e of this.engines) {
      const p = e.executor.protections();
      enforced.push(...p.enforced.map((x) => `${e.executor.name}: ${x}`));
      off.push(...p.off.map((x) => `${e.executor.name}: ${x}`));
    }
    return { enforced, off };
  }

  logFiles(handle: ExecutorHandle): { stdout: string; stderr: string } {
    return this.of(handle).logFiles(handle);
  }

  async close(): Promise<void> {
    await Promise.all(this.engines.map((e) => e.executor.close()));
  }
}
