import { mkdirSync, readFileSync, realpathSync } from 'node:fs';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import type { ArchiveLimits } from './archive/archive.js';
import { buildApp, BASE, type App } from './api/app.js';
import { addAcceptHandles, startAcceptHelper } from './api/accept-handles.js';
import { createSignatureVerifier } from './api/signature-verifier.js';
import { ConfigError, type Config } from './config/config.js';
import { newOcid, randomHex } from './domain/ids.js';
import { invalid } from './domain/errors.js';
import type { Resources } from './domain/resources.js';
import type { ShapeDef } from './domain/shapes.js';
import { detectCgroups, hostPidsLimit, setAllRunsCpuWeight, setAllRunsPidsMax } from './executors/local/cgroups.js';
import { hostFileMax } from './executors/local/open-files.js';
import { detectGpus } from './executors/local/gpus.js';
import { LocalExecutor, type SharedGpus, type SharedVolumes } from './executors/local/local-executor.js';
import { ExecutorSet } from './executors/executor-set.js';
import { DockerExecutor } from './executors/docker/docker-executor.js';
import { ImagesService } from './service/images.js';
import { SlurmExecutor } from './executors/slurm/slurm-executor.js';
import type { LaunchPlan } from './domain/launch.js';
import { detectSandbox } from './executors/local/sandbox.js';
import { runUserFor } from './executors/local/run-user.js';
import { nativeSupervisor } from './executors/local/which.js';
import { detectVolumes } from './executors/local/volume.js';
import { CondaEnvironments } from './service/conda.js';
import { RunMonitor } from './service/monitor.js';
import { StorageCatalog } from './service/storage.js';
import { buildRegistry } from './metrics-registry.js';
import { LogService } from './logs/log-service.js';
import { isDiskFull } from './logs/run-log.js';
import { Scheduler } from './scheduler/scheduler.js';
import { systemClock, type Clock, type ServerIdentity } from './service/common.js';
import { JobsService } from './service/jobs.js';
import { ProjectsService } from './service/projects.js';
import { RunsService } from './service/runs.js';
import { ShapesService } from './service/shapes-service.js';
import { Store } from './store/store.js';
import { DataDirLock } from './store/data-dir-lock.js';
import { EventStore } from './store/event-store.js';
import { EventFeed } from './events/feed.js';
import { cloudEventSource } from './events/cloud-event.js';
import { EventsService } from './service/events-service.js';
import { WebhookStore } from './store/webhook-store.js';
import { WorkRequestsService } from './service/work-requests.js';
import { SecretBox } from './store/secret-box.js';
import { loadOrCreateSigningKey } from './store/signing-key.js';
import { RunPrincipals } from './service/run-principals.js';
import { WebhookDispatcher } from './events/dispatcher.js';
import { WebhooksService } from './service/webhooks.js';
import { AutomationStore } from './store/automation-store.js';
import { TriggersService } from './service/triggers.js';
import { SchedulesService } from './service/schedules.js';
import { SweepsService } from './service/sweeps.js';
import { RetentionService } from './service/retention.js';
import { PolicyStore } from './store/policy-store.js';
import { PoliciesService } from './service/policies.js';
import { Authorizer, authorizeOutputWrite, authorizeRunAs, mayReadEventAs } from './service/authorizer.js';
import { IdentityStore } from './store/identity-store.js';
import { IdentityService } from './service/identity.js';
import { ConsoleSessions } from './service/console-sessions.js';
import { ensureAdministratorsPolicy } from './service/identity-bootstrap.js';
import { bootstrapAdministrator, type AdminCredentials } from './service/identity-bootstrap.js';
import { SecretsService } from './service/secrets.js';
import { LoggingService } from './service/logging.js';
import { ObjectStorageService } from './service/object-storage.js';
import { ObjectPars } from './service/object-pars.js';
import { BucketMounts } from './service/bucket-mounts.js';
import { RunOutputs } from './service/run-outputs.js';
import { ObjectBlobs } from './store/object-blobs.js';
import { CompartmentMoves } from './service/compartment-moves.js';
import { ACTIVE_RUN_STATES } from './domain/run-states.js';
import { AuditStore } from './store/audit-store.js';
import { AuditService } from './service/audit.js';
import { Replicas, replicaIdOf } from './service/replicas.js';

export function packageVersion(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const p of [path.join(here, '..', 'package.json'), path.join(here, '..', '..', 'package.json')]) {
    try {
      return JSON.parse(readFileSync(p, 'utf8')).version;
    } catch {
      /* next */
    }
  }
  return '0.0.0';
}

/** dist/console, where `npm run build` puts the web console (this file runs from dist/server.js). */
function consoleDir(): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), 'console');
}

