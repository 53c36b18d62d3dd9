/**
 * Who makes a request, once authenticated: a user with the names of the groups it belongs to, or a job run acting
 * through its run principal (OCI's resource principal), which dynamic groups match by the run's id and compartment.
 */
export type Principal =
  | { kind: 'user'; userId: string; groupNames: string[] }
  | { kind: 'run'; runId: string; compartmentId: string };
