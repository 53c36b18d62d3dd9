import { invalid } from './errors.js';

/**
 * ADS's run outputs (docs/ads-runtimes.md#run-outputs): a job whose variables name an `oci://` OUTPUT_URI has its
 * OUTPUT_DIR (and a notebook run its executed notebook) copied there by the server when the run ends. The variables
 * are ADS's own names, so a job created by ADS, by `dsjobs job create -f` or by hand behaves the same.
 */

export interface OciUri {
  bucket: string;
  namespace: string;
  /** The object name prefix: '' or ending in '/'. */
  prefix: string;
}

/** OCI's bucket names: letters, digits, dashes, underscores and periods, at most 256 characters. */
const BUCKET = /^[A-Za-z0-9._-]{1,256}$/;
/** Object Storage namespaces are short lowercase names. */
const NAMESPACE = /^[a-z0-9][a-z0-9-]{0,63}$/;

export const OCI_URI_SHAPE = 'oci://bucket@namespace/prefix';

/** `oci://bucket@namespace/prefix` as its parts; throws a field-named error for anything else. */
export function parseOciUri(uri: string, field: string): OciUri {
  const m = /^oci:\/\/([^/@]*)(?:@([^/]*))?(?:\/(.*))?$/i.exec(uri);
  if (!m) throw invalid(field, `'${uri}' is not an ${OCI_URI_SHAPE} URI`);
  const [, bucket, namespace, rest] = m;
  if (!bucket || !BUCKET.test(bucket)) throw invalid(field, `'${uri}' names no bucket: expected ${OCI_URI_SHAPE} (bucket names are 1 to 256 letters, digits, dashes, underscores or periods)`);
  if (namespace === undefined || !NAMESPACE.test(namespace)) {
    throw invalid(field, `'${uri}' names no namespace: expected ${OCI_URI_SHAPE} (this server's namespace is what GetNamespace answers)`);
  }
  const parts = (rest ?? '').split('/').filter((p) => p !== '');
  if (parts.some((p) => p === '.' || p === '..')) throw invalid(field, `'${uri}': the prefix may not hold '.' or '..' segments`);
  return { bucket, namespace, prefix: parts.length ? `${parts.join('/')}/` : '' };
}

/** The URI as its parts, for messages and logs (always with its trailing slash). */
export const formatOciUri = (u: OciUri) => `oci://${u.bucket}@${u.namespace}/${u.prefix}`;

/**
 * Checks a job's (or a run's) OUTPUT_URI and OUTPUT_DIR variables. An `oci://` URI must name a bucket and a
 * namespace; a local path (or `file://`: the ADS drivers copy to a storage mount themselves) is left to the run;
 * any other scheme is refused, since nothing here would copy to it. With an `oci://` URI, OUTPUT_DIR must be
 * relative (to the run's working directory: the server reads it from there once the run ended) and stay inside it.
 */
export function checkOutputVariables(env: Record<string, string> | null | undefined, field: string): void {
  const uri = env?.OUTPUT_URI;
  if (uri === undefined || uri === '') return;
  const uriField = `${field}.OUTPUT_URI`;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === 'file') return;
  if (scheme !== 'oci') throw invalid(uriField, `'${uri}': ${scheme}:// is not served here; give an ${OCI_URI_SHAPE} URI of this server's Object Storage (or a local path, for the ADS drivers)`);
  parseOciUri(uri, uriField);
  const dir = env?.OUTPUT_DIR;
  if (dir === undefined || dir === '') return;
  if (dir.startsWith('/')) throw invalid(`${field}.OUTPUT_DIR`, `'${dir}' must be relative to the run's working directory`);
  if (dir.split('/').some((p) => p === '..')) throw invalid(`${field}.OUTPUT_DIR`, `'${dir}' may not leave the run's working directory ('..')`);
}
