/** The gitPython and notebook runtime readers (src/job-spec/git-python.ts, notebook.ts) through parseJobSpec. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JobSpecError, parseJobSpec, type JobSpecResult } from '../../src/job-spec/job-spec.js';
import { localSpecFiles } from '../../src/cli/spec-files.js';

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
function refused(text: string, field: string, message: RegExp): void {
  assert.throws(
    () => parse(text),
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

  it('warns that an oci:// outputUri is not copied', () => {
    const r = parse(runtimeSpec('gitPython', 'url: git@host:r.git\nentrypoint: m:f\noutputUri: oci://b@n/p'));
    assert.ok(r.warnings.some((w) => w.startsWith('spec.runtime.spec.outputUri: object storage is not served here')), r.warnings.join('\n'));
  });
});
