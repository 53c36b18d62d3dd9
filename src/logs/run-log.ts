import { EventEmitter } from 'node:events';
import {
  constants as fsConstants,
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readSync,
  truncateSync,
  unlinkSync,
  writevSync,
  writeSync,
  watch,
  type FSWatcher,
} from 'node:fs';
import { execFile } from 'node:child_process';
import path from 'node:path';
import type { SecretMasker } from './masker.js';

export const LOG_FILE = 'log.ndjson';
export const CHECKPOINT_FILE = 'ingest.json';

/**
 * Bytes consumed from each raw file, the last seq written and the size of log.ndjson at that point; `dropped`: the
 * log reached its quota, its last record says so, and output since is thrown away.
 */
export interface Checkpoint {
  stdout: number;
  stderr: number;
  seq: number;
  logSize: number;
  complete: boolean;
  dropped?: boolean;
}

const EMPTY: Checkpoint = { stdout: 0, stderr: 0, seq: 0, logSize: 0, complete: false };

/** The data disk (or its quota) is full: a condition that passes, so capture waits and retries instead of stopping. */
export function isDiskFull(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** The last record of a log that reached its quota. */
export function quotaMessage(quotaBytes: number): string {
  return `dsjobs: this job run's log reached its quota of ${quotaBytes} bytes (logQuotaBytesPerRun); further output is dropped`;
}

/**
 * Consumed bytes of a raw file are given back to the disk (a hole punched with fallocate(1), the offsets stay) each
 * time this much more was consumed: a run printing for days keeps only its unread backlog on disk.
 */
const PUNCH_EVERY = 64 * 1024 * 1024;

/** A line longer than this with no newline yet is cut into records of this size: nothing waits forever. */
export const MAX_LINE_BYTES = 64 * 1024;
/** Bytes read per pass and stream: large enough for 100 MB/s, small enough to keep the event loop responsive. */
const READ_CHUNK = 1024 * 1024;
/** Records of one read: the raw bytes plus ~80 bytes of JSON per line; larger passes grow into new buffers. */
const OUT_CHUNK = 2 * READ_CHUNK;
const SHARED_READ = Buffer.allocUnsafe(READ_CHUNK);
const SHARED_OUT = Buffer.allocUnsafe(OUT_CHUNK);
/** One sparse index entry per this many records: ?since=SEQ seeks instead of scanning from the start. */
export const INDEX_EVERY = 1024;

/** A checkpoint file's text; a missing, empty or unreadable one is the empty checkpoint. */
function parseCheckpoint(read: () => string): Checkpoint {
  try {
    return { ...EMPTY, ...JSON.parse(read()) };
  } catch {
    return { ...EMPTY };
  }
}

export function readCheckpoint(dir: string): Checkpoint {
  return parseCheckpoint(() => readFileSync(path.join(dir, CHECKPOINT_FILE), 'utf8'));
}

/** The checkpoint in an open checkpoint file (a new run's is empty: no exception for a missing file). */
function readCheckpointFd(fd: number): Checkpoint {
  const buf = Buffer.allocUnsafe(CHECKPOINT_BYTES * 4);
  const n = readSync(fd, buf, 0, buf.length, 0);
  return n === 0 ? { ...EMPTY } : parseCheckpoint(() => buf.toString('utf8', 0, n));
}

/**
 * The checkpoint is rewritten in place, padded to a fixed size, with one pwrite at offset 0: a write that small to
 * a regular file happens whole or not at all when the process is killed (a temporary file plus rename per pass
 * cost two file creations per run). JSON.parse ignores the trailing spaces.
 */
const CHECKPOINT_BYTES = 256;

function writeCheckpointAt(fd: number, c: Checkpoint): void {
  const text = JSON.stringify(c);
  writeSync(fd, text.padEnd(CHECKPOINT_BYTES, ' '), 0, 'utf8');
}

/**
 * Tails one run's stdout and stderr files into log.ndjson: one JSON record per line with a sequence number, the
 * time it was read and its stream. Crash-safe: the checkpoint (offsets consumed, seq, log size) is replaced
 * atomically after each append, and on re-attach the log is cut back to the checkpointed size and the raw files
 * are read again from the checkpointed offsets, so no line is lost or written twice.
 */
export class RunLogIngester {
  readonly dir: string;
  private readonly files: { stdout: string; stderr: string };
  private readonly cp: Checkpoint;
  private readonly logFd: number;
  private readonly cpFd: number;
  private readonly fds: { stdout: number | null; stderr: number | null } = { stdout: null, stderr: null };
  private readonly watchers: FSWatcher[] = [];
  private poll: NodeJS.Timeout | null = null;
  // One read and one output buffer for all ingesters: a pass is synchronous and writes its records out before it
  // returns, so they are never used by two passes at once (3 MiB per running run otherwise).
  private readonly buf = SHARED_READ;
  private readonly out = SHARED_OUT;
  /** [seq, byte offset in log.ndjson] of every INDEX_EVERY-th record. */
  readonly index: [number, number][] = [];
  private closed = false;
  private again: NodeJS.Immediate | null = null;
  /** Bytes log.ndjson may reach (records, not raw bytes: escaping and per-line overhead count too). */
  readonly quotaBytes: number;
  /** The secret values this run has read, masked in what is stored (asked each pass: a run reads them as it goes). */
  private readonly masker: () => SecretMasker | undefined;
  /** Where each raw file was last punched up to. */
  private readonly punched = { stdout: 0, stderr: 0 };

  constructor(
    dir: string,
    files: { stdout: string; stderr: string },
    private readonly emitter: EventEmitter,
    private readonly key: string,
    opts: { pollMs?: number; quotaBytes?: number; onQuota?: () => void; onError?: (e: Error) => void; masker?: () => SecretMasker | undefined } = {},
  ) {
    this.masker = opts.masker ?? (() => undefined);
    this.dir = dir;
    this.files = files;
    // Given here, not set after: the first pass runs in the constructor.
    this.onQuota = opts.onQuota ?? null;
    this.onError = opts.onError ?? null;
    this.quotaBytes = opts.quotaBytes ?? Infinity;
    const pollMs = opts.pollMs ?? 500;
    // Opened (made, for a new run) first and read through its fd: a new run's missing file costs no exception.
    this.cpFd = openSync(path.join(dir, CHECKPOINT_FILE), fsConstants.O_RDWR | fsConstants.O_CREAT, 0o644);
    try {
      this.cp = readCheckpointFd(this.cpFd);
      this.logFd = openSync(path.join(dir, LOG_FILE), 'a+');
    } catch (e) {
      closeSync(this.cpFd);
      throw e;
    }
    // Whatever was appended after the last checkpoint is re-derived from the raw files.
    if (fstatSync(this.logFd).size !== this.cp.logSize) ftruncateSync(this.logFd, this.cp.logSize);
    this.buildIndex();
    if (this.cp.complete) return;
    // inotify on the two output files: a write wakes the pump within milliseconds. The callback only schedules a
    // pass: a writer producing thousands of events per second costs one flag check each, and the pass itself
    // yields between bounded batches (a pump per event starved the event loop for seconds under `yes`).
    for (const f of [files.stdout, files.stderr]) {
      try {
        const w = watch(f, { persistent: false }, () => this.schedule());
        w.on('error', () => {});
        this.watchers.push(w);
      } catch {
        /* not there yet or no inotify: the poll below covers it */
      }
    }
    // Safety net for file systems without inotify events.
    this.poll = setInterval(() => this.schedule(), pollMs);
    this.poll.unref();
    this.pump();
  }

  /** Runs one pump on the next turn of the event loop, however many wake-ups arrive before it. */
  private schedule(): void {
    if (this.again || this.closed) return;
    this.again = setImmediate(() => {
      this.again = null;
      this.pump();
    });
  }

  get checkpoint(): Readonly<Checkpoint> {
    return this.cp;
  }

  private buildIndex(): void {
    if (this.cp.logSize === 0) return;
    const fd = this.logFd;
    let offset = 0;
    let seq = 0;
    const chunk = Buffer.allocUnsafe(READ_CHUNK);
    while (offset < this.cp.logSize) {
      const n = readSync(fd, chunk, 0, Math.min(READ_CHUNK, this.cp.logSize - offset), offset);
      if (n <= 0) break;
      let start = 0;
      let nl: number;
      while ((nl = chunk.indexOf(10, start)) !== -1 && nl < n) {
        if (seq % INDEX_EVERY === 0) this.index.push([seq + 1, offset + start]);
        seq++;
        start = nl + 1;
      }
      offset += start;
      if (start === 0) break;
    }
  }

  private open(stream: 'stdout' | 'stderr'): number | null {
    if (this.fds[stream] === null && existsSync(this.files[stream])) this.fds[stream] = openSync(this.files[stream], 'r');
    return this.fds[stream];
  }

  /**
   * One bounded pass (reads what is new in both files and appends it; synchronous, so passes never interleave): at
   * most 8 reads per stream, then a turn of the event loop, so a run printing hundreds of MB/s cannot starve the API
   * or other runs. Returns whether more may be waiting.
   */
  pump(final = false): boolean {
    if (this.closed || this.cp.complete || this.error) return false;
    let wrote = false;
    let more = false;
    try {
      // After a stall the log is cut back to the checkpoint before anything more is appended (it is opened for
      // appending), in case rollBack could not.
      if (this.stalled) ftruncateSync(this.logFd, this.cp.logSize);
      if (this.cp.dropped) return this.discardRaw();
      for (let i = 0; i < 8; i++) {
        if (this.cp.logSize >= this.quotaBytes) {
          this.stopAtQuota();
          wrote = true;
          break;
        }
        const a = this.drain('stdout', final);
        const b = this.drain('stderr', final);
        wrote ||= a || b;
        if (!a && !b) break;
        if (i === 7) more = true;
      }
      this.stalled = null;
    } catch (e) {
      if (isDiskFull(e)) {
        // Full disk: whatever part of the records got out is cut off again (shrinking needs no space) and the
        // next pass (the poll, at the latest) retries from the checkpoint; reported once per stall.
        this.rollBack();
        if (!this.stalled) this.onError?.(e as Error);
        this.stalled = e as Error;
      } else {
        // A run sabotaging its own directory must not take the server down: capture stops for this run (its raw
        // stdout/stderr files stay), the run goes on, and the error is reported.
        this.error = e as Error;
        this.onError?.(this.error);
      }
      more = false;
    }
    if (wrote) this.emitter.emit(this.key);
    if (more && !final) this.schedule();
    if (wrote) this.punchConsumed();
    return more;
  }

  /** Back to the checkpoint after a failed append: the log's size and the sparse index. */
  private rollBack(): void {
    try {
      ftruncateSync(this.logFd, this.cp.logSize);
    } catch {
      /* the next pass cuts it back before it appends (and an attach does, from the checkpoint) */
    }
    while (this.index.length > 0 && this.index[this.index.length - 1][0] > this.cp.seq) this.index.pop();
  }

  /** The quota is reached: one last record says so, and output is dropped from now on (the run goes on). */
  private stopAtQuota(): void {
    const seq = this.cp.seq + 1;
    const rec = JSON.stringify({ seq, time: new Date().toISOString(), stream: 'stderr', message: quotaMessage(this.quotaBytes) });
    if ((seq - 1) % INDEX_EVERY === 0) this.index.push([seq, this.cp.logSize]);
    writeSync(this.logFd, `${rec}\n`);
    this.cp.seq = seq;
    this.cp.logSize += Buffer.byteLength(rec) + 1;
    this.cp.dropped = true;
    writeCheckpointAt(this.cpFd, this.cp);
    this.onQuota?.();
    this.discardRaw();
  }

  /**
   * Past the quota: the raw files are cut to nothing whenever they hold something (they are opened for appending,
   * so the run's next write starts again at 0; one that seeks gets a sparse file). Never more.
   */
  private discardRaw(): boolean {
    for (const s of ['stdout', 'stderr'] as const) {
      const fd = this.open(s);
      if (fd !== null && fstatSync(fd).size > 0) truncateSync(this.files[s], 0);
    }
    return false;
  }

  /**
   * Gives the consumed part of each raw file back to the disk once another PUNCH_EVERY bytes were consumed. Only up
   * to the checkpoint on disk, so a re-attach never reads a hole. Best effort: without fallocate(1) or hole support
   * the raw files stay whole until the run ends (they are removed then).
   */
  private punchConsumed(): void {
    for (const s of ['stdout', 'stderr'] as const) {
      const upTo = Math.floor(this.cp[s] / 4096) * 4096;
      if (upTo - this.punched[s] < PUNCH_EVERY) continue;
      this.punched[s] = upTo;
      execFile('fallocate', ['--punch-hole', '--offset', '0', '--length', String(upTo), this.files[s]], () => {});
    }
  }

  /** Set when the disk is full; the next pass retries. */
  stalled: Error | null = null;
  /** Called once, when the quota is reached. */
  onQuota: (() => void) | null = null;

  /** Set when capture failed; the log then ends where the failure happened. */
  error: Error | null = null;
  onError: ((e: Error) => void) | null = null;

  private drain(stream: 'stdout' | 'stderr', final: boolean): boolean {
    const fd = this.open(stream);
    if (fd === null) return false;
    const n = readSync(fd, this.buf, 0, READ_CHUNK, this.cp[stream]);
    if (n <= 0) return false;
    const time = new Date().toISOString();
    // Masking works on whole lines, which is what a record is: a value written in two pieces is one line here (a
    // partial line waits in the raw file for its newline). One search per form over the whole read first, so a
    // read without any secret costs no per-line work.
    const masker = this.masker();
    const masking = masker && masker.size > 0 ? masker : null;
    const maskLines = masking !== null && masking.occursIn(this.buf, 0, n);
    const head = Buffer.from(`,"time":"${time}","stream":"${stream}","message":"`, 'latin1');
    // Records are written straight into a byte buffer. A line of printable ASCII without quotes or backslashes
    // (nearly every log line) is copied as is between the quotes: no string is made, decoded or encoded. Other
    // lines go through JSON.stringify. Per-line string work was what capped ingestion near 100 MB/s.
    const src = this.buf;
    let out = this.out;
    let pos = 0;
    const chunks: Buffer[] = [];
    let start = 0;
    let seq = this.cp.seq;
    let size = this.cp.logSize;
    const room = (need: number) => {
      if (pos + need <= out.length) return;
      chunks.push(out.subarray(0, pos));
      size += pos;
      out = Buffer.allocUnsafe(Math.max(OUT_CHUNK, need));
      pos = 0;
    };
    const emit = (end: number, skip: number) => {
      seq++;
      if ((seq - 1) % INDEX_EVERY === 0) this.index.push([seq, size + pos]);
      // The line's bytes, masked: never longer than the raw line (a marker is shorter than any value it hides), so
      // the quota's arithmetic below holds as it is.
      const masked = maskLines ? masking!.mask(src, start, end) : null;
      const line = masked ?? src;
      const from = masked ? 0 : start;
      const to = masked ? masked.length : end;
      let clean = true;
      for (let i = from; i < to; i++) {
        const c = line[i];
        if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
          clean = false;
          break;
        }
      }
      const seqText = `{"seq":${seq}`;
      if (clean) {
        room(seqText.length + head.length + (to - from) + 3);
        pos += out.write(seqText, pos, 'latin1');
        pos += head.copy(out, pos);
        pos += line.copy(out, pos, from, to);
        out[pos++] = 0x22; // "
        out[pos++] = 0x7d; // }
        out[pos++] = 0x0a; // \n
      } else {
        const msg = JSON.stringify(line.toString('utf8', from, to));
        room(seqText.length + head.length + msg.length * 3 + 3);
        pos += out.write(seqText, pos, 'latin1');
        pos += head.copy(out, pos, 0, head.length - 1); // without the opening quote: msg has its own
        pos += out.write(msg, pos, 'utf8');
        out[pos++] = 0x7d;
        out[pos++] = 0x0a;
      }
      start = end + skip;
    };
    // Where to cut a line that is longer than the cap: never inside a UTF-8 character (continuation bytes are
    // 0b10xxxxxx), so both halves decode to exactly the bytes written.
    const cut = (lineEnd: number) => {
      let at = start + MAX_LINE_BYTES;
      for (let k = 0; k < 3 && (this.buf[at] & 0xc0) === 0x80; k++) at--;
      // Nor inside a secret: it would reach the log as two halves, neither of which matches.
      return masking ? masking.safeCut(this.buf, start, at, lineEnd) : at;
    };
    // A partial line is cut only where every match that could span the cut lies in what was read.
    const margin = masking ? masking.maxLength : 0;
    // Records stop once the log reaches its quota (what is left of the read stays unconsumed; the next pass ends
    // the log): it ends at most one record past the quota, however much escaping and per-record overhead expand
    // the bytes (an empty line costs ~70 bytes stored, a NUL 6).
    const quota = this.quotaBytes;
    const full = () => size + pos >= quota;
    let nl: number;
    while (!full() && (nl = this.buf.indexOf(10, start)) !== -1 && nl < n) {
      // A line longer than the cap is cut: no byte is dropped, it continues in the next record.
      while (nl - start > MAX_LINE_BYTES && !full()) emit(cut(nl), 0);
      if (!full()) emit(nl, 1);
    }
    // Bytes after the last newline: a partial line. Left in the raw file for the next pass unless it is over the
    // cap, or the run has ended (its last line had no newline).
    while (n - start > MAX_LINE_BYTES + margin && !full()) emit(cut(n), 0);
    if (final && start < n && n < READ_CHUNK && !full()) emit(n, 0);
    if (pos > 0) {
      chunks.push(out.subarray(0, pos));
      size += pos;
    }
    if (chunks.length === 0) return false;
    writevSync(this.logFd, chunks);
    this.cp[stream] += start;
    this.cp.seq = seq;
    this.cp.logSize = size;
    writeCheckpointAt(this.cpFd, this.cp);
    return true;
  }

  /**
   * The run ended: read everything that is left, including a last line without a newline, and seal the log. The raw
   * files are removed then: the log holds all of them. Rejects, with nothing sealed, while the disk is full: the
   * caller retries and it goes on from the checkpoint.
   */
  async finish(): Promise<void> {
    if (this.cp.complete || this.closed) return;
    // Drain the backlog in bounded passes with turns of the event loop in between.
    while (this.pump(true)) await new Promise((r) => setImmediate(r));
    if (this.closed) return;
    if (this.stalled) throw this.stalled;
    this.cp.complete = true;
    try {
      writeCheckpointAt(this.cpFd, this.cp);
    } catch (e) {
      if (isDiskFull(e)) {
        this.cp.complete = false;
        throw e;
      }
      this.error ??= e as Error;
      this.onError?.(e as Error);
    }
    this.emitter.emit(this.key);
    const captured = !this.error;
    this.close();
    if (captured) {
      for (const f of [this.files.stdout, this.files.stderr]) {
        try {
          unlinkSync(f);
        } catch {
          /* never made, or gone already */
        }
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers) w.close();
    if (this.again) clearImmediate(this.again);
    if (this.poll) clearInterval(this.poll);
    for (const s of ['stdout', 'stderr'] as const) {
      const fd = this.fds[s];
      if (fd !== null) closeSync(fd);
      this.fds[s] = null;
    }
    closeSync(this.logFd);
    closeSync(this.cpFd);
  }
}
