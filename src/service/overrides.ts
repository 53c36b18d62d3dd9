import { checkEnvName } from '../domain/env-policy.js';
import { invalid } from '../domain/errors.js';
import { checkMaxRuntime } from '../domain/job-config.js';
import { checkTemplate, renderTemplate } from '../domain/templates.js';
import type { RunOverrides } from '../store/automation-store.js';
import type { CreateRunInput } from './runs.js';

/** Checks the overrides an automation applies to the runs it starts; templates only where `templates` is true. */
export function checkOverrides(o: RunOverrides | undefined | null, field: string, templates: boolean): RunOverrides {
  if (!o) return {};
  const out: RunOverrides = {};
  const text = (v: unknown, f: string) => {
    if (typeof v !== 'string') throw invalid(f, 'must be a string');
    if (templates) checkTemplate(v, f);
    return v;
  };
  if (o.displayName !== undefined) out.displayName = text(o.displayName, `${field}.displayName`);
  if (o.commandLineArguments !== undefined) out.commandLineArguments = text(o.commandLineArguments, `${field}.commandLineArguments`);
  if (o.environmentVariables !== undefined) {
    if (!o.environmentVariables || typeof o.environmentVariables !== 'object') throw invalid(`${field}.environmentVariables`, 'must be an object of strings');
    out.environmentVariables = {};
    // The names a run accepts, checked when the automation is made rather than each time it fires.
    for (const [k, v] of Object.entries(o.environmentVariables)) {
      checkEnvName(k, `${field}.environmentVariables`);
      out.environmentVariables[k] = text(v, `${field}.environmentVariables.${k}`);
    }
  }
  if (o.maximumRuntimeInMinutes !== undefined) {
    if (o.maximumRuntimeInMinutes === null) throw invalid(`${field}.maximumRuntimeInMinutes`, 'must be a positive number of minutes');
    checkMaxRuntime(o.maximumRuntimeInMinutes, `${field}.maximumRuntimeInMinutes`);
    out.maximumRuntimeInMinutes = o.maximumRuntimeInMinutes;
  }
  return out;
}

/** The CreateJobRun input of a run an automation starts, with templates rendered from `ctx`. */
export function runInput(
  target: { projectId: string; compartmentId: string; jobId: string },
  o: RunOverrides,
  ctx: Record<string, unknown> | null,
  tags: Record<string, string>,
): CreateRunInput {
  const r = (s: string) => (ctx ? renderTemplate(s, ctx) : s);
  const env = o.environmentVariables ? Object.fromEntries(Object.entries(o.environmentVariables).map(([k, v]) => [k, r(v)])) : undefined;
  const has = env !== undefined || o.commandLineArguments !== undefined || o.maximumRuntimeInMinutes !== undefined;
  return {
    projectId: target.projectId,
    compartmentId: target.compartmentId,
    jobId: target.jobId,
    // Rendered from event data, which may hold line breaks (an env value, say): names keep no control characters.
    displayName: o.displayName !== undefined ? r(o.displayName).replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 255) : undefined,
    jobConfigurationOverrideDetails: has
      ? {
          jobType: 'DEFAULT',
          environmentVariables: env,
          commandLineArguments: o.commandLineArguments !== undefined ? r(o.commandLineArguments) : undefined,
          maximumRuntimeInMinutes: o.maximumRuntimeInMinutes,
        }
      : undefined,
    freeformTags: tags,
  };
}
