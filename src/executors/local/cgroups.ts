import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fsBatch, fsError, type FsOp } from './fs-thread.js';

/**
 * Per-run cgroups: the shape's CPUs and memory as limits, a pids cap against fork bombs, the run's resource use
 * read from the kernel's counters, out-of-memory kills counted, and every process of the run found (and killed)
 * whatever it did to detach — setsid, double fork, a new process group.
 *
 * Two layouts exist in the wild:
 * - v1 (and "hybrid": v1 controllers plus a controller-less v2 tree at /sys/fs/cgroup/unified): one directory
 *   per controller, e.g. memory/<base>/<run>, cpu/<base>/<run>. The v2 tree, when present, adds cgroup.kill.
 * - v2 ("unified"): one directory per run with memory.max, cpu.max, pids.max, cgroup.kill. Controllers must be
 *   enabled in the parent's cgroup.subtree_control, and a cgroup with enabled controllers may not hold processes
 *   itself (the root excepted): run cgroups go beside the server's own cgroup, not under it.
 * Run cgroups live under a `dsjobs` directory next to (v2) or under (v1) the server's own cgroup, named by run id.
 */
export type CgroupMode = 'v1' | 'v2' | 'none';

export interface CgroupHost {
  mode: CgroupMode;
  /** v1: controller -> base directory for run cgroups. v2: 'unified' -> base directory. */
  bases: Partial<Record<Controller | 'unified', string>>;
  /** Why limits are off (mode none) or partly off. */
  notes: string[];
}

type Controller = 'memory' | 'cpu' | 'cpuacct' | 'pids' | 'freezer';
const V1_CONTROLLERS: Controller[] = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer'];

/** The directories of one run's cgroups; stored in the run's handle so a restarted server finds them. */
export interface RunCgroups {
  mode: 'v1' | 'v2';
  dirs: Partial<Record<Controller | 'unified', string>>;
}

export interface CgroupLimits {
  cpus: number;
  memoryBytes: number;
  pidsMax: number;
}

export interface CgroupUsage {
  /** Total CPU time of every process of the run, in nanoseconds. */
  cpuNs: number | null;
  /** Memory in use, page cache that can be dropped not counted. */
  memoryBytes: number | null;
  /** How many times the kernel's OOM killer killed a process of the run. */
  oomKills: number;
}

const CFS_PERIOD_US = 100_000;

function read(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** "4:memory:/a/b" lines of /proc/self/cgroup -> controller -> path; "0::/x" -> unified. */
export function parseProcCgroup(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[2] === '') out.unified = m[3];
    for (const c of m[2].split(',')) if (c) out[c] = m[3];
  }
  return out;
}

/**
 * Finds out what this host lets us do, by doing it: creates the base directories and a probe cgroup with limits
 * set, then removes the probe. Nothing is assumed from mount points alone (a read-only bind, a container without
 * delegation and an unprivileged user all look the same until a write fails).
 */
export function detectCgroups(opts: { root?: string; procSelfCgroup?: string; enabled?: boolean } = {}): CgroupHost {
  const root = opts.root ?? '/sys/fs/cgroup';
  if (opts.enabled === false) return { mode: 'none', bases: {}, notes: ['cgroups are turned off in the server config (cgroups: "off")'] };
  const own = parseProcCgroup(opts.procSelfCgroup ?? read('/proc/self/cgroup') ?? '');
  const notes: string[] = [];
  try {
    if (existsSync(path.join(root, 'cgroup.controllers'))) return detectV2(root, own, notes);
    if (existsSync(path.join(root, 'memory'))) return detectV1(root, own, notes);
    return { mode: 'none', bases: {}, notes: [`no cgroup file system found at ${root}`] };
  } catch (e) {
    return { mode: 'none', bases: {}, notes: [`cgroups are not writable here (${(e as Error).message})`] };
  }
}

