import { createHash } from 'node:crypto';
import { DsError, invalid, notFound } from '../domain/errors.js';
import { newOcid } from '../domain/ids.js';
import { matchesPattern, parseLogQuery, type LogCondition } from '../domain/log-query.js';
import { LogView } from '../logs/log-view.js';
import type { LogService } from '../logs/log-service.js';
import { likePattern, LoggingStore, type LogEntryRecord, type LogGroupRecord, type LogRecord } from '../store/logging-store.js';
import type { DefinedTags, Page, Tags } from '../store/records.js';
import type { Store, Tx } from '../store/store.js';
import { bodyHash, checkIfMatch, iso, type Clock, type ServerIdentity } from './common.js';
import { checkCompartment } from './projects.js';
import type { WorkRequestsService } from './work-requests.js';

/** OCI's allowed retention durations (days): 30-day steps up to 180; 30 when not given. */
export const RETENTION_DAYS = [30, 60, 90, 120, 150, 180];
const DEFAULT_RETENTION_DAYS = 30;
/** Logging's work request operation types (OCI's OperationTypes); the Data Science work request API lists none of them. */
export const LOGGING_OPERATION_TYPES = ['CREATE_LOG', 'UPDATE_LOG', 'DELETE_LOG', 'CREATE_LOG_GROUP', 'UPDATE_LOG_GROUP', 'DELETE_LOG_GROUP'];
/** OCI's SearchLogs page: at most 1000 results, 100 when not asked. */
export const SEARCH_MAX_LIMIT = 1000;
/** A pushed entry's data: OCI's limit is "less than 1 MB". */
export const MAX_ENTRY_BYTES = 1024 * 1024;
/** Source, type, subject and entry id of pushed entries (OCI states no limit; these keep rows bounded). */
const MAX_FIELD_CHARS = 1000;
const DAY_MS = 86_400_000;

export interface CreateLogGroupInput {
  compartmentId: string;
  displayName: string;
  description?: string;
  freeformTags?: Tags;
  definedTags?: DefinedTags;
}

export interface CreateLogInput {
  displayName: string;
  logType: 'CUSTOM' | 'SERVICE';
  isEnabled?: boolean;
  configuration?: Record<string, unknown>;
  retentionDuration?: number;
  freeformTags?: Tags;
  definedTags?: DefinedTags;
}

export interface PutLogsInput {
  specversion: string;
  logEntryBatches: {
    entries: { data: string; id: string; time?: string }[];
    source: string;
    type: string;
    subject?: string;
    defaultlogentrytime: string;
  }[];
}

/** A run's log configuration, as resolved before the run is inserted (see planRunLog). */
export type RunLogPlan = null | { logGroupId: string; logId: string } | { logGroupId: string; autoCreate: true };

/** One search result before it is shaped: a run's output line or a pushed entry. */
interface Hit {
  time: string;
  key: string;
  content: () => Record<string, unknown>;
}

/** A source of hits in the search's order, with a position a page token can carry. */
interface Cursor {
  key: string;
  peek(): Hit | null;
  take(): void;
  position(): unknown;
  fill(): Promise<void>;
  close(): void;
}

const checkRetention = (days: number | undefined, field: string): number => {
  if (days === undefined) return DEFAULT_RETENTION_DAYS;
  if (!RETENTION_DAYS.includes(days)) throw invalid(field, `must be one of ${JSON.stringify(RETENTION_DAYS)} (days, in 30-day steps as OCI allows)`);
  return days;
};

const normalTime = (v: string, field: string): string => {
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw invalid(field, 'is not an RFC 3339 date-time');
  return iso(ms);
};

/** The fields a new log group or log starts with: ACTIVE at version 1, created and modified now, tagged as asked. */
function fresh(tags: { freeformTags?: Tags; definedTags?: DefinedTags }, now: string) {
  return { freeformTags: tags.freeformTags ?? {}, definedTags: tags.definedTags ?? {}, lifecycleState: 'ACTIVE', timeCreated: now, timeLastModified: now, version: 1 };
}

