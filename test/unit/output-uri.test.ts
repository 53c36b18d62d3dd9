/** domain/output-uri.ts and run-outputs' variable expansion: what a job's OUTPUT_URI / OUTPUT_DIR may be. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkOutputVariables, formatOciUri, parseOciUri } from '../../src/domain/output-uri.js';
import { expandVariables } from '../../src/service/run-outputs.js';

const F = 'jobConfigurationDetails.environmentVariables';

describe('OUTPUT_URI and OUTPUT_DIR', () => {
  it('parses oci://bucket@namespace/prefix, the prefix normalized to end in /', () => {
    assert.deepEqual(parseOciUri('oci://results@ns1/a//b/', 'f'), { bucket: 'results', namespace: 'ns1', prefix: 'a/b/' });
    assert.deepEqual(parseOciUri('oci://results@ns1', 'f'), { bucket: 'results', namespace: 'ns1', prefix: '' });
    assert.equal(formatOciUri(parseOciUri('oci://r@ns/x', 'f')), 'oci://r@ns/x/');
  });

  it('refuses, naming the variable, what nothing here would copy to', () => {
    const refused = (env: Record<string, string>, field: string, why: RegExp) =>
      assert.throws(() => checkOutputVariables(env, F), (e: Error & { field?: string }) => e.field === `${F}.${field}` && why.test(e.message));
    refused({ OUTPUT_URI: 's3://b/x' }, 'OUTPUT_URI', /s3:\/\/ is not served here/);
    refused({ OUTPUT_URI: 'oci://@ns/x' }, 'OUTPUT_URI', /names no bucket/);
    refused({ OUTPUT_URI: 'oci://b/x' }, 'OUTPUT_URI', /names no namespace/);
    refused({ OUTPUT_URI: 'oci://b@ns/a/../x' }, 'OUTPUT_URI', /'\.\.'/);
    refused({ OUTPUT_URI: 'oci://b@ns/x', OUTPUT_DIR: '/abs' }, 'OUTPUT_DIR', /relative/);
    refused({ OUTPUT_URI: 'oci://b@ns/x', OUTPUT_DIR: 'a/../../x' }, 'OUTPUT_DIR', /may not leave/);
  });

  it('leaves local paths and file:// to the ADS drivers, and jobs without OUTPUT_URI alone', () => {
    const envs: Record<string, string>[] = [{ OUTPUT_URI: '/mnt/out', OUTPUT_DIR: '/abs' }, { OUTPUT_URI: 'file:///mnt/out' }, { OUTPUT_DIR: '../x' }, {}];
    for (const env of envs) checkOutputVariables(env, F);
    checkOutputVariables(null, F);
  });

  it('expands the run\'s variables in the URI as ADS\'s drivers do; unknown names stay as written', () => {
    const env = { JOB_RUN_OCID: 'ocid1.run', X: 'x' };
    assert.equal(expandVariables('oci://b@ns/${JOB_RUN_OCID}/$X/${NOPE}/$NOPE', env), 'oci://b@ns/ocid1.run/x/${NOPE}/$NOPE');
  });
});
