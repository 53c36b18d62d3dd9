import type { GpuInfo } from './gpus.js';

/** Which run holds which of the server's GPUs (by UUID). Admission already made sure enough are free. */
export class GpuPool {
  private readonly owners = new Map<string, string>();

  constructor(private readonly gpus: GpuInfo[]) {}

  /** Gives the run `count` free GPUs; their UUIDs. */
  assign(runId: string, count: number): string[] {
    if (count <= 0) return [];
    const free = this.gpus.filter((g) => !this.owners.has(g.uuid));
    if (free.length < count) throw new Error(`${count} GPU(s) needed, ${free.length} free on this server`);
    const picked = free.slice(0, count).map((g) => g.uuid);
    for (const u of picked) this.owners.set(u, runId);
    return picked;
  }

  /** A re-attached run keeps the GPUs its handle names (those this server still has). */
  hold(runId: string, uuids: readonly string[]): void {
    for (const u of uuids) if (this.gpus.some((g) => g.uuid === u)) this.owners.set(u, runId);
  }

  release(runId: string): void {
    for (const [u, owner] of this.owners) if (owner === runId) this.owners.delete(u);
  }

  /** GPU UUID -> the run holding it. */
  assignments(): Map<string, string> {
    return new Map(this.owners);
  }
}
