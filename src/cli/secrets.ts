import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { DsJobsClient, VaultSecret } from '../sdk/client.js';
import { details, fitTable, out, shortId, shortTime, terminalWidth, type Column } from './output.js';
import { parseNumber, UsageError } from './parse.js';

type Client = (cmd: Command) => { api: DsJobsClient; g: { json?: boolean; wide?: boolean; compartmentId?: string } };
type CompartmentOf = (api: DsJobsClient, g: { compartmentId?: string }) => Promise<string>;

const SECRET_COLS: Column[] = [
  { key: 'id', header: 'ID' },
  { key: 'secretName', header: 'NAME', min: 12 },
  { key: 'lifecycleState', header: 'STATE' },
  { key: 'timeCreated', header: 'CREATED' },
  { key: 'timeOfDeletion', header: 'DELETION' },
];

/** The value to store, Base64: --value, or --from-file (a file, or - for standard input: no shell history). */
function contentOf(o: { value?: string; fromFile?: string }): string {
  if ((o.value === undefined) === (o.fromFile === undefined)) throw new UsageError('give the value with exactly one of --value or --from-file <file|->');
  const bytes = o.value !== undefined ? Buffer.from(o.value) : readFileSync(o.fromFile === '-' ? 0 : o.fromFile!);
  if (bytes.length === 0) throw new UsageError('the value is empty');
  return bytes.toString('base64');
}

/**
 * `dsjobs secrets ...`: secrets in the server's vault (OCI Vault's API), their versions and their contents. The vault
 * and its master key are the server's (serverInfo names them), so the CLI fills them in.
 */