/**
 * A subset of OCI Logging (docs/logging.md): log groups and logs (management, with work requests as OCI returns
 * them), job runs' output seen as logs (a view of each run's own log file: nothing is copied), entries pushed with
 * PutLogs, and search over both with the query grammar ADS uses.
 */
export class LoggingService {
  readonly store: LoggingStore;

  constructor(
    store: Store,
    private readonly workRequests: WorkRequestsService,
    private readonly identity: ServerIdentity,
    private readonly clock: Clock,
    private readonly logs: LogService,
  ) {
    this.store = new LoggingStore(store);
  }

  // ---------------------------------------------------------------- log groups

  async createGroup(input: CreateLogGroupInput, retryToken?: string): Promise<string> {
    checkCompartment(input.compartmentId);
    const { id } = await this.store.store.idempotent('createLogGroup', retryToken, bodyHash(input), async (tx) => {
      const g: LogGroupRecord = {
        id: newOcid('loggroup', this.identity.region),
        compartmentId: input.compartmentId,
        displayName: input.displayName,
        description: input.description ?? null,
        ...fresh(input, iso(this.clock.now())),
      };
      await this.uniqueGroupName(g.compartmentId, g.displayName, tx);
      await this.store.groups.insert(tx, g);
      return this.workRequest(tx, 'CREATE_LOG_GROUP', g.compartmentId, 'loggroup', g.id, 'CREATED', `/logGroups/${g.id}`);
    });
    return id;
  }

  private async uniqueGroupName(compartmentId: string, name: string, tx: Tx, except?: string): Promise<void> {
    const same = await tx.selectFrom('log_groups').select('id').where('compartment_id', '=', compartmentId).where('display_name', '=', name).executeTakeFirst();
    if (same && same.id !== except) throw new DsError('Conflict', `displayName: a log group named '${name.slice(0, 100)}' already exists in compartment ${compartmentId}`);
  }

  private async workRequest(tx: Tx, op: string, compartmentId: string, entityType: string, id: string, action: 'CREATED' | 'UPDATED' | 'DELETED', uri: string): Promise<string> {
    const w = await this.workRequests.begin(tx, {
      operationType: op,
      compartmentId,
      resources: [{ actionType: action, entityType, identifier: id, entityUri: uri }],
      log: `${op} ${id}`,
      done: true,
    });
    return w.id;
  }

  async getGroup(id: string): Promise<LogGroupRecord> {
    const g = await this.store.groups.get(id);
    if (!g) throw notFound('Log group', id);
    return g;
  }

  listGroups(compartmentId: string, q: Parameters<LoggingStore['listGroups']>[1]): Promise<Page<LogGroupRecord>> {
    checkCompartment(compartmentId);
    return this.store.listGroups([compartmentId], q);
  }

  async updateGroup(id: string, patch: { displayName?: string; description?: string; freeformTags?: Tags; definedTags?: DefinedTags }, ifMatch?: string): Promise<string> {
    const g = await this.getGroup(id);
    checkIfMatch(ifMatch, g.id, g.version);
    return this.store.store.transaction(async (tx) => {
      if (patch.displayName !== undefined) await this.uniqueGroupName(g.compartmentId, patch.displayName, tx, g.id);
      const next = { ...g, ...stripUndefined(patch), timeLastModified: iso(this.clock.now()) };
      if (!(await this.store.groups.update(tx, next, g.version))) throw new DsError('Conflict', `Log group ${id} changed while it was being updated; get it again and retry`);
      return this.workRequest(tx, 'UPDATE_LOG_GROUP', g.compartmentId, 'loggroup', g.id, 'UPDATED', `/logGroups/${g.id}`);
    });
  }

  /** As OCI: a group that still holds logs is not deleted (delete them first). */
  async deleteGroup(id: string, ifMatch?: string): Promise<string> {
    const g = await this.getGroup(id);
    checkIfMatch(ifMatch, g.id, g.version);
    return this.store.store.transaction(async (tx) => {
      const n = await this.store.countLogs(id, tx);
      if (n > 0) throw new DsError('IncorrectState', `Log group ${id} holds ${n} log(s); delete them before the group`);
      await this.store.deleteGroup(tx, id);
      return this.workRequest(tx, 'DELETE_LOG_GROUP', g.compartmentId, 'loggroup', g.id, 'DELETED', `/logGroups/${g.id}`);
    });
  }

