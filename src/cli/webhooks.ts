// `dsjobs webhook ...`: signed POSTs of events to your URL.
import { Command } from 'commander';
import { details, err, table } from './output.js';
import { collect, parseNumber } from './parse.js';
import { client, compartment, idOf, print } from './context.js';

export function addWebhookCommands(program: Command): void {
  const webhook = program.command('webhook').description('webhook subscriptions: signed POSTs of events to your URL');
  const filterOf = (o: { type?: string[]; job?: string; project?: string; state?: string[] }) => ({
    eventTypes: o.type,
    jobId: o.job,
    projectId: o.project,
    lifecycleStates: o.state,
  });
  webhook
    .command('create')
    .description('subscribe a URL to events; prints the signing secret (shown once)')
    .requiredOption('--url <url>', 'http(s) endpoint that receives the events')
    .option('--name <name>')
    .option('--type <eventType>', 'event type (repeatable; default all)', collect)
    .option('--job <job>', 'only events of this job and its runs (OCID or name)')
    .option('--project <project>', 'only events of this project (OCID or name)')
    .option('--state <state>', "only when the resource's new state is this (repeatable)", collect)
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const filter = { ...filterOf(o), jobId: await idOf(api, g, 'job', o.job), projectId: await idOf(api, g, 'project', o.project) };
      const w = await api.createWebhookSubscription({ compartmentId: await compartment(api, g), displayName: o.name, url: o.url, filter });
      print(g, w, () => details(w as unknown as Record<string, unknown>));
    });
  webhook.command('list').description('list webhook subscriptions').action(async (_o, cmd) => {
    const { api, g } = client(cmd);
    const items = await api.listWebhookSubscriptions({ compartmentId: g.compartmentId });
    print(g, items, () => table(items as unknown as Record<string, unknown>[], ['id', 'displayName', 'lifecycleState', 'url', 'filter']));
  });
  webhook.command('get <id>').description('show a subscription').action(async (id, _o, cmd) => {
    const { api, g } = client(cmd);
    const w = await api.getWebhookSubscription(id);
    print(g, w, () => details(w as unknown as Record<string, unknown>));
  });
  for (const [verb, what] of [['pause', 'stop delivering (pending deliveries wait)'], ['resume', 'deliver again']] as const) {
    webhook.command(`${verb} <id>`).description(what).action(async (id, _o, cmd) => {
      const { api, g } = client(cmd);
      const w = verb === 'pause' ? await api.pauseWebhookSubscription(id) : await api.resumeWebhookSubscription(id);
      print(g, w, () => `${w.id} ${w.lifecycleState}`);
    });
  }
  webhook.command('test <id>').description('send one signed test event now and show the answer').action(async (id, _o, cmd) => {
    const { api, g } = client(cmd);
    const r = await api.testWebhookSubscription(id);
    print(g, r, () => details(r as unknown as Record<string, unknown>));
    if (!r.ok) process.exitCode = 1;
  });
  webhook.command('delete <id>').description('delete a subscription').action(async (id, _o, cmd) => {
    const { api } = client(cmd);
    await api.deleteWebhookSubscription(id);
    err(`webhook subscription ${id} deleted`);
  });
  webhook
    .command('deliveries <id>')
    .description('deliveries of a subscription with their attempts (status, response code, next retry)')
    .option('--status <status>', 'PENDING, SUCCEEDED or FAILED')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (id, o, cmd) => {
      const { api, g } = client(cmd);
      const p = await api.listWebhookDeliveries(id, { status: o.status, limit: parseNumber('--limit', o.limit) });
      print(g, p.items, () => table(p.items as unknown as Record<string, unknown>[], ['id', 'eventId', 'status', 'attempts', 'lastStatusCode', 'timeNextAttempt', 'lastError']));
    });
}
