import { EventEmitter } from 'node:events';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { CHECKPOINT_FILE, INDEX_EVERY, LOG_FILE, RunLogIngester, readCheckpoint } from './run-log.js';
import { SecretMasker } from './masker.js';
import { renameSync, writeFileSync } from 'node:fs';

/** The files of a run's log in its directory (the raw files are those the executor names; they are the same). */
const LOG_FILES = [LOG_FILE, CHECKPOINT_FILE, `${CHECKPOINT_FILE}.seal.tmp`, 'stdout.log', 'stderr.log'];

/** Per follower; a follower holds it while its response is open. */
const READ_CHUNK = 64 * 1024;
/** A follower re-checks the log at least this often even when no wake-up arrives (e.g. another process wrote). */
const FOLLOW_RECHECK_MS = 1000;

/**
 * Durable run logs: ingesters per running run, readers for ?since= and ?follow=. Every log lives in its run's
 * directory, beside the raw stdout/stderr files (removed once it is sealed), and outlives the run until the run is
 * deleted or log retention removes it.
 */
export class LogService {
  private readonly ingesters = new Map<string, RunLogIngester>();
  private readonly emitter = new EventEmitter();
  /** Per run, the secret values it has read: masked in its log as it is captured (masker.ts). */
  private readonly maskers = new Map<string, SecretMasker>();

  /** quotaBytes: what one run's log.ndjson may reach; output past it is dropped (see RunLogIngester). */
  constructor(
    private readonly runsDir: string,
    private readonly opts: { quotaBytes?: number } = {},
  ) {
    this.emitter.setMaxListeners(0);
  }

  /** Bytes one run's log may reach (Infinity: no quota). */
  get quotaBytes(): number {
    return this.opts.quotaBytes ?? Infinity;
  }

  /** Whether the run's log reached its quota (its output since was dropped). */
  quotaReached(runId: string): boolean {
    const live = this.ingesters.get(runId);
    return live ? live.checkpoint.dropped === true : readCheckpoint(this.dir(runId)).dropped === true;
  }

  /** Called when a run's log reaches its quota (the server records it in the run's lifecycleDetails). */
  onQuota: (runId: string) => void = () => {};

