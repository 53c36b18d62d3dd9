// Turns a YAML job spec into the CreateJobDetails body the CLI sends, plus the local artifact to upload. Read by
// the CLI (`dsjobs jobs create --spec`) and the web console alike: nothing here needs Node (what the reader may
// look at on disk comes in as SpecFiles).
//
// Two formats are read:
//  * ADS YAML (`kind: job` or `kind: runtime`), as written by oracle-ads `Job.to_yaml()` and `ads opctl init`
//    (reference/oci-ads-reference.md §4.2; examples in test/fixtures/ads/). Only the `dataScienceJob`
//    infrastructure is supported, with the `python`, `script`, `gitPython` and `notebook` runtimes (the last two
//    make a driver the artifact: docs/ads-runtimes.md); the rest fail with "not supported yet".
//    See ads.ts, with yaml.ts (YAML 1.1 as PyYAML reads it) and interpolation.ts (ADS's env interpolation).
//  * The native short YAML (no `kind`, or `kind: dsjobs/job`), documented in native.ts.
//
// Artifact convention (artifact.ts): for a directory artifact JOB_RUN_ENTRYPOINT is relative to the directory
// itself, so the CLI must zip the directory's *contents* (no top-level folder). ADS writes entrypoints either
// relative to the directory or prefixed with its name; both are accepted and normalised to the former.

import { parseAds } from './ads.js';
import { parseNative } from './native.js';
import { Ctx, JobSpecError, describe, fail, isObj, type JobSpecResult } from './plumbing.js';
import * as posix from './posix-path.js';
import type { SpecFiles } from './spec-files.js';
import { loadAdsYaml, loadYaml } from './yaml.js';

export { JobSpecError, parseDuration, type JobSpecResult } from './plumbing.js';
export type { SpecFiles } from './spec-files.js';

export interface ParseJobSpecOptions {
  /** Absolute directory of the spec file; relative artifact paths are resolved against it. */
  specDir: string;
  /** What is on disk where the spec names its artifact, and the home directory `~/` expands to. */
  files: SpecFiles;
}

export function parseJobSpec(text: string, opts: ParseJobSpecOptions): JobSpecResult {
  const ctx = new Ctx(posix.resolve(opts.specDir), opts.files);
  const probe = loadYaml(text, false);
  if (probe === null || probe === undefined) throw new JobSpecError('the job spec is empty');
  if (!isObj(probe)) throw new JobSpecError(`the job spec must be a YAML mapping, got ${describe(probe)}`);

  const kind = probe.kind;
  if (kind === undefined || kind === null || kind === 'dsjobs/job') {
    if (kind == null && isObj(probe.spec) && ('runtime' in probe.spec || 'infrastructure' in probe.spec)) {
      ctx.warnings.push("kind: missing; read as an ADS 'kind: job' spec");
      return parseAds(loadAdsYaml(text, 'job'), 'job', ctx);
    }
    return parseNative(probe, ctx);
  }
  if (typeof kind !== 'string') fail('kind', `expected a string, got ${describe(kind)}`);
  if (kind === 'job' || kind === 'runtime') return parseAds(loadAdsYaml(text, kind), kind, ctx);
  if (kind === 'jobRun') {
    fail('kind', "'jobRun' describes a job run, not a job; give a 'kind: job' spec (ADS Job.to_yaml()) instead");
  }
  if (kind === 'infrastructure') {
    fail('kind', "'infrastructure' describes only the infrastructure; a job spec needs a runtime too ('kind: job')");
  }
  fail('kind', `unknown kind '${kind}' (expected job or runtime for ADS specs, or dsjobs/job)`);
}
