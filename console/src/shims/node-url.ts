// Browser stand-in for node:url, for src/cli/job-spec.ts only (file:// artifact URIs).
export function fileURLToPath(u: string | URL): string {
  const url = typeof u === 'string' ? new URL(u) : u;
  if (url.protocol !== 'file:') throw new TypeError('The URL must be of scheme file');
  return decodeURIComponent(url.pathname);
}
export default { fileURLToPath };
