// `dsjobs sweep ...`: many runs of a job over parameters, then the best.
import { Command } from 'commander';
import type { SweepTrial } from '../sdk/client.js';
import { details, err, table } from './output.js';
import { collect, parseEnvPairs, parseNumber, UsageError } from './parse.js';
import { client, compartment, idOf, print } from './context.js';

export function addSweepCommands(program: Command): void {
  const sweep = program.command('sweep').description('parallel sweeps: many runs of a job over parameters, then the best');
  const trialCols = (t: SweepTrial) => ({
    rank: t.rank,
    index: t.index,
    state: t.lifecycleState,
    ...t.parameters.environmentVariables,
    ...(t.parameters.commandLineArguments !== undefined ? { args: t.parameters.commandLineArguments } : {}),
    ...t.metrics,
  });
  const showTrials = (trials: SweepTrial[]) => {
    const rows = trials.map(trialCols);
    const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    return table(rows as Record<string, unknown>[], cols);
  };
  sweep
    .command('create')
    .description('start a sweep: --grid NAME=v1,v2 (repeatable) makes every combination; --random N samples N of them')
    .requiredOption('--job <job>', 'by OCID or name')
    .requiredOption('--metric <name>', 'the DSJOBS_METRIC name to rank by')
    .option('--goal <goal>', 'max or min', 'max')
    .option('--grid <NAME=v1,v2,...>', 'env var and its values (repeatable)', collect)
    .option('--args-values <a>', 'a command line argument string to try (repeatable)', collect)
    .option('--random <n>', 'sample n trials at random instead of the full grid')
    .option('--seed <n>', 'seed of the random sample')
    .option('--max-parallel <k>', 'runs at once', '4')
    .option('--name <name>')
    .option('--env <NAME=VALUE>', 'env of every trial (repeatable)', collect)
    .option('--final-job <job>', 'after the trials, run this job (OCID or name; default: the same job) with the best parameters')
    .option('--final', 'start a final run of the same job with the best parameters')
    .option('--final-env <NAME=VALUE>', 'extra env of the final run (repeatable)', collect)
    .option('--wait', 'wait until the sweep ends and print the ranking')
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const grid: Record<string, string[]> = {};
      for (const spec of o.grid ?? []) {
        const i = spec.indexOf('=');
        if (i <= 0) throw new UsageError(`--grid ${spec}: expected NAME=v1,v2,...`);
        grid[spec.slice(0, i)] = spec.slice(i + 1).split(',');
      }
      const goal = String(o.goal).toLowerCase();
      if (goal !== 'max' && goal !== 'min') throw new UsageError('--goal: max or min');
      const wantFinal = o.final || o.finalJob || o.finalEnv;
      let sw = await api.createSweep({
        compartmentId: await compartment(api, g),
        displayName: o.name,
        jobId: await idOf(api, g, 'job', o.job),
        strategy: o.random ? 'RANDOM' : 'GRID',
        sampleCount: parseNumber('--random', o.random),
        seed: parseNumber('--seed', o.seed),
        parameters: { environmentVariables: grid, commandLineArguments: o.argsValues },
        maxParallel: parseNumber('--max-parallel', o.maxParallel)!,
        metric: { name: o.metric, goal: goal === 'max' ? 'MAXIMIZE' : 'MINIMIZE' },
        overrides: { environmentVariables: parseEnvPairs(o.env) },
        final: wantFinal ? { jobId: await idOf(api, g, 'job', o.finalJob), overrides: { environmentVariables: parseEnvPairs(o.finalEnv) } } : undefined,
      });
      if (!o.wait) {
        print(g, sw, () => details({ id: sw.id, lifecycleState: sw.lifecycleState, trialCount: sw.trialCount, maxParallel: sw.maxParallel }));
        return;
      }
      err(`[dsjobs] Sweep ${sw.id}: ${sw.trialCount} trials, at most ${sw.maxParallel} at a time`);
      let last = '';
      while (sw.lifecycleState === 'IN_PROGRESS' || sw.lifecycleState === 'CANCELING') {
        await new Promise((r) => setTimeout(r, 1000));
        sw = await api.getSweep(sw.id);
        const line = JSON.stringify(sw.trialCounts);
        if (line !== last && !g.json) err(`[dsjobs] ${new Date().toISOString()} ${Object.entries(sw.trialCounts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
        last = line;
      }
      const ranked = await api.listSweepTrials(sw.id, { sortBy: 'rank' });
      print(g, { sweep: sw, trials: ranked }, () => `${showTrials(ranked)}\n\n${sw.lifecycleState}: ${sw.lifecycleDetails ?? ''}`);
      if (sw.lifecycleState !== 'SUCCEEDED') process.exitCode = 1;
    });
  sweep.command('list').description('list sweeps').option('--job <job>', 'by OCID or name').action(async (o, cmd) => {
    const { api, g } = client(cmd);
    const items = await api.listSweeps({ compartmentId: g.compartmentId, jobId: await idOf(api, g, 'job', o.job) });
    print(g, items, () => table(items as unknown as Record<string, unknown>[], ['id', 'displayName', 'lifecycleState', 'trialCount', 'maxParallel', 'timeCreated']));
  });
  sweep.command('get <id>').description('show a sweep and its trials, best first').action(async (id, _o, cmd) => {
    const { api, g } = client(cmd);
    const sw = await api.getSweep(id);
    const ranked = await api.listSweepTrials(id, { sortBy: 'rank' });
    print(g, { sweep: sw, trials: ranked }, () => `${details({ id: sw.id, displayName: sw.displayName, lifecycleState: sw.lifecycleState, lifecycleDetails: sw.lifecycleDetails, metric: sw.metric, finalJobRunId: sw.finalJobRunId })}\n\n${showTrials(ranked)}`);
  });
  sweep.command('cancel <id>').description('cancel a sweep: no new trials, running ones are canceled').action(async (id, _o, cmd) => {
    const { api } = client(cmd);
    await api.cancelSweep(id);
    err(`cancel requested for sweep ${id}`);
  });
}
