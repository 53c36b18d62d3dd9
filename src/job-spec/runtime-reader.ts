// What an ADS runtime type beyond python and script (gitPython, notebook) makes of its spec: the variables ADS's
// driver reads, and the driver itself as the artifact. ads.ts dispatches on the runtime's type.
import type { Fields } from './fields.js';
import type { Ctx, GeneratedFile } from './plumbing.js';

export interface RuntimeParts {
  /** The runtime's variables (ADS's names); they win over the spec's env, as in ADS. */
  env: Record<string, string>;
  /** A local file or directory packed with the driver under `code/`, or null. */
  artifactPath: string | null;
  /** The driver and anything else generated, at the artifact's top. */
  generatedFiles: GeneratedFile[];
  /** JOB_RUN_ENTRYPOINT when the artifact is an archive. */
  entrypoint: string | null;
  /** An oci:// source the CLI fetches before packing (none: the runtimes with a driver read local paths). */
  artifactUri?: string;
  /** A distributed runtime's nodes: the job becomes a multi-node job of one node group of this many replicas. */
  replicas?: number;
}

export interface AdsRuntimeReader {
  /** Spec keys besides the common ones (args, conda, env, tags, maximumRuntimeInMinutes). */
  keys: readonly string[];
  read(rs: Fields, userEnv: Record<string, string>, ctx: Ctx): RuntimeParts;
}