/** The TLS certificate and key of the config, read at start; both or neither. */
function tlsFiles(cfg: Config): { cert: Buffer; key: Buffer } | undefined {
  if (!cfg.tlsCert && !cfg.tlsKey) return undefined;
  if (!cfg.tlsCert || !cfg.tlsKey) throw new ConfigError('config tlsCert and tlsKey: give both (a PEM certificate chain and its private key) or neither');
  const read = (key: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new ConfigError(`config ${key}: ${file} cannot be read: ${(e as Error).message}`);
    }
  };
  return { cert: read('tlsCert', cfg.tlsCert), key: read('tlsKey', cfg.tlsKey) };
}

/** What admission hands out to runs: the host's (or the configured) CPUs and memory less what is reserved. */
export function hostCapacity(cfg: Config, detectedGpus: number): Resources {
  const hostCpus = cfg.capacity.cpus ?? os.availableParallelism();
  const cpus = hostCpus - cfg.reservedCpus;
  const memoryInGBs = Math.floor(((cfg.capacity.memoryInGBs ?? os.totalmem() / 1024 ** 3) - cfg.reservedMemoryInGBs) * 100) / 100;
  if (cpus <= 0) throw new ConfigError(`reservedCpus: ${cfg.reservedCpus} leaves no CPU for runs (the host has ${hostCpus})`);
  if (memoryInGBs <= 0) throw new ConfigError(`reservedMemoryInGBs: ${cfg.reservedMemoryInGBs} leaves no memory for runs`);
  return {
    cpus,
    memoryInGBs,
    // More GPUs than were found cannot be handed out: the configured number only lowers it.
    gpus: Math.min(cfg.capacity.gpus ?? detectedGpus, detectedGpus),
  };
}

/**
 * The URL to print for the bound address, and a warning when that address reaches beyond loopback. Fastify names
 * 127.0.0.1 for a server bound to 0.0.0.0 (its first local address), which hid that every interface was open.
 */
export function listenUrl(
  fastifyAddress: string,
  bound: AddressInfo,
  guard: { authentication: boolean; tls: boolean } = { authentication: false, tls: false },
): { url: string; exposure: string | null } {
  const wildcard = bound.address === '0.0.0.0' || bound.address === '::';
  const scheme = guard.tls ? 'https' : 'http';
  const url = wildcard
    ? `${scheme}://${bound.address === '::' ? '[::]' : bound.address}:${bound.port}`
    : fastifyAddress.replace('[::1]', 'localhost');
  const loopback = /^127\./.test(bound.address) || bound.address === '::1';
  if (loopback || (guard.authentication && guard.tls)) return { url, exposure: null };
  const where = wildcard ? 'every network interface' : `address ${bound.address}`;
  // What is missing, what that exposes, and what turns it on: one clause of each per missing guard.
  const auth = !guard.authentication;
  const tls = !guard.tls;
  const missing = [auth && 'with authentication off', tls && 'without TLS'].filter(Boolean).join(' and ');
  const exposed = [
    auth && 'anyone who can reach this machine can use the API',
    tls && `anyone on the network path can read requests and answers${auth ? '' : ' (signatures stop tampering, not eavesdropping)'}`,
  ]
    .filter(Boolean)
    .join(', and ');
  const remedy = [auth && 'turn authentication on (config authentication)', tls && 'give --tls-cert and --tls-key'].filter(Boolean).join(' and ');
  return { url, exposure: `listening on ${where}, beyond this machine, ${missing}: ${exposed}. ${remedy[0].toUpperCase()}${remedy.slice(1)}, or listen on 127.0.0.1 (config host).` };
}

export interface RunningServer {
  app: App;
  /** Where the server listens, as bound: http://0.0.0.0:8420 when it listens on every interface. */
  url: string;
  /** A warning when the server can be reached from beyond this machine (null: loopback only). */
  exposure: string | null;
  identity: ServerIdentity;
  /** Tests that drive the schedules' clock call schedules.tick() after moving it. */
  schedules: SchedulesService;
  /** What runs are protected by on this host, and what is off (printed at start). */
  protections: { enforced: string[]; off: string[] };
  /** The administrator's OCI config and key, written at first start. */
  admin: AdminCredentials;
  /** Whether requests must be signed (config `authentication`). */
  authentication: boolean;
  close(): Promise<void>;
}

/** The entry point that wires the concrete pieces together: store, executor, logs, services, scheduler, API. */
export interface StartOptions {
  /**
   * The clock the schedules read (default: the system clock). Only tests that start the server in-process pass one;
   * no config key or environment variable can, so a production server always fires on real time.
   */
  scheduleClock?: Clock;
}

export async function startServer(cfg: Config, opts: StartOptions = {}): Promise<RunningServer> {
  mkdirSync(cfg.dataDir, { recursive: true });
  // The sandbox hides the data directory by its path: through a symbolic link, it hid the link, not the directory.
  cfg = { ...cfg, dataDir: realpathSync(cfg.dataDir) };
  // Before anything under the data directory is read or changed: a second server on it would adopt the first's
  // runs and unmount its volumes (see DataDirLock).
  const lock = DataDirLock.acquire(cfg.dataDir);
  try {
    return await startLocked(cfg, opts, lock);
  } catch (e) {
    lock.release();
    throw e;
  }
}

