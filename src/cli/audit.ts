import type { Command } from 'commander';
import type { AuditEvent, DsJobsClient } from '../sdk/client.js';
import { DurationError, parseDuration } from '../domain/duration.js';
import { fitTable, out, shortId, shortTime, terminalWidth, type Column } from './output.js';
import { UsageError } from './parse.js';

interface AuditGlobals {
  json?: boolean;
  wide?: boolean;
  compartmentId?: string;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/** --since / --until: a time (RFC 3339, or a date, read as UTC midnight) or a duration back from now (30m, 2h, 7d). */
export function parseWhen(flag: string, v: string, nowMs: number): string {
  if (RFC3339.test(v)) return new Date(Date.parse(v)).toISOString();
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return `${v}T00:00:00.000Z`;
  try {
    return new Date(nowMs - parseDuration(v) * 60_000).toISOString();
  } catch (e) {
    if (e instanceof DurationError) throw new UsageError(`${flag} ${v}: expected a time (2026-12-01T08:00:00Z, 2026-12-01) or a duration back from now (30m, 2h, 7d)`);
    throw e;
  }
}

const AUDIT_COLS: Column[] = [
  { key: 'time', header: 'TIME' },
  { key: 'principal', header: 'PRINCIPAL', min: 8 },
  { key: 'operation', header: 'OPERATION', min: 12 },
  { key: 'resource', header: 'RESOURCE', min: 9 },
  { key: 'status', header: 'STATUS' },
  { key: 'result', header: 'RESULT' },
  { key: 'source', header: 'SOURCE', min: 9 },
];

function row(e: AuditEvent, wide: boolean) {
  const d = e.data;
  const principal = d.identity?.principalName ?? d.identity?.principalId;
  return {
    time: wide ? e.eventTime : shortTime(e.eventTime),
    principal: principal ? (wide || !principal.startsWith('ocid1.') ? principal : shortId(principal)) : '(unauthenticated)',
    operation: d.eventName,
    resource: wide ? d.resourceId : d.resourceId?.startsWith('ocid1.') ? shortId(d.resourceId) : d.resourceId,
    status: d.response?.status,
    result: d.additionalDetails?.result,
    source: d.identity?.ipAddress,
  };
}

/**
 * `dsjobs audit list`: the audit trail (OCI Audit's ListEvents) of a compartment, oldest first, in a time window,
 * optionally one principal's. Reading it needs `read audit-events` (administrators have it).
 */
export function addAuditCommands(program: Command, client: (cmd: Command) => { api: DsJobsClient; g: AuditGlobals }): void {
  const audit = program.command('audit').description('the audit trail: every request that changed something or was denied');
  audit
    .command('list')
    .description('list audit events, oldest first (one page of 100 unless --all)')
    .option('--since <when>', 'from this time (RFC 3339 or YYYY-MM-DD) or this long ago (30m, 2h, 7d)', '24h')
    .option('--until <when>', 'up to this time, or this long ago (default: now)')
    .option('--principal <user>', "only this user's events: a user name or a user (or job run) OCID")
    .option('--all', 'every page, not only the first')
    .option('--output <format>', 'table or json (same as --json)', 'table')
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      if (o.output !== 'table' && o.output !== 'json') throw new UsageError(`--output ${o.output}: expected table or json`);
      const json = g.json || o.output === 'json';
      const now = Date.now();
      const startTime = parseWhen('--since', o.since, now);
      const endTime = o.until === undefined ? new Date(now + 1).toISOString() : parseWhen('--until', o.until, now);
      const info = await api.serverInfo();
      // By default both the compartment the CLI works in (where jobs and runs are) and the tenancy (unauthenticated
      // requests, identity changes and requests about no known compartment are recorded there), merged by time.
      const named = g.compartmentId ?? process.env.DSJOBS_COMPARTMENT_ID;
      const compartments = named ? [named] : [...new Set([info.defaultCompartmentId, info.tenancyId])];
      let principalId: string | undefined;
      if (o.principal !== undefined) {
        principalId = o.principal.startsWith('ocid1.') ? o.principal : (await api.findUser(info.tenancyId, o.principal))?.id;
        if (!principalId) throw new UsageError(`--principal ${o.principal}: no such user`);
      }
      const items: AuditEvent[] = [];
      let more = false;
      for (const compartmentId of compartments) {
        let page: string | undefined;
        do {
          const p = await api.listAuditEvents({ compartmentId, startTime, endTime, principalId, limit: o.all ? 1000 : 100, page });
          items.push(...p.items);
          page = p.nextPage ?? undefined;
        } while (page && o.all);
        if (page) more = true;
      }
      items.sort((a, b) => a.eventTime.localeCompare(b.eventTime));
      if (json) {
        out(JSON.stringify(items, null, 2));
        return;
      }
      const wide = Boolean(g.wide);
      out(fitTable(items.map((e) => row(e, wide)), AUDIT_COLS, wide ? null : terminalWidth()) + (more ? '\n(more: --all, or a later --since)' : ''));
    });
}