function detectV1(root: string, own: Record<string, string>, notes: string[]): CgroupHost {
  const bases: CgroupHost['bases'] = {};
  // The controller-less v2 tree of a hybrid host kills a whole cgroup at once (cgroup.kill) and counts its CPU time
  // (cpu.stat): where it does both, the v1 freezer and cpuacct hierarchies add nothing, and each run makes and
  // removes two cgroups fewer (a cgroup's mkdir and rmdir were ~10% of the server's CPU per trivial run).
  const unified = path.join(root, 'unified');
  let unifiedBase: string | null = null;
  if (existsSync(path.join(unified, 'cgroup.procs'))) {
    try {
      unifiedBase = path.join(unified, own.unified ?? '/', 'dsjobs');
      mkdirSync(unifiedBase, { recursive: true });
    } catch (e) {
      unifiedBase = null;
      notes.push(`the v2 hierarchy at ${unified} is not writable (${(e as Error).message}): runs are killed through v1 only`);
    }
  }
  const unifiedKillsAndCounts =
    unifiedBase !== null && existsSync(path.join(unifiedBase, 'cgroup.kill')) && /^usage_usec /m.test(read(path.join(unifiedBase, 'cpu.stat')) ?? '');
  for (const c of V1_CONTROLLERS) {
    if (unifiedKillsAndCounts && (c === 'freezer' || c === 'cpuacct')) continue;
    const mount = path.join(root, c);
    if (!existsSync(path.join(mount, 'cgroup.procs'))) {
      if (c === 'memory' || c === 'cpu') throw new Error(`the ${c} controller is not mounted at ${mount}`);
      notes.push(`the ${c} cgroup controller is not mounted`);
      continue;
    }
    // Under the server's own cgroup, so whatever limits the server has also bound its runs.
    const base = path.join(mount, own[c] ?? '/', 'dsjobs');
    mkdirSync(base, { recursive: true });
    bases[c] = base;
  }
  if (unifiedBase) bases.unified = unifiedBase;
  const host: CgroupHost = { mode: 'v1', bases, notes };
  probe(host);
  return host;
}