async function startLocked(cfg: Config, opts: StartOptions, lock: DataDirLock): Promise<RunningServer> {
  const runsDir = path.join(cfg.dataDir, 'runs');
  const artifactsDir = cfg.artifactsDir ?? path.join(cfg.dataDir, 'artifacts');
  mkdirSync(runsDir, { recursive: true });
  mkdirSync(artifactsDir, { recursive: true });
  const log = pino({ level: cfg.logLevel });
  // Started now, while the rest starts: the listening socket's copies then come moments after it listens.
  const acceptHelper = cfg.acceptHandles > 1 ? startAcceptHelper() : null;

  const store = cfg.database
    ? await Store.openPostgres(cfg.database, {
        onConnectionError: (err) => log.warn({ err: err.message }, 'a PostgreSQL connection broke; the next statement opens a new one'),
      })
    : await Store.openSqlite(path.join(cfg.dataDir, 'dsjobs.db'), {
        integrityWaitMs: cfg.integrityCheckWaitMs,
        onCheckPending: () =>
          log.warn(`the database check (quick_check) takes longer than ${cfg.integrityCheckWaitMs} ms: starting; GET /health reports what it finds`),
        onLateDamage: (found) => log.error({ found }, 'the database is damaged (GET /health says what to do)'),
      });
  // Ids of this installation: made once, then stable across restarts.
  const identity: ServerIdentity = {
    region: cfg.region,
    tenancyId: await store.setMetaIfAbsent('tenancyId', newOcid('tenancy', '')),
    defaultCompartmentId: await store.setMetaIfAbsent('defaultCompartmentId', newOcid('compartment', '')),
    userId: await store.setMetaIfAbsent('userId', newOcid('user', '')),
  };
  const identityStore = new IdentityStore(store);
  const identityService = new IdentityService(store, identityStore, identity, systemClock);
  await identityService.ensureRoot('dsjobs');
  const sessions = new ConsoleSessions(identityService, identityStore, systemClock);
  identityService.onPasswordReset = (userId) => sessions.endSessionsOf(userId);
  const admin = await bootstrapAdministrator(store, identityService, identity, cfg.dataDir);
  const policyStore = new PolicyStore(store);
  const authorizer = new Authorizer(policyStore, identityService.tree, log);
  const policies = new PoliciesService(store, policyStore, identity, systemClock, { onChange: () => authorizer.invalidate() });
  await ensureAdministratorsPolicy(store, policies, identity.tenancyId);
  const eventStore = new EventStore(store);
  const feed = new EventFeed(eventStore);
  store.onEventsCommitted = () => feed.notify();
  const source = cloudEventSource(cfg.region);
  const events = new EventsService(eventStore, feed, source);
  const secretBox = SecretBox.fromKeyFile(cfg.secretsKeyFile!);
  const webhookStore = new WebhookStore(store, secretBox);
  await webhookStore.prepareSecrets();
  const dispatcher = new WebhookDispatcher(store, eventStore, webhookStore, feed, {
    allowPrivateTargets: cfg.webhookAllowPrivateTargets,
    timeoutMs: cfg.webhookTimeoutMs,
    maxAttempts: cfg.webhookMaxAttempts,
    retryBaseMs: cfg.webhookRetryBaseMs,
    retryMaxMs: cfg.webhookRetryMaxMs,
    concurrency: cfg.webhookConcurrency,
    // A subscription is sent only what its creator may read now.
    mayDeliver:
      cfg.authentication === 'on'
        ? (sub, e) => (sub.createdBy ? mayReadEventAs(authorizer, identityService.tree, identity.tenancyId, (u) => identityService.userPrincipal(u), sub.createdBy, e) : Promise.resolve(true))
        : undefined,
    source,
    log,
  });
  const webhooks = new WebhooksService(store, eventStore, webhookStore, identity, systemClock, { allowPrivateTargets: cfg.webhookAllowPrivateTargets }, dispatcher);
  const gpuInfo = detectGpus(cfg.nvidiaSmiCommand);
  const capacity = hostCapacity(cfg, gpuInfo.gpus.length);
  const { executor: local, archiveLimits, cpuWeight } = await createLocalExecutor(cfg, { runsDir, capacity, gpus: gpuInfo.gpus, log });
  // Container runs get their block storage from the local executor's volume pool: the same volumes, one accounting.
  const docker = await createDockerExecutor(cfg, { runsDir, capacity, archiveLimits, volumes: local.sharedVolumes(), gpus: local.sharedGpus() });
  const slurm = cfg.slurm ? await createSlurmExecutor(cfg, archiveLimits) : null;
  // Every engine of this server, in the order they are asked which runs they serve: the shapes a cluster serves go to
  // Slurm, containers to Docker, the rest to local processes. Local processes are the home engine: the set gives them
  // the handles that name no engine (written before there were several) and asks them for capacity. The Docker
  // executor stays in the set when its engine is away, so the handles of its runs still reach it.
  const executor = new ExecutorSet([
    ...(slurm ? [{ executor: slurm, serves: (p: LaunchPlan) => p.container === null && slurm.serves(p), admitsItself: true, outlivesServer: true }] : []),
    { executor: local, serves: (plan: LaunchPlan) => plan.container === null, home: true },
    // On an engine the replicas share, a lost replica's containers go on and another replica re-attaches to them.
    { executor: docker, serves: (plan: LaunchPlan) => plan.container !== null && docker.state.available, outlivesServer: cfg.containers.sharedEngine },
  ]);
  // The local executor's lines as they always read, then the container engine's (each says "containers"), then Slurm's.
  const engines = [local, docker, ...(slurm ? [slurm] : [])].map((e) => e.protections());
  const protections = { enforced: engines.flatMap((p) => p.enforced), off: engines.flatMap((p) => p.off) };
  const reserved = cfg.reservedCpus > 0 || cfg.reservedMemoryInGBs > 0 ? `; reserved for the server and host: ${cfg.reservedCpus} CPU, ${cfg.reservedMemoryInGBs} GB (runs get ${capacity.cpus} CPU, ${capacity.memoryInGBs} GB)` : '';
  if (cpuWeight) protections.enforced.push(`the server ahead of runs: ${cpuWeight}${reserved}`);
  else if (cfg.runsNice > 0) {
    protections.enforced.push(
      `the server ahead of runs: no cgroup cpu controller, so runs get nice ${cfg.runsNice} (runsNice) and the lowest best-effort I/O priority instead (the server: nice 0)${reserved}`,
    );
  } else protections.off.push(`the server ahead of runs: no cgroup cpu controller and runsNice 0, so runs compete with the server for CPU on equal terms${reserved}`);
  if (gpuInfo.note) protections.off.push(`GPUs: ${gpuInfo.note}`);
  const storage = new StorageCatalog(cfg.storage, [cfg.dataDir]);
  const conda = new CondaEnvironments(cfg.condaEnvironments, cfg.storage.buckets, path.join(cfg.dataDir, 'conda'), archiveLimits);
  const logs = new LogService(runsDir, { quotaBytes: cfg.logQuotaBytesPerRun });
  logs.onError = (runId, err) =>
    isDiskFull(err)
      ? log.error({ runId, err }, 'log capture waits: the data disk is full; it resumes from its checkpoint when space returns')
      : log.error({ runId, err }, 'log capture failed; the run goes on, its raw output files remain');
  protections.enforced.push(
    `logs: at most ${cfg.logQuotaBytesPerRun} bytes stored per run (logQuotaBytesPerRun), later output dropped; ` +
      (cfg.logRetentionDays ? `finished runs' logs kept ${cfg.logRetentionDays} days` : "finished runs' logs kept until the run is deleted"),
  );
  // The tenancy's vault and master key are made at first start; secret values are sealed with the server's key.
  const secrets = new SecretsService(store, secretBox, identity, systemClock, logs);
  await secrets.init();
  const slurmShapes = new Set((cfg.slurm?.shapes ?? []).map((x) => x.shape));
  const slurmPartitions = new Map((cfg.slurm?.shapes ?? []).map((x) => [x.shape, x.partition ?? '']));
  const shapes = new ShapesService(
    cfg.shapes as ShapeDef[],
    () => executor.capacity(),
    (name) => slurmShapes.has(name),
    slurm ? { partitionOf: (name) => slurmPartitions.get(name) } : null,
  );
  const projects = new ProjectsService(store, identity, systemClock);
  const workRequests = new WorkRequestsService(store, identity, systemClock);
  const logging = new LoggingService(store, workRequests, identity, systemClock, logs);
  // Object Storage: one namespace per server, named once (OCI namespaces are short lowercase names).
  const objectNamespace = await store.setMetaIfAbsent('objectStorageNamespace', `ds${randomHex(5)}`);
  // With PostgreSQL the directory may be shared by replicas: what the start sweeps is what is an hour old (as artifacts).
  const objectBlobs = new ObjectBlobs(cfg.objectStorageDir!, store.dialect === 'postgres' ? 3_600_000 : 0);
  const objectStorage = new ObjectStorageService(store, objectBlobs, objectNamespace, identity, systemClock, {
    abandonedUploadDays: cfg.objectStorageAbandonedUploadDays,
    log,
  });
  const objectPars = new ObjectPars(objectStorage, systemClock);
  const bucketMounts = new BucketMounts(objectStorage, path.join(cfg.dataDir, 'objectstorage', 'mounts'));
  storage.embedded = bucketMounts;
  conda.embedded = bucketMounts;
  const jobs = new JobsService(store, identity, systemClock, shapes, artifactsDir, {
    maxArtifactBytes: cfg.maxArtifactBytes,
    archive: archiveLimits,
  }, storage, conda, (config, field) => logging.planRunLog(config, field), (_container, field) => {
    const engine = docker.state;
    if (!engine.available) throw invalid(field, `this server cannot run containers: ${engine.reason}`);
  });
  // Runs of Slurm shapes see only the storage the nodes have (slurm.nodeMounts): other mounts are refused at job create.
  if (slurm) {
    jobs.checkMounts = (shapeNames, mounts, field) => {
      for (const shapeName of new Set(shapeNames)) {
        const refused = slurmShapes.has(shapeName) ? slurm.refusesMount({ shapeName, mounts }) : null;
        if (refused) throw invalid(`${field}[${refused.index}]`, refused.reason);
      }
    };
  }
  // Several replicas may share a PostgreSQL database: each owns the runs it queues (service/replicas.ts).
  const replicaId = store.dialect === 'postgres' ? replicaIdOf(cfg.dataDir) : undefined;
  let replicas: Replicas | null = null;
  const monitor = new RunMonitor(store, executor, systemClock, { intervalMs: cfg.metricsIntervalMs, log, replicaId });
  const scheduler = new Scheduler(() => executor.capacity(), systemClock, log);
  const registry = buildRegistry({ store, monitor, scheduler });
  // Each run's own identity, where requests are authenticated at all (docs/identity.md#run-principals).
  const runPrincipals =
    cfg.authentication === 'on' && cfg.runPrincipals === 'on'
      ? new RunPrincipals(loadOrCreateSigningKey(cfg.runPrincipalKeyFile!), identity, systemClock, { poolSize: RUN_KEY_POOL, wanted: (p) => authorizer.namesPrincipal(p), log })
      : null;
  const runs = new RunsService(store, identity, systemClock, jobs, shapes, executor, logs, {
    scheduler,
    principals: runPrincipals,
    authorizeAs:
      cfg.authentication === 'on'
        ? (userId, compartmentId, job) =>
            authorizeRunAs(authorizer, identityService.tree, identity.tenancyId, (u) => identityService.userPrincipal(u), userId, compartmentId, job)
        : undefined,
    gracePeriodMs: cfg.gracePeriodMs,
    log,
    storage,
    conda,
    telemetry: registry.telemetry,
    chainLimits: { maxDepth: cfg.triggerMaxChainDepth, maxRuns: cfg.triggerMaxChainRuns },
    runLogs: { plan: (config, field) => logging.planRunLog(config, field), link: (tx, plan, run) => logging.linkRunLog(tx, plan as never, run) },
    bucketMounts,
    runOutputs: new RunOutputs(objectStorage, runsDir, {
      log,
      authorize:
        cfg.authentication === 'on'
          ? (run, bucket) => authorizeOutputWrite(authorizer, identityService.tree, identity.tenancyId, (u) => identityService.userPrincipal(u), run, bucket)
          : undefined,
    }),
    replica: replicaId
      ? {
          id: replicaId,
          remote: { readLogs: (...a) => replicas!.readLogs(...a), stopRun: (...a) => replicas!.stopRun(...a) },
          restoreMasks: (ids) => secrets.restoreMasks(ids),
        }
      : undefined,
  });
  const replicaSecret = replicaId ? await store.setMetaIfAbsent('replicaSecret', randomHex(32)) : undefined;
  if (replicaId) {
    let seenSeq = -1;
    replicas = new Replicas(store, runs.execution, replicaId, replicaSecret!, {
      lostAfterMs: cfg.replicaLostAfterMs,
      log,
      // Wakes the loops that follow the event log when another replica committed events.
      pollEvents: async () => {
        const seq = await eventStore.maxSeq();
        if (seq !== seenSeq) feed.notify();
        seenSeq = seq;
        // Schedules write no event when created or changed: one listing a second on the holder notices them.
        schedules.wake();
      },
    });
    // Runs of the time before replicas (no owner) are this one's: the first replica to start takes them.
    await store.replicas.adoptUnowned(replicaId);
  }
  const moves = new CompartmentMoves(store, { project: (id) => projects.get(id), job: (id) => jobs.get(id), run: (id) => runs.get(id) }, {
    onProjectMoved: (id) => {
      projects.changedElsewhere(id);
      runs.projectMoved(id);
    },
    onJobMoved: (id) => jobs.changedElsewhere(id),
  });
  // Replicas on one PostgreSQL database: the identity and policy caches, and the cached jobs and projects (whose
  // compartments authorization decides in), hear only of this process's writes, so they are dropped every second and
  // another replica's change (a deleted key, policy or membership, a moved job) applies here within about a second.
  // The cost: a few reads per second.
  const identityRefresh =
    store.dialect === 'postgres'
      ? setInterval(() => {
          jobs.forgetCached();
          projects.forgetCached();
          runs.forgetProjectCompartments();
          identityService.refreshFromStore().then(
            () => authorizer.invalidate(),
            (err) => log.warn({ err }, 'identity caches could not be refreshed from the database'),
          );
        }, IDENTITY_REFRESH_MS)
      : null;
  identityRefresh?.unref();
  logs.onQuota = (runId) => void runs.execution.onLogQuota(runId).catch((err) => log.error({ runId, err }, 'recording a log quota in lifecycleDetails failed'));
  const automation = new AutomationStore(store);
  const triggers = new TriggersService(store, eventStore, automation, feed, jobs, runs, identity, systemClock, {
    maxChainDepth: cfg.triggerMaxChainDepth,
    maxChainRuns: cfg.triggerMaxChainRuns,
    source,
    log,
  });
  const schedules = new SchedulesService(store, automation, jobs, runs, identity, opts.scheduleClock ?? systemClock, log);
  const sweeps = new SweepsService(store, automation, feed, jobs, runs, identity, systemClock, { maxTrials: cfg.sweepMaxTrials, log });
  const audit = new AuditService(store, new AuditStore(store), {
    // Names as they are when listed: a user's name, a run's display name.
    principalName: async (id) => {
      const get = id.startsWith('ocid1.datasciencejobrun.') ? runs.get(id).then((r) => r.displayName) : identityService.getUser(id).then((u) => u.name);
      return get.catch(() => undefined);
    },
    log,
  });
  const retention = new RetentionService(store, eventStore, webhookStore, automation, systemClock, {
    eventRetentionDays: cfg.eventRetentionDays,
    audit,
    auditRetentionDays: cfg.auditRetentionDays,
    logRetentionDays: cfg.logRetentionDays,
    logs,
    forgetRun: (runId) => executor.forget(runId),
    logging: () => logging.applyRetention((runId) => logs.remove(runId)),
    log,
  });

  // Signatures are verified in batches off the event loop; a batch of commits waits for the answer out, so that the
  // requests being verified commit with the ones before them (GroupCommit.waitForArrivals).
  const signatureVerifier = cfg.authentication === 'on' ? createSignatureVerifier() : undefined;
  if (signatureVerifier) store.waitForArrivals(() => signatureVerifier.nextAnswer());
  const app = await buildApp({
    signatureVerifier,
    projects,
    jobs,
    runs,
    shapes,
    events,
    webhooks,
    triggers,
    schedules,
    sweeps,
    policies,
    identity,
    version: packageVersion(),
    images: new ImagesService(docker),
    executorName: executor.name,
    capacity: () => executor.capacity(),
    logger: cfg.logLevel === 'silent' ? false : { level: cfg.logLevel },
    monitor,
    prometheus: () => registry.text(),
    protections,
    consoleDir: consoleDir(),
    network: {
      // The machine's own name too: a page cannot make a browser send it, and LAN clients use it.
      allowedHosts: [...cfg.allowedHosts, os.hostname()],
      listenHost: cfg.host,
      limits: {
        maxConnectionsPerClient: cfg.maxConnectionsPerClient,
        headersTimeoutMs: cfg.requestHeadersTimeoutMs,
        bodyTimeoutMs: cfg.requestBodyTimeoutMs,
        bodyMinBytesPerSecond: cfg.requestBodyMinBytesPerSecond,
      },
      backpressure: { maxRequestsInFlight: cfg.maxRequestsInFlight, maxRequestsInFlightPerClient: cfg.maxRequestsInFlightPerClient },
    },
    database: () => store.health.status(),
    notReady: async () => {
      const health = store.health.status();
      if (health.status !== 'OK') return `the database is damaged: ${health.message}`;
      try {
        await store.ping(2_000);
        return null;
      } catch (e) {
        return `the database does not answer: ${(e as Error).message}`;
      }
    },
    // With authentication on, an unsigned request from a run is refused like any other (401).
    runUid: cfg.authentication === 'on' ? null : local.runUid(),
    identityService,
    sessions,
    authentication: cfg.authentication === 'on',
    authorizer,
    https: tlsFiles(cfg),
    workRequests,
    secrets,
    runPrincipals: runPrincipals ?? undefined,
    audit,
    logging,
    moves,
    objectStorage,
    objectPars,
    replicaSecret,
  });
  // Housekeeping: a failure here (a damaged database page, which GET /health then reports) must not stop a start.
  try {
    // With PostgreSQL the directory may be shared by replicas: an upload idle for an hour is no longer under way (a
    // request body may pause at most requestBodyTimeoutMs).
    const swept = await jobs.sweepArtifacts({ uploadsIdleMs: store.dialect === 'postgres' ? 3_600_000 : 0 });
    if (swept.files > 0) log.info(swept, 'removed interrupted uploads and deleted jobs\' artifacts (bytes: disk space freed)');
  } catch (err) {
    log.warn({ err }, 'the sweep of interrupted uploads and deleted jobs\' artifacts failed; it is tried again at the next start');
  }
  // Before the runs' logs are re-attached (scheduler.start recovers them): what they read stays masked.
  await secrets.restoreMasks((await store.runsInStates(ACTIVE_RUN_STATES)).map((r) => r.id));
  secrets.start();
  await objectStorage.start();
  runPrincipals?.start();
  await scheduler.start(runs.execution);
  // The work that must happen once: on SQLite this server does it; with PostgreSQL, the replica holding the lease.
  const lead = async () => {
    await dispatcher.start();
    await triggers.start();
    schedules.start();
    sweeps.start();
    retention.start();
  };
  if (!replicas) await lead();
  monitor.start();
  const address = await app.listen({ host: cfg.host, port: cfg.port });
  const accepting = addAcceptHandles(app.server, cfg.acceptHandles, (why) => log.warn(why), { helper: acceptHelper });
  // Ready means ready for a burst of new connections too (benchmark 10's): its first requests waited one event-loop
  // iteration per connection before the copies accepted.
  const handles = await accepting.ready;
  log.debug({ handles, ms: Math.round(accepting.startMs) }, 'listening handles accepting connections');
  const { url, exposure } = listenUrl(address, app.server.address() as AddressInfo, { authentication: cfg.authentication === 'on', tls: Boolean(cfg.tlsCert) });
  if (exposure) log.warn({ address: url }, exposure);
  const runEndpoint = cfg.runEndpoint ?? runEndpointOf(url);
  // Before any run is given the endpoint: container runs on Docker's bridge reach a loopback one through its gateway.
  const bridged = await docker.bridgeApi(runEndpoint, cfg.host === '0.0.0.0' || cfg.host === '::');
  if (bridged) protections[bridged.on ? 'enforced' : 'off'].push(bridged.line);
  await replicas?.start(cfg.replicaUrl ?? runEndpointOf(url), lead, () => process.kill(process.pid, 'SIGTERM'));
  runPrincipals?.setEndpoint(runEndpoint);

  let closing: Promise<void> | null = null;
  return {
    app,
    url,
    exposure,
    identity,
    schedules,
    protections,
    admin,
    authentication: cfg.authentication === 'on',
    // Stops serving and watching; runs keep going and a restart re-attaches to them.
    close() {
      closing ??= (async () => {
        if (identityRefresh) clearInterval(identityRefresh);
        scheduler.stop();
        await scheduler.settle(10_000);
        runPrincipals?.close();
        await dispatcher.stop();
        await triggers.stop();
        await schedules.stop();
        await sweeps.stop();
        await retention.stop();
        // After the coordinator's work has stopped: the lease goes to another replica at once.
        await replicas?.stop();
        secrets.stop();
        objectStorage.stop();
        monitor.stop();
        accepting.close();
        await app.close();
        logs.close();
        await executor.close();
        await store.close();
        lock.release();
      })();
      return closing;
    },
  };
}