  // ---------------------------------------------------------------- logs

  async createLog(groupId: string, input: CreateLogInput, retryToken?: string): Promise<string> {
    const g = await this.getGroup(groupId);
    const retention = checkRetention(input.retentionDuration, 'retentionDuration');
    if (input.logType === 'SERVICE') throw invalid('logType', 'only CUSTOM logs can be created here (job runs get their logs through jobLogConfigurationDetails)');
    const { id } = await this.store.store.idempotent('createLog', retryToken, bodyHash({ groupId, input }), async (tx) => {
      const l = await this.insertLog(tx, g, input.displayName, retention, input);
      return this.workRequest(tx, 'CREATE_LOG', g.compartmentId, 'log', l.id, 'CREATED', `/logGroups/${g.id}/logs/${l.id}`);
    });
    return id;
  }

  private async insertLog(tx: Tx, g: LogGroupRecord, displayName: string, retention: number, input: Partial<CreateLogInput>): Promise<LogRecord> {
    const same = await tx.selectFrom('logs').select('id').where('log_group_id', '=', g.id).where('display_name', '=', displayName).executeTakeFirst();
    if (same) throw new DsError('Conflict', `displayName: a log named '${displayName.slice(0, 100)}' already exists in log group ${g.id}`);
    const l: LogRecord = {
      id: newOcid('log', this.identity.region),
      logGroupId: g.id,
      compartmentId: g.compartmentId,
      displayName,
      logType: 'CUSTOM',
      isEnabled: input.isEnabled ?? true,
      configuration: input.configuration ?? null,
      retentionDuration: retention,
      ...fresh(input, iso(this.clock.now())),
    };
    await this.store.logs.insert(tx, l);
    return l;
  }

  /** A log, by its group and id (a log of another group is not found there, as in OCI). */
  async getLog(groupId: string, id: string): Promise<LogRecord> {
    const l = await this.store.logs.get(id);
    if (!l || l.logGroupId !== groupId) throw notFound('Log', id);
    return l;
  }

  async getLogById(id: string): Promise<LogRecord> {
    const l = await this.store.logs.get(id);
    if (!l) throw notFound('Log', id);
    return l;
  }

  async listLogs(groupId: string, q: Parameters<LoggingStore['listLogs']>[1]): Promise<Page<LogRecord>> {
    await this.getGroup(groupId);
    return this.store.listLogs(groupId, q);
  }

  async updateLog(
    groupId: string,
    id: string,
    patch: { displayName?: string; isEnabled?: boolean; retentionDuration?: number; freeformTags?: Tags; definedTags?: DefinedTags },
    ifMatch?: string,
  ): Promise<string> {
    const l = await this.getLog(groupId, id);
    checkIfMatch(ifMatch, l.id, l.version);
    if (patch.retentionDuration !== undefined) checkRetention(patch.retentionDuration, 'retentionDuration');
    return this.store.store.transaction(async (tx) => {
      if (patch.displayName !== undefined && patch.displayName !== l.displayName) {
        const same = await tx.selectFrom('logs').select('id').where('log_group_id', '=', groupId).where('display_name', '=', patch.displayName).executeTakeFirst();
        if (same) throw new DsError('Conflict', `displayName: a log named '${patch.displayName.slice(0, 100)}' already exists in log group ${groupId}`);
      }
      const next = { ...l, ...stripUndefined(patch), timeLastModified: iso(this.clock.now()) };
      if (!(await this.store.logs.update(tx, next, l.version))) throw new DsError('Conflict', `Log ${id} changed while it was being updated; get it again and retry`);
      return this.workRequest(tx, 'UPDATE_LOG', l.compartmentId, 'log', l.id, 'UPDATED', `/logGroups/${groupId}/logs/${l.id}`);
    });
  }

