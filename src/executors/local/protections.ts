import type { LaunchPlan } from '../../domain/launch.js';
import type { CgroupHost } from './cgroups.js';
import type { GpuInfo } from './gpus.js';
import { describeRunUser, type RunUser } from './run-user.js';
import { SECCOMP_SUMMARY, socketDirs, type SandboxHost } from './sandbox.js';
import type { VolumeHost } from './volume.js';

/** The fewest processes a run gets, whatever its shape: a shell pipeline and an interpreter's helper threads. */
export const PIDS_FLOOR = 256;

/** What this host gives runs, as the local executor found it at start. */
export interface HostProtections {
  sandbox: SandboxHost;
  cgroups: CgroupHost;
  volumes: VolumeHost;
  runUser: RunUser;
  gpus: GpuInfo[];
  pidsMax: number;
  pidsPerCpu: number;
  pidsMaxAllRuns: number | null;
  openFilesMaxAllRuns: number | null;
  /** Whether the native supervisor is built (without it sandboxed runs are root and have no seccomp filter). */
  nativeSupervisor: boolean;
  /** Why a discarded volume stays held, where it does ('' where it does not). */
  volumePropagationNote: string;
  /** Warm sandboxes kept ready, or 0: none. */
  warmSandboxes: number;
}

/** What this host enforces, and what it cannot: the lines of the start-up report and of /metrics. */
export function protections(h: HostProtections): { enforced: string[]; off: string[] } {
  const enforced: string[] = [];
  const off: string[] = [];
  const engine = h.sandbox.engine === 'native' ? 'native namespaces (dsjobs-supervisor -B)' : 'bubblewrap';
  const why = h.sandbox.engine === 'bwrap' && h.sandbox.note ? ` (not the native engine: ${h.sandbox.note})` : '';
  const unverified = h.sandbox.unverified;
  if (h.sandbox.program && unverified) {
    // The sandbox is used, but the start-up check saw it otherwise than what follows would claim: nothing claimed.
    enforced.push(`sandbox: ${engine} (${h.sandbox.program})${why}; read-only system, private /tmp and pid namespace, networking NONE available`);
    off.push(`sandbox: the start-up check failed, so the data directory, /run, the run user and the seccomp filter are not as they should be: ${unverified}`);
  } else if (h.sandbox.program) {
    const hidden = ['data directory', ...socketDirs()].join(', ');
    enforced.push(`sandbox: ${engine} (${h.sandbox.program})${why}; read-only system, private /tmp and pid namespace, ${hidden} hidden, networking NONE available`);
    if (h.nativeSupervisor) {
      enforced.push(`run user: ${describeRunUser(h.runUser)}; the run's supervisor (pid 1) is uid 0 and not dumpable`);
      enforced.push(`seccomp: ${SECCOMP_SUMMARY}`);
    } else {
      off.push('run user and seccomp: runs are root (without capabilities) and have no seccomp filter: the native supervisor is not built (npm run build, with a C compiler)');
    }
  } else off.push(`sandbox: ${h.sandbox.note}`);
  const limitsLine = `open files ${h.runUser.openFilesMax} per process; processes per run ${h.pidsPerCpu} per CPU of the shape (${PIDS_FLOOR} to ${h.pidsMax})`;
  if (h.cgroups.mode !== 'none') {
    const all = h.pidsMaxAllRuns !== null ? `, ${h.pidsMaxAllRuns} for all runs together` : '';
    const files = h.openFilesMaxAllRuns !== null ? `; open files ${h.openFilesMaxAllRuns} for all runs together (checked each metrics round)` : '';
    enforced.push(`CPU, memory and process limits: cgroups ${h.cgroups.mode} (${Object.values(h.cgroups.bases).join(', ')}); ${limitsLine}${all}${files}`);
    for (const n of h.cgroups.notes) off.push(`cgroups: ${n}`);
  } else off.push(`CPU and memory limits: ${h.cgroups.notes.join('; ')}`);
  if (h.volumes.available) {
    enforced.push('block storage: a loop-mounted ext4 volume of blockStorageSizeInGBs per run');
    if (h.volumePropagationNote) {
      off.push(`block storage: ${h.volumePropagationNote}; a discarded volume stays held (loop device and blocks) until the runs that started while it was mounted end`);
    }
  } else off.push(`block storage: ${h.volumes.note}`);
  if (h.warmSandboxes > 0) enforced.push(`warm sandboxes: up to ${h.warmSandboxes} set up ahead of runs on free volumes`);
  if (h.gpus.length > 0) enforced.push(`GPUs: ${h.gpus.map((g) => `${g.index} ${g.name} (${g.uuid})`).join(', ')}`);
  return { enforced, off };
}

/** What this host cannot give a run of this plan, in words: the warnings stored with the run's isolation. */
export function hostWarnings(h: HostProtections, plan: Pick<LaunchPlan, 'network' | 'mounts' | 'blockStorageSizeInGBs'>): string[] {
  const out: string[] = [];
  if (h.sandbox.program && h.sandbox.unverified) out.push(`the sandbox failed its start-up check: ${h.sandbox.unverified}`);
  if (h.sandbox.program && !h.nativeSupervisor) {
    out.push('runs as root without a seccomp filter: the native supervisor (npm run build, with a C compiler) makes sandboxed runs another user');
  }
  if (!h.sandbox.program) {
    out.push(`not sandboxed: ${h.sandbox.note ?? 'no sandbox'}; the run can read the server's files`);
    if (!plan.network) out.push('networking NONE was asked for but cannot be enforced without the sandbox: the run has the host network');
    if (plan.mounts.length > 0) out.push('storage mounts need the sandbox: the mounted directories are not visible at their destinations');
  }
  if (h.cgroups.mode === 'none') out.push(`CPU and memory limits are off: ${h.cgroups.notes.join('; ')}`);
  if (plan.blockStorageSizeInGBs && !h.volumes.available) {
    out.push(`block storage of ${plan.blockStorageSizeInGBs} GB is not enforced: ${h.volumes.note ?? 'no volumes'}`);
  }
  return out;
}