/** How often a replica on PostgreSQL drops its identity and policy caches (another replica's writes apply within it). */
const IDENTITY_REFRESH_MS = 1_000;

/** Key pairs for run principals made ahead of runs (each ~50-200 ms of CPU; one is used per run start). */
const RUN_KEY_POOL = 4;

/** The URL a run on this host reaches the API at: a wildcard listen address is reached on loopback. */
export function runEndpointOf(url: string): string {
  return url.replace('://0.0.0.0:', '://127.0.0.1:').replace('://[::]:', '://[::1]:');
}

export { BASE };
export { backupDatabase, restoreDatabase } from './store/backup.js';

/** The Docker executor as this config makes it, having asked its engine whether it answers ("off": it is not asked). */
async function createDockerExecutor(
  cfg: Config,
  o: { runsDir: string; capacity: ReturnType<typeof hostCapacity>; archiveLimits: ArchiveLimits; volumes: SharedVolumes | null; gpus: SharedGpus },
): Promise<DockerExecutor> {
  const c = cfg.containers;
  const executor = new DockerExecutor({
    socketPath: c.socketPath,
    runsDir: o.runsDir,
    capacity: o.capacity,
    archiveLimits: o.archiveLimits,
    keepWorkDirs: cfg.keepWorkDirs,
    pidsMax: cfg.pidsMaxPerRun,
    pidsPerCpu: cfg.pidsPerCpu,
    pull: c.pull,
    registries: c.registries,
    volumes: o.volumes,
    gpus: o.gpus,
    nvidiaSmiCommand: cfg.nvidiaSmiCommand,
  });
  if (c.enabled === 'off') executor.disable('container jobs are off (config containers.enabled)');
  else await executor.init();
  return executor;
}