export function addSecretCommands(program: Command, client: Client, compartment: CompartmentOf): void {
  const secrets = program.command('secrets').description("secrets in the server's vault: create, rotate, read, delete (docs/secrets.md)");

  /** A secret by OCID, by name in the compartment, or by the end of its OCID as the tables show it. */
  async function resolve(api: DsJobsClient, g: { compartmentId?: string }, ref: string): Promise<string> {
    if (ref.startsWith('ocid1.')) return ref;
    const compartmentId = await compartment(api, g);
    const all = await api.listSecrets({ compartmentId });
    const byName = all.filter((s) => s.secretName === ref);
    if (byName.length === 1) return byName[0].id;
    const suffix = ref.replace(/^…/, '');
    const bySuffix = all.filter((s) => s.id.endsWith(suffix));
    if (bySuffix.length === 1) return bySuffix[0].id;
    throw new UsageError(`${ref}: ${bySuffix.length > 1 ? 'names more than one secret' : 'no secret of that name or OCID'} in compartment ${compartmentId} (give its OCID, or --compartment-id)`);
  }
  const show = (g: { json?: boolean }, s: VaultSecret) => out(g.json ? JSON.stringify(s, null, 2) : details(s as unknown as Record<string, unknown>));

  secrets
    .command('create <name>')
    .description('create a secret; its first version holds the value')
    .option('--value <value>', 'the value (it stays in your shell history: prefer --from-file)')
    .option('--from-file <file>', 'read the value from a file, or - for standard input')
    .option('--description <text>', 'a description')
    .action(async (name: string, o, cmd) => {
      const { api, g } = client(cmd);
      const info = await api.serverInfo();
      if (!info.vaultId || !info.vaultKeyId) throw new UsageError('this server has no vault (it predates secrets)');
      const s = await api.createSecret({ compartmentId: await compartment(api, g), secretName: name, vaultId: info.vaultId, keyId: info.vaultKeyId, description: o.description, content: contentOf(o) });
      show(g, s);
    });
  secrets
    .command('list')
    .description("the compartment's secrets")
    .action(async (_o, cmd) => {
      const { api, g } = client(cmd);
      const items = await api.listSecrets({ compartmentId: await compartment(api, g) });
      if (g.json) return void out(JSON.stringify(items, null, 2));
      if (items.length === 0) return void out('(none)');
      const rows = items.map((s) => ({
        ...s,
        id: g.wide ? s.id : shortId(s.id),
        timeCreated: g.wide ? s.timeCreated : shortTime(s.timeCreated),
        timeOfDeletion: g.wide ? s.timeOfDeletion : shortTime(s.timeOfDeletion),
      }));
      out(fitTable(rows, SECRET_COLS, g.wide ? null : terminalWidth()));
    });
  secrets
    .command('get <secret>')
    .description("a secret's details (not its value: see read)")
    .action(async (ref: string, _o, cmd) => {
      const { api, g } = client(cmd);
      show(g, await api.getSecret(await resolve(api, g, ref)));
    });
  secrets
    .command('read <secret>')
    .description("print a secret's value (the current version unless one is named)")
    .option('--version <n>', 'this version number')
    .option('--stage <stage>', 'CURRENT, PREVIOUS, LATEST or DEPRECATED')
    .option('--base64', 'print it Base64-encoded, as stored')
    .action(async (ref: string, o, cmd) => {
      const { api, g } = client(cmd);
      const b = await api.getSecretBundle(await resolve(api, g, ref), { versionNumber: parseNumber('--version', o.version), stage: o.stage });
      if (g.json) return void out(JSON.stringify(b, null, 2));
      const content = b.secretBundleContent.content;
      process.stdout.write(o.base64 ? `${content}\n` : Buffer.from(content, 'base64'));
    });
  secrets
    .command('rotate <secret>')
    .description('store a new value: it becomes the current version, the old one PREVIOUS')
    .option('--value <value>', 'the new value (it stays in your shell history: prefer --from-file)')
    .option('--from-file <file>', 'read the new value from a file, or - for standard input')
    .action(async (ref: string, o, cmd) => {
      const { api, g } = client(cmd);
      const s = await api.rotateSecret(await resolve(api, g, ref), contentOf(o));
      if (g.json) return void out(JSON.stringify(s, null, 2));
      out(`${s.secretName}: version ${s.currentVersionNumber} is current`);
    });
  secrets
    .command('versions <secret>')
    .description("a secret's versions, newest first")
    .action(async (ref: string, _o, cmd) => {
      const { api, g } = client(cmd);
      const items = await api.listSecretVersions(await resolve(api, g, ref));
      if (g.json) return void out(JSON.stringify(items, null, 2));
      const rows = items.map((v) => ({ ...v, stages: v.stages.join(','), name: v.name ?? '-', timeCreated: g.wide ? v.timeCreated : shortTime(v.timeCreated) }));
      const cols: Column[] = [
        { key: 'versionNumber', header: 'VERSION' },
        { key: 'stages', header: 'STAGES' },
        { key: 'name', header: 'NAME', min: 8 },
        { key: 'timeCreated', header: 'CREATED' },
      ];
      out(fitTable(rows, cols, g.wide ? null : terminalWidth()));
    });
  secrets
    .command('delete <secret>')
    .description('schedule the deletion of a secret (1 to 30 days ahead, as in OCI); until then it can be cancelled')
    .option('--days <n>', 'days from now', '30')
    .option('--cancel', 'cancel a scheduled deletion instead')
    .action(async (ref: string, o, cmd) => {
      const { api, g } = client(cmd);
      const id = await resolve(api, g, ref);
      if (o.cancel) {
        await api.cancelSecretDeletion(id);
        return void out(`deletion of ${ref} cancelled`);
      }
      const days = parseNumber('--days', o.days)!;
      if (days < 1 || days > 30) throw new UsageError('--days: must be from 1 to 30');
      await api.scheduleSecretDeletion(id, new Date(Date.now() + days * 86_400_000).toISOString());
      const s = await api.getSecret(id);
      if (g.json) return void out(JSON.stringify(s, null, 2));
      out(`${s.secretName} will be deleted at ${s.timeOfDeletion} (cancel with: dsjobs secrets delete ${ref} --cancel)`);
    });
}
