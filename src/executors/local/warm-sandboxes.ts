/**
 * Warm sandboxes: a run's sandbox set up before the run exists, on a free block storage volume from the pool, so
 * that a run's start skips bubblewrap's set-up (namespaces, mounts, a fresh /proc and /dev: ~4 ms here, the larger
 * part of a sandboxed start) and its supervisor's fork and cgroup joins. Each is the same sandbox a run would get
 * (sandboxArgs for that volume as the run's space): its own mount, pid, IPC and UTS namespaces, the data directory
 * hidden, no capabilities, in cgroups of its own that get the run's limits before the run starts in it. The inner
 * supervisor waits inside for the run's command (supervisor.c, -W and -w). One sandbox serves one run, never two.
 *
 * Only runs whose sandbox would be that one use it: no storage mounts, no conda environment, no GPUs, default
 * networking; the others (and every run when none is ready) start their sandbox as before. This module keeps the
 * books; the executor starts and gives up the sandboxes (WarmLauncher).
 */
import type { RunCgroups } from './cgroups.js';
import type { Volume } from './volume.js';

export interface WarmSandbox {
  /** The warm supervisor (the run's supervisor once it has one). */
  pid: number;
  startTime: number;
  cgroups: RunCgroups | null;
}

export interface WarmLauncher {
  /** Starts a warm sandbox on a free volume. */
  start(v: Volume): Promise<WarmSandbox>;
  /** Gives one up unused: it is killed; resolves once it is gone and its cgroups are removed. */
  giveUp(w: WarmSandbox): Promise<void>;
  /** Resolves when the warm supervisor exits, or null when that cannot be watched. */
  exited(w: WarmSandbox): Promise<void> | null;
  /** Removes what is left of one that ended on its own (its cgroups). */
  dispose(w: WarmSandbox): Promise<void>;
}

export class WarmSandboxes {
  /** Volume mount point -> its ready sandbox. */
  private readonly ready = new Map<string, WarmSandbox>();
  /** Volume mount point -> the start in progress, and whether the volume was taken meanwhile. */
  private readonly starting = new Map<string, { done: Promise<void>; abandoned: boolean }>();
  private closed = false;

  constructor(
    private readonly max: number,
    private readonly launcher: WarmLauncher,
    private readonly onError: (e: Error) => void = () => {},
  ) {}

  /** Whether the volume has a sandbox ready. */
  has(mountPoint: string): boolean {
    return this.ready.has(mountPoint);
  }

  count(): number {
    return this.ready.size + this.starting.size;
  }

  /** A volume is free: it gets a sandbox if fewer than `max` are ready or starting. */
  offer(v: Volume): void {
    const key = v.mountPoint;
    if (this.closed || this.count() >= this.max || this.ready.has(key) || this.starting.has(key)) return;
    const entry = { done: Promise.resolve(), abandoned: false };
    entry.done = this.launcher.start(v).then(
      (w) => {
        this.starting.delete(key);
        // The volume went to a run (or the pool is closing) while its sandbox was being made.
        if (entry.abandoned || this.closed) return this.launcher.giveUp(w);
        this.ready.set(key, w);
        // Ended unused (its sandbox failed, or its supervisor was killed): forget it.
        void this.launcher.exited(w)?.then(() => {
          if (this.ready.get(key) !== w) return;
          this.ready.delete(key);
          return this.launcher.dispose(w);
        });
      },
      (e: Error) => {
        this.starting.delete(key);
        this.onError(e);
      },
    );
    this.starting.set(key, entry);
  }

  /**
   * The volume goes to a run. With `use`, its ready sandbox (if any) is returned for the run; without, or when
   * none is ready yet, a sandbox on it is given up (it must not outlive the volume's hand-over).
   */
  take(mountPoint: string, use: boolean): WarmSandbox | null {
    const w = this.ready.get(mountPoint);
    if (w) {
      this.ready.delete(mountPoint);
      if (use) return w;
      void this.launcher.giveUp(w).catch((e: Error) => this.onError(e));
      return null;
    }
    const s = this.starting.get(mountPoint);
    if (s) s.abandoned = true;
    return null;
  }

  /** Before a free volume is unmounted: its sandbox (ready or starting) is gone when this resolves. */
  async release(mountPoint: string): Promise<void> {
    const s = this.starting.get(mountPoint);
    if (s) {
      s.abandoned = true;
      await s.done;
    }
    const w = this.ready.get(mountPoint);
    if (w) {
      this.ready.delete(mountPoint);
      await this.launcher.giveUp(w);
    }
  }

  /** Gives every sandbox up (server shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.starting.values()].map((s) => s.done));
    const all = [...this.ready.values()];
    this.ready.clear();
    await Promise.all(all.map((w) => this.launcher.giveUp(w).catch((e: Error) => this.onError(e))));
  }
}