/**
 * The local executor as a server with this config makes it (sandbox, cgroups, run user, pids ceilings, volumes,
 * warm sandboxes), initialised. Also used by benchmark 1's isolated baseline, which drives it without the service.
 */
export async function createLocalExecutor(
  cfg: Config,
  o: { runsDir: string; capacity: ReturnType<typeof hostCapacity>; gpus: ReturnType<typeof detectGpus>['gpus']; log: Logger },
): Promise<{ executor: LocalExecutor; archiveLimits: ArchiveLimits; cpuWeight: string | null }> {
  const { runsDir, capacity, log } = o;
  const archiveLimits = {
    maxEntries: cfg.archiveMaxEntries,
    maxTotalBytes: cfg.archiveMaxTotalBytes,
    maxRatio: cfg.archiveMaxRatio,
  };
  const runUser = runUserFor({ uid: cfg.runUid, gid: cfg.runGid, openFilesMax: cfg.openFilesMaxPerProcess });
  const cgroups = detectCgroups({ enabled: cfg.cgroups !== 'off' });
  const hostPids = hostPidsLimit();
  if (cfg.pidsMaxAllRuns !== undefined && cfg.pidsMaxAllRuns >= hostPids) {
    throw new ConfigError(`pidsMaxAllRuns: ${cfg.pidsMaxAllRuns} must be below the host's limit on processes (${hostPids}: the smaller of kernel.pid_max and kernel.threads-max)`);
  }
  const pidsMaxAllRuns = setAllRunsPidsMax(cgroups, cfg.pidsMaxAllRuns ?? Math.floor(hostPids / 2));
  const cpuWeight = setAllRunsCpuWeight(cgroups, cfg.runsCpuWeight);
  const fileMax = hostFileMax();
  if (cfg.openFilesMaxAllRuns !== undefined && fileMax !== null && cfg.openFilesMaxAllRuns >= fileMax) {
    throw new ConfigError(`openFilesMaxAllRuns: ${cfg.openFilesMaxAllRuns} must be below the host's limit on open files (fs.file-max ${fileMax})`);
  }
  const openFilesMaxAllRuns = cfg.openFilesMaxAllRuns ?? (fileMax !== null ? Math.floor(fileMax / 2) : null);
  const executor = new LocalExecutor({
    runsDir,
    capacity,
    pythonCommand: cfg.pythonCommand,
    bashCommand: cfg.bashCommand,
    javaCommand: cfg.javaCommand,
    archiveLimits,
    keepWorkDirs: cfg.keepWorkDirs,
    supervisor: cfg.supervisor,
    dataDir: cfg.dataDir,
    sandbox: detectSandbox(cfg.sandbox, cfg.supervisor === 'sh' ? null : nativeSupervisor(), { dataDir: cfg.dataDir, runUser }),
    cgroups,
    volumes: await detectVolumes(cfg.blockStorage === 'volume', path.join(cfg.dataDir, 'tmp')),
    gpus: o.gpus,
    pidsMax: Math.min(cfg.pidsMaxPerRun, pidsMaxAllRuns ?? Infinity),
    pidsPerCpu: cfg.pidsPerCpu,
    pidsMaxAllRuns,
    openFilesMaxAllRuns,
    runUser,
    nvidiaSmiCommand: cfg.nvidiaSmiCommand,
    volumePoolSize: cfg.blockStoragePoolSize,
    warmSandboxes: cfg.warmSandboxes,
    onError: (err) => log.warn({ err }, 'a warm sandbox could not be made; runs start their own'),
    runPriority: cpuWeight === null && cfg.runsNice > 0 ? { nice: cfg.runsNice } : null,
    onPriorityProblem: (problems) => log.warn({ problems }, 'the priority of runs could not be lowered as configured (runsNice); runs start at the server\'s'),
    onOpenFilesKill: (runId, files, ceiling) =>
      log.warn({ runId, files, ceiling }, 'killed the run holding the most open files: all runs together held more than openFilesMaxAllRuns'),
  });
  await executor.init();
  return { executor, archiveLimits, cpuWeight };
}

