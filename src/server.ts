import { mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { buildApp, BASE, type App } from './api/app.js';
import { ConfigError, type Config } from './config/config.js';
import { newOcid } from './domain/ids.js';
import type { Resources } from './domain/resources.js';
import type { ShapeDef } from './domain/shapes.js';
import { detectCgroups } from './executors/local/cgroups.js';
import { detectGpus } from './executors/local/gpus.js';
import { LocalExecutor } from './executors/local/local-executor.js';
import { detectSandbox } from './executors/local/sandbox.js';
import { nativeSupervisor } from './executors/local/which.js';
import { detectVolumes } from './executors/local/volume.js';
import { CondaEnvironments } from './service/conda.js';
import { RunMonitor } from './service/monitor.js';
import { StorageCatalog } from './service/storage.js';
import { buildRegistry } from './metrics-registry.js';
import { LogService } from './logs/log-service.js';
import { Scheduler } from './scheduler/scheduler.js';
import { systemClock, type Clock, type ServerIdentity } from './service/common.js';
import { JobsService } from './service/jobs.js';
import { ProjectsService } from './service/projects.js';
import { RunsService } from './service/runs.js';
import { ShapesService } from './service/shapes-service.js';
import { Store } from './store/store.js';
import { EventStore } from './store/event-store.js';
import { EventFeed } from './events/feed.js';
import { cloudEventSource } from './events/cloud-event.js';
import { EventsService } from './service/events-service.js';
import { WebhookStore } from './store/webhook-store.js';
import { SecretBox } from './store/secret-box.js';
import { WebhookDispatcher } from './events/dispatcher.js';
import { WebhooksService } from './service/webhooks.js';
import { AutomationStore } from './store/automation-store.js';
import { TriggersService } from './service/triggers.js';
import { SchedulesService } from './service/schedules.js';
import { SweepsService } from './service/sweeps.js';
import { RetentionService } from './service/retention.js';
import { IdentityStore } from './store/identity-store.js';
import { IdentityService } from './service/identity.js';
import { ConsoleSessions } from './service/console-sessions.js';
import { bootstrapAdministrator, type AdminCredentials } from './service/identity-bootstrap.js';

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

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

export function hostCapacity(cfg: Config, detectedGpus: number): Resources {
  return {
    cpus: cfg.capacity.cpus ?? os.availableParallelism(),
    memoryInGBs: cfg.capacity.memoryInGBs ?? Math.floor((os.totalmem() / 1024 ** 3) * 100) / 100,
    // More GPUs than were found cannot be handed out: the configured number only lowers it.
    gpus: Math.min(cfg.capacity.gpus ?? detectedGpus, detectedGpus),
  };
}

export interface RunningServer {
  app: App;
  url: string;
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
  const runsDir = path.join(cfg.dataDir, 'runs');
  const artifactsDir = path.join(cfg.dataDir, 'artifacts');
  mkdirSync(runsDir, { recursive: true });
  mkdirSync(artifactsDir, { recursive: true });
  const log = pino({ level: cfg.logLevel });

  const store = await Store.openSqlite(path.join(cfg.dataDir, 'dsjobs.db'));
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
  const eventStore = new EventStore(store);
  const feed = new EventFeed(eventStore);
  store.onEventsCommitted = () => feed.notify();
  const source = cloudEventSource(cfg.region);
  const events = new EventsService(eventStore, feed, source);
  const webhookStore = new WebhookStore(store, SecretBox.fromKeyFile(cfg.secretsKeyFile!));
  await webhookStore.prepareSecrets();
  const dispatcher = new WebhookDispatcher(store, eventStore, webhookStore, feed, {
    allowPrivateTargets: cfg.webhookAllowPrivateTargets,
    timeoutMs: cfg.webhookTimeoutMs,
    maxAttempts: cfg.webhookMaxAttempts,
    retryBaseMs: cfg.webhookRetryBaseMs,
    retryMaxMs: cfg.webhookRetryMaxMs,
    concurrency: cfg.webhookConcurrency,
    source,
    log,
  });
  const webhooks = new WebhooksService(store, eventStore, webhookStore, identity, systemClock, { allowPrivateTargets: cfg.webhookAllowPrivateTargets }, () => dispatcher);
  const gpuInfo = detectGpus(cfg.nvidiaSmiCommand);
  const capacity = hostCapacity(cfg, gpuInfo.gpus.length);
  const archiveLimits = {
    maxEntries: cfg.archiveMaxEntries,
    maxTotalBytes: cfg.archiveMaxTotalBytes,
    maxRatio: cfg.archiveMaxRatio,
  };
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
    sandbox: detectSandbox(cfg.sandbox, cfg.supervisor === 'sh' ? null : nativeSupervisor()),
    cgroups: detectCgroups({ enabled: cfg.cgroups !== 'off' }),
    volumes: await detectVolumes(cfg.blockStorage === 'volume', path.join(cfg.dataDir, 'tmp')),
    gpus: gpuInfo.gpus,
    pidsMax: cfg.pidsMaxPerRun,
    nvidiaSmiCommand: cfg.nvidiaSmiCommand,
    volumePoolSize: cfg.blockStoragePoolSize,
    warmSandboxes: cfg.warmSandboxes,
    onError: (err) => log.warn({ err }, 'a warm sandbox could not be made; runs start their own'),
  });
  await executor.init();
  const protections = executor.protections();
  if (gpuInfo.note) protections.off.push(`GPUs: ${gpuInfo.note}`);
  const storage = new StorageCatalog(cfg.storage, [cfg.dataDir]);
  const conda = new CondaEnvironments(cfg.condaEnvironments, cfg.storage.buckets, path.join(cfg.dataDir, 'conda'), archiveLimits);
  const logs = new LogService(runsDir);
  logs.onError = (runId, err) => log.error({ runId, err }, 'log capture failed; the run goes on, its raw output files remain');
  const shapes = new ShapesService(cfg.shapes as ShapeDef[], () => executor.capacity());
  const projects = new ProjectsService(store, identity, systemClock);
  const jobs = new JobsService(store, identity, systemClock, shapes, artifactsDir, {
    maxArtifactBytes: cfg.maxArtifactBytes,
    archive: archiveLimits,
  }, storage);
  const monitor = new RunMonitor(store, executor, systemClock, { intervalMs: cfg.metricsIntervalMs, log });
  const registry = buildRegistry({ store, monitor, scheduler: () => scheduler });
  const runs = new RunsService(store, identity, systemClock, jobs, shapes, executor, logs, {
    gracePeriodMs: cfg.gracePeriodMs,
    log,
    storage,
    conda,
    telemetry: registry.telemetry,
  });
  jobs.hooks = { cancelRun: (id) => runs.cancel(id), deleteRun: (id) => runs.markDeleted(id) };
  const automation = new AutomationStore(store);
  const triggers = new TriggersService(store, eventStore, automation, feed, jobs, runs, identity, systemClock, {
    maxChainDepth: cfg.triggerMaxChainDepth,
    source,
    log,
  });
  const schedules = new SchedulesService(store, automation, jobs, runs, identity, opts.scheduleClock ?? systemClock, log);
  const sweeps = new SweepsService(store, automation, feed, jobs, runs, identity, systemClock, { maxTrials: cfg.sweepMaxTrials, log });
  const retention = new RetentionService(store, eventStore, webhookStore, automation, systemClock, { eventRetentionDays: cfg.eventRetentionDays, log });
  const scheduler = new Scheduler(runs, () => executor.capacity(), systemClock, log);
  runs.scheduler = scheduler;

  const app = await buildApp({
    projects,
    jobs,
    runs,
    shapes,
    events,
    webhooks,
    triggers,
    schedules,
    sweeps,
    identity,
    version: packageVersion(),
    executorName: executor.name,
    capacity: () => executor.capacity(),
    logger: cfg.logLevel === 'silent' ? false : { level: cfg.logLevel },
    monitor,
    prometheus: () => registry.text(),
    protections,
    consoleDir: consoleDir(),
    identityService,
    sessions,
    authentication: cfg.authentication === 'on',
    https: tlsFiles(cfg),
  });
  await scheduler.start();
  await dispatcher.start();
  await triggers.start();
  schedules.start();
  sweeps.start();
  retention.start();
  monitor.start();
  const address = await app.listen({ host: cfg.host, port: cfg.port });
  const url = address.replace('[::1]', 'localhost');

  let closing: Promise<void> | null = null;
  return {
    app,
    url,
    identity,
    schedules,
    protections,
    admin,
    authentication: cfg.authentication === 'on',
    // Stops serving and watching; runs keep going and a restart re-attaches to them.
    close() {
      closing ??= (async () => {
        scheduler.stop();
        await scheduler.settle(10_000);
        await dispatcher.stop();
        await triggers.stop();
        await schedules.stop();
        await sweeps.stop();
        await retention.stop();
        monitor.stop();
        await app.close();
        logs.close();
        await executor.close();
        await store.close();
      })();
      return closing;
    },
  };
}

export { BASE };
