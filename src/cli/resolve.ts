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
 * display name looked up in the compartment (deleted ones left out), or else the end of an OCID as the list tables
 * show it. OCI lets names repeat, so a name that matches
 * more than one resource is refused with the candidates to choose from, and one that matches none says so.
 */
export async function resolveRef(
  api: DsJobsClient,
  kind: Kind,
  ref: string,
  compartmentId: () => Promise<string>,
): Promise<string> {
  if (ref.startsWith('ocid1.')) return ref;
  const compartment = await compartmentId();
  const pages = (displayName?: string) => (page?: string): Promise<Page<Named>> => {
    const q = { compartmentId: compartment, displayName, page };
    return kind === 'project' ? api.listProjects(q) : kind === 'job' ? api.listJobs(q) : api.listJobRuns(q);
  };
  const found: Named[] = [];
  for await (const item of api.all(pages(ref))) if (item.lifecycleState !== 'DELETED' && item.displayName === ref) found.push(item);
  // Not a name: the end of an OCID as the list tables show it (…2r8rnxrr), or typed without the ellipsis.
  const suffix = /^…?([a-z0-9]{6,})$/.exec(ref)?.[1];
  if (found.length === 0 && suffix) {
    for await (const item of api.all(pages())) if (item.lifecycleState !== 'DELETED' && item.id.endsWith(suffix)) found.push(item);
  }
  if (found.length === 1) return found[0].id;
  if (found.length === 0) throw new UsageError(`no ${kind} has the OCID or name '${ref}' in compartment ${compartment}`);
  const what = suffix && found[0].displayName !== ref ? `OCIDs end in '${suffix}'` : `are named '${ref}'`;
  const lines = found.map((c) => `  ${c.id}  ${c.lifecycleState}  created ${c.timeCreated ?? c.timeAccepted ?? '-'}`);
  throw new UsageError(`${found.length} ${kind}s ${what}; give the OCID of the one you mean:\n${lines.join('\n')}`);
}
