/** The gitPython and notebook runtime readers (src/job-spec/git-python.ts, notebook.ts) through parseJobSpec. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { JobSpecError, parseJobSpec, type JobSpecResult } from '../../src/job-spec/job-spec.js';
import { stringify } from 'yaml';
import { localSpecFiles } from '../../src/cli/spec-files.js';
import { jobToAds } from '../../src/job-spec/to-ads.js';

function runtimeSpec(type: string, body: string): string {
  const spec = body
    .trim()
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n');
  return `kind: job\nspec:\n  runtime:\n    kind: runtime\n    type: ${type}\n    spec:\n${spec}\n`;
}
function parse(text: string, specDir = '/'): JobSpecResult {
  return parseJobSpec(text, { specDir, files: localSpecFiles() });
}
function env(r: JobSpecResult): Record<string, string> {
  return (r.createJobDetails.jobConfigurationDetails as { environmentVariables: Record<string, string> }).environmentVariables;
}
function refused(text: string, field: string, message: RegExp, specDir = '/'): void {
  assert.throws(
    () => parse(text, specDir),
    (e: unknown) => e instanceof JobSpecError && e.field === field && message.test(e.message),
  );
}

describe('gitPython', () => {
  it("sets ADS's variables and makes the driver the artifact", () => {
    const r = parse(
      runtimeSpec(
        'gitPython',
        `url: https://example.com/repo.git
branch: dev
commit: 0123abcd
entrypoint: pkg/train.py
entryFunction: main
pythonPath: [src, lib]
workingDir: pkg
outputDir: out
outputUri: /mnt/results
gitSecretId: ocid1.vaultsecret.oc1..x
skipMetadataUpdate: true
env:
- name: A
  value: b
args: [x, 1]`,
      ),
    );
    assert.deepEqual(env(r), {
      A: 'b',
      GIT_URL: 'https://example.com/repo.git',
      GIT_ENTRYPOINT: 'pkg/train.py',
      GIT_BRANCH: 'dev',
      GIT_COMMIT: '0123abcd',
      ENTRY_FUNCTION: 'main',
      GIT_SECRET_OCID: 'ocid1.vaultsecret.oc1..x',
      WORKING_DIR: 'pkg',
      OUTPUT_DIR: 'out',
      OUTPUT_URI: '/mnt/results',
      PYTHON_PATH: 'src:lib',
      SKIP_METADATA_UPDATE: '1',
    });
    assert.equal((r.createJobDetails.jobConfigurationDetails as { commandLineArguments: string }).commandLineArguments, 'x 1');
    assert.equal(r.artifactPath, null);
    assert.deepEqual(r.generatedFiles?.map((f) => f.name), ['driver_oci.py']);
    assert.match(r.generatedFiles![0].content, /^# dsjobs gitPython driver/);
  });

  it('needs a URL and an entrypoint, and refuses what is not a git URL or a commit id', () => {
    refused(runtimeSpec('gitPython', 'entrypoint: a.py'), 'spec.runtime.spec.url', /required/);
    refused(runtimeSpec('gitPython', 'url: file:///r'), 'spec.runtime.spec.entrypoint', /required/);
    refused(runtimeSpec('gitPython', 'url: /just/a/path\nentrypoint: a.py'), 'spec.runtime.spec.url', /not a git URL/);
    refused(runtimeSpec('gitPython', 'url: file:///r\nentrypoint: a.py\ncommit: main'), 'spec.runtime.spec.commit', /not a commit id/);
  });

  it('takes an oci:// outputUri as it is (the server copies outputDir there), and warns that scriptPathURI means nothing here', () => {
    const r = parse(runtimeSpec('gitPython', 'url: git@host:r.git\nentrypoint: m:f\noutputDir: out\noutputUri: oci://b@n/p\nscriptPathURI: x.py'));
    assert.ok(r.warnings.includes('spec.runtime.spec.scriptPathURI: ignored, the repository is the code'), r.warnings.join('\n'));
    assert.ok(!r.warnings.some((w) => w.includes('outputUri')), r.warnings.join('\n'));
    const env = (r.createJobDetails.jobConfigurationDetails as { environmentVariables: Record<string, string> }).environmentVariables;
    assert.equal(env.OUTPUT_URI, 'oci://b@n/p');
    assert.equal(env.OUTPUT_DIR, 'out');
  });

  it('refuses an outputUri that is neither oci://bucket@namespace nor a local path, and an outputDir leaving the working directory', () => {
    refused(runtimeSpec('gitPython', 'url: file:///r\nentrypoint: a.py\noutputUri: s3://b/p'), 'spec.runtime.spec.outputUri', /s3:\/\/ is not served here/);
    refused(runtimeSpec('gitPython', 'url: file:///r\nentrypoint: a.py\noutputUri: oci://b/p'), 'spec.runtime.spec.outputUri', /names no namespace/);
    refused(runtimeSpec('gitPython', 'url: file:///r\nentrypoint: a.py\noutputDir: ../x\noutputUri: oci://b@n/p'), 'spec.runtime.spec.outputDir', /may not leave/);
    refused(runtimeSpec('notebook', 'notebookPathURI: https://h/a.ipynb\noutputUri: oci://@n/p'), 'spec.runtime.spec.outputUri', /names no bucket/);
  });
});

describe('notebook', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nb-spec-'));
  mkdirSync(path.join(dir, 'src', 'nbs'), { recursive: true });
  writeFileSync(path.join(dir, 'a.ipynb'), '{}');
  writeFileSync(path.join(dir, 'src', 'nbs', 'b.ipynb'), '{}');
  writeFileSync(path.join(dir, 'src', 'notes.txt'), '');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a notebook file: packed under code/ with the driver, ADS variables set', () => {
    const r = parse(runtimeSpec('notebook', 'notebookPathURI: a.ipynb\nexcludeTags: [skip, slow]\noutputURI: /mnt/out\nnotebookEncoding: latin-1'), dir);
    assert.equal(r.artifactPath, path.join(dir, 'a.ipynb'));
    assert.equal(r.artifactEntrypoint, 'driver_notebook.py');
    assert.deepEqual(r.generatedFiles?.map((f) => f.name), ['driver_notebook.py']);
    assert.deepEqual(env(r), {
      NOTEBOOK_ENCODING: 'latin-1',
      NOTEBOOK_EXCLUDE_TAGS: '["skip","slow"]',
      OUTPUT_URI: '/mnt/out',
      JOB_RUN_NOTEBOOK: 'code/a.ipynb',
      JOB_RUN_ENTRYPOINT: 'driver_notebook.py',
    });
  });

  it('a directory with the notebook in it (source + entrypoint, or notebookPathURI a directory)', () => {
    const r = parse(runtimeSpec('notebook', 'source: src\nentrypoint: nbs/b.ipynb'), dir);
    assert.equal(r.artifactPath, path.join(dir, 'src'));
    assert.equal(env(r).JOB_RUN_NOTEBOOK, 'code/nbs/b.ipynb');
    refused(runtimeSpec('notebook', 'notebookPathURI: src'), 'spec.runtime.spec.entrypoint', /required when/, dir);
    refused(runtimeSpec('notebook', 'source: src\nentrypoint: notes.txt'), 'spec.runtime.spec.entrypoint', /not a notebook/, dir);
  });

  it('an http(s) notebook is fetched by the run; oci:// and missing files are refused naming the field', () => {
    const r = parse(runtimeSpec('notebook', 'notebookPathURI: https://example.com/x.ipynb'), dir);
    assert.equal(r.artifactPath, null);
    assert.equal(env(r).JOB_RUN_NOTEBOOK, 'https://example.com/x.ipynb');
    refused(runtimeSpec('notebook', 'notebookPathURI: oci://b@n/x.ipynb'), 'spec.runtime.spec.notebookPathURI', /oci:\/\/ is not served here/);
    refused(runtimeSpec('notebook', 'notebookPathURI: nope.ipynb'), 'spec.runtime.spec.notebookPathURI', /does not exist/, dir);
  });
});

describe('jobToAds (dsjobs job get --yaml)', () => {
  it('reads back to the same CreateJobDetails: mounts, conda, tags, shape, args, names and values with $', () => {
    const text = `kind: job
spec:
  name: price $$5
  infrastructure:
    kind: infrastructure
    type: dataScienceJob
    spec:
      shapeName: VM.Standard.E4.Flex
      shapeConfigDetails: {ocpus: 2, memoryInGBs: 32}
      blockStorageSize: 70
      storageMount:
      - {src: "oci://bkt@ns/pre/fix", dest: /data/in}
      - {src: "10.0.0.1:/export", dest: scratch}
      freeformTags: {a: b}
      definedTags: {ns: {k: v}}
  runtime:
    kind: runtime
    type: gitPython
    spec:
      url: git@host:r.git
      commit: abc123
      entrypoint: x.py
      conda: {type: published, uri: "oci://envs@ns/packs/p.tar.gz", region: us-x-1}
      env:
      - {name: A, value: "$$HOME and \${A0}"}
      - {name: A0, value: zero}
      args: ["it's", "two words"]
      maximumRuntimeInMinutes: 15
`;
    const first = parse(text);
    const { doc, warnings } = jobToAds(first.createJobDetails as never, {}, null);
    assert.deepEqual(warnings, []);
    const again = parse(stringify(doc));
    assert.deepEqual(again.createJobDetails, first.createJobDetails);
  });

  it('a python job whose artifact was not saved names it and says so', () => {
    const { doc, warnings } = jobToAds(
      { displayName: 'j', jobConfigurationDetails: { environmentVariables: { CONDA_ENV_TYPE: 'service', CONDA_ENV_SLUG: 's' } } },
      {},
      'train.py',
    );
    const rt = (doc.spec as { runtime: { type: string; spec: Record<string, unknown> } }).runtime;
    assert.equal(rt.type, 'python');
    assert.deepEqual(rt.spec, { conda: { type: 'service', slug: 's' }, scriptPathURI: 'train.py' });
    assert.match(warnings[0], /the artifact was not saved/);
  });
});
