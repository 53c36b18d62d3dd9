import type { Command } from 'commander';
import { out } from './output.js';
import { UsageError } from './parse.js';

/**
 * `dsjobs admin ...`: operations on a data directory run on the server's host (they read its files, not its API).
 * The data directory is found as `dsjobs server` finds it: --data-dir, --config, DSJOBS_DATA_DIR, ~/.dsjobs.
 */
export function addAdminCommands(program: Command): Command {
  const admin = program.command('admin').description("administration: the data directory's database (on the server's host) and the identities' passwords");
  const dataDirOf = async (o: { dataDir?: string; config?: string }, what: string) => {
    const { loadConfig } = await import('../config/config.js');
    const cfg = loadConfig({ file: o.config, overrides: { dataDir: o.dataDir } });
    // These copy SQLite's file; a PostgreSQL database has its own tools, which also work while servers run.
    if (cfg.database) throw new UsageError(`the server keeps its state in PostgreSQL (config database / DSJOBS_DATABASE), not in a file to ${what}: use PostgreSQL's tools (pg_dump, pg_restore) on that database`);
    return cfg.dataDir;
  };
  admin
    .command('backup <file>')
    .description("copy the database to <file> (SQLite's online backup: the server may keep running), then check the copy")
    .option('--data-dir <dir>', 'the data directory (default ~/.dsjobs)')
    .option('--config <file>', 'JSON config file naming the data directory')
    .action(async (file: string, o) => {
      const { backupDatabase } = await import('../server.js');
      const s = await backupDatabase(await dataDirOf(o, 'back up'), file);
      out(`backed up to ${s.file}: ${s.bytes} bytes, ${s.projects} projects, ${s.jobs} jobs, ${s.jobRuns} job runs (integrity_check ok)`);
    });
  admin
    .command('restore <file>')
    .description('put a backup in place of the database (the server must be stopped; the replaced database is kept)')
    .option('--data-dir <dir>', 'the data directory (default ~/.dsjobs)')
    .option('--config <file>', 'JSON config file naming the data directory')
    .action(async (file: string, o) => {
      const { restoreDatabase } = await import('../server.js');
      const s = restoreDatabase(await dataDirOf(o, 'restore'), file);
      out(`restored ${s.file} from ${file}: ${s.projects} projects, ${s.jobs} jobs, ${s.jobRuns} job runs`);
      if (s.keptAs) out(`the database it replaced is kept as ${s.keptAs}`);
    });
  return admin;
}
