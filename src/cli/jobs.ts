// `dsjobs job ...`: create (from flags or a YAML spec), list, get, update, delete, upload, run.
import { Command } from 'commander';
import { createReadStream, promises as fsp, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { DsJobsClient, type Job } from '../sdk/client.js';
import { details, err, out, type Column } from './output.js';
import { collect, parseEnvPairs, parseMaxRuntime, parseNumber, UsageError } from './parse.js';
import { parseJobSpec } from '../job-spec/job-spec.js';
import { localSpecFiles } from './spec-files.js';
import { bundleArtifact } from './bundle.js';
import { jobAsAdsYaml } from './job-yaml.js';
import { client, compartment, idOf, print, listTable, upper } from './context.js';
import { exitStatusOf, watchRun } from './watch.js';
import { downloadOciUri, outputUriWarning } from './object-storage.js';

export const JOB_COLS: Column[] = [
  { key: 'id', header: 'ID' },
  { key: 'displayName', header: 'NAME', min: 10 },
  { key: 'lifecycleState', header: 'STATE' },
  { key: 'shape', header: 'SHAPE', min: 12 },
  { key: 'timeCreated', header: 'CREATED' },
];

/** The server's default shape (GET /serverInfo), the one the console preselects too. */
export async function defaultShape(api: DsJobsClient): Promise<string> {
  const name = (await api.serverInfo()).defaultShapeName;
  if (!name) throw new UsageError('this server runs none of its shapes (see `dsjobs shapes --all`); --shape NAME is required');
  return name;
}

/** The project a job goes in when none is named: one called "default" in the compartment, made on first use. */
export async function defaultProject(api: DsJobsClient, compartmentId: string): Promise<string> {
  for await (const p of api.all((page) => api.listProjects({ compartmentId, displayName: 'default', lifecycleState: 'ACTIVE', page }))) {
    return p.id;
  }
  return (await api.createProject({ compartmentId, displayName: 'default', description: 'Created by the dsjobs CLI' })).id;
}

/** Uploads a file as is, or a directory as a .tar.gz of its contents. */
export async function uploadArtifact(api: DsJobsClient, jobId: string, source: string): Promise<string> {
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

export function jobRow(j: { id: string; displayName: string; lifecycleState: string; timeCreated: string; jobInfrastructureConfigurationDetails?: { shapeName?: string } }) {
  return { ...j, shape: j.jobInfrastructureConfigurationDetails?.shapeName };
}

export function addJobCommands(program: Command): void {
  const job = program.command('job').description('jobs: templates for runs');
  job
    .command('create')
    .description('create a job from a YAML spec (ADS or native) or from flags, and upload its artifact')
    .option('-f, --file <spec.yaml>', 'ADS job YAML (kind: job) or native dsjobs YAML')
    .option('--project <project>', 'project, by OCID or name (default: a project named "default")')
    .option('--name <name>')
    .option('--artifact <path>', 'a .py, .sh, .zip or .tar.gz file, or a directory (uploaded as .tar.gz)')
    .option('--image <ref>', "a container job: the image to run (over the spec's image); the artifact is then optional")
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
      let fetched: string | null = null;
      let generated: Parameters<typeof bundleArtifact>[0] | null = null;
      if (o.file) {
        const text = await fsp.readFile(o.file, 'utf8');
        const spec = parseJobSpec(text, { specDir: path.dirname(path.resolve(o.file)), files: localSpecFiles() });
        for (const w of spec.ignored) err(`ignored: ${w}`);
        for (const w of spec.warnings) err(`warning: ${w}`);
        details_ = spec.createJobDetails;
        const outputUri = (details_.jobConfigurationDetails as { environmentVariables?: Record<string, string> } | undefined)?.environmentVariables?.OUTPUT_URI;
        const outputWarning = outputUri ? await outputUriWarning(cmd, outputUri).catch(() => null) : null;
        if (outputWarning) err(`warning: ${outputWarning}`);
        artifact = o.artifact ?? spec.artifactPath;
        if (!o.artifact && spec.artifactUri) {
          // scriptPathURI in Object Storage: fetched, then uploaded as the job's artifact like a local file.
          fetched = await fsp.mkdtemp(path.join(os.tmpdir(), 'dsjobs-artifact-'));
          artifact = await downloadOciUri(cmd, spec.artifactUri, fetched);
        }
        // A runtime with a driver (gitPython, notebook): --artifact replaces the code packed with it, not the driver.
        if (spec.generatedFiles?.length) generated = spec;
        if (o.name) details_.displayName = o.name;
        // A spec without infrastructure (or without a shape) gets the CLI's shape flags and their defaults.
        // A multi-node spec (pyTorchDistributed) has them on its node group instead.
        const group = (details_.jobNodeConfigurationDetails as { jobNodeGroupConfigurationDetailsList: Record<string, unknown>[] } | undefined)
          ?.jobNodeGroupConfigurationDetailsList[0];
        const infra = (group
          ? group.jobInfrastructureConfigurationDetails
          : (details_.jobInfrastructureConfigurationDetails ??= { jobInfrastructureType: 'ME_STANDALONE' })) as Record<string, unknown>;
        if (o.shape || !infra.shapeName) infra.shapeName = o.shape ?? (await defaultShape(api));
        const ocpus = parseNumber('--ocpus', o.ocpus);
        const memory = parseNumber('--memory', o.memory);
        if (ocpus !== undefined || memory !== undefined) infra.jobShapeConfigDetails = { ocpus, memoryInGBs: memory };
        infra.blockStorageSizeInGBs ??= parseNumber('--block-storage', o.blockStorage);
      } else {
        if (!o.artifact && !o.image) throw new UsageError('either -f SPEC, --artifact PATH or --image IMAGE is required');
        artifact = o.artifact;
        const env = parseEnvPairs(o.env) ?? {};
        if (o.entrypoint) env.JOB_RUN_ENTRYPOINT = o.entrypoint;
        const ocpus = parseNumber('--ocpus', o.ocpus);
        const memory = parseNumber('--memory', o.memory);
        details_ = {
          displayName: o.name ?? path.basename(o.artifact ?? o.image),
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
      if (o.image) details_.jobEnvironmentConfigurationDetails = { jobEnvironmentType: 'OCIR_CONTAINER', ...(details_.jobEnvironmentConfigurationDetails as object), image: o.image };
      // A container job runs its image: its artifact, if any, is only unpacked into the working directory.
      const container = details_.jobEnvironmentConfigurationDetails !== undefined;
      if (!artifact && !container && !generated) throw new UsageError('the spec names no local artifact (scriptPathURI); pass --artifact PATH');
      const st = artifact
        ? await fsp.stat(artifact).catch(() => {
            throw new UsageError(`artifact ${artifact}: no such file or directory`);
          })
        : null;
      const jobEnv = ((details_.jobConfigurationDetails as { environmentVariables?: Record<string, string> } | undefined)
        ?.environmentVariables ?? {}) as Record<string, string>;
      if (st?.isDirectory() && !jobEnv.JOB_RUN_ENTRYPOINT && !container && !generated) {
        throw new UsageError(
          `artifact ${artifact} is a directory: --entrypoint FILE (JOB_RUN_ENTRYPOINT, relative to the directory) must name the file to run`,
        );
      }
      details_.compartmentId ??= compartmentId;
      details_.projectId = (await idOf(api, g, 'project', o.project)) ?? details_.projectId ?? (await defaultProject(api, compartmentId));
      const created = await api.createJob(details_ as never);
      let bundle: Awaited<ReturnType<typeof bundleArtifact>> | null = null;
      try {
        bundle = generated ? await bundleArtifact(generated, artifact) : null;
        if (bundle || artifact) await uploadArtifact(api, created.id, bundle?.path ?? (artifact as string));
      } catch (e) {
        // Like ADS: a job whose artifact could not be uploaded is removed rather than left CREATING.
        await api.deleteJob(created.id).catch(() => {});
        throw e;
      } finally {
        if (fetched) await fsp.rm(fetched, { recursive: true, force: true });
        await bundle?.remove();
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
  job
    .command('get <job>')
    .description('show a job (by OCID or name); --yaml writes it as an ADS job spec that `job create -f` reads back')
    .option('--yaml', 'write the job as an ADS YAML spec (kind: job)')
    .option('--artifact-dir <dir>', "with --yaml: save the job's code there (the artifact, a notebook) for the spec to name")
    .action(async (ref, o, cmd) => {
      const { api, g } = client(cmd);
      const j = await api.getJob(await idOf(api, g, 'job', ref));
      if (o.artifactDir && !o.yaml) throw new UsageError('--artifact-dir goes with --yaml');
      if (o.yaml) {
        const { yaml, warnings } = await jobAsAdsYaml(api, j, o.artifactDir);
        for (const w of warnings) err(`warning: ${w}`);
        out(yaml.replace(/\n$/, ''));
        return;
      }
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
}
