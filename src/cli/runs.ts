// `dsjobs run ...`: list, get, cancel, delete, logs, metrics, notebook, watch.
import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { DsJobsClient } from '../sdk/client.js';
import { details, err, out, type Column } from './output.js';
import { client, compartment, idOf, print, listTable, upper } from './context.js';
import { exitStatusOf, watchRun } from './watch.js';

export const RUN_COLS: Column[] = [
  { key: 'id', header: 'ID' },
  { key: 'displayName', header: 'NAME', min: 10 },
  { key: 'lifecycleState', header: 'STATE' },
  { key: 'exitCode', header: 'EXIT' },
  { key: 'jobName', header: 'JOB', min: 8 },
  { key: 'timeAccepted', header: 'ACCEPTED' },
  { key: 'lifecycleDetails', header: 'DETAILS', min: 10 },
];

/** The jobs' display names for the run list, one GET per distinct job. */
export async function jobNames(api: DsJobsClient, jobIds: string[]): Promise<Map<string, string>> {
  const ids = [...new Set(jobIds)];
  const names = await Promise.all(ids.map((id) => api.getJob(id).then((j) => j.displayName, () => '-')));
  return new Map(ids.map((id, i) => [id, names[i]]));
}

export function addRunCommands(program: Command): void {
  const runCmd = program.command('run').description('job runs');
  runCmd
    .command('list')
    .description('list job runs, newest first (not deleted ones unless --state DELETED)')
    .option('--job <job>', 'by OCID or name')
    .option('--state <state>', 'lifecycle state filter (any case)')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const compartmentId = await compartment(api, g);
      const p = await api.listJobRuns({ compartmentId, jobId: await idOf(api, g, 'job', o.job), lifecycleState: upper(o.state), limit: Number(o.limit) });
      const items = o.state ? p.items : p.items.filter((r) => r.lifecycleState !== 'DELETED');
      if (g.json) return print(g, items, () => '');
      const names = await jobNames(api, items.map((r) => r.jobId));
      const rows = items.map((r) => ({ ...r, jobName: names.get(r.jobId) }));
      out(listTable(g, rows, RUN_COLS) + (p.nextPage ? `\n(more: raise --limit)` : ''));
    });
  runCmd.command('get <run>').description('show a job run (by OCID or name)').action(async (ref, _o, cmd) => {
    const { api, g } = client(cmd);
    const r = await api.getJobRun(await idOf(api, g, 'job run', ref));
    print(g, r, () => details(r as unknown as Record<string, unknown>));
  });
  runCmd.command('cancel <run>').description('cancel a run: SIGTERM to its processes, SIGKILL after the grace period').action(async (ref, _o, cmd) => {
    const { api, g } = client(cmd);
    const id = await idOf(api, g, 'job run', ref);
    await api.cancelJobRun(id);
    err(`cancel requested for ${id}`);
  });
  runCmd.command('delete <run>').description('delete a finished run').action(async (ref, _o, cmd) => {
    const { api, g } = client(cmd);
    const id = await idOf(api, g, 'job run', ref);
    await api.deleteJobRun(id);
    err(`job run ${id} deleted`);
  });
  runCmd
    .command('logs <run>')
    .description("print a run's stdout (to stdout) and stderr (to stderr)")
    .option('-f, --follow', 'keep streaming until the run ends')
    .option('--since <seq>', 'only lines after this sequence number', '0')
    .option('-t, --timestamps', 'put the time each line was written (UTC, ISO 8601) before it')
    .action(async (ref, o, cmd) => {
      const { api, g } = client(cmd);
      const id = await idOf(api, g, 'job run', ref);
      for await (const rec of api.logs(id, { follow: Boolean(o.follow), since: Number(o.since) })) {
        const line = `${o.timestamps ? `${rec.time} ` : ''}${rec.message}\n`;
        if (g.json) out(JSON.stringify(rec));
        else if (rec.stream === 'stderr') process.stderr.write(line);
        else process.stdout.write(line);
      }
    });
  runCmd
    .command('metrics <run>')
    .description("show a run's CPU, memory, disk and GPU use over time (percent of its shape)")
    .option('--since <time>', 'only samples after this ISO time')
    .action(async (ref, o, cmd) => {
      const { api, g } = client(cmd);
      const m = await api.getJobRunMetrics(await idOf(api, g, 'job run', ref), { since: o.since });
      out(g.json ? JSON.stringify(m, null, 2) : metricsTable(m));
    });
  runCmd
    .command('notebook <run>')
    .description("write a finished notebook run's executed notebook (.ipynb, with every cell's outputs) to stdout or a file")
    .option('-o, --output <file>', 'write it to this file instead of stdout')
    .action(async (ref, o, cmd) => {
      const { api, g } = client(cmd);
      const id = await idOf(api, g, 'job run', ref);
      const nb = await api.getJobRunNotebook(id);
      if (!o.output) return void process.stdout.write(nb);
      await writeFile(o.output, nb);
      err(`executed notebook of ${id} written to ${o.output} (${Buffer.byteLength(nb)} bytes)`);
    });
  runCmd
    .command('watch <run>')
    .description("stream a run's logs and state until it ends; exit with its exit code")
    .action(async (ref, _o, cmd) => {
      const { api, g } = client(cmd);
      const final = await watchRun(api, await idOf(api, g, 'job run', ref), g);
      process.exitCode = exitStatusOf(final);
    });
}

/** One row per sample time, one column per metric; a metric never sampled (no GPU) is left out. */
export function metricsTable(m: { intervalSeconds: number; reason?: string | null; items: { name: string; datapoints: { timestamp: string; value: number }[] }[] }): string {
  const items = m.items.filter((i) => i.datapoints.length > 0);
  if (items.length === 0) return m.reason ? `no samples: ${m.reason}` : `no samples yet (sampled every ${m.intervalSeconds} s)`;
  const short: Record<string, string> = {
    CpuUtilization: 'CPU%',
    MemoryUtilization: 'MEM%',
    DiskUtilization: 'DISK%',
    GpuUtilization: 'GPU%',
    GpuMemoryUtilization: 'GPUMEM%',
  };
  const times = [...new Set(items.flatMap((i) => i.datapoints.map((d) => d.timestamp)))].sort();
  const byName = items.map((i) => new Map(i.datapoints.map((d) => [d.timestamp, d.value])));
  const head = ['TIME', ...items.map((i) => short[i.name] ?? i.name)];
  const rows = times.map((t) => [t, ...byName.map((b) => (b.has(t) ? b.get(t)!.toFixed(1) : '-'))]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  return [head, ...rows].map((r) => r.map((x, c) => (c === 0 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join('  ')).join('\n');
}
