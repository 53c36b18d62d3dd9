/**
 * End-to-end tests of the `dsjobs` CLI: every command runs as a real child process (node bin/dsjobs.js, which runs
 * the compiled dist/; `npm run build` first) against a real server started by the harness. Nothing is mocked.
 */
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ROOT, startServer, type TestServer } from '../support/server.js';
import { BUSYBOX_IMAGE, dockerReady } from '../support/docker.js';
import { runCli, type CliResult } from '../support/cli.js';


let s: TestServer;
let tmp: string;

/** Runs `node bin/dsjobs.js ...args` pointed at the test server (env DSJOBS_ENDPOINT unless overridden). */
function cli(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  // DSJOBS_DATA_DIR: the CLI signs with the OCI config the server wrote there, found as a user's CLI finds it.
  return runCli(args, { env: { DSJOBS_ENDPOINT: s.url, DSJOBS_DATA_DIR: s.dataDir, ...opts.env }, cwd: opts.cwd ?? tmp, timeoutMs: opts.timeoutMs ?? 30_000 });
}

/** Like cli() but the command must exit 0; returns the result. */
async function ok(args: string[], opts: Parameters<typeof cli>[1] = {}): Promise<CliResult> {
  const r = await cli(args, opts);
  assert.equal(r.code, 0, `dsjobs ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** Runs a command with --json and parses its stdout. */
async function okJson<T = any>(args: string[], opts: Parameters<typeof cli>[1] = {}): Promise<T> {
  const r = await ok([...args, '--json'], opts);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    assert.fail(`dsjobs ${args.join(' ')} --json printed no JSON:\n${r.stdout}\nstderr: ${r.stderr}`);
  }
}

function write(file: string, content: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  return file;
}

function scratch(name: string): string {
  return mkdtempSync(path.join(tmp, `${name}-`));
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELED', 'DELETED']);

/** Polls `run get ID --json` until pred holds. */
async function pollRun(id: string, pred: (r: any) => boolean, timeoutMs = 30_000): Promise<any> {
  const start = Date.now();
  let last: any;
  while (Date.now() - start < timeoutMs) {
    last = await okJson(['run', 'get', id]);
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`run ${id} did not reach the expected state in ${timeoutMs} ms; last: ${last?.lifecycleState} ${last?.lifecycleDetails}`);
}

async function jobCount(): Promise<number> {
  return (await okJson<unknown[]>(['job', 'list'])).length;
}

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-cli-test-'));
  // What the ADS fixtures name: the conda slug of 02/03 (a real venv here) and the storage of 15.
  // The venv's interpreter is a symlink to the python that made it: the system's, which the sandboxed run user can
  // execute (a python under root's 0700 home, as pyenv's first on PATH, it cannot: the run would exit 127).
  const venv = path.join(tmp, 'venv-pytorch');
  execFileSync(existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3', ['-m', 'venv', '--without-pip', venv]);
  const dir = (name: string) => {
    const d = path.join(tmp, name);
    mkdirSync(d, { recursive: true });
    return d;
  };
  const config = path.join(tmp, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      condaEnvironments: [{ slug: 'pytorch110_p38_cpu_v1', path: venv }],
      storage: {
        fileSystems: [
          { mountTargetId: 'ocid1.mounttarget.oc1..one', exportId: 'ocid1.export.oc1..one', ipAddress: '1.1.1.1', exportPath: 'test_export_path_one', path: dir('fs-one') },
          { mountTargetId: 'ocid1.mounttarget.oc1..two', exportId: 'ocid1.export.oc1..two', ipAddress: '2.2.2.2', exportPath: 'test_export_path_two', path: dir('fs-two') },
        ],
        buckets: [{ namespace: 'namespace', bucket: 'bucket_name', path: dir('bucket') }],
      },
    }),
  );
  s = await startServer({ config });
});
after(async () => {
  await s?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------------

describe('job create / list / get / run / logs', () => {
  let jobId = '';
  let runId = '';
  let dir = '';

  test('job create --artifact hello.py --env --args --shape --json creates an ACTIVE job', async () => {
    dir = scratch('hello');
    write(
      path.join(dir, 'hello.py'),
      'import os, sys\nprint("A=" + os.environ["A"])\nprint("argv", sys.argv[1:])\nprint("to-stderr", file=sys.stderr)\n',
    );
    const job = await okJson(['job', 'create', '--artifact', 'hello.py', '--env', 'A=1', '--args', 'x y', '--shape', 'Local.Light'], { cwd: dir });
    assert.match(job.id, /^ocid1\.datasciencejob\./);
    assert.equal(job.lifecycleState, 'ACTIVE');
    assert.equal(job.displayName, 'hello.py');
    assert.equal(job.jobInfrastructureConfigurationDetails.shapeName, 'Local.Light');
    assert.deepEqual(job.jobConfigurationDetails.environmentVariables, { A: '1' });
    assert.equal(job.jobConfigurationDetails.commandLineArguments, 'x y');
    jobId = job.id;
  });

  test('job list prints a table with the job; job get ID --json returns it', async () => {
    const list = await ok(['job', 'list', '--wide']);
    const header = lines(list.stdout)[0];
    assert.match(header, /^ID\s+NAME\s+STATE\s+SHAPE/);
    const row = lines(list.stdout).find((l) => l.startsWith(jobId));
    assert.ok(row, `job ${jobId} not in:\n${list.stdout}`);
    assert.match(row, /hello\.py\s+ACTIVE\s+Local\.Light/);

    const got = await okJson(['job', 'get', jobId]);
    assert.equal(got.id, jobId);
    assert.equal(got.lifecycleState, 'ACTIVE');
    assert.equal(got.jobConfigurationDetails.commandLineArguments, 'x y');

    // Human output: key/value lines, shape included; --endpoint works as well as DSJOBS_ENDPOINT.
    const human = await ok(['--endpoint', s.url, 'job', 'get', jobId], { env: { DSJOBS_ENDPOINT: 'http://127.0.0.1:1' } });
    assert.match(human.stdout, new RegExp(`^id\\s+${jobId.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(human.stdout, /^shape\s+Local\.Light$/m);
  });

  test('job run --env --args --watch streams the output, state lines on stderr, exit 0', async () => {
    const r = await ok(['job', 'run', jobId, '--env', 'A=2', '--args', "p 'q r'", '--watch']);
    assert.deepEqual(lines(r.stdout), ['A=2', "argv ['p', 'q r']"]);
    assert.match(r.stderr, /^\[dsjobs\] Job OCID: ocid1\.datasciencejob\./m);
    const m = /^\[dsjobs\] Job Run OCID: (\S+)$/m.exec(r.stderr);
    assert.ok(m, r.stderr);
    runId = m[1];
    assert.match(r.stderr, /Job Run SUCCEEDED/);
    assert.match(r.stderr, /^to-stderr$/m);
    // The final state line comes last.
    assert.match(lines(r.stderr).at(-1)!, /Job Run SUCCEEDED/);
  });

  test('run list --job --json, run get, run logs', async () => {
    const runs = await okJson<any[]>(['run', 'list', '--job', jobId]);
    assert.equal(runs.length, 1);
    assert.equal(runs[0].id, runId);
    assert.equal(runs[0].lifecycleState, 'SUCCEEDED');

    const table = await ok(['run', 'list', '--job', jobId, '--wide']);
    assert.match(table.stdout, new RegExp(`^${runId.replace(/\./g, '\\.')}\\s+\\S+\\s+SUCCEEDED\\s+0\\s`, 'm'));

    const run = await okJson(['run', 'get', runId]);
    assert.equal(run.id, runId);
    assert.equal(run.jobId, jobId);
    assert.equal(run.lifecycleState, 'SUCCEEDED');
    assert.equal(run.exitCode, 0);
    assert.deepEqual(run.jobConfigurationOverrideDetails?.environmentVariables, { A: '2' });
    const human = await ok(['run', 'get', runId]);
    assert.match(human.stdout, /^lifecycleState\s+SUCCEEDED$/m);

    const logs = await ok(['run', 'logs', runId]);
    assert.deepEqual(lines(logs.stdout), ['A=2', "argv ['p', 'q r']"]);
    assert.deepEqual(lines(logs.stderr), ['to-stderr']);

    const jsonLogs = lines((await ok(['run', 'logs', runId, '--json'])).stdout).map((l) => JSON.parse(l));
    // stdout and stderr are separate pipes, so only the order within each stream is defined.
    assert.deepEqual(
      jsonLogs.map((l) => l.seq),
      [1, 2, 3],
    );
    assert.deepEqual(
      jsonLogs.filter((l) => l.stream === 'stdout').map((l) => l.message),
      ['A=2', "argv ['p', 'q r']"],
    );
    assert.deepEqual(
      jsonLogs.filter((l) => l.stream === 'stderr').map((l) => l.message),
      ['to-stderr'],
    );
    const last = jsonLogs[2];
    const since = await ok(['run', 'logs', runId, '--since', '2']);
    assert.deepEqual(lines(last.stream === 'stderr' ? since.stderr : since.stdout), [last.message]);
    assert.equal(last.stream === 'stderr' ? since.stdout : since.stderr, '');
  });

  test('a script that exits 7: --watch exits with 7', async () => {
    const d = scratch('exit7');
    write(path.join(d, 'fail.sh'), 'echo failing now\nexit 7\n');
    const job = await okJson(['job', 'create', '--artifact', 'fail.sh', '--shape', 'Local.Light'], { cwd: d });
    const r = await cli(['job', 'run', job.id, '--watch']);
    assert.equal(r.code, 7, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.deepEqual(lines(r.stdout), ['failing now']);
    assert.match(r.stderr, /Job Run FAILED, Job run artifact execution failed with exit code 7\./);
  });

  test('run logs -f on a running job ends by itself when the run ends', async () => {
    const d = scratch('follow');
    write(path.join(d, 'slow.sh'), 'echo first\nsleep 2\necho second >&2\necho third\n');
    const job = await okJson(['job', 'create', '--artifact', 'slow.sh', '--shape', 'Local.Light'], { cwd: d });
    const run = await okJson(['job', 'run', job.id]);
    assert.ok(!TERMINAL.has(run.lifecycleState), run.lifecycleState);
    const r = await ok(['run', 'logs', run.id, '-f'], { timeoutMs: 20_000 });
    assert.deepEqual(lines(r.stdout), ['first', 'third']);
    assert.deepEqual(lines(r.stderr), ['second']);
    const done = await okJson(['run', 'get', run.id]);
    assert.equal(done.lifecycleState, 'SUCCEEDED');
  });
});

