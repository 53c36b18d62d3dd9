import type { DsJobsClient, Page } from '../sdk/client.js';
import { UsageError } from './parse.js';

/** A project, job or job run as a list returns it: enough to tell candidates apart. */
interface Named {
  id: string;
  displayName: string;
  lifecycleState: string;
  timeCreated?: string;
  timeAccepted?: string;
}

export type Kind = 'project' | 'job' | 'job run';

/**
 * Turns what the user typed for a project, job or run into its OCID: an OCID is taken as is; anything else is a
 * display name looked up in the compartment (deleted ones left out). OCI lets names repeat, so a name that matches
 * more than one resource is refused with the candidates to choose from, and one that matches none says so.
 */
export async function resolveRef(
  api: DsJobsClient,
  kind: Kind,
  ref: string,
  compartmentId: () => Promise<string>,
): Promise<string> {
  if (ref.startsWith('ocid1.')) return ref;
  const q = { compartmentId: await compartmentId(), displayName: ref };
  const list = (page?: string): Promise<Page<Named>> =>
    kind === 'project' ? api.listProjects({ ...q, page }) : kind === 'job' ? api.listJobs({ ...q, page }) : api.listJobRuns({ ...q, page });
  const found: Named[] = [];
  for await (const item of api.all(list)) if (item.lifecycleState !== 'DELETED' && item.displayName === ref) found.push(item);
  if (found.length === 1) return found[0].id;
  if (found.length === 0) throw new UsageError(`no ${kind} has the OCID or name '${ref}' in compartment ${q.compartmentId}`);
  const lines = found.map((c) => `  ${c.id}  ${c.lifecycleState}  created ${c.timeCreated ?? c.timeAccepted ?? '-'}`);
  throw new UsageError(`${found.length} ${kind}s are named '${ref}'; give the OCID of the one you mean:\n${lines.join('\n')}`);
}