  /** Deletes a log and the entries pushed to it; the runs it showed keep their own output (their NDJSON logs). */
  async deleteLog(groupId: string, id: string, ifMatch?: string): Promise<string> {
    const l = await this.getLog(groupId, id);
    checkIfMatch(ifMatch, l.id, l.version);
    return this.store.store.transaction(async (tx) => {
      await this.store.deleteLog(tx, id);
      return this.workRequest(tx, 'DELETE_LOG', l.compartmentId, 'log', l.id, 'DELETED', `/logGroups/${groupId}/logs/${l.id}`);
    });
  }

  // ---------------------------------------------------------------- job runs' logs

  /**
   * What a job's or run's `jobLogConfigurationDetails` asks for, checked as OCI does: enableLogging off (or no
   * configuration) is no log; with enableAutoLogCreation a log group is needed and the run gets a new log in it;
   * otherwise both logGroupId and logId, the log in that group. Missing ones are 400s naming the field (whether the
   * caller may see them is the authorization hook's to decide, with the same 400).
   */
  async planRunLog(config: Record<string, unknown> | null | undefined, field: string): Promise<RunLogPlan> {
    if (!config || config.enableLogging !== true) return null;
    const groupId = config.logGroupId;
    const logId = config.logId;
    if (typeof groupId !== 'string' || groupId === '') throw invalid(`${field}.logGroupId`, 'is required when enableLogging is true');
    const g = await this.store.groups.get(groupId);
    if (!g) throw invalid(`${field}.logGroupId`, `log group ${groupId.slice(0, 200)} was not found`);
    if (typeof logId === 'string' && logId !== '') {
      const l = await this.store.logs.get(logId);
      if (!l) throw invalid(`${field}.logId`, `log ${logId.slice(0, 200)} was not found`);
      if (l.logGroupId !== groupId) throw invalid(`${field}.logId`, `log ${logId.slice(0, 200)} is not a log of log group ${groupId}`);
      return { logGroupId: groupId, logId };
    }
    if (config.enableAutoLogCreation === true) return { logGroupId: groupId, autoCreate: true };
    throw invalid(`${field}.logId`, 'is required when enableAutoLogCreation is not true');
  }

  /** In the run's insert transaction: the log a planned auto-creation makes (named after the run), or the one given. */
  async linkRunLog(tx: Tx, plan: RunLogPlan, run: { id: string; displayName: string }): Promise<{ logGroupId: string; logId: string } | null> {
    if (plan === null) return null;
    if (!('autoCreate' in plan)) return plan;
    const g = await this.store.groups.get(plan.logGroupId, tx);
    if (!g) throw invalid('jobLogConfigurationDetails.logGroupId', `log group ${plan.logGroupId} was not found`);
    const l = await this.insertLog(tx, g, `${run.displayName}-${run.id.slice(-10)}`, DEFAULT_RETENTION_DAYS, {});
    return { logGroupId: g.id, logId: l.id };
  }

  // ---------------------------------------------------------------- ingestion

  /** PutLogs: validated whole before anything is stored; all entries or none. */
  async putLogs(logId: string, input: PutLogsInput): Promise<void> {
    const log = await this.getLogById(logId);
    if (input.specversion !== '1.0') throw invalid('specversion', "must be '1.0'");
    const ingested = iso(this.clock.now());
    const rows: Omit<LogEntryRecord, 'n'>[] = [];
    input.logEntryBatches.forEach((b, i) => {
      const at = `logEntryBatches[${i}]`;
      for (const [k, v] of [['source', b.source], ['type', b.type], ['subject', b.subject ?? '']] as const) {
        if (v.length > MAX_FIELD_CHARS) throw invalid(`${at}.${k}`, `must be at most ${MAX_FIELD_CHARS} characters`);
      }
      const batchTime = normalTime(b.defaultlogentrytime, `${at}.defaultlogentrytime`);
      b.entries.forEach((e, j) => {
        const f = `${at}.entries[${j}]`;
        if (Buffer.byteLength(e.data, 'utf8') >= MAX_ENTRY_BYTES) throw invalid(`${f}.data`, `must be less than ${MAX_ENTRY_BYTES} bytes (OCI's limit: less than 1 MB)`);
        if (e.id.length === 0 || e.id.length > MAX_FIELD_CHARS) throw invalid(`${f}.id`, `must be 1 to ${MAX_FIELD_CHARS} characters`);
        rows.push({
          logId,
          time: e.time !== undefined ? normalTime(e.time, `${f}.time`) : batchTime,
          ingested,
          entryId: e.id,
          source: b.source,
          type: b.type,
          subject: b.subject ?? null,
          data: e.data,
        });
      });
    });
    if (!log.isEnabled) throw new DsError('IncorrectState', `Log ${logId} is disabled (isEnabled false); enable it to push entries`);
    await this.store.store.transaction((tx) => this.store.insertEntries(tx, rows));
  }

