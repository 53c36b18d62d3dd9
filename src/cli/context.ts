// What every command shares: the global options, the signed client, the compartment, names resolved to OCIDs,
// and printing (JSON or tables that fit the terminal).
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DsJobsClient, type RequestSigner } from '../sdk/client.js';
import { configFileSigner } from '../sdk/signer.js';
import { fitTable, out, shortId, shortTime, terminalWidth, type Column } from './output.js';
import { UsageError } from './parse.js';
import { resolveRef, type Kind } from './resolve.js';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:8420';

export interface Globals {
  endpoint?: string;
  configFile?: string;
  profile?: string;
  json?: boolean;
  wide?: boolean;
  compartmentId?: string;
}

/**
 * The OCI config file requests are signed with: --config-file, OCI_CLI_CONFIG_FILE, or the one the server wrote at
 * its first start in the default data dir (DSJOBS_DATA_DIR or ~/.dsjobs). Named explicitly, it must exist; the
 * default one may not (a server with authentication off answers unsigned requests).
 */
export function signer(g: Globals): RequestSigner | undefined {
  const named = g.configFile ?? process.env.OCI_CLI_CONFIG_FILE;
  const profile = g.profile ?? process.env.OCI_CLI_PROFILE ?? 'DEFAULT';
  const file = named ?? path.join(process.env.DSJOBS_DATA_DIR ?? path.join(os.homedir(), '.dsjobs'), 'oci', 'config');
  if (!named && !existsSync(file)) return undefined;
  try {
    return configFileSigner(file, profile);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function client(cmd: Command): { api: DsJobsClient; g: Globals } {
  const g = cmd.optsWithGlobals() as Globals;
  return { api: new DsJobsClient({ endpoint: g.endpoint ?? process.env.DSJOBS_ENDPOINT ?? DEFAULT_ENDPOINT, signer: signer(g) }), g };
}

export async function compartment(api: DsJobsClient, g: Globals): Promise<string> {
  return g.compartmentId ?? process.env.DSJOBS_COMPARTMENT_ID ?? (await api.serverInfo()).defaultCompartmentId;
}

/** The OCID of a project, job or run given by OCID or by display name (unique in the compartment). */
export function idOf(api: DsJobsClient, g: Globals, kind: Kind, ref: string): Promise<string>;
export function idOf(api: DsJobsClient, g: Globals, kind: Kind, ref: string | undefined): Promise<string | undefined>;
export async function idOf(api: DsJobsClient, g: Globals, kind: Kind, ref: string | undefined): Promise<string | undefined> {
  return ref === undefined ? undefined : resolveRef(api, kind, ref, () => compartment(api, g));
}

export function print(g: Globals, value: unknown, human: () => string): void {
  out(g.json ? JSON.stringify(value, null, 2) : human());
}

/**
 * The list tables. By default they fit the terminal (100 columns without one): OCIDs and times shortened, names and
 * details cut; --wide prints every value whole.
 */
export function listTable(g: Globals, rows: Record<string, unknown>[], columns: Column[]): string {
  const shown = g.wide
    ? rows
    : rows.map((r) => ({
        ...r,
        id: shortId(r.id as string),
        timeCreated: shortTime(r.timeCreated as string),
        timeAccepted: shortTime(r.timeAccepted as string),
      }));
  return fitTable(shown, columns, g.wide ? null : terminalWidth());
}

/** Lifecycle states as the API spells them, whatever case was typed (--state succeeded). */
export const upper = (v: string | undefined) => v?.toUpperCase();