describe('cancel, update, delete', () => {
  test('run cancel on a sleeping run ends it CANCELED', async () => {
    const d = scratch('sleep');
    write(path.join(d, 'sleep.sh'), 'echo going to sleep\nsleep 120\necho woke up\n');
    const job = await okJson(['job', 'create', '--artifact', 'sleep.sh', '--shape', 'Local.Light'], { cwd: d });
    const run = await okJson(['job', 'run', job.id]);
    await pollRun(run.id, (r) => r.lifecycleState === 'IN_PROGRESS');
    const c = await ok(['run', 'cancel', run.id]);
    assert.match(c.stderr, /cancel requested/);
    const done = await pollRun(run.id, (r) => TERMINAL.has(r.lifecycleState), 20_000);
    assert.equal(done.lifecycleState, 'CANCELED', done.lifecycleDetails);
    const logs = await ok(['run', 'logs', run.id]);
    assert.ok(!logs.stdout.includes('woke up'));
  });

  test('job update --shape --ocpus --memory, then job get shows it; job delete --force', async () => {
    const d = scratch('upd');
    write(path.join(d, 'u.py'), 'print("u")\n');
    const job = await okJson(['job', 'create', '--artifact', 'u.py', '--shape', 'Local.Light', '--name', 'to-update'], { cwd: d });
    // A finished run, so --force has something to delete with the job.
    await ok(['job', 'run', job.id, '--watch']);

    const upd = await ok(['job', 'update', job.id, '--shape', 'VM.Standard.E4.Flex', '--ocpus', '1', '--memory', '2']);
    assert.match(upd.stdout, /^shape\s+VM\.Standard\.E4\.Flex$/m);
    const got = await okJson(['job', 'get', job.id]);
    assert.equal(got.jobInfrastructureConfigurationDetails.shapeName, 'VM.Standard.E4.Flex');
    assert.deepEqual(got.jobInfrastructureConfigurationDetails.jobShapeConfigDetails, { ocpus: 1, memoryInGBs: 2 });
    const human = await ok(['job', 'get', job.id]);
    assert.match(human.stdout, /^shape\s+VM\.Standard\.E4\.Flex$/m);
    assert.match(human.stdout, /^ {2}jobShapeConfigDetails\n {4}ocpus\s+1\n {4}memoryInGBs\s+2$/m);

    const del = await ok(['job', 'delete', job.id, '--force']);
    assert.match(del.stderr, /deleted/);
    const after = await cli(['job', 'get', job.id, '--json']);
    if (after.code === 0) assert.match(JSON.parse(after.stdout).lifecycleState, /^(DELETING|DELETED)$/);
    else assert.match(after.stderr, /NotAuthorizedOrNotFound|NotFound/);
    const active = await okJson<any[]>(['job', 'list', '--state', 'ACTIVE']);
    assert.ok(!active.some((j) => j.id === job.id), 'a deleted job is not listed as ACTIVE');
    const byDefault = await okJson<any[]>(['job', 'list']);
    assert.ok(!byDefault.some((j) => j.id === job.id), 'deleted jobs are hidden by default');
    const deleted = await okJson<any[]>(['job', 'list', '--state', 'DELETED']);
    assert.ok(deleted.some((j) => j.id === job.id), 'and listed when asked for');
  });
});

