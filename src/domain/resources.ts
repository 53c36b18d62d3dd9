/** What a run occupies while it runs, and what the machine (or an engine) offers. */
export interface Resources {
  cpus: number;
  memoryInGBs: number;
  gpus: number;
}

export const ZERO: Resources = { cpus: 0, memoryInGBs: 0, gpus: 0 };

// Floating point sums of fractional CPUs (0.25 + 0.1 ...) drift; compare with a small tolerance.
const EPS = 1e-9;

export function fits(need: Resources, free: Resources): boolean {
  return need.cpus <= free.cpus + EPS && need.memoryInGBs <= free.memoryInGBs + EPS && need.gpus <= free.gpus + EPS;
}

export function add(a: Resources, b: Resources): Resources {
  return { cpus: a.cpus + b.cpus, memoryInGBs: a.memoryInGBs + b.memoryInGBs, gpus: a.gpus + b.gpus };
}

export function subtract(a: Resources, b: Resources): Resources {
  return { cpus: a.cpus - b.cpus, memoryInGBs: a.memoryInGBs - b.memoryInGBs, gpus: a.gpus - b.gpus };
}

const round = (n: number) => Math.round(n * 100) / 100;

export function describe(r: Resources): string {
  const parts = [`${round(r.cpus)} CPU`, `${round(r.memoryInGBs)} GB memory`];
  if (r.gpus > 0) parts.push(`${r.gpus} GPU`);
  return parts.join(', ');
}

/** Names what is short, e.g. "memory (needs 16 GB, 8 GB free)". */
export function shortfall(need: Resources, free: Resources): string[] {
  const out: string[] = [];
  if (need.cpus > free.cpus + EPS) out.push(`CPU (needs ${round(need.cpus)}, ${round(Math.max(0, free.cpus))} free)`);
  if (need.memoryInGBs > free.memoryInGBs + EPS)
    out.push(`memory (needs ${round(need.memoryInGBs)} GB, ${round(Math.max(0, free.memoryInGBs))} GB free)`);
  if (need.gpus > free.gpus + EPS) out.push(`GPU (needs ${need.gpus}, ${Math.max(0, free.gpus)} free)`);
  return out;
}