/** The Slurm executor of the config's `slurm` block, its cluster reached (the server does not start without it). */
async function createSlurmExecutor(cfg: Config, archiveLimits: ArchiveLimits): Promise<SlurmExecutor> {
  const c = cfg.slurm!;
  const slurm = new SlurmExecutor({
    sharedDir: c.sharedDir,
    slurmConf: c.slurmConf ?? null,
    binDir: c.binDir ?? null,
    shapes: c.shapes,
    pollIntervalMs: c.pollIntervalMs,
    queueIntervalMs: c.queueIntervalMs,
    graceMs: cfg.gracePeriodMs,
    archiveLimits,
    nodePath: c.nodePath,
    keepWorkDirs: cfg.keepWorkDirs,
    scratchDir: c.scratchDir ?? null,
    usageSeconds: cfg.metricsIntervalMs / 1000,
    // Each listed export or bucket: its declared directory on the server, and where the nodes have it.
    nodeMounts: [
      ...c.nodeMounts.fileSystems.map((m) => {
        const d = cfg.storage.fileSystems.find((x) => x.mountTargetId === m.mountTargetId && x.exportId === m.exportId)!;
        return { serverPath: d.path, nodePath: m.nodePath ?? d.path };
      }),
      ...c.nodeMounts.buckets.map((m) => {
        const d = cfg.storage.buckets.find((x) => x.namespace === m.namespace && x.bucket === m.bucket)!;
        return { serverPath: d.path, nodePath: m.nodePath ?? d.path };
      }),
    ],
  });
  try {
    await slurm.init();
  } catch (e) {
    throw new ConfigError(`slurm: ${(e as Error).message}`);
  }
  return slurm;
}
