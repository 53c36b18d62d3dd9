import type { EventRow } from '../store/event-store.js';

/** A CloudEvents 1.0 event in its JSON format (structured mode). */
export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  /** Extension attributes: lower-case alphanumeric names (CloudEvents 1.0 naming rule). */
  compartmentid: string;
  projectid?: string;
  jobid?: string;
  /** dsjobs: position in the event log; ascending, resumable from. */
  sequence: string;
  data: Record<string, unknown>;
}

export function cloudEventSource(region: string): string {
  return `/dsjobs/${region}/datascience`;
}

export function toCloudEvent(row: EventRow, source: string): CloudEvent {
  const e: CloudEvent = {
    specversion: '1.0',
    id: row.id,
    source,
    type: row.type,
    subject: row.resourceId,
    time: row.time,
    datacontenttype: 'application/json',
    compartmentid: row.compartmentId,
    sequence: String(row.seq),
    data: row.data,
  };
  if (row.projectId) e.projectid = row.projectId;
  if (row.jobId) e.jobid = row.jobId;
  return e;
}
