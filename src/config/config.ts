import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_SHAPES, unlistableShape } from '../domain/shapes.js';

const Shape = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    series: Type.Union(
      ['AMD_ROME', 'INTEL_SKYLAKE', 'NVIDIA_GPU', 'GENERIC', 'LEGACY', 'ARM'].map((s) => Type.Literal(s)),
    ),
    ocpus: Type.Number({ exclusiveMinimum: 0 }),
    memoryInGBs: Type.Number({ exclusiveMinimum: 0 }),
    gpus: Type.Integer({ minimum: 0 }),
    flex: Type.Optional(
      Type.Object(
        {
          minOcpus: Type.Number({ exclusiveMinimum: 0 }),
          maxOcpus: Type.Number({ exclusiveMinimum: 0 }),
          minMemoryInGBs: Type.Number({ exclusiveMinimum: 0 }),
          maxMemoryInGBs: Type.Number({ exclusiveMinimum: 0 }),
          maxMemoryPerOcpuInGBs: Type.Number({ exclusiveMinimum: 0 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** A file-storage export that jobs may mount: OCI's mount target and export, backed by a host directory. */
const FileSystemStorage = Type.Object(
  {
    mountTargetId: Type.String({ minLength: 1 }),
    exportId: Type.String({ minLength: 1 }),
    /** The mount target's IP address and the export's path: what ADS's `src: <ip>:<export path>` names. */
    ipAddress: Type.Optional(Type.String({ minLength: 1 })),
    exportPath: Type.Optional(Type.String({ minLength: 1 })),
    path: Type.String({ pattern: '^/' }),
  },
  { additionalProperties: false },
);

/** An object-storage bucket that jobs may mount, backed by a host directory (objects are files, prefixes folders). */
const BucketStorage = Type.Object(
  {
    namespace: Type.String({ minLength: 1 }),
    bucket: Type.String({ minLength: 1 }),
    path: Type.String({ pattern: '^/' }),
  },
  { additionalProperties: false },
);

/** A shape whose runs go to the Slurm cluster, and how it becomes a Slurm request (docs/slurm.md). */
const SlurmShapeSchema = Type.Object(
  {
    shape: Type.String({ minLength: 1 }),
    partition: Type.Optional(Type.String({ minLength: 1 })),
    cpusPerOcpu: Type.Number({ exclusiveMinimum: 0, default: 1 }),
    gres: Type.String({ minLength: 1, default: 'gpu' }),
    extraArgs: Type.Array(Type.String({ pattern: '^--' }), { default: [] }),
  },
  { additionalProperties: false },
);

/**
 * Declared storage (`storage.fileSystems` / `storage.buckets`) that the Slurm nodes see, and where on the nodes
 * (absent: at the same path as on the server). Runs on Slurm shapes may mount only these (and this server's own
 * Object Storage buckets, staged on the shared directory).
 */
const SlurmNodeMounts = Type.Object(
  {
    fileSystems: Type.Array(
      Type.Object({ mountTargetId: Type.String({ minLength: 1 }), exportId: Type.String({ minLength: 1 }), nodePath: Type.Optional(Type.String({ pattern: '^/' })) }, { additionalProperties: false }),
      { default: [] },
    ),
    buckets: Type.Array(
      Type.Object({ namespace: Type.String({ minLength: 1 }), bucket: Type.String({ minLength: 1 }), nodePath: Type.Optional(Type.String({ pattern: '^/' })) }, { additionalProperties: false }),
      { default: [] },
    ),
  },
  { additionalProperties: false, default: { fileSystems: [], buckets: [] } },
);

/** Runs on a Slurm cluster (src/executors/slurm, docs/slurm.md). */
const SlurmSchema = Type.Object(
  {
    /** SLURM_CONF for sbatch, squeue, scancel and scontrol; absent: Slurm's default. */
    slurmConf: Type.Optional(Type.String({ pattern: '^/' })),
    /** Where the Slurm tools are; absent: the PATH. */
    binDir: Type.Optional(Type.String({ pattern: '^/' })),
    /** A directory every node sees at the same path as the server: artifacts, run environments and logs travel there. */
    sharedDir: Type.String({ pattern: '^/' }),
    /** Where on each node's own disk a run's scratch directory is made; absent: Slurm's TMPDIR, else /tmp. */
    scratchDir: Type.Optional(Type.String({ pattern: '^/' })),
    shapes: Type.Array(SlurmShapeSchema, { minItems: 1 }),
    /** How often the shared directory is checked for runs that started or ended (a file check each). */
    pollIntervalMs: Type.Integer({ minimum: 20, default: 100 }),
    /** How often squeue is asked for pending reasons and vanished jobs (one call for all jobs). */
    queueIntervalMs: Type.Integer({ minimum: 100, default: 1_000 }),
    /** The runs' PATH on the nodes. */
    nodePath: Type.String({ default: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' }),
    /** The declared storage the nodes see (docs/slurm.md#storage-mounts). */
    nodeMounts: SlurmNodeMounts,
  },
  { additionalProperties: false },
);

/** A Python environment registered on the server (a conda env or a venv): what CONDA_ENV_SLUG names. */
const CondaEnvironment = Type.Object(
  {
    slug: Type.String({ pattern: '^[A-Za-z0-9._-]+$' }),
    path: Type.String({ pattern: '^/' }),
    description: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/** Credentials for one container registry: the server's, never a job's. */
const RegistryCredentialsSchema = Type.Object(
  {
    /** The registry's host[:port] as image references name it ("docker.io" for Docker Hub). */
    registry: Type.String({ minLength: 1 }),
    username: Type.String({ minLength: 1 }),
    password: Type.String(),
  },
  { additionalProperties: false },
);

/** Container jobs (OCIR_CONTAINER) on a Docker-compatible engine (docs/containers.md). */
const ContainerEngine = Type.Object(
  {
    /** "auto": container jobs run where the engine answers at start (the start-up report says why not); "off": never. */
    enabled: Type.Union([Type.Literal('auto'), Type.Literal('off')], { default: 'auto' }),
    /** The engine's API socket: Docker's, or Podman's Docker-compatible one. */
    socketPath: Type.String({ pattern: '^/', default: '/var/run/docker.sock' }),
    /** "missing": an image not on the host is pulled at the run's start; "never": only images already there run. */
    pull: Type.Union([Type.Literal('missing'), Type.Literal('never')], { default: 'missing' }),
    registries: Type.Array(RegistryCredentialsSchema, { default: [] }),
    /**
     * Several replicas use this one engine (docs/deployment.md#executors): a lost replica's container runs are
     * re-attached by another replica instead of ending FAILED. false: the engine is this replica's machine's.
     */
    sharedEngine: Type.Boolean({ default: false }),
  },
  { additionalProperties: false, default: {} },
);

/** The one config schema: defaults live here, units are in the names, unknown keys are refused. */
export const ConfigSchema = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1' }),
    /**
     * Host names the API answers besides IP addresses, localhost and the listen address (DNS rebinding guard): a
     * name, ".example.com" for it and every name under it, or "*" for any.
     */
    allowedHosts: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    /** Connections one client address may hold open at once. */
    maxConnectionsPerClient: Type.Integer({ minimum: 1, default: 256 }),
    /**
     * Listening handles that accept connections on the API's socket: each accepts one waiting connection per
     * event-loop iteration (src/api/accept-handles.ts). 1: the server's own handle only.
     */
    acceptHandles: Type.Integer({ minimum: 1, maximum: 64, default: 16 }),
    /**
     * Requests the server works on at once before it answers 429 with retry-after (log and event follows are not
     * counted); at the limit, the clients holding the most are refused first.
     */
    maxRequestsInFlight: Type.Integer({ minimum: 1, default: 256 }),
    /** Requests one client address may have in flight at once. */
    maxRequestsInFlightPerClient: Type.Integer({ minimum: 1, default: 128 }),
    /** From a request's first byte to the end of its headers. */
    requestHeadersTimeoutMs: Type.Integer({ minimum: 100, default: 30_000 }),
    /** A request body still arriving must bring requestBodyMinBytesPerSecond x this much in each period this long. */
    requestBodyTimeoutMs: Type.Integer({ minimum: 100, default: 30_000 }),
    requestBodyMinBytesPerSecond: Type.Integer({ minimum: 1, default: 1_024 }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8420 }),
    dataDir: Type.String({ default: path.join(os.homedir(), '.dsjobs') }),
    /**
     * A PostgreSQL URL (postgres://user:password@host:port/database): the server keeps its state there instead of
     * SQLite under the data dir (docs/deployment.md). Unset: SQLite.
     */
    database: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
    /**
     * With `database`: the URL the other server replicas reach this one's API at (its runs' logs, a stop), as
     * http(s)://host:port. Unset: the address it listens on (a wildcard one as 127.0.0.1: replicas on one machine).
     */
    replicaUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    /** With `database`: a replica silent this long is lost; its queued runs and its Slurm runs move, its other started runs end FAILED. */
    replicaLostAfterMs: Type.Integer({ minimum: 2_000, default: 60_000 }),
    /** Where jobs' artifacts are kept (relative: to dataDir); replicas of one database share one (docs/deployment.md). */
    artifactsDir: Type.Optional(Type.String({ minLength: 1 })),
    /** Where the embedded Object Storage keeps object bytes (relative: to dataDir); replicas of one database share one. */
    objectStorageDir: Type.Optional(Type.String({ minLength: 1 })),
    region: Type.String({ pattern: '^[a-z0-9-]+$', default: 'local' }),
    logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), {
      default: 'info',
    }),
    /** SIGTERM to SIGKILL on cancel and on maximum runtime. */
    gracePeriodMs: Type.Integer({ minimum: 0, default: 10_000 }),
    pythonCommand: Type.String({ default: 'python3' }),
    bashCommand: Type.String({ default: 'bash' }),
    javaCommand: Type.String({ default: 'java' }),
    /** OCI's artifact limit. */
    maxArtifactBytes: Type.Integer({ minimum: 1, default: 4 * 1024 ** 3 }),
    archiveMaxEntries: Type.Integer({ minimum: 1, default: 100_000 }),
    archiveMaxTotalBytes: Type.Integer({ minimum: 1, default: 8 * 1024 ** 3 }),
    archiveMaxRatio: Type.Number({ minimum: 1, default: 200 }),
    /** Run supervisor: the native one built by npm run build (falls back to sh when it was not built), or sh. */
    supervisor: Type.Union([Type.Literal('native'), Type.Literal('sh')], { default: 'native' }),
    /** Keep each run's working directory after it ends (logs are always kept). */
    keepWorkDirs: Type.Boolean({ default: false }),
    /** Let webhooks target loopback, private, link-local and other internal addresses (off: SSRF guard). */
    webhookAllowPrivateTargets: Type.Boolean({ default: false }),
    /** One webhook POST, connect to last byte. */
    webhookTimeoutMs: Type.Integer({ minimum: 100, default: 10_000 }),
    /** Attempts per delivery before it is FAILED (1 + retries). */
    webhookMaxAttempts: Type.Integer({ minimum: 1, default: 12 }),
    /** First retry delay; doubles per attempt (+-20% jitter) up to webhookRetryMaxMs. */
    webhookRetryBaseMs: Type.Integer({ minimum: 1, default: 1_000 }),
    webhookRetryMaxMs: Type.Integer({ minimum: 1, default: 3_600_000 }),
    /** Webhook POSTs in flight at once, all subscriptions together. */
    webhookConcurrency: Type.Integer({ minimum: 1, default: 16 }),
    /** Runs a chain of trigger rules may start one after another (A -> B -> C is depth 2) before it is stopped. */
    triggerMaxChainDepth: Type.Integer({ minimum: 1, default: 10 }),
    /**
     * Runs one chain of trigger rules may have in all, its first run included: bounds fan-out (two rules on one event
     * double the runs at each level), which the depth alone does not.
     */
    triggerMaxChainRuns: Type.Integer({ minimum: 2, default: 100 }),
    /** Trials (runs) one sweep may have. */
    sweepMaxTrials: Type.Integer({ minimum: 1, default: 10_000 }),
    /** Object Storage: a multipart upload neither committed nor aborted this many days after it began is aborted. */
    objectStorageAbandonedUploadDays: Type.Integer({ minimum: 1, maximum: 3650, default: 7 }),
    /**
     * The key that seals webhook signing secrets in the database: a file of 64 hex characters, made (mode 0600) at the
     * first start where there is none. Default: secrets.key in the data directory.
     */
    secretsKeyFile: Type.Optional(Type.String({ minLength: 1 })),
    /**
     * Each run's own identity (OCI's resource principal, docs/identity.md#run-principals), where authentication is on;
     * off: runs get none (each costs an RSA 2048 key pair, made ahead of runs off the event loop).
     */
    runPrincipals: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on' }),
    /**
     * The key that signs run principals' session tokens: a PEM RSA private key, made (mode 0600) at the first start
     * where there is none. Default: run-principal.key in the data directory.
     */
    runPrincipalKeyFile: Type.Optional(Type.String({ minLength: 1 })),
    /** The URL runs reach the API at (DSJOBS_ENDPOINT in a run). Default: the address the server listens on. */
    runEndpoint: Type.Optional(Type.String({ pattern: '^https?://' })),
    /** Days events and finished webhook deliveries are kept (events something still needs stay longer). */
    eventRetentionDays: Type.Integer({ minimum: 1, maximum: 36_500, default: 30 }),
    /** Days audit events are kept (OCI Audit keeps 365). */
    auditRetentionDays: Type.Integer({ minimum: 1, maximum: 36_500, default: 365 }),
    /**
     * Bytes one run's stored log may reach; output past it is dropped (the log's last record and the run's
     * lifecycleDetails say so; the run goes on).
     */
    logQuotaBytesPerRun: Type.Integer({ minimum: 4096, default: 1024 ** 3 }),
    /** Days a finished run's log is kept (unset: until the run is deleted, as OCI keeps runs). */
    logRetentionDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 36_500 })),
    /**
     * How long a start waits for the database check (quick_check, about 1.7 s per GB); past it the server starts and
     * the check goes on, a damaged database then turning GET /health to 503.
     */
    integrityCheckWaitMs: Type.Integer({ minimum: 0, default: 30_000 }),
    capacity: Type.Object(
      {
        cpus: Type.Optional(Type.Number({ minimum: 0 })),
        memoryInGBs: Type.Optional(Type.Number({ minimum: 0 })),
        gpus: Type.Optional(Type.Integer({ minimum: 0 })),
      },
      { additionalProperties: false, default: {} },
    ),
    shapes: Type.Optional(Type.Array(Shape, { minItems: 1 })),
    containers: ContainerEngine,
    /** The Slurm cluster the shapes it names run on; absent: every run is local. */
    slurm: Type.Optional(SlurmSchema),
    /**
     * Runs in a sandbox: "auto" picks the native one (the native supervisor sets bwrap's command line up itself; root
     * only) where it works, else bubblewrap; "native" or "bwrap" only that engine; "off" never.
     */
    sandbox: Type.Union([Type.Literal('auto'), Type.Literal('native'), Type.Literal('bwrap'), Type.Literal('off')], { default: 'auto' }),
    /** The shape's CPUs and memory as cgroup limits where cgroups are writable ("auto"), or never ("off"). */
    cgroups: Type.Union([Type.Literal('auto'), Type.Literal('off')], { default: 'auto' }),
    /** "volume": each run's space is a loop-mounted volume of its blockStorageSizeInGBs; "directory": a plain directory. */
    blockStorage: Type.Union([Type.Literal('volume'), Type.Literal('directory')], { default: 'volume' }),
    /** Block storage volumes kept formatted and mounted ahead of runs, per size in use (0: none). */
    blockStoragePoolSize: Type.Integer({ minimum: 0, maximum: 64, default: 2 }),
    /**
     * Sandboxes set up ahead of runs, each on a free pooled volume (0: none). A run with the standard sandbox (no
     * storage mounts, conda environment or GPUs; default networking) starts in one without waiting for bubblewrap.
     */
    warmSandboxes: Type.Integer({ minimum: 0, maximum: 64, default: 2 }),
    /**
     * Processes (and threads) one run may have at once, where cgroups are on: pidsPerCpu for each CPU of its shape,
     * at least 256, at most pidsMaxPerRun.
     */
    pidsMaxPerRun: Type.Integer({ minimum: 16, default: 8_192 }),
    pidsPerCpu: Type.Integer({ minimum: 1, default: 512 }),
    /** Processes of all runs together (default: half of the host's pid_max); must stay below the host's limit. */
    pidsMaxAllRuns: Type.Optional(Type.Integer({ minimum: 16 })),
    /** Open files each process of a sandboxed run may have (RLIMIT_NOFILE, soft and hard). */
    openFilesMaxPerProcess: Type.Integer({ minimum: 64, maximum: 1_048_576, default: 16_384 }),
    /**
     * The CPU weight of all runs together against the server's own (100), on cgroup v2's scale (1-10000): with the
     * machine saturated, the API, log capture and cancels come first. 100 puts runs level with the server.
     */
    runsCpuWeight: Type.Integer({ minimum: 1, maximum: 10_000, default: 10 }),
    runsNice: Type.Integer({ minimum: 0, maximum: 19, default: 10 }),
    /** CPUs and memory kept for the server and the host: subtracted from what admission hands out to runs. */
    reservedCpus: Type.Number({ minimum: 0, default: 0 }),
    reservedMemoryInGBs: Type.Number({ minimum: 0, default: 0 }),
    /**
     * Open files of all runs together (checked each metrics round; the runs holding the most are killed while the
     * total is above it). Default: half of the host's fs.file-max. Must be below fs.file-max.
     */
    openFilesMaxAllRuns: Type.Optional(Type.Integer({ minimum: 256 })),
    /** The uid and gid sandboxed runs run as when the server is root (65534: nobody and nogroup). */
    runUid: Type.Integer({ minimum: 1, maximum: 4_294_967_294, default: 65_534 }),
    runGid: Type.Integer({ minimum: 1, maximum: 4_294_967_294, default: 65_534 }),
    /** nvidia-smi: finds GPUs at start and reads their use. */
    nvidiaSmiCommand: Type.String({ default: 'nvidia-smi' }),
    /** How often every active run's CPU, memory, disk and GPU use is sampled. */
    metricsIntervalMs: Type.Integer({ minimum: 100, default: 5_000 }),
    /** Storage jobs may mount (jobStorageMountConfigurationDetailsList). */
    storage: Type.Object(
      {
        fileSystems: Type.Array(FileSystemStorage, { default: [] }),
        buckets: Type.Array(BucketStorage, { default: [] }),
      },
      { additionalProperties: false, default: { fileSystems: [], buckets: [] } },
    ),
    /** Service conda environments (CONDA_ENV_TYPE=service, CONDA_ENV_SLUG=<slug>). */
    condaEnvironments: Type.Array(CondaEnvironment, { default: [] }),
    /**
     * "on": every API request must carry an OCI HTTP signature by a registered API key, or the web console's session
     * (docs/identity.md); "off": the API answers unsigned requests, as before identities existed.
     */
    authentication: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on' }),
    /** PEM certificate chain and private key: with both, the server speaks HTTPS only. */
    tlsCert: Type.Optional(Type.String({ minLength: 1 })),
    tlsKey: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema> & { shapes: NonNullable<Static<typeof ConfigSchema>['shapes']> };

/** DSJOBS_* overrides for scalar keys: DSJOBS_PORT, DSJOBS_GRACE_PERIOD_MS, DSJOBS_CAPACITY_CPUS ... */
function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // memoryInGBs -> MEMORY_IN_GBS (a unit is one word), gracePeriodMs -> GRACE_PERIOD_MS.
  const snake = (k: string) => k.replace(/GBs/g, "Gbs").replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
  for (const [key, schema] of Object.entries(ConfigSchema.properties)) {
    if (key === 'capacity') {
      for (const sub of ['cpus', 'memoryInGBs', 'gpus']) {
        const v = env[`DSJOBS_CAPACITY_${snake(sub)}`];
        if (v !== undefined) ((out.capacity ??= {}) as Record<string, unknown>)[sub] = Number(v);
      }
      continue;
    }
    if (key === 'containers') {
      for (const sub of ['enabled', 'socketPath', 'pull']) {
        const v = env[`DSJOBS_CONTAINERS_${snake(sub)}`];
        if (v !== undefined) ((out.containers ??= {}) as Record<string, unknown>)[sub] = v;
      }
      const shared = env.DSJOBS_CONTAINERS_SHARED_ENGINE;
      if (shared !== undefined) ((out.containers ??= {}) as Record<string, unknown>).sharedEngine = shared === 'true' || shared === '1';
      continue;
    }
    const v = env[`DSJOBS_${snake(key)}`];
    if (v === undefined) continue;
    const type = (schema as { type?: string }).type;
    out[key] = type === 'integer' || type === 'number' ? Number(v) : type === 'boolean' ? v === 'true' || v === '1' : v;
  }
  return out;
}

/** A bad or unknown config key; the CLI prints its message alone (no stack) and exits non-zero. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Loads the config once at start: file (JSON) < DSJOBS_* env vars < explicit overrides (CLI flags). Throws a
 * ConfigError naming the key on any bad or unknown key.
 */
export function loadConfig(opts: {
  file?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: Record<string, unknown>;
}): Config {
  let fromFile: Record<string, unknown> = {};
  if (opts.file) {
    try {
      fromFile = JSON.parse(readFileSync(opts.file, 'utf8'));
    } catch (e) {
      throw new ConfigError(`config file ${opts.file}: ${(e as Error).message}`);
    }
  }
  const merged: Record<string, unknown> = { ...fromFile, ...envOverrides(opts.env ?? process.env) };
  for (const [k, v] of Object.entries(opts.overrides ?? {})) if (v !== undefined) merged[k] = v;
  if (fromFile.capacity || merged.capacity) {
    merged.capacity = { ...((fromFile.capacity as object) ?? {}), ...((merged.capacity as object) ?? {}) };
  }
  if (fromFile.containers && merged.containers !== fromFile.containers) {
    merged.containers = { ...(fromFile.containers as object), ...((merged.containers as object) ?? {}) };
  }
  const withDefaults = Value.Default(ConfigSchema, Value.Clone(merged));
  const errors = [...Value.Errors(ConfigSchema, withDefaults)];
  if (errors.length > 0) {
    const e = errors[0];
    const key = e.path.replace(/^\//, '').replace(/\//g, '.') || '(root)';
    // The schema's own words where typebox's are vague: the allowed values of a choice, absolute paths.
    const choices = (e.schema as { anyOf?: { const?: unknown }[] }).anyOf?.map((x) => x.const);
    let reason = e.message;
    if (choices && choices.length > 0 && choices.every((c) => c !== undefined)) reason = `must be one of ${JSON.stringify(choices)}`;
    else if ((e.schema as { pattern?: string }).pattern === '^/') reason = 'must be an absolute path';
    throw new ConfigError(`config ${key}: ${reason}`);
  }
  const cfg = withDefaults as Config;
  cfg.shapes ??= DEFAULT_SHAPES;
  for (const [i, shape] of cfg.shapes.entries()) {
    const bad = unlistableShape(shape);
    if (bad) throw new ConfigError(`config shapes.${i}.${bad.field}: ${bad.reason}`);
  }
  for (const [i, s] of (cfg.slurm?.shapes ?? []).entries()) {
    if (!cfg.shapes.some((x) => x.name === s.shape)) throw new ConfigError(`config slurm.shapes.${i}.shape: '${s.shape}' is not a shape of the catalog`);
  }
  for (const [i, m] of (cfg.slurm?.nodeMounts.fileSystems ?? []).entries()) {
    if (!cfg.storage.fileSystems.some((d) => d.mountTargetId === m.mountTargetId && d.exportId === m.exportId)) {
      throw new ConfigError(`config slurm.nodeMounts.fileSystems.${i}: no export ${m.mountTargetId}:${m.exportId} is declared in storage.fileSystems`);
    }
  }
  for (const [i, m] of (cfg.slurm?.nodeMounts.buckets ?? []).entries()) {
    if (!cfg.storage.buckets.some((d) => d.namespace === m.namespace && d.bucket === m.bucket)) {
      throw new ConfigError(`config slurm.nodeMounts.buckets.${i}: no bucket ${m.bucket}@${m.namespace} is declared in storage.buckets`);
    }
  }
  cfg.dataDir = path.resolve(cfg.dataDir);
  cfg.secretsKeyFile = path.resolve(cfg.dataDir, cfg.secretsKeyFile ?? 'secrets.key');
  cfg.artifactsDir = path.resolve(cfg.dataDir, cfg.artifactsDir ?? 'artifacts');
  cfg.objectStorageDir = path.resolve(cfg.dataDir, cfg.objectStorageDir ?? 'objectstorage');
  cfg.runPrincipalKeyFile = path.resolve(cfg.dataDir, cfg.runPrincipalKeyFile ?? 'run-principal.key');
  return cfg;
}