  // ---------------------------------------------------------------- search

  /** The log groups and logs a query reads (before authorization: the hook decides on their compartments). */
  async searchTargets(query: string): Promise<{ compartmentId: string; target: { what: string; id: string } }[]> {
    const q = parseLogQuery(query);
    const out = [];
    for (const s of q.scopes) {
      const g = await this.store.groups.get(s.logGroupId);
      if (!g || g.compartmentId !== s.compartmentId) throw notFound('Log group', s.logGroupId);
      if (s.logId) {
        const l = await this.store.logs.get(s.logId);
        if (!l || l.logGroupId !== g.id) throw notFound('Log', s.logId);
      }
      out.push({ compartmentId: g.compartmentId, target: { what: s.logId ? 'Log' : 'Log group', id: s.logId ?? g.id } });
    }
    return out;
  }

  /**
   * SearchLogs: the records of the query's logs within [timeStart, timeEnd), merged in time order from each source
   * (each run's log file, read from where the page token says, and the pushed entries, by keyset), `limit` at a time.
   * The page token holds every source's position, so a page costs what it returns, whatever the log's size.
   */
  async search(
    details: { timeStart: string; timeEnd: string; searchQuery: string },
    limit: number,
    page?: string,
  ): Promise<{ results: { data: Record<string, unknown> }[]; nextPage: string | null }> {
    const q = parseLogQuery(details.searchQuery);
    const timeStart = normalTime(details.timeStart, 'timeStart');
    const timeEnd = normalTime(details.timeEnd, 'timeEnd');
    if (timeEnd < timeStart) throw invalid('timeEnd', 'must not be before timeStart');
    const token = page ? decodeToken(page, details.searchQuery, timeStart, timeEnd) : null;
    const positions: Record<string, unknown> = token?.pos ?? {};
    const logs: LogRecord[] = [];
    for (const s of q.scopes) {
      if (s.logId) logs.push(await this.getLogById(s.logId));
      else logs.push(...(await this.store.listLogs(s.logGroupId, { sortBy: 'timeCreated', sortOrder: 'ASC', limit: 10_000 })).items);
    }
    const cursors: Cursor[] = [];
    try {
      const byRun = new Map<string, LogRecord>();
      for (const log of logs) {
        for (const r of await this.store.runsOfLog(log.id)) {
          // A run's lines are read between its acceptance and its end: a run wholly outside the window is not opened.
          if (r.timeAccepted >= timeEnd || (r.timeFinished !== null && r.timeFinished < timeStart)) continue;
          if (!byRun.has(r.id)) byRun.set(r.id, log);
        }
      }
      for (const [runId, log] of byRun) {
        // A run's records all have the run as their source: a source condition it fails skips its file unread.
        if (!matches(q.where, 'source', runId)) continue;
        const c = this.runCursor(runId, log, q.order, timeStart, timeEnd, positions[`r:${runId}`] as number | undefined, q.where, token?.last);
        if (c) cursors.push(c);
      }
      const entryLogs = new Map(logs.map((l) => [l.id, l]));
      if (entryLogs.size > 0) cursors.push(this.entryCursor(entryLogs, q.order, timeStart, timeEnd, positions.e as [string, number] | undefined, q.where));
      const results: { data: Record<string, unknown> }[] = [];
      for (const c of cursors) await c.fill();
      let last: string | undefined = token?.last;
      while (results.length < limit) {
        let best: Cursor | null = null;
        for (const c of cursors) {
          const h = c.peek();
          if (!h) continue;
          const b = best?.peek();
          if (!b || (q.order === 'asc' ? h.time < b.time : h.time > b.time)) best = c;
        }
        if (!best) break;
        const h = best.peek()!;
        results.push({ data: { datetime: Date.parse(h.time), logContent: h.content(), regionId: this.identity.region } });
        last = h.time;
        best.take();
        if (best.peek() === null) await best.fill();
      }
      const more = cursors.some((c) => c.peek() !== null);
      const pos: Record<string, unknown> = { ...positions };
      // Only the sources that gave something are carried: one that gave nothing yet starts again where the page
      // ended, which is where it was (so a shared log of many runs keeps its page token small).
      for (const c of cursors) {
        const p = c.position();
        if (p !== undefined) pos[c.key] = p;
      }
      return { results, nextPage: more ? encodeToken({ q: details.searchQuery, ts: timeStart, te: timeEnd, pos, last }) : null };
    } finally {
      for (const c of cursors) c.close();
    }
  }