function detectV2(root: string, own: Record<string, string>, notes: string[]): CgroupHost {
  const ownPath = own.unified ?? '/';
  // A cgroup with processes cannot enable controllers for children (the root excepted): put runs beside the
  // server's cgroup, in its parent, which only holds cgroups.
  const parent = ownPath === '/' ? root : path.join(root, path.dirname(ownPath));
  const want = ['memory', 'cpu', 'pids'];
  const available = (read(path.join(parent, 'cgroup.controllers')) ?? '').trim().split(/\s+/);
  for (const c of want) if (!available.includes(c)) throw new Error(`the ${c} controller is not available in ${parent}`);
  const enable = (dir: string) => {
    const enabled = (read(path.join(dir, 'cgroup.subtree_control')) ?? '').trim().split(/\s+/);
    const missing = want.filter((c) => !enabled.includes(c));
    if (missing.length > 0) writeFileSync(path.join(dir, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
  };
  enable(parent);
  const base = path.join(parent, 'dsjobs');
  mkdirSync(base, { recursive: true });
  enable(base);
  const host: CgroupHost = { mode: 'v2', bases: { unified: base }, notes };
  probe(host);
  return host;
}

function probe(host: CgroupHost): void {
  const name = `probe-${process.pid}-${Date.now()}`;
  const cg = createRunCgroups(host, name, { cpus: 1, memoryBytes: 256 * 1024 * 1024, pidsMax: 64 });
  removeRunCgroups(cg);
}

/**
 * The processes of all runs together: the pids limit of the `dsjobs` cgroup every run's (and warm sandbox's) cgroup is
 * in. The kernel counts a child cgroup's processes against each ancestor's limit, so one run cannot take the host's
 * last pids whatever its own limit. Returns the limit set, or null where there is no pids controller.
 */
export function setAllRunsPidsMax(host: CgroupHost, pidsMax: number): number | null {
  const base = host.mode === 'v1' ? host.bases.pids : host.mode === 'v2' ? host.bases.unified : undefined;
  if (!base || !existsSync(path.join(base, 'pids.max'))) return null;
  writeFileSync(path.join(base, 'pids.max'), String(pidsMax));
  return pidsMax;
}

/**
 * The CPU weight of all runs together against the server: the `dsjobs` cgroup every run's is in gets it, so when runs
 * and the server both want the CPUs the server (weight 100 on v2, 1024 shares on v1, the kernel's default) is ahead
 * and runs share what is left among themselves as their own weights say. `weight` is on v2's scale (1-10000, the
 * default 100); v1's cpu.shares are 1024 per 100. Returns what was set, or null where there is no cpu controller.
 */
export function setAllRunsCpuWeight(host: CgroupHost, weight: number): string | null {
  if (host.mode === 'v1' && host.bases.cpu && existsSync(path.join(host.bases.cpu, 'cpu.shares'))) {
    const shares = Math.max(2, Math.round((weight * 1024) / 100));
    writeFileSync(path.join(host.bases.cpu, 'cpu.shares'), String(shares));
    return `cpu.shares ${shares} for all runs together (the server: 1024)`;
  }
  if (host.mode === 'v2' && host.bases.unified && existsSync(path.join(host.bases.unified, 'cpu.weight'))) {
    writeFileSync(path.join(host.bases.unified, 'cpu.weight'), String(weight));
    return `cpu.weight ${weight} for all runs together (the server: 100)`;
  }
  return null;
}

/** The host's ceiling on processes and threads: the smaller of kernel.pid_max and kernel.threads-max. */
export function hostPidsLimit(): number {
  const vals = ['/proc/sys/kernel/pid_max', '/proc/sys/kernel/threads-max'].map((f) => num(read(f))).filter((n): n is number => n !== null && n > 0);
  return vals.length > 0 ? Math.min(...vals) : 32_768;
}

/** Makes the run's cgroups and sets its limits. Throws if the host refuses (the caller turns that into a message). */
export function createRunCgroups(host: CgroupHost, runName: string, limits: CgroupLimits): RunCgroups {
  const cg = runCgroupsFor(host, runName);
  const made: string[] = [];
  try {
    for (const dir of joinDirs(cg)) {
      try {
        mkdirSync(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      made.push(dir);
    }
    // A new cgroup's memory limits are unlimited: they only come down.
    for (const [file, value] of limitWrites(cg, limits, { memoryBytes: Infinity })) writeFileSync(file, value);
  } catch (e) {
    for (const d of made.reverse()) tryRmdir(d);
    throw e;
  }
  return cg;
}

/**
 * `createRunCgroups` off the event loop, what the server uses (the synchronous one is for the probe at start): making
 * a cgroup takes the kernel's cgroup lock, and a mkdir of one blocked the event loop for up to 10.8 ms (0.19 ms on
 * average, 43 ms on a loaded host) while a burst of creates was being answered (benchmark 10's burst). One batch on
 * the file-system thread (fs-thread.ts): the hierarchies' directories, then the limit writes in the order
 * `limitWrites` gives; on a failure the directories made are removed again.
 */
export async function createRunCgroupsAsync(host: CgroupHost, runName: string, limits: CgroupLimits): Promise<RunCgroups> {
  const cg = runCgroupsFor(host, runName);
  const dirs = joinDirs(cg);
  const writes = limitWrites(cg, limits, { memoryBytes: Infinity });
  const ops: FsOp[] = [...dirs.map((d): FsOp => ({ op: 'mkdir', path: d, exists: true })), ...writes.map(([file, data]): FsOp => ({ op: 'write', path: file, data }))];
  const results = await fsBatch(ops);
  const failed = results.find((r) => !r.ok);
  if (failed) {
    const made = dirs.filter((_, i) => results[i]?.ok).reverse();
    await fsBatch(made.map((d): FsOp => ({ op: 'rmdir', path: d })), { keepGoing: true });
    throw fsError(failed);
  }
  return cg;
}

function runCgroupsFor(host: CgroupHost, runName: string): RunCgroups {
  if (host.mode === 'none') throw new Error('cgroups are not available');
  return cgroupsNamed(host.mode, host.bases, runName);
}

/**
 * Whether a cgroup has a control file that depends on the kernel's configuration (swap accounting: v1's
 * memory.memsw.*, v2's memory.swap.max), asked once per hierarchy: every cgroup made in the same directory has the same.
 */
const controlFiles = new Map<string, boolean>();
function hasControlFile(cgroup: string, file: string): boolean {
  const key = path.join(path.dirname(cgroup), file);
  let has = controlFiles.get(key);
  if (has === undefined) controlFiles.set(key, (has = existsSync(path.join(cgroup, file))));
  return has;
}

/**
 * Sets (or changes: a warm sandbox's cgroups get their run's limits) the limits of a run's cgroups. `current`: the
 * memory limit they have now, when the caller knows it (else it is read).
 */
export function setRunLimits(cg: RunCgroups, limits: CgroupLimits, current?: { memoryBytes: number }): void {
  for (const [file, value] of limitWrites(cg, limits, current)) writeFileSync(file, value);
}

/** The control files to write, in this order, to give a run's cgroups `limits` (see `setRunLimits`). */
function limitWrites(cg: RunCgroups, limits: CgroupLimits, current?: { memoryBytes: number }): [string, string][] {
  const dirs = cg.dirs;
  const quota = Math.max(1000, Math.round(limits.cpus * CFS_PERIOD_US));
  const writes: [string, string][] = [];
  if (cg.mode === 'v1') {
    const mem = dirs.memory!;
    // With swap accounting the limit must also hold for memory + swap, or the run just swaps past it. The kernel
    // keeps memsw >= memory at every step: raising a limit (a warm sandbox's), memsw goes first.
    const memsw = path.join(mem, 'memory.memsw.limit_in_bytes');
    const hasMemsw = hasControlFile(mem, 'memory.memsw.limit_in_bytes');
    const raising = hasMemsw && (current ? current.memoryBytes : Number(read(memsw) ?? 0)) < limits.memoryBytes;
    if (raising) writes.push([memsw, String(limits.memoryBytes)]);
    writes.push([path.join(mem, 'memory.limit_in_bytes'), String(limits.memoryBytes)]);
    if (hasMemsw && !raising) writes.push([memsw, String(limits.memoryBytes)]);
    // A new cgroup's period is the kernel's default, 100 ms, the one the quota is computed for.
    writes.push([path.join(dirs.cpu!, 'cpu.cfs_quota_us'), String(quota)]);
    if (dirs.pids) writes.push([path.join(dirs.pids, 'pids.max'), String(limits.pidsMax)]);
  } else {
    const dir = dirs.unified!;
    writes.push([path.join(dir, 'memory.max'), String(limits.memoryBytes)]);
    if (hasControlFile(dir, 'memory.swap.max')) writes.push([path.join(dir, 'memory.swap.max'), '0']);
    writes.push([path.join(dir, 'cpu.max'), `${quota} ${CFS_PERIOD_US}`]);
    writes.push([path.join(dir, 'pids.max'), String(limits.pidsMax)]);
  }
  return writes;
}

/** The directories a process must join (each one's cgroup.procs), in the order the supervisor joins them. */
export function joinDirs(cg: RunCgroups): string[] {
  return Object.values(cg.dirs).filter((d): d is string => typeof d === 'string');
}

/** Every process of the run (host pids). */
export function runPids(cg: RunCgroups): number[] {
  const dir = cg.mode === 'v2' ? cg.dirs.unified : (cg.dirs.memory ?? cg.dirs.unified);
  if (!dir) return [];
  const text = read(path.join(dir, 'cgroup.procs')) ?? '';
  return text
    .split('\n')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

/**
 * Kills every process of the run. cgroup.kill (v2, kernel 5.14+) does it atomically; otherwise the v1 freezer
 * stops the run so nothing can fork while each process is killed, then thaws it to let the kills land.
 */
export function killRunCgroups(cg: RunCgroups): void {
  const unified = cg.dirs.unified;
  if (unified && existsSync(path.join(unified, 'cgroup.kill'))) {
    try {
      writeFileSync(path.join(unified, 'cgroup.kill'), '1');
      return;
    } catch {
      /* fall back to one by one */
    }
  }
  killOneByOne(cg);
}

/** `killRunCgroups` with cgroup.kill written off the event loop (a write of it took up to 5.6 ms, loaded host). */
async function killRunCgroupsAsync(cg: RunCgroups): Promise<void> {
  const unified = cg.dirs.unified;
  // r+: never create the file (there is none before kernel 5.14, nor in a v1 hierarchy).
  if (unified && (await fsBatch([{ op: 'write', path: path.join(unified, 'cgroup.kill'), data: '1', flag: 'r+' }]))[0]?.ok) return;
  killOneByOne(cg);
}

/** The v1 way: the freezer stops the run so nothing can fork while each process is killed, then thaws it. */
function killOneByOne(cg: RunCgroups): void {
  const freezer = cg.dirs.freezer;
  const freeze = (state: string) => {
    if (!freezer) return;
    try {
      writeFileSync(path.join(freezer, 'freezer.state'), state);
    } catch {
      /* best effort */
    }
  };
  freeze('FROZEN');
  try {
    for (let round = 0; round < 20; round++) {
      const pids = runPids(cg);
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  } finally {
    freeze('THAWED');
  }
}

function num(text: string | null): number | null {
  if (text === null) return null;
  const n = Number(text.trim());
  return Number.isFinite(n) ? n : null;
}

function statField(text: string | null, key: string): number | null {
  if (text === null) return null;
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

export function readUsage(cg: RunCgroups): CgroupUsage {
  if (cg.mode === 'v1') {
    const mem = cg.dirs.memory;
    const stat = mem ? read(path.join(mem, 'memory.stat')) : null;
    const usage = mem ? num(read(path.join(mem, 'memory.usage_in_bytes'))) : null;
    // As docker and the kubelet do: usage minus inactive page cache, which the kernel reclaims before it OOMs.
    const inactive = statField(stat, 'total_inactive_file') ?? 0;
    const usec = !cg.dirs.cpuacct && cg.dirs.unified ? statField(read(path.join(cg.dirs.unified, 'cpu.stat')), 'usage_usec') : null;
    return {
      cpuNs: cg.dirs.cpuacct ? num(read(path.join(cg.dirs.cpuacct, 'cpuacct.usage'))) : usec === null ? null : usec * 1000,
      memoryBytes: usage === null ? null : Math.max(0, usage - inactive),
      oomKills: (mem ? statField(read(path.join(mem, 'memory.oom_control')), 'oom_kill') : null) ?? 0,
    };
  }
  const dir = cg.dirs.unified!;
  const usec = statField(read(path.join(dir, 'cpu.stat')), 'usage_usec');
  const current = num(read(path.join(dir, 'memory.current')));
  const inactive = statField(read(path.join(dir, 'memory.stat')), 'inactive_file') ?? 0;
  return {
    cpuNs: usec === null ? null : usec * 1000,
    memoryBytes: current === null ? null : Math.max(0, current - inactive),
    oomKills: statField(read(path.join(dir, 'memory.events')), 'oom_kill') ?? 0,
  };
}

function tryRmdir(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** The cgroups of that name under each of the host's bases (made or not). */
export function cgroupsNamed(mode: RunCgroups['mode'], bases: CgroupHost['bases'], name: string): RunCgroups {
  return { mode, dirs: Object.fromEntries(Object.entries(bases).map(([c, base]) => [c, path.join(base, name)])) };
}

/** Removes the run's cgroups once its processes are gone (a cgroup with processes cannot be removed). */
export function removeRunCgroups(cg: RunCgroups): boolean {
  let ok = true;
  for (const d of joinDirs(cg)) ok = tryRmdir(d) && ok;
  return ok;
}

/**
 * Kills what is left in a run's (or warm sandbox's) cgroups and removes them once empty (up to ~1 s), off the event
 * loop: an rmdir of a cgroup waits for the kernel's cgroup lock like a mkdir (see createRunCgroupsAsync).
 */
export async function emptyAndRemoveCgroups(cg: RunCgroups): Promise<void> {
  await killRunCgroupsAsync(cg);
  const removals = joinDirs(cg).map((d): FsOp => ({ op: 'rmdir', path: d }));
  for (let i = 0; i < 100; i++) {
    const results = await fsBatch(removals, { keepGoing: true });
    if (results.every((r) => r.ok || r.code === 'ENOENT')) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The names of the cgroups under any of the host's bases that `pick` takes. */
export function cgroupNames(host: CgroupHost, pick: (name: string) => boolean): Set<string> {
  const names = new Set<string>();
  for (const base of Object.values(host.bases)) {
    try {
      for (const e of readdirSync(base, { withFileTypes: true })) if (e.isDirectory() && pick(e.name)) names.add(e.name);
    } catch {
      /* a controller not there */
    }
  }
  return names;
}

/**
 * Removes the empty cgroups whose names start with `prefix` (a previous server's warm sandboxes'), except those
 * named in `except`. Busy ones stay, and so do those that saw an out-of-memory kill: a run that started in a warm
 * sandbox and ended while no server was up keeps its cgroup until its own cleanup, which reads that first.
 */
export function removeLeftoverCgroups(host: CgroupHost, prefix: string, except: ReadonlySet<string>): void {
  if (host.mode === 'none') return;
  for (const n of cgroupNames(host, (name) => name.startsWith(prefix) && !except.has(name))) {
    const cg = cgroupsNamed(host.mode, host.bases, n);
    if (readUsage(cg).oomKills === 0) removeRunCgroups(cg);
  }
}

/** A handle is data from the database: only directories under the host's bases are ever touched. */
export function checkRunCgroups(host: CgroupHost, cg: unknown): RunCgroups | null {
  if (!cg || typeof cg !== 'object') return null;
  const c = cg as RunCgroups;
  if (c.mode !== 'v1' && c.mode !== 'v2') return null;
  const dirs: RunCgroups['dirs'] = {};
  for (const [k, d] of Object.entries(c.dirs ?? {})) {
    const base = host.bases[k as Controller | 'unified'];
    // A hierarchy this server does not use (a run of an earlier version had freezer and cpuacct ones beside the v2
    // tree): not touched. Those two hold nothing that outlives the run's processes.
    if (!base && (k === 'freezer' || k === 'cpuacct')) continue;
    if (typeof d !== 'string' || !base || path.dirname(path.resolve(d)) !== base) return null;
    dirs[k as Controller | 'unified'] = d;
  }
  return { mode: c.mode, dirs };
}
