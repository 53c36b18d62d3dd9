/**
 * The OCID pattern, the one check the server (ids it is given) and the CLI's YAML specs (ids they name) share. Its own
 * module, free of node imports, because the web console bundles the spec reader.
 */

// Realm and region segments may be empty in OCI (tenancy ids are ocid1.tenancy.oc1..<unique>).
const OCID_RE = /^ocid1\.([a-z0-9]+)\.([a-z0-9-]+)\.([a-z0-9-]*)\.([a-z0-9._-]+)$/i;

export function isOcid(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 255 && OCID_RE.test(value);
}
