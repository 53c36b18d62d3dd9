import { Command, Option } from 'commander';
import { createReadStream, promises as fsp, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { DsJobsClient, DsJobsError, type CloudEvent, type Job, type JobRun } from '../sdk/client.js';
import { details, err, out, table } from './output.js';
import { collect, parseEnvPairs, parseMaxRuntime, parseNumber, UsageError } from './parse.js';
import { JobSpecError, parseJobSpec } from './job-spec.js';

const DEFAULT_ENDPOINT = 'http://127.0.0.1:8420';

interface Globals {
  endpoint?: string;
  json?: boolean;
  compartmentId?: string;
}

function client(cmd: Command): { api: DsJobsClient; g: Globals } {
  const g = cmd.optsWithGlobals() as Globals;
  return { api: new DsJobsClient({ endpoint: g.endpoint ?? process.env.DSJOBS_ENDPOINT ?? DEFAULT_ENDPOINT }), g };
}

async function compartment(api: DsJobsClient, g: Globals): Promise<string> {
  return g.compartmentId ?? process.env.DSJOBS_COMPARTMENT_ID ?? (await api.serverInfo()).defaultCompartmentId;
}

function print(g: Globals, value: unknown, human: () => string): void {
  out(g.json ? JSON.stringify(value, null, 2) : human());
}

const JOB_COLS = ['id', 'displayName', 'lifecycleState', 'shape', 'timeCreated'];
const RUN_COLS = ['id', 'displayName', 'lifecycleState', 'exitCode', 'timeAccepted', 'lifecycleDetails'];

/** The project a job goes in when none is named: one called "default" in the compartment, made on first use. */
async function defaultProject(api: DsJobsClient, compartmentId: string): Promise<string> {
  for await (const p of api.all((page) => api.listProjects({ compartmentId, displayName: 'default', lifecycleState: 'ACTIVE', page }))) {
    return p.id;
  }
  return (await api.createProject({ compartmentId, displayName: 'default', description: 'Created by the dsjobs CLI' })).id;
}

/** Uploads a file as is, or a directory as a .tar.gz of its contents. */
async function uploadArtifact(api: DsJobsClient, jobId: string, source: string): Promise<string> {
  const st = statSync(source);
  if (st.isDirectory()) {
    const tar = await import('tar');
    const tmp = path.join(await fsp.mkdtemp(path.join(os.tmpdir(), 'dsjobs-')), `${path.basename(path.resolve(source))}.tar.gz`);
    try {
      const entries = await fsp.readdir(source);
      await tar.c({ gzip: true, file: tmp, cwd: source, portable: true }, entries);
      const size = statSync(tmp).size;
      await api.uploadArtifact(jobId, path.basename(tmp), Readable.toWeb(createReadStream(tmp)) as ReadableStream<Uint8Array>, size);
      return path.basename(tmp);
    } finally {
      await fsp.rm(path.dirname(tmp), { recursive: true, force: true });
    }
  }
  await api.uploadArtifact(jobId, path.basename(source), Readable.toWeb(createReadStream(source)) as ReadableStream<Uint8Array>, st.size);
  return path.basename(source);
}

function jobRow(j: { id: string; displayName: string; lifecycleState: string; timeCreated: string; jobInfrastructureConfigurationDetails?: { shapeName?: string } }) {
  return { ...j, shape: j.jobInfrastructureConfigurationDetails?.shapeName };
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELED', 'DELETED']);

/** Exit status for CI: the run's exit code when it failed with one, 0 on success, 1 otherwise. */
function exitStatusOf(run: JobRun): number {
  if (run.lifecycleState === 'SUCCEEDED') return 0;
  if (typeof run.exitCode === 'number' && run.exitCode > 0 && run.exitCode < 256) return run.exitCode;
  return 1;
}

/** Streams logs and state changes until the run ends; resolves with the final run. */
async function watchRun(api: DsJobsClient, runId: string, g: Globals): Promise<JobRun> {
  let last = '';
  let stop = false;
  const showState = (r: JobRun) => {
    const line = `${r.lifecycleState}${r.lifecycleDetails ? `, ${r.lifecycleDetails}` : ''}`;
    if (line !== last && !g.json) err(`[dsjobs] ${new Date().toISOString()} - Job Run ${line}`);
    last = line;
  };
  const poller = (async () => {
    while (!stop) {
      try {
        showState(await api.getJobRun(runId));
      } catch {
        /* transient: the log stream decides when we are done */
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  let since = 0;
  // The log stream ends when the run is terminal and every line was sent; a dropped connection resumes after the
  // last line seen.
  for (;;) {
    try {
      for await (const rec of api.logs(runId, { follow: true, since })) {
        since = rec.seq;
        if (g.json) out(JSON.stringify(rec));
        else if (rec.stream === 'stderr') process.stderr.write(rec.message + '\n');
        else process.stdout.write(rec.message + '\n');
      }
      const run = await api.getJobRun(runId);
      if (TERMINAL.has(run.lifecycleState)) {
        stop = true;
        await poller;
        showState(run);
        return run;
      }
    } catch (e) {
      if (e instanceof DsJobsError && e.status === 404) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

export function buildCli(): Command {
  const program = new Command('dsjobs')
    .description('dsjobs: self-hosted Data Science Jobs (OCI Data Science Jobs API compatible)')
    .option('--endpoint <url>', `server URL (env DSJOBS_ENDPOINT, default ${DEFAULT_ENDPOINT})`)
    .option('--compartment-id <ocid>', "compartment (default: the server's default compartment)")
    .option('--json', 'machine-readable JSON output')
    .showHelpAfterError();

  program
    .command('server')
    .description('start the dsjobs service (SQLite and local processes under the data dir)')
    .option('--host <host>', 'listen address (default 127.0.0.1)')
    .option('--port <port>', 'listen port (default 8420; 0 picks a free one)')
    .option('--data-dir <dir>', 'where the database, artifacts, runs and logs live (default ~/.dsjobs)')
    .option('--config <file>', 'JSON config file (see docs/configuration.md)')
    .action(async (o) => {
      const { loadConfig } = await import('../config/config.js');
      const { startServer, packageVersion } = await import('../server.js');
      const cfg = loadConfig({
        file: o.config,
        overrides: { host: o.host, port: o.port === undefined ? undefined : Number(o.port), dataDir: o.dataDir },
      });
      const srv = await startServer(cfg);
      out(`dsjobs ${packageVersion()} listening on ${srv.url}`);
      out(`data dir: ${cfg.dataDir}`);
      out(`default compartment: ${srv.identity.defaultCompartmentId}`);
      for (const line of srv.protections.enforced) out(`protection on: ${line}`);
      for (const line of srv.protections.off) out(`protection OFF: ${line}`);
      const shutdown = (sig: string) => {
        err(`received ${sig}: stopping the server (running jobs keep running and are re-attached at the next start)`);
        srv.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
    });

  program
    .command('info')
    .description('show the server version, region, tenancy, default compartment and capacity')
    .action(async (_o, cmd) => {
      const { api, g } = client(cmd);
      const info = await api.serverInfo();
      print(g, info, () => details(info as unknown as Record<string, unknown>));
    });

  program
    .command('shapes')
    .description('list the job shapes this server can run')
    .action(async (_o, cmd) => {
      const { api, g } = client(cmd);
      const shapes = await api.listJobShapes();
      print(g, shapes, () => table(shapes, ['name', 'coreCount', 'memoryInGBs', 'gpuCount', 'isFlex', 'shapeSeries']));
    });

  // ---------------------------------------------------------------- projects
  const project = program.command('project').description('projects');
  project
    .command('create')
    .description('create a project in the compartment')
    .requiredOption('--name <name>')
    .option('--description <text>')
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const p = await api.createProject({ compartmentId: await compartment(api, g), displayName: o.name, description: o.description });
      print(g, p, () => details(p));
    });
  project.command('list').description('list active projects').action(async (_o, cmd) => {
    const { api, g } = client(cmd);
    const compartmentId = await compartment(api, g);
    const items: unknown[] = [];
    for await (const p of api.all((page) => api.listProjects({ compartmentId, page, lifecycleState: 'ACTIVE' }))) items.push(p);
    print(g, items, () => table(items as Record<string, unknown>[], ['id', 'displayName', 'lifecycleState', 'timeCreated']));
  });
  project.command('get <id>').description('show a project').action(async (id, _o, cmd) => {
    const { api, g } = client(cmd);
    const p = await api.getProject(id);
    print(g, p, () => details(p));
  });
  project
    .command('update <id>')
    .description("change a project's name or description")
    .option('--name <name>')
    .option('--description <text>')
    .action(async (id, o, cmd) => {
      const { api, g } = client(cmd);
      const p = await api.updateProject(id, { displayName: o.name, description: o.description });
      print(g, p, () => details(p));
    });
  project.command('delete <id>').description('delete a project (it must have no jobs)').action(async (id, _o, cmd) => {
    const { api } = client(cmd);
    await api.deleteProject(id);
    err(`project ${id} deleted`);
  });

  // ---------------------------------------------------------------- jobs
  const job = program.command('job').description('jobs: templates for runs');
  job
    .command('create')
    .description('create a job from a YAML spec (ADS or native) or from flags, and upload its artifact')
    .option('-f, --file <spec.yaml>', 'ADS job YAML (kind: job) or native dsjobs YAML')
    .option('--project <ocid>', 'project (default: a project named "default")')
    .option('--name <name>')
    .option('--artifact <path>', 'a .py, .sh, .zip or .tar.gz file, or a directory (uploaded as .tar.gz)')
    .option('--entrypoint <file>', 'JOB_RUN_ENTRYPOINT: the file to run inside an archive or directory')
    .option('--shape <name>', 'compute shape (see `dsjobs shapes`)', 'VM.Standard.E4.Flex')
    .option('--ocpus <n>', 'OCPUs for flex shapes')
    .option('--memory <gb>', 'memory in GB for flex shapes')
    .option('--block-storage <gb>', 'block storage in GB (50-1024)')
    .option('--env <NAME=VALUE>', 'environment variable (repeatable)', collect)
    .option('--args <string>', 'command line arguments, one string split as a shell would')
    .option('--max-runtime <duration>', 'maximum runtime: minutes (90) or 45s, 30m, 2h, 1d')
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const compartmentId = await compartment(api, g);
      let details_: Record<string, unknown>;
      let artifact: string | null;
      if (o.file) {
        const text = await fsp.readFile(o.file, 'utf8');
        const spec = parseJobSpec(text, { specDir: path.dirname(path.resolve(o.file)), env: process.env as Record<string, string> });
        for (const w of spec.ignored) err(`ignored: ${w}`);
        for (const w of spec.warnings) err(`warning: ${w}`);
        details_ = spec.createJobDetails;
        artifact = o.artifact ?? spec.artifactPath;
        if (o.name) details_.displayName = o.name;
        // A spec without infrastructure (or without a shape) gets the CLI's shape flags and their defaults.
        const infra = (details_.jobInfrastructureConfigurationDetails ??= { jobInfrastructureType: 'ME_STANDALONE' }) as Record<string, unknown>;
        const shapeGiven = cmd.getOptionValueSource('shape') === 'cli';
        if (shapeGiven || !infra.shapeName) infra.shapeName = o.shape;
        const ocpus = parseNumber('--ocpus', o.ocpus);
        const memory = parseNumber('--memory', o.memory);
        if (ocpus !== undefined || memory !== undefined) infra.jobShapeConfigDetails = { ocpus, memoryInGBs: memory };
        infra.blockStorageSizeInGBs ??= parseNumber('--block-storage', o.blockStorage) ?? 50;
      } else {
        if (!o.artifact) throw new UsageError('either -f SPEC or --artifact PATH is required');
        artifact = o.artifact;
        const env = parseEnvPairs(o.env) ?? {};
        if (o.entrypoint) env.JOB_RUN_ENTRYPOINT = o.entrypoint;
        const ocpus = parseNumber('--ocpus', o.ocpus);
        const memory = parseNumber('--memory', o.memory);
        details_ = {
          displayName: o.name ?? path.basename(o.artifact),
          jobConfigurationDetails: {
            jobType: 'DEFAULT',
            environmentVariables: env,
            commandLineArguments: o.args,
            maximumRuntimeInMinutes: parseMaxRuntime(o.maxRuntime),
          },
          jobInfrastructureConfigurationDetails: {
            jobInfrastructureType: 'ME_STANDALONE',
            shapeName: o.shape,
            blockStorageSizeInGBs: parseNumber('--block-storage', o.blockStorage) ?? 50,
            jobShapeConfigDetails: ocpus !== undefined || memory !== undefined ? { ocpus, memoryInGBs: memory } : undefined,
          },
        };
      }
      if (!artifact) throw new UsageError('the spec names no local artifact (scriptPathURI); pass --artifact PATH');
      const st = await fsp.stat(artifact).catch(() => {
        throw new UsageError(`artifact ${artifact}: no such file or directory`);
      });
      const jobEnv = ((details_.jobConfigurationDetails as { environmentVariables?: Record<string, string> } | undefined)
        ?.environmentVariables ?? {}) as Record<string, string>;
      if (st.isDirectory() && !jobEnv.JOB_RUN_ENTRYPOINT) {
        throw new UsageError(
          `artifact ${artifact} is a directory: --entrypoint FILE (JOB_RUN_ENTRYPOINT, relative to the directory) must name the file to run`,
        );
      }
      details_.compartmentId ??= compartmentId;
      details_.projectId = o.project ?? details_.projectId ?? (await defaultProject(api, compartmentId));
      const created = await api.createJob(details_ as never);
      try {
        await uploadArtifact(api, created.id, artifact);
      } catch (e) {
        // Like ADS: a job whose artifact could not be uploaded is removed rather than left CREATING.
        await api.deleteJob(created.id).catch(() => {});
        throw e;
      }
      const j = await api.getJob(created.id);
      print(g, j, () => details(jobRow(j)));
    });
  job
    .command('list')
    .description('list jobs (not deleted ones unless --state DELETED)')
    .option('--project <ocid>')
    .option('--state <state>', 'lifecycle state filter')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const compartmentId = await compartment(api, g);
      const p = await api.listJobs({ compartmentId, projectId: o.project, lifecycleState: o.state, limit: Number(o.limit) });
      const items = o.state ? p.items : p.items.filter((j) => j.lifecycleState !== 'DELETED');
      print(g, items, () => table(items.map(jobRow), JOB_COLS) + (p.nextPage ? `\n(more: raise --limit)` : ''));
    });
  job.command('get <id>').description('show a job').action(async (id, _o, cmd) => {
    const { api, g } = client(cmd);
    const j = await api.getJob(id);
    print(g, j, () => details(jobRow(j)));
  });
  job
    .command('update <id>')
    .description('change what OCI lets you change: name, description, shape, shape config, block storage')
    .option('--name <name>')
    .option('--description <text>')
    .option('--shape <name>')
    .option('--ocpus <n>')
    .option('--memory <gb>')
    .option('--block-storage <gb>')
    .action(async (id, o, cmd) => {
      const { api, g } = client(cmd);
      const current: Job = await api.getJob(id);
      const infraChanged = o.shape || o.ocpus || o.memory || o.blockStorage;
      const infra = { ...current.jobInfrastructureConfigurationDetails };
      if (o.shape) {
        infra.shapeName = o.shape;
        infra.jobShapeConfigDetails = undefined;
      }
      if (o.ocpus || o.memory) {
        infra.jobShapeConfigDetails = {
          ...(infra.jobShapeConfigDetails ?? {}),
          ocpus: parseNumber('--ocpus', o.ocpus) ?? infra.jobShapeConfigDetails?.ocpus,
          memoryInGBs: parseNumber('--memory', o.memory) ?? infra.jobShapeConfigDetails?.memoryInGBs,
        };
      }
      if (o.blockStorage) infra.blockStorageSizeInGBs = parseNumber('--block-storage', o.blockStorage);
      const j = await api.updateJob(id, {
        displayName: o.name,
        description: o.description,
        jobInfrastructureConfigurationDetails: infraChanged ? infra : undefined,
      });
      print(g, j, () => details(jobRow(j)));
    });
  job
    .command('delete <id>')
    .description('delete a job; --force also cancels and deletes its runs')
    .option('--force', 'also cancel and delete its runs (deleteRelatedJobRuns)')
    .action(async (id, o, cmd) => {
      const { api } = client(cmd);
      await api.deleteJob(id, { deleteRelatedJobRuns: Boolean(o.force) });
      err(`job ${id} deleted`);
    });
  job
    .command('upload <id> <path>')
    .description("upload a job's artifact (once: artifacts are immutable)")
    .action(async (id, p, _o, cmd) => {
      const { api, g } = client(cmd);
      const name = await uploadArtifact(api, id, p);
      const j = await api.getJob(id);
      print(g, j, () => `uploaded ${name}\n${details(jobRow(j))}`);
    });
  job
    .command('run <jobId>')
    .description('start a run of a job, with overrides')
    .option('--name <name>')
    .option('--env <NAME=VALUE>', 'environment variable override (repeatable)', collect)
    .option('--args <string>', 'command line arguments (replace the job\'s)')
    .option('--shape <name>', 'shape override')
    .option('--ocpus <n>')
    .option('--memory <gb>')
    .option('--max-runtime <duration>', 'maximum runtime override: 90, 30m, 2h, 45s')
    .option('--watch', "stream logs and state until the run ends; exit with the run's exit code")
    .action(async (jobId, o, cmd) => {
      const { api, g } = client(cmd);
      const j = await api.getJob(jobId);
      const ocpus = parseNumber('--ocpus', o.ocpus);
      const memory = parseNumber('--memory', o.memory);
      const config = {
        jobType: 'DEFAULT' as const,
        environmentVariables: parseEnvPairs(o.env),
        commandLineArguments: o.args,
        maximumRuntimeInMinutes: parseMaxRuntime(o.maxRuntime),
      };
      const hasConfig = config.environmentVariables || config.commandLineArguments !== undefined || config.maximumRuntimeInMinutes;
      const run = await api.createJobRun({
        projectId: j.projectId,
        compartmentId: g.compartmentId ?? j.compartmentId,
        jobId,
        displayName: o.name,
        jobConfigurationOverrideDetails: hasConfig ? config : undefined,
        jobInfrastructureConfigurationOverrideDetails:
          o.shape || ocpus !== undefined || memory !== undefined
            ? {
                ...j.jobInfrastructureConfigurationDetails,
                shapeName: o.shape ?? j.jobInfrastructureConfigurationDetails.shapeName,
                jobShapeConfigDetails: ocpus !== undefined || memory !== undefined ? { ocpus, memoryInGBs: memory } : undefined,
              }
            : undefined,
      });
      if (!o.watch) {
        print(g, run, () => details({ id: run.id, displayName: run.displayName, lifecycleState: run.lifecycleState }));
        return;
      }
      err(`[dsjobs] Job OCID: ${jobId}\n[dsjobs] Job Run OCID: ${run.id}`);
      const final = await watchRun(api, run.id, g);
      if (g.json) out(JSON.stringify(final));
      process.exitCode = exitStatusOf(final);
    });

  // ---------------------------------------------------------------- runs
  const runCmd = program.command('run').description('job runs');
  runCmd
    .command('list')
    .description('list job runs, newest first (not deleted ones unless --state DELETED)')
    .option('--job <ocid>')
    .option('--state <state>')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const compartmentId = await compartment(api, g);
      const p = await api.listJobRuns({ compartmentId, jobId: o.job, lifecycleState: o.state, limit: Number(o.limit) });
      const items = o.state ? p.items : p.items.filter((r) => r.lifecycleState !== 'DELETED');
      print(g, items, () => table(items, RUN_COLS) + (p.nextPage ? `\n(more: raise --limit)` : ''));
    });
  runCmd.command('get <id>').description('show a job run').action(async (id, _o, cmd) => {
    const { api, g } = client(cmd);
    const r = await api.getJobRun(id);
    print(g, r, () => details(r as unknown as Record<string, unknown>));
  });
  runCmd.command('cancel <id>').description('cancel a run: SIGTERM to its processes, SIGKILL after the grace period').action(async (id, _o, cmd) => {
    const { api } = client(cmd);
    await api.cancelJobRun(id);
    err(`cancel requested for ${id}`);
  });
  runCmd.command('delete <id>').description('delete a finished run').action(async (id, _o, cmd) => {
    const { api } = client(cmd);
    await api.deleteJobRun(id);
    err(`job run ${id} deleted`);
  });
  runCmd
    .command('logs <id>')
    .description("print a run's stdout (to stdout) and stderr (to stderr)")
    .option('-f, --follow', 'keep streaming until the run ends')
    .option('--since <seq>', 'only lines after this sequence number', '0')
    .action(async (id, o, cmd) => {
      const { api, g } = client(cmd);
      for await (const rec of api.logs(id, { follow: Boolean(o.follow), since: Number(o.since) })) {
        if (g.json) out(JSON.stringify(rec));
        else if (rec.stream === 'stderr') process.stderr.write(rec.message + '\n');
        else process.stdout.write(rec.message + '\n');
      }
    });
  runCmd
    .command('metrics <id>')
    .description("show a run's CPU, memory, disk and GPU use over time (percent of its shape)")
    .option('--since <time>', 'only samples after this ISO time')
    .action(async (id, o, cmd) => {
      const { api, g } = client(cmd);
      const m = await api.getJobRunMetrics(id, { since: o.since });
      out(g.json ? JSON.stringify(m, null, 2) : metricsTable(m));
    });
  runCmd
    .command('watch <id>')
    .description("stream a run's logs and state until it ends; exit with its exit code")
    .action(async (id, _o, cmd) => {
      const { api, g } = client(cmd);
      const final = await watchRun(api, id, g);
      process.exitCode = exitStatusOf(final);
    });
  // ---------------------------------------------------------------- events
  program
    .command('events')
    .description('list lifecycle events (CloudEvents), oldest first; -f follows new ones as they happen')
    .option('-f, --follow', 'keep streaming new events (resume with --after <last event id>)')
    .option('--type <types>', 'event types, comma-separated (see docs/events.md)')
    .option('--resource <ocid>', 'events of this resource only')
    .option('--job <ocid>', 'events of this job and its runs')
    .option('--project <ocid>', 'events of this project, its jobs and runs')
    .option('--after <eventId>', 'only events after this one')
    .option('--limit <n>', 'at most this many (without -f)', '100')
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const q = { compartmentId: g.compartmentId, type: o.type, resourceId: o.resource, jobId: o.job, projectId: o.project, after: o.after };
      const line = (e: CloudEvent) =>
        g.json ? JSON.stringify(e) : [e.time, e.type, e.subject, (e.data as { lifecycleState?: string }).lifecycleState ?? '-', e.id].join('  ');
      if (o.follow) {
        const abort = new AbortController();
        process.once('SIGINT', () => abort.abort());
        try {
          for await (const e of api.followEvents(q, abort.signal)) out(line(e));
        } catch (e) {
          if (!abort.signal.aborted) throw e;
        }
        return;
      }
      const p = await api.listEvents({ ...q, limit: parseNumber('--limit', o.limit) });
      if (g.json) out(JSON.stringify(p.items, null, 2));
      else out(p.items.length ? p.items.map(line).join('\n') + (p.nextPage ? `\n(more: --after ${p.items[p.items.length - 1].id})` : '') : '(none)');
    });
  return program;
}

