// Live logs of a run: GET /jobRuns/{id}/logs?follow=true&since=SEQ (NDJSON). A dropped connection (server
// restart, network) is resumed with since= the last sequence number received, so no line is shown twice and none
// is missed; records at or below that number are dropped should a server ever resend them.
import { API } from './api';
import { ndjsonBatches } from './ndjson';

export interface LogLine {
  seq: number;
  time: string;
  stream: 'stdout' | 'stderr';
  message: string;
}

export type FollowStatus = 'connecting' | 'live' | 'reconnecting' | 'ended';

export interface FollowOptions {
  onLines: (lines: LogLine[]) => void;
  onStatus: (s: FollowStatus, detail?: string) => void;
  /** Asked when a response ends cleanly: true once the run is terminal (otherwise the follow is resumed). */
  runEnded: () => Promise<boolean>;
}

const MIN_RETRY_MS = 250;
const MAX_RETRY_MS = 5000;

/** Follows a run's log until it has ended and every line was received; returns a function that stops it. */
export function followLogs(runId: string, opts: FollowOptions): () => void {
  const abort = new AbortController();
  let since = 0;
  let retryMs = MIN_RETRY_MS;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const once = async (): Promise<void> => {
    const res = await fetch(`${API}/jobRuns/${encodeURIComponent(runId)}/logs?follow=true&since=${since}`, { signal: abort.signal, cache: 'no-store' });
    if (!res.ok || !res.body) throw new Error(`logs: HTTP ${res.status}`);
    opts.onStatus('live');
    retryMs = MIN_RETRY_MS;
    for await (const records of ndjsonBatches<LogLine>(res.body)) {
      const batch: LogLine[] = [];
      for (const rec of records) {
        if (rec.seq <= since) continue;
        since = rec.seq;
        batch.push(rec);
      }
      if (batch.length) opts.onLines(batch);
    }
  };

  void (async () => {
    opts.onStatus('connecting');
    while (!abort.signal.aborted) {
      try {
        await once();
        if (abort.signal.aborted) return;
        if (await opts.runEnded()) {
          opts.onStatus('ended');
          return;
        }
      } catch (e) {
        if (abort.signal.aborted) return;
        opts.onStatus('reconnecting', e instanceof Error ? e.message : String(e));
      }
      await sleep(retryMs);
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    }
  })();
  return () => abort.abort();
}

/** The whole log as text, one line per record: `<time> <stream> <message>`. */
export async function logText(runId: string): Promise<string> {
  const res = await fetch(`${API}/jobRuns/${encodeURIComponent(runId)}/logs`, { cache: 'no-store' });
  if (!res.ok) throw new Error(`logs: HTTP ${res.status}`);
  const text = await res.text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const r = JSON.parse(l) as LogLine;
      return `${r.time} ${r.stream} ${r.message}`;
    })
    .join('\n');
}
