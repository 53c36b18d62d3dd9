import { Command, Option } from 'commander';
import { createReadStream, existsSync, promises as fsp, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { DsJobsClient, DsJobsError, type CloudEvent, type Job, type JobRun, type RequestSigner, type SweepTrial } from '../sdk/client.js';
import { configFileSigner } from '../sdk/signer.js';
import { addSetPasswordCommand } from './admin-password.js';
import { details, err, fitTable, out, shortId, shortTime, table, terminalWidth, type Column } from './output.js';
import { collect, parseEnvPairs, parseMaxRuntime, parseNumber, UsageError } from './parse.js';
import { JobSpecError, parseJobSpec } from './job-spec.js';
import { resolveRef, type Kind } from './resolve.js';
import { addAdminCommands } from './admin.js';
import { addAuditCommands } from './audit.js';

const DEFAULT_ENDPOINT = 'http://127.0.0.1:8420';

interface Globals {
  endpoint?: string;
  configFile?: string;
  profile?: string;
  json?: boolean;
  wide?: boolean;
  compartmentId?: string;
}

/**
 * The OCI config file requests are signed with: --config-file, OCI_CLI_CONFIG_FILE, or the one the server wrote at
 * its first start in the default data dir (DSJOBS_DATA_DIR or ~/.dsjobs). Named explicitly, it must exist; the
 * default one may not (a server with authentication off answers unsigned requests).
 */
function signer(g: Globals): RequestSigner | undefined {
  const named = g.configFile ?? process.env.OCI_CLI_CONFIG_FILE;
  const profile = g.profile ?? process.env.OCI_CLI_PROFILE ?? 'DEFAULT';
  const file = named ?? path.join(process.env.DSJOBS_DATA_DIR ?? path.join(os.homedir(), '.dsjobs'), 'oci', 'config');
  if (!named && !existsSync(file)) return undefined;
  try {
    return configFileSigner(file, profile);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function client(cmd: Command): { api: DsJobsClient; g: Globals } {
  const g = cmd.optsWithGlobals() as Globals;
  return { api: new DsJobsClient({ endpoint: g.endpoint ?? process.env.DSJOBS_ENDPOINT ?? DEFAULT_ENDPOINT, signer: signer(g) }), g };
}

async function compartment(api: DsJobsClient, g: Globals): Promise<string> {
  return g.compartmentId ?? process.env.DSJOBS_COMPARTMENT_ID ?? (await api.serverInfo()).defaultCompartmentId;
}

/** The OCID of a project, job or run given by OCID or by display name (unique in the compartment). */
function idOf(api: DsJobsClient, g: Globals, kind: Kind, ref: string): Promise<string>;
function idOf(api: DsJobsClient, g: Globals, kind: Kind, ref: string | undefined): Promise<string | undefined>;
async function idOf(api: DsJobsClient, g: Globals, kind: Kind, ref: string | undefined): Promise<string | undefined> {
  return ref === undefined ? undefined : resolveRef(api, kind, ref, () => compartment(api, g));
}

function print(g: Globals, value: unknown, human: () => string): void {
  out(g.json ? JSON.stringify(value, null, 2) : human());
}

/**
 * The list tables. By default they fit the terminal (100 columns without one): OCIDs and times shortened, names and
 * details cut; --wide prints every value whole.
 */
function listTable(g: Globals, rows: Record<string, unknown>[], columns: Column[]): string {
  const shown = g.wide
    ? rows
    : rows.map((r) => ({
        ...r,
        id: shortId(r.id as string),
        timeCreated: shortTime(r.timeCreated as string),
        timeAccepted: shortTime(r.timeAccepted as string),
      }));
  return fitTable(shown, columns, g.wide ? null : terminalWidth());
}
const PROJECT_COLS: Column[] = [
  { key: 'id', header: 'ID' },
  { key: 'displayName', header: 'NAME', min: 10 },
  { key: 'lifecycleState', header: 'STATE' },
  { key: 'timeCreated', header: 'CREATED' },
];
const JOB_COLS: Column[] = [
  { key: 'id', header: 'ID' },
  { key: 'displayName', header: 'NAME', min: 10 },
  { key: 'lifecycleState', header: 'STATE' },
  { key: 'shape', header: 'SHAPE', min: 12 },
  { key: 'timeCreated', header: 'CREATED' },
];
const RUN_COLS: Column[] = [
  { key: 'id', header: 'ID' },
  { key: 'displayName', header: 'NAME', min: 10 },
  { key: 'lifecycleState', header: 'STATE' },
  { key: 'exitCode', header: 'EXIT' },
  { key: 'jobName', header: 'JOB', min: 8 },
  { key: 'timeAccepted', header: 'ACCEPTED' },
  { key: 'lifecycleDetails', header: 'DETAILS', min: 10 },
];

/** The server's default shape (GET /serverInfo), the one the console preselects too. */
async function defaultShape(api: DsJobsClient): Promise<string> {
  const name = (await api.serverInfo()).defaultShapeName;
  if (!name) throw new UsageError('this server runs none of its shapes (see `dsjobs shapes --all`); --shape NAME is required');
  return name;
}

/** Lifecycle states as the API spells them, whatever case was typed (--state succeeded). */
const upper = (v: string | undefined) => v?.toUpperCase();

/** The jobs' display names for the run list, one GET per distinct job. */
async function jobNames(api: DsJobsClient, jobIds: string[]): Promise<Map<string, string>> {
  const ids = [...new Set(jobIds)];
  const names = await Promise.all(ids.map((id) => api.getJob(id).then((j) => j.displayName, () => '-')));
  return new Map(ids.map((id, i) => [id, names[i]]));
}

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
    .option('--config-file <file>', 'OCI config file to sign requests with (env OCI_CLI_CONFIG_FILE; default <data dir>/oci/config, written by the server at first start)')
    .option('--profile <name>', 'profile of the OCI config file (env OCI_CLI_PROFILE, default DEFAULT)')
    .option('--json', 'machine-readable JSON output')
    .option('--wide', 'tables with whole OCIDs, times and texts (by default they fit the terminal)')
    .showHelpAfterError();

  program
    .command('server')
    .description('start the dsjobs service (SQLite and local processes under the data dir)')
    .option('--host <host>', 'listen address (default 127.0.0.1)')
    .option('--port <port>', 'listen port (default 8420; 0 picks a free one)')
    .option('--data-dir <dir>', 'where the database, artifacts, runs and logs live (default ~/.dsjobs)')
    .option('--config <file>', 'JSON config file (see docs/configuration.md)')
    .option('--tls-cert <file>', 'PEM certificate chain: serve HTTPS (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .action(async (o) => {
      const { loadConfig } = await import('../config/config.js');
      const { startServer, packageVersion } = await import('../server.js');
      const cfg = loadConfig({
        file: o.config,
        overrides: { host: o.host, port: o.port === undefined ? undefined : Number(o.port), dataDir: o.dataDir, tlsCert: o.tlsCert, tlsKey: o.tlsKey },
      });
      // The handlers first: until a process has one, SIGTERM kills it on the spot, and a signal that came between the
      // server listening and the handlers existing left its mounts and sandboxes behind. One that comes while the
      // server is starting stops it as soon as it is up.
      let srv: Awaited<ReturnType<typeof startServer>> | null = null;
      let stopSignal: string | null = null;
      const stop = () => {
        err(`received ${stopSignal}: stopping the server (running jobs keep running and are re-attached at the next start)`);
        srv!.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      const shutdown = (sig: string) => {
        if (stopSignal) return;
        stopSignal = sig;
        if (srv) stop();
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
      srv = await startServer(cfg);
      out(`dsjobs ${packageVersion()} listening on ${srv.url}`);
      if (srv.exposure) err(`WARNING: ${srv.exposure}`);
      out(`data dir: ${cfg.dataDir}`);
      // Before the compartment line, which launchers (the test harness) wait for: they can read these with it.
      out(`${srv.admin.created ? 'wrote the administrator\'s OCI config' : 'administrator\'s OCI config'}: ${srv.admin.configFile} (profile DEFAULT; key ${srv.admin.keyFile})`);
      if (srv.admin.initialPassword) {
        out(`web console login (shown once; reset with \`dsjobs admin set-password\`): user admin, password ${srv.admin.initialPassword}`);
      }
      out(`authentication: ${srv.authentication ? 'on (requests must be signed)' : 'off (unsigned requests are served; see docs/identity.md)'}`);
      out(`default compartment: ${srv.identity.defaultCompartmentId}`);
      for (const line of srv.protections.enforced) out(`protection on: ${line}`);
      for (const line of srv.protections.off) out(`protection OFF: ${line}`);
      if (stopSignal) stop();
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
    .description('list the job shapes this server accepts, with what this host can run of each; --all adds the rest')
    .option('--all', "also the catalog's shapes this host cannot run, with what they need")
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const shapes = await api.listJobShapes({ includeNotRunnable: Boolean(o.all) });
      if (g.json) return print(g, shapes, () => '');
      const info = await api.serverInfo();
      const rows = shapes.map((sh) => ({
        name: `${sh.name}${sh.isDefault ? ' *' : ''}`,
        ocpus: sh.isFlex ? `up to ${sh.coreCount}` : sh.coreCount,
        memory: sh.isFlex ? `up to ${sh.memoryInGBs}` : sh.memoryInGBs,
        gpus: sh.gpuCount ?? 0,
        here: !sh.isRunnableHere
          ? `no: ${(sh.notRunnableReason ?? '').split(';')[0]}`
          : sh.isFlex
            ? `yes, up to ${sh.maxOcpusHere} OCPU, ${sh.maxMemoryInGBsHere} GB`
            : 'yes',
      }));
      const cols: Column[] = [
        { key: 'name', header: 'NAME' },
        { key: 'ocpus', header: 'OCPUS' },
        { key: 'memory', header: 'MEMORY GB' },
        { key: 'gpus', header: 'GPUS' },
        { key: 'here', header: 'RUNS HERE', min: 16 },
      ];
      const c = info.capacity;
      out(
        `${fitTable(rows, cols, g.wide ? null : terminalWidth())}\n\n` +
          `* the default shape (job create without --shape)\n` +
          `this host: ${c.cpus} CPU, ${c.memoryInGBs} GB memory, ${c.gpus} GPU; one OCPU is one CPU here` +
          (o.all ? '' : '\nshapes it can never run are refused: --all lists them'),
      );
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
    print(g, items, () => listTable(g, items as Record<string, unknown>[], PROJECT_COLS));
  });
  project.command('get <project>').description('show a project (by OCID or name)').action(async (ref, _o, cmd) => {
    const { api, g } = client(cmd);
    const p = await api.getProject(await idOf(api, g, 'project', ref));
    print(g, p, () => details(p));
  });
  project
    .command('update <project>')
    .description("change a project's name or description")
    .option('--name <name>')
    .option('--description <text>')
    .action(async (ref, o, cmd) => {
      const { api, g } = client(cmd);
      const p = await api.updateProject(await idOf(api, g, 'project', ref), { displayName: o.name, description: o.description });
      print(g, p, () => details(p));
    });
  project.command('delete <project>').description('delete a project (it must have no jobs)').action(async (ref, _o, cmd) => {
    const { api, g } = client(cmd);
    const id = await idOf(api, g, 'project', ref);
    await api.deleteProject(id);
    err(`project ${id} deleted`);
  });

  // ---------------------------------------------------------------- jobs
  const job = program.command('job').description('jobs: templates for runs');
  job
    .command('create')
    .description('create a job from a YAML spec (ADS or native) or from flags, and upload its artifact')
    .option('-f, --file <spec.yaml>', 'ADS job YAML (kind: job) or native dsjobs YAML')
    .option('--project <project>', 'project, by OCID or name (default: a project named "default")')
    .option('--name <name>')
    .option('--artifact <path>', 'a .py, .sh, .zip or .tar.gz file, or a directory (uploaded as .tar.gz)')
    .option('--entrypoint <file>', 'JOB_RUN_ENTRYPOINT: the file to run inside an archive or directory')
    .option('--shape <name>', "compute shape (default: the server's, marked in `dsjobs shapes`)")
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
        if (o.shape || !infra.shapeName) infra.shapeName = o.shape ?? (await defaultShape(api));
        const ocpus = parseNumber('--ocpus', o.ocpus);
        const memory = parseNumber('--memory', o.memory);
        if (ocpus !== undefined || memory !== undefined) infra.jobShapeConfigDetails = { ocpus, memoryInGBs: memory };
        infra.blockStorageSizeInGBs ??= parseNumber('--block-storage', o.blockStorage);
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
            shapeName: o.shape ?? (await defaultShape(api)),
            blockStorageSizeInGBs: parseNumber('--block-storage', o.blockStorage),
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
      details_.projectId = (await idOf(api, g, 'project', o.project)) ?? details_.projectId ?? (await defaultProject(api, compartmentId));
      const created = await api.createJob(details_ as never);
      try {
        await uploadArtifact(api, created.id, artifact);
      } catch (e) {
        // Like ADS: a job whose artifact could not be uploaded is removed rather than left CREATING.
        await api.deleteJob(created.id).catch(() => {});
        throw e;
      }
      const j = await api.getJob(created.id);
      // An ACTIVE job's lifecycleDetails is the server's warning that its runs would be refused (a conda slug this
      // server does not have): said now, not at the first run.
      if (j.lifecycleDetails) err(`warning: ${j.lifecycleDetails}`);
      print(g, j, () => details(jobRow(j)));
    });
  job
    .command('list')
    .description('list jobs (not deleted ones unless --state DELETED)')
    .option('--project <project>', 'by OCID or name')
    .option('--state <state>', 'lifecycle state filter (any case)')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const compartmentId = await compartment(api, g);
      const p = await api.listJobs({ compartmentId, projectId: await idOf(api, g, 'project', o.project), lifecycleState: upper(o.state), limit: Number(o.limit) });
      const items = o.state ? p.items : p.items.filter((j) => j.lifecycleState !== 'DELETED');
      print(g, items, () => listTable(g, items.map(jobRow), JOB_COLS) + (p.nextPage ? `\n(more: raise --limit)` : ''));
    });
  job.command('get <job>').description('show a job (by OCID or name)').action(async (ref, _o, cmd) => {
    const { api, g } = client(cmd);
    const j = await api.getJob(await idOf(api, g, 'job', ref));
    print(g, j, () => details(jobRow(j)));
  });
  job
    .command('update <job>')
    .description('change what OCI lets you change: name, description, shape, shape config, block storage')
    .option('--name <name>')
    .option('--description <text>')
    .option('--shape <name>')
    .option('--ocpus <n>')
    .option('--memory <gb>')
    .option('--block-storage <gb>')
    .action(async (ref, o, cmd) => {
      const { api, g } = client(cmd);
      const id = await idOf(api, g, 'job', ref);
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
    .command('delete <job>')
    .description('delete a job; --force also cancels and deletes its runs')
    .option('--force', 'also cancel and delete its runs (deleteRelatedJobRuns)')
    .action(async (ref, o, cmd) => {
      const { api, g } = client(cmd);
      const id = await idOf(api, g, 'job', ref);
      await api.deleteJob(id, { deleteRelatedJobRuns: Boolean(o.force) });
      err(`job ${id} deleted`);
    });
  job
    .command('upload <job> <path>')
    .description("upload a job's artifact (once: artifacts are immutable)")
    .action(async (ref, p, _o, cmd) => {
      const { api, g } = client(cmd);
      const id = await idOf(api, g, 'job', ref);
      const name = await uploadArtifact(api, id, p);
      const j = await api.getJob(id);
      print(g, j, () => `uploaded ${name}\n${details(jobRow(j))}`);
    });
  job
    .command('run <job>')
    .description('start a run of a job (by OCID or name), with overrides')
    .option('--name <name>')
    .option('--env <NAME=VALUE>', 'environment variable override (repeatable)', collect)
    .option('--args <string>', 'command line arguments (replace the job\'s)')
    .option('--shape <name>', 'shape override')
    .option('--ocpus <n>')
    .option('--memory <gb>')
    .option('--max-runtime <duration>', 'maximum runtime override: 90, 30m, 2h, 45s')
    .option('--watch', "stream logs and state until the run ends; exit with the run's exit code")
    .action(async (ref, o, cmd) => {
      const { api, g } = client(cmd);
      const jobId = await idOf(api, g, 'job', ref);
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
    .option('--job <job>', 'by OCID or name')
    .option('--state <state>', 'lifecycle state filter (any case)')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const compartmentId = await compartment(api, g);
      const p = await api.listJobRuns({ compartmentId, jobId: await idOf(api, g, 'job', o.job), lifecycleState: upper(o.state), limit: Number(o.limit) });
      const items = o.state ? p.items : p.items.filter((r) => r.lifecycleState !== 'DELETED');
      if (g.json) return print(g, items, () => '');
      const names = await jobNames(api, items.map((r) => r.jobId));
      const rows = items.map((r) => ({ ...r, jobName: names.get(r.jobId) }));
      out(listTable(g, rows, RUN_COLS) + (p.nextPage ? `\n(more: raise --limit)` : ''));
    });
  runCmd.command('get <run>').description('show a job run (by OCID or name)').action(async (ref, _o, cmd) => {
    const { api, g } = client(cmd);
    const r = await api.getJobRun(await idOf(api, g, 'job run', ref));
    print(g, r, () => details(r as unknown as Record<string, unknown>));
  });
  runCmd.command('cancel <run>').description('cancel a run: SIGTERM to its processes, SIGKILL after the grace period').action(async (ref, _o, cmd) => {
    const { api, g } = client(cmd);
    const id = await idOf(api, g, 'job run', ref);
    await api.cancelJobRun(id);
    err(`cancel requested for ${id}`);
  });
  runCmd.command('delete <run>').description('delete a finished run').action(async (ref, _o, cmd) => {
    const { api, g } = client(cmd);
    const id = await idOf(api, g, 'job run', ref);
    await api.deleteJobRun(id);
    err(`job run ${id} deleted`);
  });
  runCmd
    .command('logs <run>')
    .description("print a run's stdout (to stdout) and stderr (to stderr)")
    .option('-f, --follow', 'keep streaming until the run ends')
    .option('--since <seq>', 'only lines after this sequence number', '0')
    .option('-t, --timestamps', 'put the time each line was written (UTC, ISO 8601) before it')
    .action(async (ref, o, cmd) => {
      const { api, g } = client(cmd);
      const id = await idOf(api, g, 'job run', ref);
      for await (const rec of api.logs(id, { follow: Boolean(o.follow), since: Number(o.since) })) {
        const line = `${o.timestamps ? `${rec.time} ` : ''}${rec.message}\n`;
        if (g.json) out(JSON.stringify(rec));
        else if (rec.stream === 'stderr') process.stderr.write(line);
        else process.stdout.write(line);
      }
    });
  runCmd
    .command('metrics <run>')
    .description("show a run's CPU, memory, disk and GPU use over time (percent of its shape)")
    .option('--since <time>', 'only samples after this ISO time')
    .action(async (ref, o, cmd) => {
      const { api, g } = client(cmd);
      const m = await api.getJobRunMetrics(await idOf(api, g, 'job run', ref), { since: o.since });
      out(g.json ? JSON.stringify(m, null, 2) : metricsTable(m));
    });
  runCmd
    .command('watch <run>')
    .description("stream a run's logs and state until it ends; exit with its exit code")
    .action(async (ref, _o, cmd) => {
      const { api, g } = client(cmd);
      const final = await watchRun(api, await idOf(api, g, 'job run', ref), g);
      process.exitCode = exitStatusOf(final);
    });

  // ---------------------------------------------------------------- webhooks
  const webhook = program.command('webhook').description('webhook subscriptions: signed POSTs of events to your URL');
  const filterOf = (o: { type?: string[]; job?: string; project?: string; state?: string[] }) => ({
    eventTypes: o.type,
    jobId: o.job,
    projectId: o.project,
    lifecycleStates: o.state,
  });
  webhook
    .command('create')
    .description('subscribe a URL to events; prints the signing secret (shown once)')
    .requiredOption('--url <url>', 'http(s) endpoint that receives the events')
    .option('--name <name>')
    .option('--type <eventType>', 'event type (repeatable; default all)', collect)
    .option('--job <job>', 'only events of this job and its runs (OCID or name)')
    .option('--project <project>', 'only events of this project (OCID or name)')
    .option('--state <state>', "only when the resource's new state is this (repeatable)", collect)
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const filter = { ...filterOf(o), jobId: await idOf(api, g, 'job', o.job), projectId: await idOf(api, g, 'project', o.project) };
      const w = await api.createWebhookSubscription({ compartmentId: await compartment(api, g), displayName: o.name, url: o.url, filter });
      print(g, w, () => details(w as unknown as Record<string, unknown>));
    });
  webhook.command('list').description('list webhook subscriptions').action(async (_o, cmd) => {
    const { api, g } = client(cmd);
    const items = await api.listWebhookSubscriptions({ compartmentId: g.compartmentId });
    print(g, items, () => table(items as unknown as Record<string, unknown>[], ['id', 'displayName', 'lifecycleState', 'url', 'filter']));
  });
  webhook.command('get <id>').description('show a subscription').action(async (id, _o, cmd) => {
    const { api, g } = client(cmd);
    const w = await api.getWebhookSubscription(id);
    print(g, w, () => details(w as unknown as Record<string, unknown>));
  });
  for (const [verb, what] of [['pause', 'stop delivering (pending deliveries wait)'], ['resume', 'deliver again']] as const) {
    webhook.command(`${verb} <id>`).description(what).action(async (id, _o, cmd) => {
      const { api, g } = client(cmd);
      const w = verb === 'pause' ? await api.pauseWebhookSubscription(id) : await api.resumeWebhookSubscription(id);
      print(g, w, () => `${w.id} ${w.lifecycleState}`);
    });
  }
  webhook.command('test <id>').description('send one signed test event now and show the answer').action(async (id, _o, cmd) => {
    const { api, g } = client(cmd);
    const r = await api.testWebhookSubscription(id);
    print(g, r, () => details(r as unknown as Record<string, unknown>));
    if (!r.ok) process.exitCode = 1;
  });
  webhook.command('delete <id>').description('delete a subscription').action(async (id, _o, cmd) => {
    const { api } = client(cmd);
    await api.deleteWebhookSubscription(id);
    err(`webhook subscription ${id} deleted`);
  });
  webhook
    .command('deliveries <id>')
    .description('deliveries of a subscription with their attempts (status, response code, next retry)')
    .option('--status <status>', 'PENDING, SUCCEEDED or FAILED')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (id, o, cmd) => {
      const { api, g } = client(cmd);
      const p = await api.listWebhookDeliveries(id, { status: o.status, limit: parseNumber('--limit', o.limit) });
      print(g, p.items, () => table(p.items as unknown as Record<string, unknown>[], ['id', 'eventId', 'status', 'attempts', 'lastStatusCode', 'timeNextAttempt', 'lastError']));
    });

  // ---------------------------------------------------------------- trigger rules
  const trigger = program.command('trigger').description('trigger rules: start a job when an event matches, or from a URL');
  const overridesOf = (o: { env?: string[]; args?: string; runName?: string }) => ({
    environmentVariables: parseEnvPairs(o.env),
    commandLineArguments: o.args,
    displayName: o.runName,
  });
  trigger
    .command('create')
    .description('start a run of --job when an event matches (or only by URL); templates: {{run.id}}, {{run.env.NAME}}, {{event.data.jobId}}, {{body.x}}')
    .requiredOption('--job <job>', 'the job to start, by OCID or name')
    .option('--name <name>')
    .option('--on-job <job>', 'events of this job (and its runs), by OCID or name')
    .option('--on-type <eventType>', 'event type (repeatable), e.g. com.oraclecloud.datascience.succeededjobrun', collect)
    .option('--on-state <state>', "the resource's new state (repeatable)", collect)
    .option('--url-only', 'no event condition: only POSTs to the trigger URL start runs')
    .option('--env <NAME=VALUE>', 'env override of the started run, templates allowed (repeatable)', collect)
    .option('--args <string>', 'arguments of the started run, templates allowed')
    .option('--run-name <template>', 'display name of the started run')
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const cond = o.urlOnly ? null : { jobId: await idOf(api, g, 'job', o.onJob), eventTypes: o.onType, lifecycleStates: o.onState };
      if (cond && !cond.jobId && !cond.eventTypes && !cond.lifecycleStates) {
        throw new UsageError('give an event condition (--on-job, --on-type, --on-state) or --url-only');
      }
      const r = await api.createTriggerRule({ compartmentId: await compartment(api, g), displayName: o.name, jobId: await idOf(api, g, 'job', o.job), eventFilter: cond, overrides: overridesOf(o) });
      print(g, r, () => details(r as unknown as Record<string, unknown>));
    });
  trigger.command('list').description('list trigger rules').action(async (_o, cmd) => {
    const { api, g } = client(cmd);
    const items = await api.listTriggerRules({ compartmentId: g.compartmentId });
    print(g, items, () => table(items as unknown as Record<string, unknown>[], ['id', 'displayName', 'lifecycleState', 'jobId', 'eventFilter']));
  });
  trigger.command('get <id>').description('show a trigger rule').action(async (id, _o, cmd) => {
    const { api, g } = client(cmd);
    const r = await api.getTriggerRule(id);
    print(g, r, () => details(r as unknown as Record<string, unknown>));
  });
  for (const verb of ['activate', 'deactivate'] as const) {
    trigger.command(`${verb} <id>`).description(`${verb} a trigger rule`).action(async (id, _o, cmd) => {
      const { api, g } = client(cmd);
      const r = verb === 'activate' ? await api.activateTriggerRule(id) : await api.deactivateTriggerRule(id);
      print(g, r, () => `${r.id} ${r.lifecycleState}`);
    });
  }
  trigger.command('delete <id>').description('delete a trigger rule').action(async (id, _o, cmd) => {
    const { api } = client(cmd);
    await api.deleteTriggerRule(id);
    err(`trigger rule ${id} deleted`);
  });
  trigger
    .command('fire <id>')
    .description("POST to the rule's trigger URL with its token, as a CI pipeline would")
    .requiredOption('--token <token>', 'the triggerToken shown when the rule was created (env DSJOBS_TRIGGER_TOKEN)', process.env.DSJOBS_TRIGGER_TOKEN)
    .option('--data <json>', 'JSON body: {{body.*}} in the templates')
    .option('--retry-token <token>', 'the same token never starts two runs')
    .action(async (id, o, cmd) => {
      const { api, g } = client(cmd);
      let body: unknown = {};
      if (o.data) {
        try {
          body = JSON.parse(o.data);
        } catch {
          throw new UsageError('--data: is not valid JSON');
        }
      }
      const run = await api.fireTriggerRule(id, o.token, body, o.retryToken);
      print(g, run, () => details({ id: run.id, jobId: run.jobId, lifecycleState: run.lifecycleState }));
    });

  // ---------------------------------------------------------------- schedules
  const schedule = program.command('schedule').description('cron schedules that start runs of a job');
  schedule
    .command('create')
    .description('start runs of --job on a cron schedule')
    .requiredOption('--job <job>', 'by OCID or name')
    .requiredOption('--cron <expr>', 'cron expression, e.g. "0 2 * * *" (5 or 6 fields)')
    .option('--tz <zone>', 'IANA time zone', 'UTC')
    .option('--misfire <policy>', 'after downtime: SKIP the missed starts or RUN_ONCE for them', 'SKIP')
    .option('--name <name>')
    .option('--env <NAME=VALUE>', 'env override of the runs (repeatable)', collect)
    .option('--args <string>', 'arguments of the runs')
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const sc = await api.createSchedule({
        compartmentId: await compartment(api, g),
        displayName: o.name,
        jobId: await idOf(api, g, 'job', o.job),
        cron: o.cron,
        timeZone: o.tz,
        misfirePolicy: String(o.misfire).toUpperCase() as 'SKIP' | 'RUN_ONCE',
        overrides: { environmentVariables: parseEnvPairs(o.env), commandLineArguments: o.args },
      });
      print(g, sc, () => details(sc as unknown as Record<string, unknown>));
    });
  schedule.command('list').description('list schedules with their next fire time').action(async (_o, cmd) => {
    const { api, g } = client(cmd);
    const items = (await api.listSchedules({ compartmentId: g.compartmentId })).map((x) => ({ ...x, next: x.timeNextRuns[0] ?? '-' }));
    print(g, items, () => table(items as unknown as Record<string, unknown>[], ['id', 'displayName', 'lifecycleState', 'cron', 'timeZone', 'next']));
  });
  schedule.command('get <id>').description('show a schedule and its next fire times').action(async (id, _o, cmd) => {
    const { api, g } = client(cmd);
    const sc = await api.getSchedule(id);
    print(g, sc, () => details(sc as unknown as Record<string, unknown>));
  });
  for (const [verb, call] of [['pause', 'deactivateSchedule'], ['resume', 'activateSchedule']] as const) {
    schedule.command(`${verb} <id>`).description(`${verb} a schedule`).action(async (id, _o, cmd) => {
      const { api, g } = client(cmd);
      const sc = await api[call](id);
      print(g, sc, () => `${sc.id} ${sc.lifecycleState}`);
    });
  }
  schedule.command('delete <id>').description('delete a schedule').action(async (id, _o, cmd) => {
    const { api } = client(cmd);
    await api.deleteSchedule(id);
    err(`schedule ${id} deleted`);
  });

  // ---------------------------------------------------------------- sweeps
  const sweep = program.command('sweep').description('parallel sweeps: many runs of a job over parameters, then the best');
  const trialCols = (t: SweepTrial) => ({
    rank: t.rank,
    index: t.index,
    state: t.lifecycleState,
    ...t.parameters.environmentVariables,
    ...(t.parameters.commandLineArguments !== undefined ? { args: t.parameters.commandLineArguments } : {}),
    ...t.metrics,
  });
  const showTrials = (trials: SweepTrial[]) => {
    const rows = trials.map(trialCols);
    const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    return table(rows as Record<string, unknown>[], cols);
  };
  sweep
    .command('create')
    .description('start a sweep: --grid NAME=v1,v2 (repeatable) makes every combination; --random N samples N of them')
    .requiredOption('--job <job>', 'by OCID or name')
    .requiredOption('--metric <name>', 'the DSJOBS_METRIC name to rank by')
    .option('--goal <goal>', 'max or min', 'max')
    .option('--grid <NAME=v1,v2,...>', 'env var and its values (repeatable)', collect)
    .option('--args-values <a>', 'a command line argument string to try (repeatable)', collect)
    .option('--random <n>', 'sample n trials at random instead of the full grid')
    .option('--seed <n>', 'seed of the random sample')
    .option('--max-parallel <k>', 'runs at once', '4')
    .option('--name <name>')
    .option('--env <NAME=VALUE>', 'env of every trial (repeatable)', collect)
    .option('--final-job <job>', 'after the trials, run this job (OCID or name; default: the same job) with the best parameters')
    .option('--final', 'start a final run of the same job with the best parameters')
    .option('--final-env <NAME=VALUE>', 'extra env of the final run (repeatable)', collect)
    .option('--wait', 'wait until the sweep ends and print the ranking')
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const grid: Record<string, string[]> = {};
      for (const spec of o.grid ?? []) {
        const i = spec.indexOf('=');
        if (i <= 0) throw new UsageError(`--grid ${spec}: expected NAME=v1,v2,...`);
        grid[spec.slice(0, i)] = spec.slice(i + 1).split(',');
      }
      const goal = String(o.goal).toLowerCase();
      if (goal !== 'max' && goal !== 'min') throw new UsageError('--goal: max or min');
      const wantFinal = o.final || o.finalJob || o.finalEnv;
      let sw = await api.createSweep({
        compartmentId: await compartment(api, g),
        displayName: o.name,
        jobId: await idOf(api, g, 'job', o.job),
        strategy: o.random ? 'RANDOM' : 'GRID',
        sampleCount: parseNumber('--random', o.random),
        seed: parseNumber('--seed', o.seed),
        parameters: { environmentVariables: grid, commandLineArguments: o.argsValues },
        maxParallel: parseNumber('--max-parallel', o.maxParallel)!,
        metric: { name: o.metric, goal: goal === 'max' ? 'MAXIMIZE' : 'MINIMIZE' },
        overrides: { environmentVariables: parseEnvPairs(o.env) },
        final: wantFinal ? { jobId: await idOf(api, g, 'job', o.finalJob), overrides: { environmentVariables: parseEnvPairs(o.finalEnv) } } : undefined,
      });
      if (!o.wait) {
        print(g, sw, () => details({ id: sw.id, lifecycleState: sw.lifecycleState, trialCount: sw.trialCount, maxParallel: sw.maxParallel }));
        return;
      }
      err(`[dsjobs] Sweep ${sw.id}: ${sw.trialCount} trials, at most ${sw.maxParallel} at a time`);
      let last = '';
      while (sw.lifecycleState === 'IN_PROGRESS' || sw.lifecycleState === 'CANCELING') {
        await new Promise((r) => setTimeout(r, 1000));
        sw = await api.getSweep(sw.id);
        const line = JSON.stringify(sw.trialCounts);
        if (line !== last && !g.json) err(`[dsjobs] ${new Date().toISOString()} ${Object.entries(sw.trialCounts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
        last = line;
      }
      const ranked = await api.listSweepTrials(sw.id, { sortBy: 'rank' });
      print(g, { sweep: sw, trials: ranked }, () => `${showTrials(ranked)}\n\n${sw.lifecycleState}: ${sw.lifecycleDetails ?? ''}`);
      if (sw.lifecycleState !== 'SUCCEEDED') process.exitCode = 1;
    });
  sweep.command('list').description('list sweeps').option('--job <job>', 'by OCID or name').action(async (o, cmd) => {
    const { api, g } = client(cmd);
    const items = await api.listSweeps({ compartmentId: g.compartmentId, jobId: await idOf(api, g, 'job', o.job) });
    print(g, items, () => table(items as unknown as Record<string, unknown>[], ['id', 'displayName', 'lifecycleState', 'trialCount', 'maxParallel', 'timeCreated']));
  });
  sweep.command('get <id>').description('show a sweep and its trials, best first').action(async (id, _o, cmd) => {
    const { api, g } = client(cmd);
    const sw = await api.getSweep(id);
    const ranked = await api.listSweepTrials(id, { sortBy: 'rank' });
    print(g, { sweep: sw, trials: ranked }, () => `${details({ id: sw.id, displayName: sw.displayName, lifecycleState: sw.lifecycleState, lifecycleDetails: sw.lifecycleDetails, metric: sw.metric, finalJobRunId: sw.finalJobRunId })}\n\n${showTrials(ranked)}`);
  });
  sweep.command('cancel <id>').description('cancel a sweep: no new trials, running ones are canceled').action(async (id, _o, cmd) => {
    const { api } = client(cmd);
    await api.cancelSweep(id);
    err(`cancel requested for sweep ${id}`);
  });

  // ---------------------------------------------------------------- admin

  // ---------------------------------------------------------------- events
  program
    .command('events')
    .description('list lifecycle events (CloudEvents), oldest first; -f follows new ones as they happen')
    .option('-f, --follow', 'keep streaming new events (resume with --after <last event id>)')
    .option('--type <types>', 'event types, comma-separated (see docs/events.md)')
    .option('--resource <ocid>', 'events of this resource only')
    .option('--job <job>', 'events of this job and its runs (OCID or name)')
    .option('--project <project>', 'events of this project, its jobs and runs (OCID or name)')
    .option('--after <eventId>', 'only events after this one')
    .option('--limit <n>', 'at most this many (without -f)', '100')
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const q = {
        compartmentId: g.compartmentId,
        type: o.type,
        resourceId: o.resource,
        jobId: await idOf(api, g, 'job', o.job),
        projectId: await idOf(api, g, 'project', o.project),
        after: o.after,
      };
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
  addSetPasswordCommand(addAdminCommands(program), client);
  addAuditCommands(program, client);
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

/** What to do when the server cannot be reached: where the URL came from and the two ways to give another. */
function connectionHint(endpointFlag: string | undefined): string {
  const from = endpointFlag
    ? 'from --endpoint'
    : process.env.DSJOBS_ENDPOINT
      ? 'from DSJOBS_ENDPOINT'
      : `the default; none was given with --endpoint or DSJOBS_ENDPOINT`;
  return [
    `  (the URL is ${from})`,
    '  Start a server there (dsjobs server), or point the CLI at yours:',
    '    dsjobs --endpoint http://HOST:PORT COMMAND ...   or   export DSJOBS_ENDPOINT=http://HOST:PORT',
  ].join('\n');
}

export async function main(argv: string[]): Promise<void> {
  const program = buildCli();
  program.addOption(new Option('--debug').hideHelp());
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof DsJobsError) err(`error: ${e.code}: ${e.message}${e.status ? ` (HTTP ${e.status})` : ''}`);
    if (e instanceof DsJobsError && e.code === 'ConnectionFailed') err(connectionHint(program.opts<Globals>().endpoint));
    else if (e instanceof UsageError || e instanceof JobSpecError) err(`error: ${e.message}`);
    else if (['ConfigError', 'SecretKeyError', 'DataDirLockedError', 'DatabaseIntegrityError', 'BackupError'].includes((e as Error)?.name)) err(`error: ${(e as Error).message}`);
    else if (['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR'].includes((e as NodeJS.ErrnoException)?.code ?? '')) {
      const x = e as NodeJS.ErrnoException;
      err(`error: ${x.path ?? ''}: ${x.code === 'ENOENT' ? 'no such file or directory' : x.message}`);
    }
    else err(`error: ${(e as Error)?.stack ?? e}`);
    process.exitCode = 2;
  }
}
