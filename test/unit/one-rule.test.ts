/**
 * Rules that the CLI, the YAML job specs, the API's jobs and runs and the automations' overrides all apply: each is
 * written once (src/domain) and every path gives the same answer.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JobSpecError, parseJobSpec } from '../../src/job-spec/job-spec.js';
import { localSpecFiles } from '../../src/cli/spec-files.js';
import { parseMaxRuntime, UsageError } from '../../src/cli/parse.js';
import { DsError } from '../../src/domain/errors.js';
import { newOcid } from '../../src/domain/ids.js';
import { checkJobConfiguration, commandLineWords } from '../../src/domain/job-config.js';
import { checkOverrides } from '../../src/service/overrides.js';

// A spec's local artifact must exist.
const specDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsjobs-one-rule-'));
fs.writeFileSync(path.join(specDir, 'a.sh'), 'echo hi\n');
process.on('exit', () => fs.rmSync(specDir, { recursive: true, force: true }));

const specRuntime = (v: string) =>
  (parseJobSpec(`artifact: ./a.sh\nmaxRuntime: ${v}\n`, { specDir, files: localSpecFiles() }).createJobDetails.jobConfigurationDetails as { maximumRuntimeInMinutes: number })
    .maximumRuntimeInMinutes;

describe('maximum runtime: one reading for --max-runtime and a YAML spec', () => {
  for (const [text, minutes] of [
    ['45s', 1],
    ['61s', 2],
    ['90', 90],
    ['0.5', 1],
    ['1h30m', 90],
    ['1.1h', 66],
  ] as const) {
    it(`${text} is ${minutes} whole minutes on both paths`, () => {
      assert.equal(parseMaxRuntime(text), minutes);
      assert.equal(specRuntime(text), minutes);
    });
  }
  it('a bad value is refused on both paths with the same reason', () => {
    assert.throws(() => parseMaxRuntime('soon'), (e: unknown) => e instanceof UsageError && /^--max-runtime soon: invalid duration 'soon'/.test(e.message));
    assert.throws(() => specRuntime('soon'), (e: unknown) => e instanceof JobSpecError && /^maxRuntime: invalid duration 'soon'/.test(e.message));
  });
});

describe('environment variable names: one rule for jobs, runs, automations and specs', () => {
  const spec = (name: string) => () => parseJobSpec(`artifact: ./a.sh\nenv: {"${name}": "1"}\n`, { specDir, files: localSpecFiles() });
  const run = (name: string) => () => checkJobConfiguration({ jobType: 'DEFAULT', environmentVariables: { [name]: '1' } }, 'jobConfigurationOverrideDetails');
  const automation = (name: string) => () => checkOverrides({ environmentVariables: { [name]: '1' } }, 'overrides', false);
  for (const name of ['LD_PRELOAD', '1ABC', 'A B', 'JOB_OCID', 'BASH_FUNC_x%%', 'NODE_OPTIONS']) {
    it(`${JSON.stringify(name)} is refused everywhere`, () => {
      assert.throws(run(name), DsError);
      assert.throws(automation(name), (e: unknown) => e instanceof DsError && e.message.startsWith(`overrides.environmentVariables.${name}: `));
      assert.throws(spec(name), (e: unknown) => e instanceof JobSpecError && e.message.startsWith(`env.${name}: `));
    });
  }
  for (const name of ['my.setting', 'A-B', '_x', 'PYTHONPATH']) {
    it(`${JSON.stringify(name)} is accepted everywhere`, () => {
      run(name)();
      automation(name)();
      spec(name)();
    });
  }
});

describe('OCIDs: the ids the server makes are OCIDs to the spec reader', () => {
  it('a project id of this server is taken as projectId', () => {
    const projectId = newOcid('datascienceproject', 'local');
    const r = parseJobSpec(`artifact: ./a.sh\nprojectId: ${projectId}\n`, { specDir, files: localSpecFiles() });
    assert.equal(r.createJobDetails.projectId, projectId);
  });
});

describe('commandLineArguments: split once, when checked', () => {
  it('checking an override gives its words; a job without arguments gives null', () => {
    assert.deepEqual(checkJobConfiguration({ jobType: 'DEFAULT', commandLineArguments: `--name 'a b' c` }, 'f'), ['--name', 'a b', 'c']);
    assert.deepEqual(checkJobConfiguration({ jobType: 'DEFAULT', commandLineArguments: '' }, 'f'), []);
    assert.equal(checkJobConfiguration({ jobType: 'DEFAULT' }, 'f'), null);
  });
  it('unbalanced quotes are refused naming the field', () => {
    assert.throws(() => commandLineWords(`'open`, 'jobConfigurationOverrideDetails.commandLineArguments'), (e: unknown) =>
      e instanceof DsError && e.message.startsWith('jobConfigurationOverrideDetails.commandLineArguments: '));
  });
});
