import type { Command } from 'commander';
import type { DsJobsClient } from '../sdk/client.js';
import { out } from './output.js';
import { UsageError } from './parse.js';

/**
 * `dsjobs admin set-password [--user NAME]`: a new, generated console password for a user, through the Identity
 * API (signed with the caller's API key, so it works when the first password is lost).
 */
export function addSetPasswordCommand(admin: Command, client: (cmd: Command) => { api: DsJobsClient; g: { json?: boolean } }): void {
  admin
    .command('set-password')
    .description("give a user a new web console password (generated, printed once; the user's console sessions end)")
    .option('--user <name>', 'the user (default: admin, the administrator made at first start)', 'admin')
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const info = await api.serverInfo();
      const user = o.user.startsWith('ocid1.') ? { id: o.user as string } : await api.findUser(info.tenancyId, o.user);
      if (!user) throw new UsageError(`--user ${o.user}: no such user`);
      const p = await api.resetConsolePassword(user.id);
      out(g.json ? JSON.stringify(p, null, 2) : `new console password of ${o.user}: ${p.password}`);
    });
}
