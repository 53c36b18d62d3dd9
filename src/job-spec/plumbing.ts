// What every part of the job-spec reader shares: its result and error, the reading context, field paths.

import { DurationError, parseDuration as parseDomainDuration } from '../domain/duration.js';
import { PyFloat } from './py-float.js';
import type { SpecFiles } from './spec-files.js';

export interface JobSpecResult {
  /** OCI CreateJobDetails wire JSON (camelCase). projectId/compartmentId only when the spec gives real OCIDs. */
  createJobDetails: Record<string, unknown>;
  /** Absolute path of the local file or directory to upload (a directory is zipped by the CLI), or null. */
  artifactPath: string | null;
  /** An artifact in Object Storage (`oci://bucket@namespace/object`, ADS's scriptPathURI): the CLI fetches it. */
  artifactUri?: string;
  /** For directories and archives: the JOB_RUN_ENTRYPOINT value (also placed into the env). */
  artifactEntrypoint: string | null;
  /** Fields accepted but meaningless here, as human messages naming the field. */
  ignored: string[];
  warnings: string[];
  /**
   * Files the reader made (a gitPython or notebook runtime's driver). With them the artifact is an archive: these at
   * its top, artifactPath's file or directory contents under `code/` (artifactEntrypoint names the driver); alone, a
   * single generated file is the artifact itself.
   */
  generatedFiles?: GeneratedFile[];
}

export interface GeneratedFile {
  name: string;
  content: string;
}

export class JobSpecError extends Error {
  constructor(
    message: string,
    /** Path of the offending field, e.g. `spec.runtime.type`; absent for whole-document problems. */
    public readonly field?: string,
  ) {
    super(message);
    this.name = 'JobSpecError';
  }
}

/** The domain's duration reading (one rule for the CLI's flags and the specs), failing with a JobSpecError. */
export function parseDuration(text: string | number): number {
  try {
    return parseDomainDuration(text);
  } catch (e) {
    if (e instanceof DurationError) throw new JobSpecError(e.message);
    throw e;
  }
}

export type Obj = Record<string, unknown>;

/** One reading of a spec: where it lives, what it may look at, what it found to say. */
export class Ctx {
  readonly warnings: string[] = [];
  readonly ignored: string[] = [];
  constructor(
    /** Absolute directory of the spec: relative artifact paths are resolved against it. */
    readonly specDir: string,
    readonly files: SpecFiles,
  ) {}
}

export function fail(field: string, message: string): never {
  throw new JobSpecError(field ? `${field}: ${message}` : message, field || undefined);
}

export function join(at: string, key: string | number): string {
  if (typeof key === 'number') return `${at}[${key}]`;
  return at ? `${at}.${key}` : key;
}

export function isObj(v: unknown): v is Obj {
  return (
    v !== null &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    !(v instanceof Date) &&
    !(v instanceof Uint8Array) &&
    !(v instanceof PyFloat)
  );
}

export function asObj(v: unknown, field: string): Obj {
  if (!isObj(v)) fail(field, `expected a mapping, got ${describe(v)}`);
  return v;
}

export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (isObj(v)) return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (v instanceof PyFloat) return `number ${v.toString()}`;
  return `${typeof v} ${String(v)}`;
}