describe('artifacts and native YAML', () => {
  test('a directory artifact with --entrypoint runs its entrypoint, which reads a data file next to it', async () => {
    const d = scratch('dir');
    const art = path.join(d, 'app');
    write(path.join(art, 'main.sh'), 'cd "$(dirname "$0")"\necho "data: $(cat data/input.txt)"\necho "args: $*"\n');
    write(path.join(art, 'data', 'input.txt'), 'forty-two');
    // Default shape (VM.Standard.E4.Flex, 1 OCPU / 16 GB) fits this 23 GB machine.
    const job = await okJson(['job', 'create', '--artifact', 'app', '--entrypoint', 'main.sh', '--args', 'one two'], { cwd: d });
    assert.equal(job.lifecycleState, 'ACTIVE');
    assert.equal(job.jobConfigurationDetails.environmentVariables.JOB_RUN_ENTRYPOINT, 'main.sh');
    const r = await ok(['job', 'run', job.id, '--watch']);
    assert.deepEqual(lines(r.stdout), ['data: forty-two', 'args: one two']);
  });

  test('native YAML: job create -f spec.yaml, then a run succeeds', async () => {
    const d = scratch('native');
    write(
      path.join(d, 'src', 'train.py'),
      'import os, sys\nprint("greeting=" + os.environ["GREETING"], "lr=" + os.environ["LR"])\nprint("argv", sys.argv[1:])\n',
    );
    write(
      path.join(d, 'spec.yaml'),
      [
        'name: native-train',
        'artifact: ./src/train.py',
        'shape: Local.Light',
        'env:',
        '  GREETING: hello world',
        '  LR: 0.5',
        'args: ["--epochs", 3, "two words"]',
        'maxRuntime: 5m',
        '',
      ].join('\n'),
    );
    // Run from another directory: the artifact path is relative to the spec, not the cwd.
    const job = await okJson(['job', 'create', '-f', path.join(d, 'spec.yaml')], { cwd: tmp });
    assert.equal(job.lifecycleState, 'ACTIVE');
    assert.equal(job.displayName, 'native-train');
    assert.equal(job.jobInfrastructureConfigurationDetails.shapeName, 'Local.Light');
    assert.equal(job.jobConfigurationDetails.maximumRuntimeInMinutes, 5);
    assert.deepEqual(job.jobConfigurationDetails.environmentVariables, { GREETING: 'hello world', LR: '0.5' });
    const r = await ok(['job', 'run', job.id, '--watch']);
    assert.deepEqual(lines(r.stdout), ['greeting=hello world lr=0.5', "argv ['--epochs', '3', 'two words']"]);
    const runs = await okJson<any[]>(['run', 'list', '--job', job.id]);
    assert.equal(runs[0].lifecycleState, 'SUCCEEDED');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// ADS compatibility: every fixture in test/fixtures/ads/.

const ADS_DIR = path.join(ROOT, 'test', 'fixtures', 'ads');
const ADS_FILES = readdirSync(ADS_DIR).filter((f) => f.endsWith('.yaml')).sort();
const UNSUPPORTED_RUNTIMES: string[] = [];
/** Container samples run the busybox test image (their own images are placeholders); null: Docker is here. */
const noDocker = dockerReady();
/** Samples refused on one field they give that cannot be served, named with why. */
const REFUSED_ON_FIELD: Record<string, RegExp> = {
  // `ads opctl init`'s notebook template leaves the conda slug empty.
  '12_opctl_init_notebook.yaml': /spec\.runtime\.spec\.conda\.slug: required for a service conda environment/,
  // The pyTorchDistributed samples: 07 clones its code with git, which that runtime does not do yet; 14 sets
  // LD_LIBRARY_PATH, which no run may.
  '07_pytorch_distributed_runtime.yaml': /spec\.runtime\.spec\.git: not supported yet in the pyTorchDistributed runtime/,
  '14_samples_llama2_pytorch_distributed.yaml': /spec\.runtime\.spec\.env\[2\]\.name: 'LD_LIBRARY_PATH'.*not allowed/,
};
const isPlaceholder = (v: unknown) => typeof v === 'string' && /<[^<>]*>|\{\{.*\}\}|^\{[^{}]*\}$/.test(v.trim());

/** runtime type, runtime spec and infrastructure spec of an ADS document (job or runtime kind). */
function adsParts(doc: any): { kind: string; type: string; rs: any; is: any } {
  if (doc.kind === 'runtime') return { kind: 'runtime', type: doc.type, rs: doc.spec ?? {}, is: undefined };
  return { kind: doc.kind, type: doc.spec?.runtime?.type, rs: doc.spec?.runtime?.spec ?? {}, is: doc.spec?.infrastructure?.spec };
}

/** A stand-in artifact for an ADS entrypoint: prints its argv and NAME, so a run shows what it got. */
function standIn(file: string): string {
  if (file.endsWith('.sh')) return 'echo "sh-args:" "$@"\necho "NAME=$NAME"\necho "conda=$CONDA_ENV_SLUG"\n';
  return 'import os, sys\nprint("py-args:", sys.argv[1:])\nprint("NAME=" + os.environ.get("NAME", ""))\nprint("conda=" + os.environ.get("CONDA_ENV_SLUG", ""))\n';
}

/** Per-fixture checks of the created job: names, env substitution, conda, entrypoints. */
const ADS_CHECKS: Record<string, (job: any) => void> = {
  '02_python_runtime_full.yaml': (j) => {
    assert.equal(j.displayName, 'My Job');
    assert.equal(j.jobConfigurationDetails.environmentVariables.JOB_RUN_ENTRYPOINT, 'my_package/my_script.py');
    assert.equal(j.jobConfigurationDetails.environmentVariables.CONDA_ENV_SLUG, 'pytorch110_p38_cpu_v1');
    assert.equal(j.jobConfigurationDetails.commandLineArguments, 'arg1 --key arg2');
    assert.equal(j.jobInfrastructureConfigurationDetails.shapeName, 'VM.Standard.E3.Flex');
    assert.deepEqual(j.jobInfrastructureConfigurationDetails.jobShapeConfigDetails, { ocpus: 1, memoryInGBs: 16 });
  },
  '03_script_runtime.yaml': (j) => {
    assert.equal(j.jobConfigurationDetails.environmentVariables.JOB_RUN_ENTRYPOINT, 'my_package/my_script.sh');
    assert.equal(j.jobConfigurationDetails.commandLineArguments, `'100 linux "hi there"'`);
  },
  '08_runtime_only_env_substitution.yaml': (j) => {
    assert.deepEqual(j.jobConfigurationDetails.environmentVariables, {
      HOST: '10.0.0.1',
      PORT: '443',
      URL: 'http://10.0.0.1:443/path/',
      ESCAPED_URL: 'http://${HOST}:${PORT}/path/',
      MISSING_VAR: 'This is ${UNDEFINED}',
      VAR_WITH_DOLLAR: '$10',
      DOUBLE_DOLLAR: '$10',
    });
    assert.ok(j.jobInfrastructureConfigurationDetails.shapeName, 'a default shape applies');
  },
  '09_job_name_and_output_uri_substitution.yaml': (j) => assert.equal(j.displayName, 'Training on MyData'),
  '10_opctl_init_python.yaml': (j) => {
    assert.equal(j.jobInfrastructureConfigurationDetails.shapeName, 'VM.Standard2.1');
    assert.equal(j.jobConfigurationDetails.environmentVariables.CONDA_ENV_SLUG, 'conda_slug');
  },
  '13_samples_published_conda_name_at_top_level.yaml': (j) => {
    assert.equal(j.jobConfigurationDetails.environmentVariables.CONDA_ENV_TYPE, 'published');
    assert.equal(j.jobConfigurationDetails.environmentVariables.TEST, 'TEST_VALUE');
    assert.deepEqual(j.jobInfrastructureConfigurationDetails.jobShapeConfigDetails, { ocpus: 2, memoryInGBs: 20 });
  },
  '15_storage_mount_test.yaml': (j) => {
    assert.equal(j.displayName, 'My Job');
    assert.equal(j.jobStorageMountConfigurationDetailsList?.length, 3);
  },
};

interface Capacity {
  cpus: number;
  memoryInGBs: number;
  gpus: number;
}

/** What the spec's shape needs here (one OCPU is one host CPU; flex default 1 OCPU, 16 GB per OCPU). */
function shapeNeed(is: any, shapes: any[]): Capacity | null {
  const name = is?.shapeName ?? 'VM.Standard.E4.Flex';
  const shape = shapes.find((x) => x.name === name);
  if (!shape) return null; // not in the runnable list: the server refuses it
  if (!shape.isFlex) return { cpus: shape.coreCount, memoryInGBs: shape.memoryInGBs, gpus: shape.gpuCount };
  const ocpus = Number(is?.shapeConfigDetails?.ocpus ?? 1);
  return { cpus: ocpus, memoryInGBs: Number(is?.shapeConfigDetails?.memoryInGBs ?? 16 * ocpus), gpus: 0 };
}

describe('ADS job YAML compatibility (every file in test/fixtures/ads)', () => {
  let capacity: Capacity;
  let shapes: any[];
  const created = new Map<string, any>();

  before(async () => {
    capacity = (await okJson(['info'])).capacity;
    shapes = await okJson(['shapes']);
  });

  test('there are 16 fixtures', () => {
    assert.equal(ADS_FILES.length, 16);
  });

  for (const file of ADS_FILES) {
    test(`ADS ${file}`, async () => {
      const text = readFileSync(path.join(ADS_DIR, file), 'utf8');
      const doc = parseYaml(text);
      const { kind, type, rs, is } = adsParts(doc);
      const d = scratch(`ads-${file.slice(0, 2)}`);
      const spec = path.join(d, file);
      copyFileSync(path.join(ADS_DIR, file), spec);
      const before = await jobCount();

      if (kind === 'jobRun' || UNSUPPORTED_RUNTIMES.includes(type) || REFUSED_ON_FIELD[file]) {
        const r = await cli(['job', 'create', '-f', spec, '--json'], { cwd: d });
        assert.notEqual(r.code, 0, `${file} should be refused; stdout: ${r.stdout}`);
        if (kind === 'jobRun') assert.match(r.stderr, /'jobRun' describes a job run, not a job/);
        else if (REFUSED_ON_FIELD[file]) assert.match(r.stderr, REFUSED_ON_FIELD[file]);
        else assert.match(r.stderr, new RegExp(`'${type}' is not supported yet`));
        assert.equal(r.stdout, '');
        assert.equal(await jobCount(), before, `${file} must not create a job`);
        return;
      }

      assert.ok(['python', 'script', 'container', 'gitPython', 'notebook'].includes(type), `${file}: unexpected runtime ${type}`);
      // The local stand-in for scriptPathURI (relative to the spec's dir), or --artifact for placeholder specs.
      const args = ['job', 'create', '-f', spec, '--json'];
      const uri = rs.scriptPathURI;
      if (type === 'container') {
        args.push('--image', BUSYBOX_IMAGE);
        // A container's artifact is only unpacked into its working directory: a directory with one file.
        if (uri !== undefined && !isPlaceholder(uri)) write(path.join(d, uri, 'data.txt'), 'data\n');
      } else if (type === 'gitPython' || (type === 'notebook' && /^https?:/.test(rs.notebookPathURI ?? ''))) {
        // Cloned or downloaded by the run (test/e2e/ads-git-python.test.ts and ads-notebook.test.ts run them).
      } else if (type === 'notebook') {
        write(path.join(d, 'standin.ipynb'), JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] }));
        args.push('--artifact', path.join(d, 'standin.ipynb'));
      } else if (uri === undefined || isPlaceholder(uri)) {
        write(path.join(d, 'standin.py'), standIn('standin.py'));
        args.push('--artifact', path.join(d, 'standin.py'));
      } else if (/\.(py|sh)$/.test(uri)) {
        write(path.join(d, uri), standIn(uri));
      } else {
        // A directory: the entrypoint inside it (ADS writes it relative to the directory, or to workingDir).
        const entry: string = rs.entrypoint;
        write(path.join(d, uri, entry), standIn(entry));
      }

      const need = shapeNeed(is, shapes);
      const fitsHere =
        need !== null && need.cpus <= capacity.cpus && need.memoryInGBs <= capacity.memoryInGBs && need.gpus <= capacity.gpus;
      const r = await cli(args, { cwd: d });
      if (type === 'container' && noDocker) {
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /cannot run containers/);
        return;
      }
      if (!fitsHere) {
        assert.notEqual(r.code, 0, `${file}: shape ${is?.shapeName} cannot run here, yet: ${r.stdout}`);
        assert.match(r.stderr, /could never run|unknown shape/);
        assert.equal(await jobCount(), before);
        return;
      }
      assert.equal(r.code, 0, `${file}: job create -f exited ${r.code}\nstderr: ${r.stderr}`);
      const job = JSON.parse(r.stdout);
      assert.equal(job.lifecycleState, 'ACTIVE', file);
      if (/^\s+subnetId:/m.test(text)) assert.match(r.stderr, /^ignored: .*subnetId/m, `${file}: subnetId must be listed as ignored`);
      assert.doesNotMatch(r.stderr, /^error/m);
      assert.equal(await jobCount(), before + 1);
      ADS_CHECKS[file]?.(job);
      // A conda environment this server lacks (all but 02/03's registered slug): warned at create, not at the first run.
      const jobEnv: Record<string, string> = job.jobConfigurationDetails.environmentVariables ?? {};
      const lacksConda = Object.keys(jobEnv).some((k) => k.startsWith('CONDA_ENV_')) && jobEnv.CONDA_ENV_SLUG !== 'pytorch110_p38_cpu_v1';
      if (lacksConda) {
        assert.match(r.stderr, /^warning: Runs will be refused: jobConfigurationDetails\.environmentVariables\.CONDA_ENV_\w+: /m, file);
        assert.match(job.lifecycleDetails, /^Runs will be refused: .*remove the CONDA_ENV_\* variables/, file);
      } else {
        assert.doesNotMatch(r.stderr, /Runs will be refused/, file);
        assert.equal(job.lifecycleDetails ?? null, null, file);
      }
      created.set(file, job);
    });
  }

  test('ADS sample 10 (service conda slug not registered here): create warns how to register it, a run is refused', async () => {
    const d = scratch('ads-conda');
    const spec = path.join(d, 'spec.yaml');
    copyFileSync(path.join(ADS_DIR, '10_opctl_init_python.yaml'), spec);
    write(path.join(d, 'standin.py'), standIn('standin.py'));
    const r = await ok(['job', 'create', '-f', spec, '--artifact', path.join(d, 'standin.py'), '--shape', 'VM.Standard.E4.Flex', '--json'], { cwd: d });
    assert.match(
      r.stderr,
      /^warning: Runs will be refused: jobConfigurationDetails\.environmentVariables\.CONDA_ENV_SLUG: no service conda environment 'conda_slug' on this server \(available: pytorch110_p38_cpu_v1\)\. To run it, register it in the server's config \(condaEnvironments: \[\{"slug": "conda_slug", "path": .*\]\) and restart the server; or remove the CONDA_ENV_\* variables/m,
    );
    const run = await cli(['job', 'run', JSON.parse(r.stdout).id]);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /CONDA_ENV_SLUG: no service conda environment 'conda_slug'/);
  });

  test('ADS container spec (06): a run with --watch shows the container\'s output live', { skip: noDocker ?? false }, async () => {
    const job = created.get('06_container_runtime.yaml');
    assert.ok(job, 'the job was created');
    assert.deepEqual(job.jobEnvironmentConfigurationDetails, {
      jobEnvironmentType: 'OCIR_CONTAINER',
      image: BUSYBOX_IMAGE,
      entrypoint: ['/bin/sh', '-c'],
      cmd: ['sleep 5 && echo $GREETINGS'],
    });
    const r = await ok(['job', 'run', job.id, '--watch'], { timeoutMs: 60_000 });
    assert.deepEqual(lines(r.stdout), ['Welcome to OCI Data Science']);
    assert.match(r.stderr, /Job Run SUCCEEDED/);
  });

  test('ADS python (02) and script (03) specs: a run with --watch succeeds', async () => {
    const py = created.get('02_python_runtime_full.yaml');
    const sh = created.get('03_script_runtime.yaml');
    assert.ok(py && sh, 'both jobs were created');
    const r1 = await ok(['job', 'run', py.id, '--watch'], { timeoutMs: 40_000 });
    const ns = (await (await s.fetch(`${s.url}/n`)).json()) as string;
    assert.deepEqual(lines(r1.stdout), [
      "py-args: ['arg1', '--key', 'arg2']",
      'NAME=Welcome to OCI Data Science.',
      'conda=pytorch110_p38_cpu_v1',
      // The sample's outputUri names ADS's placeholder namespace: the server says, after the run, why nothing was copied.
      `[dsjobs] outputs: not copied to oci://bucket_name@namespace/path/to/dir/: namespace 'namespace' is not this server's ('${ns}')`,
    ]);
    assert.match(r1.stderr, /Job Run SUCCEEDED/);
    const r2 = await ok(['job', 'run', sh.id, '--watch'], { timeoutMs: 40_000 });
    assert.deepEqual(lines(r2.stdout), ['sh-args: 100 linux "hi there"', 'NAME=Welcome to OCI Data Science.', 'conda=pytorch110_p38_cpu_v1']);
    assert.match(r2.stderr, /Job Run SUCCEEDED/);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('errors', () => {
  test('an unreachable server: non-zero exit, "cannot reach" on stderr', async () => {
    const r = await cli(['--endpoint', 'http://127.0.0.1:1', 'job', 'list']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /cannot reach dsjobs at http:\/\/127\.0\.0\.1:1/);
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
    assert.equal(r.stdout, '');
    // The same through DSJOBS_ENDPOINT.
    const e = await cli(['shapes'], { env: { DSJOBS_ENDPOINT: 'http://127.0.0.1:1' } });
    assert.notEqual(e.code, 0);
    assert.match(e.stderr, /cannot reach/);
  });

  test('job run of an unknown job id: non-zero, error code on stderr', async () => {
    const r = await cli(['job', 'run', 'ocid1.datasciencejob.dsjobs.local.doesnotexist0000000000000000', '--watch']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^error: NotAuthorizedOrNotFound: .*\(HTTP 404\)/m);
    assert.equal(r.stdout, '');
  });

  test('--env without "=" is a usage error naming --env', async () => {
    const d = scratch('badenv');
    write(path.join(d, 'x.py'), 'print(1)\n');
    const before = await jobCount();
    const r = await cli(['job', 'create', '--artifact', 'x.py', '--shape', 'Local.Light', '--env', 'BAD'], { cwd: d });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--env BAD: expected NAME=VALUE/);
    assert.equal(await jobCount(), before, 'no job is created');

    const job = await okJson(['job', 'create', '--artifact', 'x.py', '--shape', 'Local.Light'], { cwd: d });
    const runs = await okJson<any[]>(['run', 'list', '--job', job.id]);
    const rr = await cli(['job', 'run', job.id, '--env', 'BAD']);
    assert.notEqual(rr.code, 0);
    assert.match(rr.stderr, /--env BAD: expected NAME=VALUE/);
    assert.equal((await okJson<any[]>(['run', 'list', '--job', job.id])).length, runs.length, 'no run is started');
  });
});
