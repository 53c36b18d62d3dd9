import type { ContainerCreateOptions } from 'dockerode';
import type { LaunchPlan } from '../../domain/launch.js';

/** The label every container of a run carries: its run's OCID (how a restarted server finds it again). */
export const RUN_LABEL = 'com.dsjobs.run-id';
/** The block storage volume of the run (JSON {image, mountPoint}): find() recovers it for a start cut short. */
export const VOLUME_LABEL = 'com.dsjobs.volume';
/** The GPUs of the run (their UUIDs, comma-separated): find() recovers them for a start cut short. */
export const GPUS_LABEL = 'com.dsjobs.gpus';
/** An image that needs a writable root file system says so with this label set to "true" (else it is read-only). */
export const WRITABLE_ROOTFS_LABEL = 'com.dsjobs.writable-rootfs';
/** Where the run works: OCI's home of the `datascience` user, holding the artifact (the run's space, writable). */
export const WORK_DIR = '/home/datascience';
/** Where the run's private files (its resource principal) are, read-only. */
export const IDENTITY_DIR = '/var/run/dsjobs-identity';
/** Processes of a run, at least (a shell pipeline and a Python pool need some room even on a small shape). */
export const PIDS_FLOOR = 256;

export interface ContainerInputs {
  runId: string;
  plan: LaunchPlan;
  /** The plan's environment with what was given at start and the private files' paths. */
  env: Record<string, string>;
  /** Host directories: the run's working directory and /tmp (its space), its private files (null: none). */
  work: string;
  tmp: string;
  identity: string | null;
  /** The image's own labels (the writable-rootfs decision). */
  imageLabels: Record<string, string>;
  pidsLimit: number;
  /** Registry-resolved image reference to create from (the plan's, or its id after a digest check). */
  image: string;
  /** The run's block storage volume, if its space is one. */
  volume?: { image: string; mountPoint: string } | null;
  /** The host's GPUs given to the run (UUIDs as nvidia-smi names them); none: no device request. */
  gpus?: readonly string[];
}

/**
 * `docker run --gpus '"device=UUID,..."'` as the API takes it: the run's own GPUs by UUID (never `all`, so two runs
 * never share one), with the `gpu` capability, which the NVIDIA Container Toolkit's device driver serves. The
 * driver is left to the engine to pick by that capability, as the docker CLI does.
 */
export function gpuDeviceRequests(gpus: readonly string[]): NonNullable<NonNullable<ContainerCreateOptions['HostConfig']>['DeviceRequests']> {
  return gpus.length === 0 ? [] : [{ Driver: '', Count: 0, DeviceIDs: [...gpus], Capabilities: [['gpu']], Options: {} }];
}

/** Processes one run may have: `perCpu` for each CPU of its shape, at least PIDS_FLOOR, at most `max`. */
export function pidsLimitFor(cpus: number, perCpu: number, max: number): number {
  return Math.min(max, Math.max(PIDS_FLOOR, Math.ceil(cpus * perCpu)));
}

/**
 * Docker's command of a run, with `docker run` semantics: an entrypoint given replaces the image's (and then its
 * CMD too); the run's command-line arguments come after the CMD (`docker run IMAGE CMD... ARGS...`); with no CMD
 * given, the arguments replace the image's CMD, as `docker run IMAGE ARGS...` does.
 */
export function commandOf(plan: LaunchPlan): { Entrypoint?: string[]; Cmd?: string[] } {
  const c = plan.container!;
  const out: { Entrypoint?: string[]; Cmd?: string[] } = {};
  if (c.entrypoint) out.Entrypoint = c.entrypoint;
  if (c.cmd || plan.args.length > 0) out.Cmd = [...(c.cmd ?? []), ...plan.args];
  return out;
}

/**
 * The container of a run, as Docker's create call takes it: the run contract of a local run in Docker's terms.
 * - no capability added to Docker's default set, no-new-privileges, Docker's default seccomp profile (none named,
 *   so the daemon's default applies), a pids limit, tini as PID 1 (`Init`: signals reach the run's process, which
 *   as PID 1 would ignore those it has no handler for, and orphans are reaped);
 * - the shape's CPUs and memory as limits (no swap beyond the memory: MemorySwap equal to Memory);
 * - networking NONE as `--network none`;
 * - the run's space (its pooled block storage volume) as the writable working directory and /tmp; the root file
 *   system read-only unless the image carries the label com.dsjobs.writable-rootfs=true (an image that writes
 *   outside /home/datascience and /tmp, e.g. a package cache, says so itself; the job cannot);
 * - storage mounts at their destinations; the private files read-only;
 * - the run's GPUs (a GPU shape's, given from the host's pool) as device requests (`--gpus` semantics);
 * - the json-file log driver, which keeps the output durable until the container is removed (log-pump.ts).
 */
export function containerSpec(i: ContainerInputs): ContainerCreateOptions {
  const { plan } = i;
  const mounts = [
    { Type: 'bind' as const, Source: i.work, Target: WORK_DIR, ReadOnly: false },
    { Type: 'bind' as const, Source: i.tmp, Target: '/tmp', ReadOnly: false },
    ...plan.mounts.map((m) => ({ Type: 'bind' as const, Source: m.source, Target: m.destination, ReadOnly: false })),
  ];
  if (i.identity) mounts.push({ Type: 'bind', Source: i.identity, Target: IDENTITY_DIR, ReadOnly: true });
  const memory = Math.round(plan.resources.memoryInGBs * 1024 ** 3);
  return {
    name: containerName(i.runId),
    Image: i.image,
    ...commandOf(plan),
    Env: Object.entries(i.env).map(([k, v]) => `${k}=${v}`),
    WorkingDir: WORK_DIR,
    Labels: {
      [RUN_LABEL]: i.runId,
      ...(i.volume ? { [VOLUME_LABEL]: JSON.stringify(i.volume) } : {}),
      ...(i.gpus?.length ? { [GPUS_LABEL]: i.gpus.join(',') } : {}),
    },
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    NetworkDisabled: !plan.network,
    HostConfig: {
      Init: true,
      CapAdd: [],
      SecurityOpt: ['no-new-privileges'],
      PidsLimit: i.pidsLimit,
      NanoCpus: Math.max(1, Math.round(plan.resources.cpus * 1e9)),
      Memory: memory,
      MemorySwap: memory,
      NetworkMode: plan.network ? 'bridge' : 'none',
      ReadonlyRootfs: i.imageLabels[WRITABLE_ROOTFS_LABEL] !== 'true',
      Mounts: mounts,
      LogConfig: { Type: 'json-file', Config: {} },
      ...(i.gpus?.length ? { DeviceRequests: gpuDeviceRequests(i.gpus) } : {}),
      AutoRemove: false,
      Privileged: false,
    },
  };
}

/** The container's name: the run's, so a second create of the same run (a retried start) is refused by Docker. */
export function containerName(runId: string): string {
  return `dsjobs-${runId.replace(/[^a-zA-Z0-9_.-]/g, '_')}`;
}
