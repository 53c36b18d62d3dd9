// `dsjobs schedule ...`: cron schedules that start runs of a job.
import { Command } from 'commander';
import { details, err, table } from './output.js';
import { collect, parseEnvPairs } from './parse.js';
import { client, compartment, idOf, print } from './context.js';

export function addScheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description('cron schedules that start runs of a job');
  schedule
    .command('create')
    .description('start runs of --job on a cron schedule')
    .requiredOption('--job <job>', 'by OCID or name')
    .requiredOption('--cron <expr>', 'cron expression, e.g. "0 2 * * *" (5 or 6 fields)')
    .option('--tz <zone>', 'IANA time zone', 'UTC')
    .option('--misfire <policy>', 'after downtime: SKIP the missed starts or RUN_ONCE for them', 'SKIP')
    .option('--name <name>')
    .option('--env <NAME=VALUE>', 'env override of the runs (repeatable)', collect)
    .option('--args <string>', 'arguments of the runs')
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const sc = await api.createSchedule({
        compartmentId: await compartment(api, g),
        displayName: o.name,
        jobId: await idOf(api, g, 'job', o.job),
        cron: o.cron,
        timeZone: o.tz,
        misfirePolicy: String(o.misfire).toUpperCase() as 'SKIP' | 'RUN_ONCE',
        overrides: { environmentVariables: parseEnvPairs(o.env), commandLineArguments: o.args },
      });
      print(g, sc, () => details(sc as unknown as Record<string, unknown>));
    });
  schedule.command('list').description('list schedules with their next fire time').action(async (_o, cmd) => {
    const { api, g } = client(cmd);
    const items = (await api.listSchedules({ compartmentId: g.compartmentId })).map((x) => ({ ...x, next: x.timeNextRuns[0] ?? '-' }));
    print(g, items, () => table(items as unknown as Record<string, unknown>[], ['id', 'displayName', 'lifecycleState', 'cron', 'timeZone', 'next']));
  });
  schedule.command('get <id>').description('show a schedule and its next fire times').action(async (id, _o, cmd) => {
    const { api, g } = client(cmd);
    const sc = await api.getSchedule(id);
    print(g, sc, () => details(sc as unknown as Record<string, unknown>));
  });
  for (const [verb, call] of [['pause', 'deactivateSchedule'], ['resume', 'activateSchedule']] as const) {
    schedule.command(`${verb} <id>`).description(`${verb} a schedule`).action(async (id, _o, cmd) => {
      const { api, g } = client(cmd);
      const sc = await api[call](id);
      print(g, sc, () => `${sc.id} ${sc.lifecycleState}`);
    });
  }
  schedule.command('delete <id>').description('delete a schedule').action(async (id, _o, cmd) => {
    const { api } = client(cmd);
    await api.deleteSchedule(id);
    err(`schedule ${id} deleted`);
  });
}