/** One row per sample time, one column per metric; a metric never sampled (no GPU) is left out. */
export function metricsTable(m: { intervalSeconds: number; reason?: string | null; items: { name: string; datapoints: { timestamp: string; value: number }[] }[] }): string {
  const items = m.items.filter((i) => i.datapoints.length > 0);
  if (items.length === 0) return m.reason ? `no samples: ${m.reason}` : `no samples yet (sampled every ${m.intervalSeconds} s)`;
  const short: Record<string, string> = {
    CpuUtilization: 'CPU%',
    MemoryUtilization: 'MEM%',
    DiskUtilization: 'DISK%',
    GpuUtilization: 'GPU%',
    GpuMemoryUtilization: 'GPUMEM%',
  };
  const times = [...new Set(items.flatMap((i) => i.datapoints.map((d) => d.timestamp)))].sort();
  const byName = items.map((i) => new Map(i.datapoints.map((d) => [d.timestamp, d.value])));
  const head = ['TIME', ...items.map((i) => short[i.name] ?? i.name)];
  const rows = times.map((t) => [t, ...byName.map((b) => (b.has(t) ? b.get(t)!.toFixed(1) : '-'))]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  return [head, ...rows].map((r) => r.map((x, c) => (c === 0 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join('  ')).join('\n');
}

export async function main(argv: string[]): Promise<void> {
  const program = buildCli();
  program.addOption(new Option('--debug').hideHelp());
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof DsJobsError) err(`error: ${e.code}: ${e.message}${e.status ? ` (HTTP ${e.status})` : ''}`);
    else if (e instanceof UsageError || e instanceof JobSpecError) err(`error: ${e.message}`);
    else if ((e as Error)?.name === 'ConfigError') err(`error: ${(e as Error).message}`);
    else if (['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR'].includes((e as NodeJS.ErrnoException)?.code ?? '')) {
      const x = e as NodeJS.ErrnoException;
      err(`error: ${x.path ?? ''}: ${x.code === 'ENOENT' ? 'no such file or directory' : x.message}`);
    }
    else err(`error: ${(e as Error)?.stack ?? e}`);
    process.exitCode = 2;
  }
}
