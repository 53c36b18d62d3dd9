// Browser stand-in for node:os, for src/cli/job-spec.ts only: `~/` in an artifact path means `/`.
export function homedir(): string {
  return '/';
}
export default { homedir };
