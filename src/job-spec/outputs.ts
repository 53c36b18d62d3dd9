// ADS's outputDir/outputUri: the spec's fields become OUTPUT_DIR/OUTPUT_URI, which the server reads when a run
// ends (an oci:// URI: it copies the directory to the bucket) and the gitPython and notebook drivers read inside
// the run (a local path: they copy to it, a storage mount).
import { parseOciUri } from '../domain/output-uri.js';
import { fail } from './plumbing.js';

/**
 * Checks an outputUri as the job's create would, naming the spec's field: an `oci://bucket@namespace/prefix` URI, or,
 * where the runtime's driver copies to it (`localToo`), a local path or file:// URI.
 */
export function checkOutputUri(uri: string, field: string, localToo: boolean): void {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  if (scheme === 'oci') {
    try {
      parseOciUri(uri, field);
    } catch (e) {
      fail(field, (e as Error).message.slice(field.length + 2));
    }
    return;
  }
  if (!localToo) fail(field, `'${uri}' is not an oci://bucket@namespace/prefix URI (the server copies outputDir there when the run ends)`);
  if (scheme !== undefined && scheme !== 'file') fail(field, `'${uri}': ${scheme}:// is not served here (oci://bucket@namespace/prefix, or a local path such as a storage mount)`);
}

/** outputDir with an oci:// outputUri is read by the server from the run's working directory: relative, inside it. */
export function checkOutputDir(dir: string, field: string): void {
  if (dir.startsWith('/')) fail(field, `'${dir}' must be relative to the run's working directory`);
  if (dir.split('/').includes('..')) fail(field, `'${dir}' may not leave the run's working directory ('..')`);
}
