// The `dsjobs` command line: global options, one file per noun (projects.ts, jobs.ts, runs.ts, ...), and how
// errors are told.
import { Command, Option } from 'commander';
import { DsJobsError } from '../sdk/client.js';
import { JobSpecError } from '../job-spec/job-spec.js';
import { addSetPasswordCommand } from './admin-password.js';
import { addAdminCommands } from './admin.js';
import { client, compartment, DEFAULT_ENDPOINT, type Globals } from './context.js';
import { err } from './output.js';
import { UsageError } from './parse.js';
import { addSecretCommands } from './secrets.js';
import { addEventCommands } from './events.js';
import { addJobCommands } from './jobs.js';
import { addImageCommands } from './images.js';
import { addProjectCommands } from './projects.js';
import { addRunCommands } from './runs.js';
import { addScheduleCommands } from './schedules.js';
import { addServerCommands } from './server-commands.js';
import { addSweepCommands } from './sweeps.js';
import { addTriggerCommands } from './triggers.js';
import { addWebhookCommands } from './webhooks.js';
import { addAuditCommands } from './audit.js';
import { addObjectStorageCommands } from './object-storage.js';

export function buildCli(): Command {
  const program = new Command('dsjobs')
    .description('dsjobs: self-hosted Data Science Jobs (OCI Data Science Jobs API compatible)')
    .option('--endpoint <url>', `server URL (env DSJOBS_ENDPOINT, default ${DEFAULT_ENDPOINT})`)
    .option('--compartment-id <ocid>', "compartment (default: the server's default compartment)")
    .option('--config-file <file>', 'OCI config file to sign requests with (env OCI_CLI_CONFIG_FILE; default <data dir>/oci/config, written by the server at first start)')
    .option('--profile <name>', 'profile of the OCI config file (env OCI_CLI_PROFILE, default DEFAULT)')
    .option('--json', 'machine-readable JSON output')
    .option('--wide', 'tables with whole OCIDs, times and texts (by default they fit the terminal)')
    .showHelpAfterError();

  addServerCommands(program);
  addProjectCommands(program);
  addJobCommands(program);
  addImageCommands(program);
  addRunCommands(program);
  addWebhookCommands(program);
  addTriggerCommands(program);
  addScheduleCommands(program);
  addSweepCommands(program);
  addEventCommands(program);
  addSetPasswordCommand(addAdminCommands(program), client);
  addSecretCommands(program, client, compartment);
  addAuditCommands(program, client);
  addObjectStorageCommands(program);
  return program;
}

/** What to do when the server cannot be reached: where the URL came from and the two ways to give another. */
function connectionHint(endpointFlag: string | undefined): string {
  const from = endpointFlag
    ? 'from --endpoint'
    : process.env.DSJOBS_ENDPOINT
      ? 'from DSJOBS_ENDPOINT'
      : `the default; none was given with --endpoint or DSJOBS_ENDPOINT`;
  return [
    `  (the URL is ${from})`,
    '  Start a server there (dsjobs server), or point the CLI at yours:',
    '    dsjobs --endpoint http://HOST:PORT COMMAND ...   or   export DSJOBS_ENDPOINT=http://HOST:PORT',
  ].join('\n');
}

export async function main(argv: string[]): Promise<void> {
  const program = buildCli();
  program.addOption(new Option('--debug').hideHelp());
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof DsJobsError) err(`error: ${e.code}: ${e.message}${e.status ? ` (HTTP ${e.status})` : ''}`);
    if (e instanceof DsJobsError && e.code === 'ConnectionFailed') err(connectionHint(program.opts<Globals>().endpoint));
    else if (e instanceof UsageError || e instanceof JobSpecError) err(`error: ${e.message}`);
    else if (['ConfigError', 'SecretKeyError', 'SigningKeyError', 'DataDirLockedError', 'DatabaseOpenError', 'DatabaseIntegrityError', 'BackupError'].includes((e as Error)?.name)) err(`error: ${(e as Error).message}`);
    else if (['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR'].includes((e as NodeJS.ErrnoException)?.code ?? '')) {
      const x = e as NodeJS.ErrnoException;
      err(`error: ${x.path ?? ''}: ${x.code === 'ENOENT' ? 'no such file or directory' : x.message}`);
    }
    else err(`error: ${(e as Error)?.stack ?? e}`);
    process.exitCode = 2;
  }
}
