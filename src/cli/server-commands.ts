// `dsjobs server`, `dsjobs info` and `dsjobs shapes`: the server itself and what it offers.
import { Command } from 'commander';
import { details, err, fitTable, out, terminalWidth, type Column } from './output.js';
import { client, compartment, print } from './context.js';

/** How long a stop may take (the server's close waits up to 10 s for runs being settled) before the process exits. */
const STOP_BOUND_MS = 60_000;

export function addServerCommands(program: Command): void {
  program
    .command('server')
    .description('start the dsjobs service (SQLite and local processes under the data dir)')
    .option('--host <host>', 'listen address (default 127.0.0.1)')
    .option('--port <port>', 'listen port (default 8420; 0 picks a free one)')
    .option('--data-dir <dir>', 'where the database, artifacts, runs and logs live (default ~/.dsjobs)')
    .option('--database <url>', 'PostgreSQL URL (postgres://user:password@host:port/db) instead of SQLite under the data dir')
    .option('--replica-url <url>', 'with --database: the URL other server replicas reach this one at (docs/deployment.md)')
    .option('--config <file>', 'JSON config file (see docs/configuration.md)')
    .option('--tls-cert <file>', 'PEM certificate chain: serve HTTPS (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .action(async (o) => {
      const { loadConfig } = await import('../config/config.js');
      const { startServer, packageVersion } = await import('../server.js');
      const cfg = loadConfig({
        file: o.config,
        overrides: { host: o.host, port: o.port === undefined ? undefined : Number(o.port), dataDir: o.dataDir, database: o.database, replicaUrl: o.replicaUrl, tlsCert: o.tlsCert, tlsKey: o.tlsKey },
      });
      // The handlers first: until a process has one, SIGTERM kills it on the spot, and a signal that came between the
      // server listening and the handlers existing left its mounts and sandboxes behind. One that comes while the
      // server is starting stops it as soon as it is up.
      let srv: Awaited<ReturnType<typeof startServer>> | null = null;
      let stopSignal: string | null = null;
      const stop = () => {
        err(`received ${stopSignal}: stopping the server (running jobs keep running and are re-attached at the next start)`);
        // A timer holds the event loop while the server closes: closing waits on child processes (warm sandboxes, the
        // spawner) whose pipes are unref'd, and with nothing else holding the loop node exited with code 0 half-way
        // through, before the block storage volumes were unmounted (seen as volumes left mounted after a SIGTERM
        // soon after the start). It also bounds a close that never finishes.
        setTimeout(() => {
          err(`the server did not stop within ${STOP_BOUND_MS / 1000} s: exiting anyway`);
          process.exit(1);
        }, STOP_BOUND_MS);
        srv!.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      const shutdown = (sig: string) => {
        if (stopSignal) return;
        stopSignal = sig;
        if (srv) stop();
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
      srv = await startServer(cfg);
      out(`dsjobs ${packageVersion()} listening on ${srv.url}`);
      if (srv.exposure) err(`WARNING: ${srv.exposure}`);
      out(`data dir: ${cfg.dataDir}`);
      // Before the compartment line, which launchers (the test harness) wait for: they can read these with it.
      out(`${srv.admin.created ? 'wrote the administrator\'s OCI config' : 'administrator\'s OCI config'}: ${srv.admin.configFile} (profile DEFAULT; key ${srv.admin.keyFile})`);
      if (srv.admin.initialPassword) {
        out(`web console login (shown once; reset with \`dsjobs admin set-password\`): user admin, password ${srv.admin.initialPassword}`);
      }
      out(`authentication: ${srv.authentication ? 'on (requests must be signed)' : 'off (unsigned requests are served; see docs/identity.md)'}`);
      out(`default compartment: ${srv.identity.defaultCompartmentId}`);
      for (const line of srv.protections.enforced) out(`protection on: ${line}`);
      for (const line of srv.protections.off) out(`protection OFF: ${line}`);
      if (stopSignal) stop();
    });

  program
    .command('info')
    .description('show the server version, region, tenancy, default compartment and capacity')
    .action(async (_o, cmd) => {
      const { api, g } = client(cmd);
      const info = await api.serverInfo();
      print(g, info, () => details(info as unknown as Record<string, unknown>));
    });

  program
    .command('shapes')
    .description('list the job shapes this server accepts, with what this host can run of each; --all adds the rest')
    .option('--all', "also the catalog's shapes this host cannot run, with what they need")
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const shapes = await api.listJobShapes({ includeNotRunnable: Boolean(o.all) });
      if (g.json) return print(g, shapes, () => '');
      const info = await api.serverInfo();
      const rows = shapes.map((sh) => ({
        name: `${sh.name}${sh.isDefault ? ' *' : ''}`,
        ocpus: sh.isFlex ? `up to ${sh.coreCount}` : sh.coreCount,
        memory: sh.isFlex ? `up to ${sh.memoryInGBs}` : sh.memoryInGBs,
        gpus: sh.gpuCount ?? 0,
        here: !sh.isRunnableHere
          ? `no: ${(sh.notRunnableReason ?? '').split(';')[0]}`
          : sh.isFlex
            ? `yes, up to ${sh.maxOcpusHere} OCPU, ${sh.maxMemoryInGBsHere} GB`
            : 'yes',
      }));
      const cols: Column[] = [
        { key: 'name', header: 'NAME' },
        { key: 'ocpus', header: 'OCPUS' },
        { key: 'memory', header: 'MEMORY GB' },
        { key: 'gpus', header: 'GPUS' },
        { key: 'here', header: 'RUNS HERE', min: 16 },
      ];
      const c = info.capacity;
      out(
        `${fitTable(rows, cols, g.wide ? null : terminalWidth())}\n\n` +
          `* the default shape (job create without --shape)\n` +
          `this host: ${c.cpus} CPU, ${c.memoryInGBs} GB memory, ${c.gpus} GPU; one OCPU is one CPU here` +
          (o.all ? '' : '\nshapes it can never run are refused: --all lists them'),
      );
    });
}
