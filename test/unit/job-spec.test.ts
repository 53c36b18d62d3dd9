import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { JobSpecError, parseDuration, parseJobSpec, type JobSpecResult } from '../../src/job-spec/job-spec.js';
import { localSpecFiles } from '../../src/cli/spec-files.js';
import { splitShellWords } from '../../src/domain/shell-words.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'ads');

let specDir: string;

// Stand-ins for the local sources the ADS examples point at, relative to the spec's directory.
const STAND_INS = [
  'path/to/script.py', // 01
  'local/path/to/code_dir/my_package/my_script.py', // 02
  'local/path/to/code_dir/my_package/my_script.sh', // 03
  'local/path/to/training_script.py', // 09
  'custom_script.py', // 15
  'path/to/artifact/data.txt', // 06: a directory
  'proj/src/main.py',
  'proj/README.md',
  'bundle.zip',
  'bundle.tar.gz',
  'notebook.ipynb',
  'home/me/jobs/train.py',
];

before(() => {
  specDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsjobs-job-spec-'));
  for (const rel of STAND_INS) {
    fs.mkdirSync(path.join(specDir, path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(specDir, rel), '');
  }
});

after(() => {
  fs.rmSync(specDir, { recursive: true, force: true });
});

function fixture(name: string): string {
  return fs.readFileSync(path.join(FIXTURES, name), 'utf8');
}

function parse(text: string, env?: Record<string, string>): JobSpecResult {
  return parseJobSpec(text, { specDir, files: localSpecFiles(env) });
}

function rejects(text: string, field: string | undefined, message: RegExp): JobSpecError {
  try {
    parse(text);
  } catch (err) {
    assert.ok(err instanceof JobSpecError, `expected JobSpecError, got ${String(err)}`);
    assert.equal(err.field, field, `field of: ${err.message}`);
    if (field) assert.ok(err.message.startsWith(`${field}: `), `message names the field: ${err.message}`);
    assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected JobSpecError for field ${field}`);
}

function config(r: JobSpecResult): Record<string, unknown> {
  return r.createJobDetails.jobConfigurationDetails as Record<string, unknown>;
}
function env(r: JobSpecResult): Record<string, string> {
  return config(r).environmentVariables as Record<string, string>;
}
function infra(r: JobSpecResult): Record<string, unknown> {
  return r.createJobDetails.jobInfrastructureConfigurationDetails as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------------------------

describe('ADS fixtures (test/fixtures/ads)', () => {
  const PARSES = [
    '01_python_runtime_quickstart_with_storage_mount.yaml',
    '02_python_runtime_full.yaml',
    '03_script_runtime.yaml',
    '06_container_runtime.yaml',
    '08_runtime_only_env_substitution.yaml',
    '09_job_name_and_output_uri_substitution.yaml',
    '10_opctl_init_python.yaml',
    '11_opctl_init_container.yaml',
    '13_samples_published_conda_name_at_top_level.yaml',
    '15_storage_mount_test.yaml',
    '05_git_python_runtime.yaml',
    '04_notebook_runtime.yaml',
  ];
  // The pyTorchDistributed samples: 07 clones its code with git, which that runtime does not do yet; 14 sets
  // LD_LIBRARY_PATH, which no run may.
  const UNSUPPORTED: Record<string, [string, RegExp]> = {
    '07_pytorch_distributed_runtime.yaml': ['spec.runtime.spec.git', /not supported yet in the pyTorchDistributed runtime/],
    '14_samples_llama2_pytorch_distributed.yaml': ['spec.runtime.spec.env[2].name', /LD_LIBRARY_PATH is not allowed/],
  };

  it('covers all 16 files, each with its source header', () => {
    const files = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.yaml')).sort();
    assert.equal(files.length, 16);
    assert.deepEqual(
      files,
      [...PARSES, ...Object.keys(UNSUPPORTED), '12_opctl_init_notebook.yaml', '16_job_run_yaml_kind_jobRun.yaml'].sort(),
    );
    for (const f of files) assert.match(fixture(f), /^# Source: github\.com\//, f);
  });

  for (const f of PARSES) {
    it(`${f} parses`, () => {
      const r = parse(fixture(f));
      assert.equal(config(r).jobType, 'DEFAULT');
      assert.ok(!('compartmentId' in r.createJobDetails), 'placeholder compartmentId is not sent');
      assert.ok(!('projectId' in r.createJobDetails), 'placeholder projectId is not sent');
    });
  }

  for (const [f, [field, why]] of Object.entries(UNSUPPORTED)) {
    it(`${f} is refused on ${field}`, () => {
      rejects(fixture(f), field, why);
    });
  }

  it('container runtimes (06, 11) become OCIR_CONTAINER jobs: image, entrypoint and cmd lists; a directory artifact needs no entrypoint', () => {
    const r = parse(fixture('06_container_runtime.yaml'));
    assert.deepEqual(r.createJobDetails.jobEnvironmentConfigurationDetails, {
      jobEnvironmentType: 'OCIR_CONTAINER',
      entrypoint: ['/bin/sh', '-c'],
      cmd: ['sleep 5 && echo $GREETINGS'],
    });
    assert.ok(r.warnings.some((w) => w.startsWith("spec.runtime.spec.image: '<region>.ocir.io/<your_tenancy>/<your_image>' is a template placeholder")), r.warnings.join('\n'));
    assert.equal(r.artifactPath, path.join(specDir, 'path/to/artifact'));
    assert.equal(env(r).GREETINGS, 'Welcome to OCI Data Science');
    const o = parse(fixture('11_opctl_init_container.yaml'));
    assert.deepEqual(o.createJobDetails.jobEnvironmentConfigurationDetails, { jobEnvironmentType: 'OCIR_CONTAINER', image: '/image:latest', entrypoint: ['bash', '--login', '-c'] });
    assert.equal(o.artifactPath, null);
    assert.ok(!o.warnings.some((w) => w.includes('scriptPathURI')), 'a container job needs no artifact');
    // ADS splits a string on commas.
    const c = parse(adsJob('', 'image: busybox\ncmd: "-c,echo Hello"\nentrypoint: sh', { runtimeType: 'container' }));
    assert.deepEqual(c.createJobDetails.jobEnvironmentConfigurationDetails, { jobEnvironmentType: 'OCIR_CONTAINER', image: 'busybox', entrypoint: ['sh'], cmd: ['-c', 'echo Hello'] });
    rejects(adsJob('', 'cmd: [x]', { runtimeType: 'container' }), 'spec.runtime.spec.image', /required/);
    rejects(adsJob('', 'image: busybox\ncmd: {a: 1}', { runtimeType: 'container' }), 'spec.runtime.spec.cmd', /list of strings/);
  });

  it("12 (ads opctl init's notebook template) is refused on its one unservable field: the empty conda slug", () => {
    rejects(fixture('12_opctl_init_notebook.yaml'), 'spec.runtime.spec.conda.slug', /required for a service conda environment/);
  });

  it('16 (kind: jobRun) is refused as a job run', () => {
    rejects(fixture('16_job_run_yaml_kind_jobRun.yaml'), 'kind', /describes a job run, not a job/);
  });

  it('01: python runtime, storage mounts, args, conda, ignored placeholders', () => {
    const r = parse(fixture('01_python_runtime_quickstart_with_storage_mount.yaml'));
    assert.equal(r.createJobDetails.displayName, 'My Job');
    assert.deepEqual(infra(r), {
      jobInfrastructureType: 'ME_STANDALONE',
      shapeName: 'VM.Standard.E3.Flex',
      blockStorageSizeInGBs: 50,
      jobShapeConfigDetails: { ocpus: 1, memoryInGBs: 16 },
    });
    assert.equal(config(r).commandLineArguments, "--greeting 'Good morning'");
    assert.deepEqual(splitShellWords(config(r).commandLineArguments as string), ['--greeting', 'Good morning']);
    assert.deepEqual(env(r), {
      NAME: 'Welcome to OCI Data Science.',
      CONDA_ENV_TYPE: 'service',
      CONDA_ENV_SLUG: 'pytorch110_p38_cpu_v1',
    });
    // Both mounts are template placeholders: left out and reported as ignored, not sent to the server.
    assert.equal(r.createJobDetails.jobStorageMountConfigurationDetailsList, undefined);
    assert.equal(r.artifactPath, path.join(specDir, 'path/to/script.py'));
    assert.equal(r.artifactEntrypoint, null);
    for (const key of ['compartmentId', 'projectId', 'subnetId', 'logGroupId', 'logId']) {
      assert.ok(r.ignored.some((m) => m.includes(`.${key} (`)), `${key} ignored: ${r.ignored.join(' | ')}`);
    }
    assert.ok(r.ignored.some((m) => /subnetId \(networking is local\)/.test(m)));
    assert.ok(r.ignored.some((m) => /logGroupId \(logs are kept by dsjobs\)/.test(m)));
    assert.ok(r.ignored.some((m) => m.includes('storageMount[0]') && m.includes('placeholder')));
    assert.ok(r.ignored.some((m) => m.includes('storageMount[1]') && m.includes('placeholder')));
  });

  it('02: directory source with entrypoint, python-only fields warned about', () => {
    const r = parse(fixture('02_python_runtime_full.yaml'));
    assert.equal(r.artifactPath, path.join(specDir, 'local/path/to/code_dir'));
    assert.equal(r.artifactEntrypoint, 'my_package/my_script.py');
    assert.equal(env(r).JOB_RUN_ENTRYPOINT, 'my_package/my_script.py');
    assert.equal(config(r).commandLineArguments, 'arg1 --key arg2');
    for (const key of ['pythonPath', 'workingDir']) {
      assert.ok(r.warnings.some((m) => m === `spec.runtime.spec.${key}: not supported yet, ignored`), key);
    }
    // outputDir + outputUri: the server copies the directory to the bucket when a run ends.
    assert.equal(env(r).OUTPUT_DIR, 'output');
    assert.equal(env(r).OUTPUT_URI, 'oci://bucket_name@namespace/path/to/dir');
  });

  it('03: script runtime, one argument holding quotes and spaces', () => {
    const r = parse(fixture('03_script_runtime.yaml'));
    assert.equal(config(r).commandLineArguments, `'100 linux "hi there"'`);
    assert.deepEqual(splitShellWords(config(r).commandLineArguments as string), ['100 linux "hi there"']);
    assert.equal(r.artifactEntrypoint, 'my_package/my_script.sh');
    assert.equal(env(r).JOB_RUN_ENTRYPOINT, 'my_package/my_script.sh');
    assert.equal(infra(r).shapeName, 'VM.Standard.E3.Flex');
  });

  it('08: runtime-only spec, ADS env substitution', () => {
    const r = parse(fixture('08_runtime_only_env_substitution.yaml'));
    assert.deepEqual(env(r), {
      HOST: '10.0.0.1',
      PORT: '443',
      URL: 'http://10.0.0.1:443/path/',
      ESCAPED_URL: 'http://${HOST}:${PORT}/path/',
      MISSING_VAR: 'This is ${UNDEFINED}',
      VAR_WITH_DOLLAR: '$10',
      DOUBLE_DOLLAR: '$10',
    });
    assert.equal(infra(r).jobInfrastructureType, 'ME_STANDALONE');
    assert.equal(infra(r).blockStorageSizeInGBs, 50);
    assert.equal(r.artifactPath, null);
  });

  it('09: ${VAR} in the job name comes from the runtime env', () => {
    const r = parse(fixture('09_job_name_and_output_uri_substitution.yaml'));
    assert.equal(r.createJobDetails.displayName, 'Training on MyData');
    assert.equal(env(r).DATASET_NAME, 'MyData');
    assert.equal(infra(r).jobInfrastructureType, 'ME_STANDALONE');
    assert.equal(r.artifactPath, path.join(specDir, 'local/path/to/training_script.py'));
    // ${JOB_RUN_OCID} is left for the server, which expands it with the run's variables when it copies the outputs.
    assert.equal(env(r).OUTPUT_URI, 'oci://bucket_name@namespace/prefix/${JOB_RUN_OCID}');
  });

  it('10: ads opctl init output, placeholders everywhere', () => {
    const r = parse(fixture('10_opctl_init_python.yaml'));
    assert.equal(r.createJobDetails.displayName, undefined);
    assert.deepEqual(infra(r), { jobInfrastructureType: 'ME_STANDALONE', shapeName: 'VM.Standard2.1', blockStorageSizeInGBs: 50 });
    assert.deepEqual(env(r), { CONDA_ENV_TYPE: 'service', CONDA_ENV_SLUG: 'conda_slug' });
    assert.equal(config(r).commandLineArguments, undefined);
    assert.equal(r.artifactPath, null);
    assert.ok(r.warnings.some((m) => m.startsWith('spec.runtime.spec.scriptPathURI:') && m.includes('placeholder')));
    assert.ok(r.warnings.some((m) => m.startsWith('spec.name:') && m.includes('placeholder')));
    assert.ok(r.ignored.some((m) => m.startsWith('spec.infrastructure.spec.compartmentId')));
  });

  it('13: published conda pack, name at the top level', () => {
    const r = parse(fixture('13_samples_published_conda_name_at_top_level.yaml'));
    assert.deepEqual(env(r), {
      TEST: 'TEST_VALUE',
      CONDA_ENV_TYPE: 'published',
      CONDA_ENV_BUCKET: 'bucket',
      CONDA_ENV_NAMESPACE: 'namespace',
      CONDA_ENV_OBJECT_NAME: 'prefix',
    });
    assert.deepEqual(infra(r).jobShapeConfigDetails, { ocpus: 2, memoryInGBs: 20 });
    assert.ok(r.warnings.some((m) => m.startsWith('name:') && m.includes('placeholder')));
  });

  it('15: file storage <ip>:<export> and object storage mounts', () => {
    const r = parse(fixture('15_storage_mount_test.yaml'));
    assert.deepEqual(r.createJobDetails.jobStorageMountConfigurationDetailsList, [
      {
        storageType: 'FILE_STORAGE',
        mountTargetId: '1.1.1.1',
        exportId: 'test_export_path_one',
        destinationPath: '/test_path_one',
        destinationDirectoryName: 'test_mount_one',
      },
      {
        storageType: 'FILE_STORAGE',
        mountTargetId: '2.2.2.2',
        exportId: 'test_export_path_two',
        destinationPath: '/test_path_two',
        destinationDirectoryName: 'test_mount_two',
      },
      {
        storageType: 'OBJECT_STORAGE',
        namespace: 'namespace',
        bucket: 'bucket_name',
        prefix: 'synthetic',
        destinationPath: '/test_path_three',
        destinationDirectoryName: 'test_mount_three',
      },
    ]);
    assert.equal(r.createJobDetails.displayName, 'My Job');
    assert.equal(r.artifactPath, path.join(specDir, 'custom_script.py'));
    assert.deepEqual(r.ignored, ['spec.infrastructure.spec.subnetId (networking is local)']);
    assert.deepEqual(r.warnings, []);
  });
});

// ---------------------------------------------------------------------------------------------------------------

function adsJob(infraSpec: string, runtimeSpec: string, opts: { runtimeType?: string; infraType?: string; name?: string } = {}): string {
  const indent = (s: string, n: number) =>
    s
      .trim()
      .split('\n')
      .map((l) => ' '.repeat(n) + l)
      .join('\n');
  return [
    'kind: job',
    'spec:',
    `  name: ${opts.name ?? 'ads-job'}`,
    '  infrastructure:',
    '    kind: infrastructure',
    `    type: ${opts.infraType ?? 'dataScienceJob'}`,
    '    spec:',
    indent(infraSpec || 'shapeName: VM.Standard.E4.Flex', 6),
    '  runtime:',
    '    kind: runtime',
    `    type: ${opts.runtimeType ?? 'python'}`,
    '    spec:',
    indent(runtimeSpec || 'scriptPathURI: custom_script.py', 6),
    '',
  ].join('\n');
}

describe('ADS format details', () => {
  it('passes real compartment and project OCIDs through, ignores subnet and logs anyway', () => {
    const r = parse(
      adsJob(
        `
compartmentId: ocid1.compartment.oc1..aaaabbbb
projectId: ocid1.datascienceproject.dsjobs.local.xyz123
subnetId: ocid1.subnet.oc1.iad.aaaa
logGroupId: ocid1.loggroup.oc1.iad.aaaa
shapeName: VM.Standard.E4.Flex`,
        '',
      ),
    );
    assert.equal(r.createJobDetails.compartmentId, 'ocid1.compartment.oc1..aaaabbbb');
    assert.equal(r.createJobDetails.projectId, 'ocid1.datascienceproject.dsjobs.local.xyz123');
    assert.deepEqual(r.ignored, [
      'spec.infrastructure.spec.subnetId (networking is local)',
      'spec.infrastructure.spec.logGroupId (logs are kept by dsjobs)',
    ]);
    assert.equal(infra(r).jobInfrastructureType, 'ME_STANDALONE');
  });

  it('treats {{ jinja }} ids as placeholders and refuses ids that are neither', () => {
    const r = parse(adsJob('compartmentId: "{{ compartment_id }}"\nshapeName: VM.Standard.E4.Flex', ''));
    assert.ok(r.ignored[0].startsWith('spec.infrastructure.spec.compartmentId'));
    rejects(adsJob('projectId: my-project', ''), 'spec.infrastructure.spec.projectId', /not an OCID/);
  });

  it('accepts snake_case aliases and warns about unknown keys', () => {
    const r = parse(
      adsJob(
        `
shape_name: VM.Standard.E4.Flex
block_storage_size: "100"
shape_config_details: {memory_in_gbs: 8, ocpus: 2}
colour: blue`,
        `
script_path_uri: custom_script.py
maximum_runtime_in_minutes: 30
flavour: x`,
      ),
    );
    assert.deepEqual(infra(r), {
      jobInfrastructureType: 'ME_STANDALONE',
      shapeName: 'VM.Standard.E4.Flex',
      blockStorageSizeInGBs: 100,
      jobShapeConfigDetails: { ocpus: 2, memoryInGBs: 8 },
    });
    assert.equal(config(r).maximumRuntimeInMinutes, 30);
    assert.ok(r.warnings.includes('spec.infrastructure.spec.colour: unknown key, ignored'));
    assert.ok(r.warnings.includes('spec.runtime.spec.flavour: unknown key, ignored'));
  });

  it('script runtime does not know python-only keys', () => {
    const r = parse(adsJob('', 'scriptPathURI: custom_script.py\nworkingDir: x', { runtimeType: 'script' }));
    assert.ok(r.warnings.includes('spec.runtime.spec.workingDir: unknown key, ignored'));
  });

  it('entryFunction is warned about on python runtimes', () => {
    const r = parse(adsJob('', 'scriptPathURI: custom_script.py\nentryFunction: main'));
    assert.ok(r.warnings.includes('spec.runtime.spec.entryFunction: not supported yet, ignored'));
  });

  it('maps runtime types it does not support, and unknown ones, to errors on spec.runtime.type', () => {
    for (const t of ['dataFlow']) {
      rejects(adsJob('', '', { runtimeType: t }), 'spec.runtime.type', new RegExp(`runtime '${t}' is not supported yet`));
    }
    rejects(adsJob('', '', { runtimeType: 'fortran' }), 'spec.runtime.type', /unknown runtime type 'fortran'/);
  });

  it('pyTorchDistributed becomes a multi-node job of one node group, as ADS builds it', () => {
    const r = parse(
      adsJob('shapeName: VM.Standard.E4.Flex\nblockStorageSize: 60', 'replicas: 3\nscriptPathURI: custom_script.py\ncommand: torchrun custom_script.py\nargs: ["--lr", 0.1]\nmaximumRuntimeInMinutes: 30\nconda: {type: service, slug: torch}', {
        runtimeType: 'pyTorchDistributed',
      }),
    );
    const d = r.createJobDetails as Record<string, any>;
    assert.deepEqual(d.jobConfigurationDetails, { jobType: 'EMPTY' });
    assert.deepEqual(d.jobInfrastructureConfigurationDetails, { jobInfrastructureType: 'EMPTY' });
    const nodes = d.jobNodeConfigurationDetails;
    assert.deepEqual([nodes.jobNodeType, nodes.startupOrder, nodes.maximumRuntimeInMinutes], ['MULTI_NODE', 'IN_PARALLEL', 30]);
    const g = nodes.jobNodeGroupConfigurationDetailsList[0];
    assert.deepEqual([g.name, g.replicas, g.minimumSuccessReplicas], ['node-group', 3, 3]);
    assert.deepEqual([g.jobInfrastructureConfigurationDetails.jobInfrastructureType, g.jobInfrastructureConfigurationDetails.shapeName], ['MULTI_NODE', 'VM.Standard.E4.Flex']);
    assert.equal(g.jobConfigurationDetails.commandLineArguments, '--lr 0.1');
    assert.deepEqual(g.jobConfigurationDetails.environmentVariables, {
      CONDA_ENV_TYPE: 'service',
      CONDA_ENV_SLUG: 'torch',
      OCI__LAUNCH_CMD: 'torchrun custom_script.py',
      JOB_RUN_ENTRYPOINT: 'driver_pytorch.sh',
    });
    assert.deepEqual(r.generatedFiles?.map((f) => f.name), ['driver_pytorch.sh']);
    const pt = (spec: string) => adsJob('', spec, { runtimeType: 'pyTorchDistributed' });
    rejects(pt('replicas: 2\nscriptPathURI: custom_script.py'), 'spec.runtime.spec.command', /required/);
    rejects(pt('command: torchrun x.py\ndeepspeed: true'), 'spec.runtime.spec.deepspeed', /not supported yet/);
    rejects(pt('command: torchrun x.py\nreplicas: 0'), 'spec.runtime.spec.replicas', /greater than zero/);
    rejects(pt('command: torchrun x.py\ngit: {url: https://example.com/r.git}'), 'spec.runtime.spec.git', /not supported yet/);
  });

  it('refuses other infrastructure types and multi-node settings', () => {
    rejects(adsJob('', '', { infraType: 'dataFlow' }), 'spec.infrastructure.type', /infrastructure 'dataFlow' is not supported yet/);
    rejects(adsJob('', '', { infraType: 'moon' }), 'spec.infrastructure.type', /unknown infrastructure type/);
    rejects(
      adsJob('jobInfrastructureType: MULTI_NODE\nshapeName: VM.Standard.E4.Flex', ''),
      'spec.infrastructure.spec.jobInfrastructureType',
      /not supported yet/,
    );
    rejects(adsJob('jobType: EMPTY\nshapeName: VM.Standard.E4.Flex', ''), 'spec.infrastructure.spec.jobType', /not supported yet/);
  });

  it('refuses shape config on a non-Flex shape, like ADS', () => {
    rejects(
      adsJob('shapeName: VM.Standard2.1\nshapeConfigDetails: {ocpus: 2}', ''),
      'spec.infrastructure.spec.shapeConfigDetails',
      /Flex/,
    );
  });

  it('takes an oci:// scriptPathURI as an artifact in Object Storage; refuses other remote sources', () => {
    const r = parse(adsJob('', 'scriptPathURI: oci://code@ns1/dir/train.py'));
    assert.equal(r.artifactPath, null);
    assert.equal(r.artifactUri, 'oci://code@ns1/dir/train.py');
    const zip = parse(adsJob('', 'scriptPathURI: oci://code@ns1/src.zip\nentrypoint: src/main.py'));
    assert.equal(zip.artifactEntrypoint, 'src/main.py');
    rejects(adsJob('', 'scriptPathURI: oci://code@ns1/'), 'spec.runtime.spec.scriptPathURI', /expected oci:\/\/bucket@namespace\/object_name/);
    rejects(adsJob('', 'scriptPathURI: oci://code@ns1/model.bin'), 'spec.runtime.spec.scriptPathURI', /unsupported artifact/);
    rejects(adsJob('', 'scriptPathURI: https://example.com/x.py'), 'spec.runtime.spec.scriptPathURI', /only local paths are supported/);
    rejects(adsJob('', 'scriptPathURI: missing/run.py'), 'spec.runtime.spec.scriptPathURI', /does not exist/);
  });

  it('directory sources need an existing entrypoint; a leading directory name is accepted', () => {
    rejects(adsJob('', 'scriptPathURI: proj'), 'spec.runtime.spec.entrypoint', /required when the artifact is a directory/);
    rejects(adsJob('', 'scriptPathURI: proj\nentrypoint: src/nope.py'), 'spec.runtime.spec.entrypoint', /not a file inside/);
    rejects(adsJob('', 'scriptPathURI: proj\nentrypoint: ../x.py'), 'spec.runtime.spec.entrypoint', /outside the artifact/);
    const r = parse(adsJob('', 'scriptPathURI: proj\nentrypoint: proj/src/main.py'));
    assert.equal(r.artifactEntrypoint, 'src/main.py');
    const r2 = parse(adsJob('', 'scriptPathURI: ./proj/\nentrypoint: main.py\nworkingDir: proj/src'));
    assert.equal(r2.artifactEntrypoint, 'main.py'.replace(/^/, 'src/'));
  });

  it('archives keep the entrypoint as given', () => {
    const r = parse(adsJob('', 'scriptPathURI: bundle.zip\nentrypoint: app/run.sh', { runtimeType: 'script' }));
    assert.equal(r.artifactPath, path.join(specDir, 'bundle.zip'));
    assert.equal(r.artifactEntrypoint, 'app/run.sh');
    assert.equal(env(r).JOB_RUN_ENTRYPOINT, 'app/run.sh');
  });

  it('ADS env interpolation corner cases', () => {
    const r = parse(
      adsJob(
        '',
        `
scriptPathURI: custom_script.py
env:
  - {name: A, value: "\${B}-a"}
  - {name: B, value: "\${C}-b"}
  - {name: C, value: c}
  - {name: SECTION, value: "\${envs:C}"}
  - {name: OTHER_SECTION, value: "\${x:C}"}
  - {name: STOPS, value: "\${NOPE} then $$ stays"}
  - {name: DOLLAR_ESC_IN_REF, value: "\${D}"}
  - {name: D, value: "cost $$5"}
  - {name: "YES", value: yes}
  - {name: Y, value: y}
  - {name: NUM, value: 443}
  - {name: FLOAT, value: 0.5}
  - {name: EXP, value: 1e3}
  - {name: OCTAL, value: 0755}
  - {name: "NULL", value: null}
  - {name: LIST, value: [1, "two", {k: v}]}
  - {name: MAP, value: {a: 1, é: true}}
  - {name: DATE, value: 2024-01-02}
  - {name: ONE, value: 1.0}
  - {name: TINY, value: 1.0e-5}
  - {name: FLOATS, value: [1.0, 2.5]}
  - {name: LEADING_ZERO, value: 08}`,
      ),
    );
    assert.deepEqual(env(r), {
      A: 'c-b-a',
      B: 'c-b',
      C: 'c',
      SECTION: 'c',
      OTHER_SECTION: '${x:C}',
      STOPS: '${NOPE} then $$ stays',
      DOLLAR_ESC_IN_REF: 'cost $5',
      D: 'cost $5',
      YES: 'true',
      Y: 'y',
      NUM: '443',
      FLOAT: '0.5',
      EXP: '1e3',
      OCTAL: '493',
      NULL: '',
      LIST: '[1, "two", {"k": "v"}]',
      MAP: '{"a": 1, "\\u00e9": true}',
      DATE: '2024-01-02',
      ONE: '1.0',
      TINY: '1e-05',
      FLOATS: '[1.0, 2.5]',
      LEADING_ZERO: '08',
    });
  });

  it('floats print like Python in args, and are plain numbers elsewhere', () => {
    const r = parse(
      adsJob(
        'shapeName: VM.Standard.E4.Flex\nshapeConfigDetails: {ocpus: 2.0, memoryInGBs: 16.5}',
        'scriptPathURI: custom_script.py\nargs: [--scale, 1.0, --lr, 0.001]\nmaximumRuntimeInMinutes: 30.0',
      ),
    );
    assert.equal(config(r).commandLineArguments, '--scale 1.0 --lr 0.001');
    assert.equal(config(r).maximumRuntimeInMinutes, 30);
    assert.deepEqual(infra(r).jobShapeConfigDetails, { ocpus: 2, memoryInGBs: 16.5 });
  });

  it('refuses self-referencing env values and bad references, naming the entry', () => {
    rejects(adsJob('', 'scriptPathURI: custom_script.py\nenv: [{name: A, value: "x${A}"}]'), 'spec.runtime.spec.env[0].value', /nest more than 10/);
    rejects(adsJob('', 'scriptPathURI: custom_script.py\nenv: [{name: A, value: "x${oops"}]'), 'spec.runtime.spec.env[0].value', /bad variable reference/);
    rejects(adsJob('', 'scriptPathURI: custom_script.py\nenv: [{name: A}]'), 'spec.runtime.spec.env[0].value', /required/);
    rejects(adsJob('', 'scriptPathURI: custom_script.py\nenv: [{value: x}]'), 'spec.runtime.spec.env[0].name', /required/);
    rejects(adsJob('', 'scriptPathURI: custom_script.py\nenv: "A=1"'), 'spec.runtime.spec.env', /expected a list/);
    // PyYAML reads an unquoted YES as a boolean.
    rejects(adsJob('', 'scriptPathURI: custom_script.py\nenv: [{name: YES, value: x}]'), 'spec.runtime.spec.env[0].name', /got boolean true.*quote/);
  });

  it('substitutes the job name like string.Template.safe_substitute', () => {
    const r = parse(
      adsJob('', 'scriptPathURI: custom_script.py\nenv: [{name: DS, value: iris}]', { name: '"$DS and ${DS}, $$DS, ${MISSING} $MISSING $"' }),
    );
    assert.equal(r.createJobDetails.displayName, 'iris and iris, $DS, ${MISSING} $MISSING $');
  });

  it('args: list items are str()-ed and quoted; a string is kept as a command line', () => {
    const r = parse(adsJob('', "scriptPathURI: custom_script.py\nargs: [--epochs, 3, --fast, true, 'a b', '', \"it's\"]"));
    assert.equal(config(r).commandLineArguments, `--epochs 3 --fast True 'a b' '' 'it'"'"'s'`);
    assert.deepEqual(splitShellWords(config(r).commandLineArguments as string), ['--epochs', '3', '--fast', 'True', 'a b', '', "it's"]);
    const r2 = parse(adsJob('', 'scriptPathURI: custom_script.py\nargs: "--lr 0.1"'));
    assert.equal(config(r2).commandLineArguments, '--lr 0.1');
    rejects(adsJob('', 'scriptPathURI: custom_script.py\nargs: [a, {b: 1}]'), 'spec.runtime.spec.args[1]', /expected a string/);
    rejects(adsJob('', `scriptPathURI: custom_script.py\nargs: "a 'b"`), 'spec.runtime.spec.args', /unterminated single quote/);
  });

  it('conda: published with region, bad URI, unknown type', () => {
    const r = parse(adsJob('', 'scriptPathURI: custom_script.py\nconda: {type: published, uri: "oci://packs@myns/envs/py310_v1", region: us-ashburn-1}'));
    assert.deepEqual(env(r), {
      CONDA_ENV_TYPE: 'published',
      CONDA_ENV_BUCKET: 'packs',
      CONDA_ENV_NAMESPACE: 'myns',
      CONDA_ENV_OBJECT_NAME: 'envs/py310_v1',
      CONDA_ENV_REGION: 'us-ashburn-1',
    });
    rejects(adsJob('', 'scriptPathURI: custom_script.py\nconda: {type: published, uri: "packs/x"}'), 'spec.runtime.spec.conda.uri', /not a valid conda pack URI/);
    rejects(adsJob('', 'scriptPathURI: custom_script.py\nconda: {type: custom, slug: x}'), 'spec.runtime.spec.conda.type', /unknown conda type/);
    rejects(adsJob('', "scriptPathURI: custom_script.py\nconda: {type: service, slug: ''}"), 'spec.runtime.spec.conda.slug', /required/);
  });

  it('storage mounts: at most 5, valid sources, distinct destinations', () => {
    const six = Array.from({ length: 6 }, (_, i) => `  - {src: "oci://b@ns/p${i}", dest: d${i}}`).join('\n');
    rejects(adsJob(`shapeName: VM.Standard.E4.Flex\nstorageMount:\n${six}`, ''), 'spec.infrastructure.spec.storageMount', /at most 5/);
    rejects(
      adsJob('storageMount: [{src: "just-a-name", dest: x}]', ''),
      'spec.infrastructure.spec.storageMount[0].src',
      /not a valid source/,
    );
    rejects(
      adsJob('storageMount: [{src: "oci://b@ns", dest: x}, {src: "10.0.0.1:/export", dest: /mnt/x}]', ''),
      'spec.infrastructure.spec.storageMount[1].dest',
      /mounts at \/mnt\/x/,
    );
    rejects(adsJob('storageMount: [{src: "oci://b@ns", dest: a/b}]', ''), 'spec.infrastructure.spec.storageMount[0].dest', /absolute path/);
    rejects(adsJob('storageMount: [{src: "oci://b@ns"}]', ''), 'spec.infrastructure.spec.storageMount[0].dest', /required/);
    const r = parse(adsJob('storageMount: [{src: "oci://b@ns", dest: /data/}]', ''));
    assert.deepEqual(r.createJobDetails.jobStorageMountConfigurationDetailsList, [
      { storageType: 'OBJECT_STORAGE', namespace: 'ns', bucket: 'b', destinationPath: '/', destinationDirectoryName: 'data' },
    ]);
  });

  it('merges infrastructure and runtime tags, runtime winning', () => {
    const r = parse(
      adsJob(
        'shapeName: VM.Standard.E4.Flex\nfreeformTags: {team: a, env: dev}\ndefinedTags: {ops: {cost: "1"}}',
        'scriptPathURI: custom_script.py\nfreeformTags: {team: b}\ndefinedTags: {ops: {owner: me}}',
      ),
    );
    assert.deepEqual(r.createJobDetails.freeformTags, { team: 'b', env: 'dev' });
    assert.deepEqual(r.createJobDetails.definedTags, { ops: { cost: '1', owner: 'me' } });
  });

  it('the infrastructure displayName names the job when spec.name is absent', () => {
    const text = adsJob('displayName: from-infra\nshapeName: VM.Standard.E4.Flex', '').replace('  name: ads-job\n', '');
    assert.equal(parse(text).createJobDetails.displayName, 'from-infra');
  });

  it('a spec without kind but with spec.runtime is read as an ADS job', () => {
    const r = parse(adsJob('', '').replace('kind: job\n', ''));
    assert.equal(infra(r).shapeName, 'VM.Standard.E4.Flex');
    assert.ok(r.warnings.some((w) => w.startsWith('kind: missing')));
  });

  it('refuses kinds that are not jobs', () => {
    rejects('kind: infrastructure\ntype: dataScienceJob\nspec: {}\n', 'kind', /needs a runtime/);
    rejects('kind: model\n', 'kind', /unknown kind 'model'/);
    rejects('kind: job\n', 'spec', /required/);
    rejects('kind: job\nspec: {infrastructure: {type: dataScienceJob}}\n', 'spec.runtime', /required/);
    rejects('kind: job\nspec: {runtime: {kind: runtime}}\n', 'spec.runtime.type', /required/);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('native format', () => {
  it('networking: none asks for a run without network; anything but none/default is refused by name', () => {
    const r = parse('name: offline\nartifact: ./custom_script.py\nnetworking: none\n');
    assert.equal(infra(r).networking, 'NONE');
    assert.equal(infra(parse('artifact: ./custom_script.py\nnetworking: default\n')).networking, undefined);
    rejects('artifact: ./custom_script.py\nnetworking: off\n', 'networking', /must be 'none'/);
  });

  it('maps the documented example', () => {
    const r = parse(`
name: train
artifact: ./custom_script.py
shape: VM.Standard.E4.Flex
ocpus: 2
memoryInGBs: 16
blockStorageInGBs: 60
env: {LR: "0.1", EPOCHS: 3, DEBUG: true, EMPTY: null, REF: "\${LR}"}
args: "--epochs 3"
maxRuntime: 30m
tags: {team: ml}
`);
    assert.deepEqual(r.createJobDetails, {
      displayName: 'train',
      jobConfigurationDetails: {
        jobType: 'DEFAULT',
        environmentVariables: { LR: '0.1', EPOCHS: '3', DEBUG: 'true', EMPTY: '', REF: '${LR}' },
        commandLineArguments: '--epochs 3',
        maximumRuntimeInMinutes: 30,
      },
      jobInfrastructureConfigurationDetails: {
        jobInfrastructureType: 'ME_STANDALONE',
        shapeName: 'VM.Standard.E4.Flex',
        blockStorageSizeInGBs: 60,
        jobShapeConfigDetails: { ocpus: 2, memoryInGBs: 16 },
      },
      freeformTags: { team: 'ml' },
    });
    assert.equal(r.artifactPath, path.join(specDir, 'custom_script.py'));
    assert.equal(r.artifactEntrypoint, null);
    assert.deepEqual(r.ignored, []);
    assert.deepEqual(r.warnings, []);
  });

  it('directory artifact with entrypoint, list args, mounts, ids, kind: dsjobs/job', () => {
    const r = parse(`
kind: dsjobs/job
name: dir-job
description: trains things
artifact: proj
entrypoint: src/main.py
args: [--name, "two words", "$HOME"]
maxRuntime: 1h30m
mounts:
  - {src: "oci://data@ns/train/", dest: /data/train}
  - {src: "10.0.0.5:/exports/shared", dest: shared}
compartmentId: ocid1.compartment.dsjobs.local.abc
projectId: "<project_ocid>"
definedTags: {ops: {cost: center1}}
`);
    assert.equal(r.artifactPath, path.join(specDir, 'proj'));
    assert.equal(r.artifactEntrypoint, 'src/main.py');
    assert.equal(env(r).JOB_RUN_ENTRYPOINT, 'src/main.py');
    assert.equal(config(r).commandLineArguments, `--name 'two words' '$HOME'`);
    assert.equal(config(r).maximumRuntimeInMinutes, 90);
    assert.equal(r.createJobDetails.description, 'trains things');
    assert.equal(r.createJobDetails.compartmentId, 'ocid1.compartment.dsjobs.local.abc');
    assert.equal(r.createJobDetails.projectId, undefined);
    assert.ok(r.ignored[0].startsWith('projectId'));
    assert.deepEqual(r.createJobDetails.definedTags, { ops: { cost: 'center1' } });
    assert.deepEqual(r.createJobDetails.jobStorageMountConfigurationDetailsList, [
      { storageType: 'OBJECT_STORAGE', namespace: 'ns', bucket: 'data', prefix: 'train', destinationPath: '/data', destinationDirectoryName: 'train' },
      { storageType: 'FILE_STORAGE', mountTargetId: '10.0.0.5', exportId: '/exports/shared', destinationDirectoryName: 'shared' },
    ]);
    // No shape: the caller's default applies, with a warning.
    assert.deepEqual(infra(r), { jobInfrastructureType: 'ME_STANDALONE', blockStorageSizeInGBs: 50 });
    assert.ok(r.warnings.some((w) => w.startsWith('shape: not given')));
  });

  it('an entrypoint in env is used when the field is absent', () => {
    const r = parse('artifact: bundle.tar.gz\nenv: {JOB_RUN_ENTRYPOINT: run.sh}\n');
    assert.equal(r.artifactEntrypoint, 'run.sh');
    assert.equal(env(r).JOB_RUN_ENTRYPOINT, 'run.sh');
  });

  it('expands ~/ with HOME from opts.env', () => {
    const r = parse('artifact: ~/jobs/train.py\n', { HOME: path.join(specDir, 'home/me') });
    assert.equal(r.artifactPath, path.join(specDir, 'home/me/jobs/train.py'));
  });

  it('warns when an archive has no entrypoint and when a single file is given one', () => {
    assert.ok(parse('artifact: bundle.zip\n').warnings.some((w) => w.startsWith('entrypoint: not given')));
    const r = parse('artifact: custom_script.py\nentrypoint: other.py\n');
    assert.equal(r.artifactEntrypoint, null);
    assert.ok(r.warnings.some((w) => w.startsWith('entrypoint: ignored')));
  });

  it('an absent artifact is a warning, not an error', () => {
    const r = parse('name: later\n');
    assert.equal(r.artifactPath, null);
    assert.ok(r.warnings.some((w) => w.startsWith('artifact: not given')));
  });

  it('bad values name their field', () => {
    rejects('name: 5\n', 'name', /expected a string/);
    rejects('artifact: custom_script.py\nocpus: two\n', 'ocpus', /expected a number/);
    rejects('artifact: custom_script.py\nocpus: -1\n', 'ocpus', /greater than zero/);
    rejects('artifact: custom_script.py\nmemoryInGBs: "16"\n', 'memoryInGBs', /expected a number/);
    rejects('artifact: custom_script.py\nblockStorageInGBs: 50.5\n', 'blockStorageInGBs', /whole number/);
    rejects('artifact: custom_script.py\nshape: VM.Standard2.1\nocpus: 2\n', 'ocpus', /Flex/);
    rejects('artifact: custom_script.py\nenv: [LR]\n', 'env[0]', /expected a mapping/);
    rejects('artifact: custom_script.py\nenv: "LR=1"\n', 'env', /expected a mapping/);
    rejects('artifact: custom_script.py\nenv: {LR: {a: 1}}\n', 'env.LR', /expected a string, number or boolean/);
    rejects('artifact: custom_script.py\nenv: {"A=B": x}\n', 'env.A=B', /not a valid environment variable name/);
    rejects('artifact: custom_script.py\nargs: 42\n', 'args', /expected a string or a list/);
    rejects('artifact: custom_script.py\nargs: "--msg \\"hi"\n', 'args', /unterminated double quote at position 6/);
    rejects('artifact: custom_script.py\nargs: [a, [b]]\n', 'args[1]', /expected a string/);
    rejects('artifact: custom_script.py\nmaxRuntime: soon\n', 'maxRuntime', /invalid duration 'soon'/);
    rejects('artifact: custom_script.py\nmaxRuntime: 0\n', 'maxRuntime', /positive/);
    rejects('artifact: custom_script.py\nmaxRuntime: [1]\n', 'maxRuntime', /expected minutes/);
    rejects('artifact: custom_script.py\ntags: {team: {a: 1}}\n', 'tags.team', /tag values must be strings/);
    rejects('artifact: custom_script.py\ntags: [a]\n', 'tags', /expected a mapping/);
    rejects('artifact: custom_script.py\ndefinedTags: {ops: x}\n', 'definedTags.ops', /expected a mapping/);
    rejects('artifact: custom_script.py\nmounts: {src: x}\n', 'mounts', /expected a list/);
    rejects('artifact: custom_script.py\nmounts: [{src: "s3://b/p", dest: x}]\n', 'mounts[0].src', /s3:\/\/ sources are not supported/);
    rejects('artifact: custom_script.py\nmounts: [{src: "oci://b@ns", dest: x, mode: ro}]\n', 'mounts[0].mode', /unknown key/);
    rejects('artifact: custom_script.py\ncompartmentId: 12\n', 'compartmentId', /expected an OCID/);
    rejects('artifact: 7\n', 'artifact', /expected a string/);
    rejects('artifact: nope/train.py\n', 'artifact', /does not exist/);
    rejects('artifact: https://example.com/train.py\n', 'artifact', /only local paths are supported/);
    rejects('artifact: notebook.ipynb\n', 'artifact', /unsupported artifact 'notebook.ipynb'/);
    rejects('artifact: proj\n', 'entrypoint', /required when the artifact is a directory/);
    rejects('artifact: proj\nentrypoint: /abs/main.py\n', 'entrypoint', /must be relative/);
  });

  it('unknown keys are errors with a suggestion', () => {
    const err = rejects('artifact: custom_script.py\nshap: VM.Standard.E4.Flex\n', 'shap', /unknown key/);
    assert.match(err.message, /did you mean 'shape'\?/);
    rejects('artifact: custom_script.py\nmaxruntime: 5\n', 'maxruntime', /did you mean 'maxRuntime'/);
  });

  it('native YAML is YAML 1.2: yes stays a string', () => {
    assert.equal(env(parse('artifact: custom_script.py\nenv: {FLAG: yes}\n')).FLAG, 'yes');
  });

  it('whole-document problems', () => {
    for (const [text, msg] of [
      ['', /empty/],
      ['# only a comment\n', /empty/],
      ['- a\n- b\n', /must be a YAML mapping/],
      ['name: [unclosed\n', /invalid YAML/],
      ['a: 1\n---\nb: 2\n', /invalid YAML/],
    ] as const) {
      const err = rejects(text, undefined, msg);
      assert.equal(err.field, undefined);
    }
    rejects('kind: 3\n', 'kind', /expected a string/);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('parseDuration', () => {
  const ok: Array<[string | number, number]> = [
    [90, 90],
    [1.2, 2],
    ['90', 90],
    [' 15 ', 15],
    ['30m', 30],
    ['2h', 120],
    ['1d', 1440],
    ['45s', 1],
    ['60s', 1],
    ['61s', 2],
    ['1h30m', 90],
    ['1h 30m', 90],
    ['1d2h3m4s', 1440 + 120 + 3 + 1],
    ['1.5h', 90],
    ['1.1h', 66],
    ['30m1s', 31],
  ];
  for (const [input, minutes] of ok) {
    it(`${JSON.stringify(input)} is ${minutes} minutes`, () => assert.equal(parseDuration(input), minutes));
  }

  for (const bad of ['', 'abc', '10x', '1h1h', 'm', '30 minutes', '-5m', '0', '0m', '1h-', '1,5h', '2H']) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseDuration(bad), (err: unknown) => err instanceof JobSpecError && /invalid duration/.test(err.message));
    });
  }
  for (const bad of [0, -1, NaN, Infinity]) {
    it(`rejects ${bad}`, () => {
      assert.throws(() => parseDuration(bad), JobSpecError);
    });
  }
});
