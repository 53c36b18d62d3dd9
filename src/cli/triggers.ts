// `dsjobs trigger ...`: start a job when an event matches, or from a URL.
import { Command } from 'commander';
import { details, err, table } from './output.js';
import { collect, parseEnvPairs, UsageError } from './parse.js';
import { client, compartment, idOf, print } from './context.js';

export function addTriggerCommands(program: Command): void {
  const trigger = program.command('trigger').description('trigger rules: start a job when an event matches, or from a URL');
  const overridesOf = (o: { env?: string[]; args?: string; runName?: string }) => ({
    environmentVariables: parseEnvPairs(o.env),
    commandLineArguments: o.args,
    displayName: o.runName,
  });
  trigger
    .command('create')
    .description('start a run of --job when an event matches (or only by URL); templates: {{run.id}}, {{run.env.NAME}}, {{event.data.jobId}}, {{body.x}}')
    .requiredOption('--job <job>', 'the job to start, by OCID or name')
    .option('--name <name>')
    .option('--on-job <job>', 'events of this job (and its runs), by OCID or name')
    .option('--on-type <eventType>', 'event type (repeatable), e.g. com.oraclecloud.datascience.succeededjobrun', collect)
    .option('--on-state <state>', "the resource's new state (repeatable)", collect)
    .option('--url-only', 'no event condition: only POSTs to the trigger URL start runs')
    .option('--env <NAME=VALUE>', 'env override of the started run, templates allowed (repeatable)', collect)
    .option('--args <string>', 'arguments of the started run, templates allowed')
    .option('--run-name <template>', 'display name of the started run')
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const cond = o.urlOnly ? null : { jobId: await idOf(api, g, 'job', o.onJob), eventTypes: o.onType, lifecycleStates: o.onState };
      if (cond && !cond.jobId && !cond.eventTypes && !cond.lifecycleStates) {
        throw new UsageError('give an event condition (--on-job, --on-type, --on-state) or --url-only');
      }
      const r = await api.createTriggerRule({ compartmentId: await compartment(api, g), displayName: o.name, jobId: await idOf(api, g, 'job', o.job), eventFilter: cond, overrides: overridesOf(o) });
      print(g, r, () => details(r as unknown as Record<string, unknown>));
    });
  trigger.command('list').description('list trigger rules').action(async (_o, cmd) => {
    const { api, g } = client(cmd);
    const items = await api.listTriggerRules({ compartmentId: g.compartmentId });
    print(g, items, () => table(items as unknown as Record<string, unknown>[], ['id', 'displayName', 'lifecycleState', 'jobId', 'eventFilter']));
  });
  trigger.command('get <id>').description('show a trigger rule').action(async (id, _o, cmd) => {
    const { api, g } = client(cmd);
    const r = await api.getTriggerRule(id);
    print(g, r, () => details(r as unknown as Record<string, unknown>));
  });
  for (const verb of ['activate', 'deactivate'] as const) {
    trigger.command(`${verb} <id>`).description(`${verb} a trigger rule`).action(async (id, _o, cmd) => {
      const { api, g } = client(cmd);
      const r = verb === 'activate' ? await api.activateTriggerRule(id) : await api.deactivateTriggerRule(id);
      print(g, r, () => `${r.id} ${r.lifecycleState}`);
    });
  }
  trigger.command('delete <id>').description('delete a trigger rule').action(async (id, _o, cmd) => {
    const { api } = client(cmd);
    await api.deleteTriggerRule(id);
    err(`trigger rule ${id} deleted`);
  });
  trigger
    .command('fire <id>')
    .description("POST to the rule's trigger URL with its token, as a CI pipeline would")
    .requiredOption('--token <token>', 'the triggerToken shown when the rule was created (env DSJOBS_TRIGGER_TOKEN)', process.env.DSJOBS_TRIGGER_TOKEN)
    .option('--data <json>', 'JSON body: {{body.*}} in the templates')
    .option('--retry-token <token>', 'the same token never starts two runs')
    .action(async (id, o, cmd) => {
      const { api, g } = client(cmd);
      let body: unknown = {};
      if (o.data) {
        try {
          body = JSON.parse(o.data);
        } catch {
          throw new UsageError('--data: is not valid JSON');
        }
      }
      const run = await api.fireTriggerRule(id, o.token, body, o.retryToken);
      print(g, run, () => details({ id: run.id, jobId: run.jobId, lifecycleState: run.lifecycleState }));
    });
}