  /** The runs that have a directory here. */
  runIds(): string[] {
    try {
      return readdirSync(this.runsDir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return [];
    }
  }

  /** Whether the run's log holds anything (log retention skips the ones it emptied already). */
  hasLog(runId: string): boolean {
    return existsSync(path.join(this.dir(runId), LOG_FILE)) || existsSync(path.join(this.dir(runId), 'stdout.log'));
  }

  /** Bytes a run's log files take on disk (allocated blocks: a sparse raw file counts what it holds). */
  diskBytes(runId: string): number {
    let total = 0;
    for (const f of LOG_FILES) {
      try {
        total += statSync(path.join(this.dir(runId), f)).blocks * 512;
      } catch {
        /* not there */
      }
    }
    return total;
  }

  /**
   * Removes a finished run's log (retention, or the run was deleted) and leaves it empty and sealed: readers get
   * nothing and followers end. Returns the bytes freed. A run still being captured is left alone.
   */
  remove(runId: string): number {
    if (this.ingesters.has(runId)) return 0;
    this.maskers.delete(runId);
    const freed = this.diskBytes(runId);
    for (const f of LOG_FILES) rmSync(path.join(this.dir(runId), f), { force: true });
    this.seal(runId);
    return freed;
  }

  /** The run's log file, for readers that page through it themselves (log-view.ts). */
  logFile(runId: string): string {
    return path.join(this.dir(runId), LOG_FILE);
  }

  private dir(runId: string): string {
    return path.join(this.runsDir, runId);
  }

  /**
   * From now on, these values (and their Base64 and percent-encoded forms) are masked in the run's log. Called before
   * the value reaches the run, so everything the run prints after is captured masked; what was captured before
   * stays as it is (the run could not have printed a value it did not have). A run whose log is sealed gets nothing.
   */
  addMasks(runId: string, values: readonly Buffer[]): void {
    if (!this.ingesters.has(runId) && readCheckpoint(this.dir(runId)).complete) return;
    let m = this.maskers.get(runId);
    if (!m) this.maskers.set(runId, (m = new SecretMasker()));
    m.add(values);
  }

  /** Starts (or, after a restart, resumes) capturing a run's output. */
  attach(runId: string, files: { stdout: string; stderr: string }): void {
    if (this.ingesters.has(runId)) return;
    const dir = this.dir(runId);
    try {
      mkdirSync(dir, { recursive: true });
      const ing = new RunLogIngester(dir, files, this.emitter, runId, {
        quotaBytes: this.opts.quotaBytes,
        onQuota: () => this.onQuota(runId),
        onError: (e) => this.onError(runId, e),
        masker: () => this.maskers.get(runId),
      });
      this.ingesters.set(runId, ing);
    } catch (e) {
      // No capture (e.g. out of file descriptors or disk): the run itself goes on; its raw output files remain.
      this.onError(runId, e as Error);
    }
  }

  /** Where capture problems are reported (the server wires its logger here). */
  onError: (runId: string, e: Error) => void = () => {};

  /**
   * The run's processes are gone: capture the rest and seal the log so followers end. Rejects while the disk is
   * full (the capture goes on from where it stopped when called again).
   */
  async finish(runId: string, files?: { stdout: string; stderr: string }): Promise<void> {
    if (!this.ingesters.has(runId) && files) this.attach(runId, files);
    const ing = this.ingesters.get(runId);
    if (ing) {
      await ing.finish();
      this.ingesters.delete(runId);
      this.maskers.delete(runId);
      return;
    }
    this.seal(runId);
  }

  /**
   * Stops capturing a run's output here without sealing its log: another server (a replica that adopted the run) has
   * its log from now on.
   */
  detach(runId: string): void {
    this.ingesters.get(runId)?.close();
    this.ingesters.delete(runId);
    this.maskers.delete(runId);
  }

  /** A run that ends without ever starting has an empty, sealed log. */
  seal(runId: string): void {
    this.maskers.delete(runId);
    const dir = this.dir(runId);
    mkdirSync(dir, { recursive: true });
    const cp = readCheckpoint(dir);
    if (cp.complete) return;
    const tmp = path.join(dir, `${CHECKPOINT_FILE}.seal.tmp`);
    writeFileSync(tmp, JSON.stringify({ ...cp, complete: true }));
    renameSync(tmp, path.join(dir, CHECKPOINT_FILE));
    this.emitter.emit(runId);
  }

  private startOffset(runId: string, since: number): number {
    const index = this.ingesters.get(runId)?.index;
    if (!index) return 0;
    let best = 0;
    for (const [seq, off] of index) {
      if (seq <= since + 1) best = off;
      else break;
    }
    return best;
  }

  /**
   * NDJSON of the records after `since`. With follow, the stream stays open and sends records as they are
   * written, and ends once the log is sealed (the run is terminal) and every record has been sent.
   */
  read(runId: string, since: number, follow: boolean, signal?: AbortSignal): Readable {
    const dir = this.dir(runId);
    const file = path.join(dir, LOG_FILE);
    let offset = this.startOffset(runId, since);
    const emitter = this.emitter;
    const ingesters = this.ingesters;
    let skipping = since > 0;
    let carry: Buffer<ArrayBufferLike> = Buffer.alloc(0);
    const buf = Buffer.allocUnsafe(READ_CHUNK);

    // The log file stays open for the reader's lifetime: a follower is woken several times per run.
    let fd: number | null = null;
    const readMore = (): Buffer | null => {
      if (fd === null) {
        try {
          fd = openSync(file, 'r');
        } catch {
          return null; // not written yet
        }
      }
      const n = readSync(fd, buf, 0, READ_CHUNK, offset);
      if (n <= 0) return null;
      const data = Buffer.concat([carry, buf.subarray(0, n)]);
      offset += n;
      const last = data.lastIndexOf(10);
      if (last === -1) {
        carry = data;
        return Buffer.alloc(0);
      }
      carry = Buffer.from(data.subarray(last + 1));
      let out: Buffer = data.subarray(0, last + 1);
      if (skipping) out = skipUpTo(out, since, () => (skipping = false));
      return out;
    };
    const closeFile = () => {
      if (fd !== null) closeSync(fd);
      fd = null;
    };

    const waitForMore = () =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          emitter.off(runId, done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const t = setTimeout(done, FOLLOW_RECHECK_MS);
        emitter.on(runId, done);
        signal?.addEventListener('abort', done);
      });

    async function* generate(): AsyncGenerator<Buffer> {
      try {
        for (;;) {
          if (signal?.aborted) return;
          // Read the seal flag before reading data: if it was sealed then, everything is in the file already. A
          // live ingester means not sealed; otherwise the checkpoint on disk says.
          const live = ingesters.get(runId);
          const sealed = live ? live.checkpoint.complete : readCheckpoint(dir).complete;
          const chunk = readMore();
          if (chunk && chunk.length > 0) {
            yield chunk;
            continue;
          }
          if (chunk) {
            // Skipping records before `since` (or a partial record): give other requests a turn between chunks.
            await new Promise((r) => setImmediate(r));
            continue;
          }
          if (!follow || sealed) return;
          await waitForMore();
        }
      } finally {
        closeFile();
      }
    }
    return Readable.from(generate(), { objectMode: false });
  }

  /** Shutdown: stop tailing (the checkpoints are on disk; a restart resumes them). */
  close(): void {
    for (const ing of this.ingesters.values()) ing.close();
    this.ingesters.clear();
  }
}

/** Drops records with seq <= since from a buffer of whole NDJSON records (they start with {"seq":N,). */
function skipUpTo(out: Buffer, since: number, stop: () => void): Buffer {
  let start = 0;
  while (start < out.length) {
    const nl = out.indexOf(10, start);
    const comma = out.indexOf(44, start + 7); // after {"seq":
    const seq = Number(out.toString('latin1', start + 7, comma));
    if (seq > since) {
      stop();
      return out.subarray(start);
    }
    start = nl + 1;
  }
  return out.subarray(out.length);
}

export { INDEX_EVERY };