  private runCursor(
    runId: string,
    log: LogRecord,
    order: 'asc' | 'desc',
    timeStart: string,
    timeEnd: string,
    saved: number | undefined,
    where: LogCondition[],
    lastTime: string | undefined,
  ): Cursor | null {
    const view = LogView.open(this.logs.logFile(runId));
    if (!view) return null;
    const asc = order === 'asc';
    // A run not in the token yet (it joined a shared log after the first page) starts where the last page ended.
    // Newest first, its records at the last page's time are still to come: it ends after them (a millisecond on).
    let pos = saved ?? (asc ? view.seek(lastTime ?? timeStart) : view.seek(lastTime ? iso(Date.parse(lastTime) + 1) : timeEnd));
    const buffer: { time: string; seq: number; stream: string; message: string; start: number; end: number }[] = [];
    let done = false;
    let moved = saved !== undefined;
    const identity = this.identity;
    const content = (r: (typeof buffer)[number]) => () => ({
      id: recordId(runId, r.seq),
      time: r.time,
      data: { message: r.message },
      source: runId,
      type: `com.oraclecloud.datascience.jobrun.${r.stream}`,
      subject: '',
      specversion: '1.0',
      oracle: { compartmentid: log.compartmentId, loggroupid: log.logGroupId, logid: log.id, tenantid: identity.tenancyId, ingestedtime: r.time },
    });
    const inRange = (t: string) => t >= timeStart && t < timeEnd;
    return {
      key: `r:${runId}`,
      peek: () => {
        const r = buffer[0];
        return r ? { time: r.time, key: runId, content: content(r) } : null;
      },
      take: () => {
        const r = buffer.shift()!;
        pos = asc ? r.end : r.start;
        moved = true;
      },
      position: () => (moved ? pos : undefined),
      fill: async () => {
        while (!done && buffer.length === 0) {
          const page = asc ? view.forward(pos, 500) : view.backward(pos, 500);
          if (page.records.length === 0) {
            done = true;
            break;
          }
          for (const r of page.records) {
            if (asc ? r.time >= timeEnd : r.time < timeStart) {
              done = true;
              break;
            }
            if (inRange(r.time) && matches(where, 'type', `com.oraclecloud.datascience.jobrun.${r.stream}`) && matches(where, 'subject', '')) buffer.push(r);
            else pos = asc ? r.end : r.start;
          }
          if (buffer.length === 0 && !done) pos = page.next;
        }
      },
      close: () => view.close(),
    };
  }

