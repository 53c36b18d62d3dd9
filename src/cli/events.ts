// `dsjobs events`: lifecycle events, listed or followed.
import { Command } from 'commander';
import type { CloudEvent } from '../sdk/client.js';
import { out } from './output.js';
import { parseNumber } from './parse.js';
import { client, idOf } from './context.js';

export function addEventCommands(program: Command): void {
  program
    .command('events')
    .description('list lifecycle events (CloudEvents), oldest first; -f follows new ones as they happen')
    .option('-f, --follow', 'keep streaming new events (resume with --after <last event id>)')
    .option('--type <types>', 'event types, comma-separated (see docs/events.md)')
    .option('--resource <ocid>', 'events of this resource only')
    .option('--job <job>', 'events of this job and its runs (OCID or name)')
    .option('--project <project>', 'events of this project, its jobs and runs (OCID or name)')
    .option('--after <eventId>', 'only events after this one')
    .option('--limit <n>', 'at most this many (without -f)', '100')
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const q = {
        compartmentId: g.compartmentId,
        type: o.type,
        resourceId: o.resource,
        jobId: await idOf(api, g, 'job', o.job),
        projectId: await idOf(api, g, 'project', o.project),
        after: o.after,
      };
      const line = (e: CloudEvent) =>
        g.json ? JSON.stringify(e) : [e.time, e.type, e.subject, (e.data as { lifecycleState?: string }).lifecycleState ?? '-', e.id].join('  ');
      if (o.follow) {
        const abort = new AbortController();
        process.once('SIGINT', () => abort.abort());
        try {
          for await (const e of api.followEvents(q, abort.signal)) out(line(e));
        } catch (e) {
          if (!abort.signal.aborted) throw e;
        }
        return;
      }
      const p = await api.listEvents({ ...q, limit: parseNumber('--limit', o.limit) });
      if (g.json) out(JSON.stringify(p.items, null, 2));
      else out(p.items.length ? p.items.map(line).join('\n') + (p.nextPage ? `\n(more: --after ${p.items[p.items.length - 1].id})` : '') : '(none)');
    });
}