  private entryCursor(
    logs: Map<string, LogRecord>,
    order: 'asc' | 'desc',
    timeStart: string,
    timeEnd: string,
    saved: [string, number] | undefined,
    where: LogCondition[],
  ): Cursor {
    let after: [string, number] | null = saved ?? null;
    let buffer: LogEntryRecord[] = [];
    let done = false;
    const like = (f: LogCondition['field']) => {
      const c = where.filter((w) => w.field === f);
      return c.length > 0 ? c.map((w) => likePattern(w.value)) : [];
    };
    const tenancyId = this.identity.tenancyId;
    return {
      key: 'e',
      peek: () => {
        const e = buffer[0];
        if (!e) return null;
        const log = logs.get(e.logId)!;
        return {
          time: e.time,
          key: 'e',
          content: () => ({
            id: e.entryId,
            time: e.time,
            data: entryData(e.data),
            source: e.source,
            type: e.type,
            subject: e.subject ?? '',
            specversion: '1.0',
            oracle: { compartmentid: log.compartmentId, loggroupid: log.logGroupId, logid: log.id, tenantid: tenancyId, ingestedtime: e.ingested },
          }),
        };
      },
      take: () => {
        const e = buffer.shift()!;
        after = [e.time, e.n];
      },
      position: () => after ?? undefined,
      fill: async () => {
        const sources = like('source');
        const subjects = like('subject');
        while (!done && buffer.length === 0) {
          const rows = await this.store.entries({
            logIds: [...logs.keys()],
            order,
            timeStart,
            timeEnd,
            after,
            sourceLike: sources[0],
            subjectLike: subjects[0],
            limit: 500,
          });
          if (rows.length < 500) done = true;
          // Further conditions on one field (rare) and type conditions are checked here; a page of which none
          // passes moves the position past it.
          buffer = rows.filter((e) => matches(where, 'source', e.source) && matches(where, 'subject', e.subject ?? '') && matches(where, 'type', e.type));
          if (buffer.length === 0 && rows.length > 0) after = [rows[rows.length - 1].time, rows[rows.length - 1].n];
        }
      },
      close: () => {},
    };
  }

  // ---------------------------------------------------------------- retention

  /**
   * Per log, what is older than its retentionDuration goes: pushed entries, and the output of runs it shows that
   * finished before then (their whole log file: every line of a run is older than its end). Returns what went.
   */
  async applyRetention(removeRunLog: (runId: string) => number): Promise<{ entries: number; runLogs: number }> {
    const now = this.clock.now();
    let entries = 0;
    let runLogs = 0;
    for (const { id, retentionDuration } of await this.store.logRetentions()) {
      const before = iso(now - retentionDuration * DAY_MS);
      for (let n = 5000; n >= 5000; ) {
        n = await this.store.store.transaction((tx) => this.store.deleteEntriesBefore(tx, id, before, 5000));
        entries += n;
      }
      for (const r of await this.store.runsOfLog(id)) {
        if (r.timeFinished !== null && r.timeFinished < before && this.logs.hasLog(r.id)) {
          removeRunLog(r.id);
          runLogs++;
        }
      }
    }
    return { entries, runLogs };
  }
}

/** OCI's logContent.data: a pushed entry's JSON object as it was sent, any other text as {message}. */
function entryData(data: string): unknown {
  if (data.startsWith('{')) {
    try {
      return JSON.parse(data);
    } catch {
      /* text that looks like JSON: kept as text */
    }
  }
  return { message: data };
}

function matches(where: LogCondition[], field: LogCondition['field'], value: string): boolean {
  return where.every((w) => w.field !== field || matchesPattern(w.value, value));
}

/** A stable id for a run's log line (OCI gives each record an id; ADS tells records apart by it): UUID-shaped. */
function recordId(runId: string, seq: number): string {
  const h = createHash('sha1').update(`${runId}:${seq}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

interface PageToken {
  q: string;
  ts: string;
  te: string;
  pos: Record<string, unknown>;
  last?: string;
}

const encodeToken = (t: PageToken) => Buffer.from(JSON.stringify({ ...t, q: hashQuery(t.q) })).toString('base64url');
const hashQuery = (q: string) => createHash('sha256').update(q).digest('base64url').slice(0, 16);

/** A page token is only good for the search it came from (same query and times): another gets a 400. */
function decodeToken(page: string, query: string, ts: string, te: string): PageToken {
  let t: PageToken;
  try {
    t = JSON.parse(Buffer.from(page, 'base64url').toString('utf8'));
  } catch {
    throw invalid('page', 'is not a page token this server gave');
  }
  if (!t || typeof t !== 'object' || t.q !== hashQuery(query) || t.ts !== ts || t.te !== te || typeof t.pos !== 'object') {
    throw invalid('page', 'belongs to another search (its query, timeStart and timeEnd must be the same as the first page\'s)');
  }
  return t;
}
