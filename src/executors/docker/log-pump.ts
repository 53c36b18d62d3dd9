import { closeSync, ftruncateSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * Copies a container's output from Docker's log (the json-file driver keeps it, durable, until the container is
 * removed) into the run's two log files, which the logs room tails like a local run's. Durable across a SIGKILL of
 * the server with nothing lost or doubled: a checkpoint file records, consistently, how many of the log's messages
 * were copied and the byte size each log file had then. A resumed pump cuts the files back to the checkpoint's sizes,
 * reads the container's log from its start and skips that many messages: bytes past the checkpoint are written again,
 * identical, where they were. Messages are counted, not compared by timestamp: stdout's and stderr's are stamped by
 * two copiers and reach the log file slightly out of timestamp order (a `since` filter lost 5 of 25,000 lines).
 */

export const CHECKPOINT_FILE = 'docker-logs.json';
/** At most this often the checkpoint is rewritten while output flows (each write is a rename): a lagging checkpoint only means more is skipped again after a restart. */
const CHECKPOINT_EVERY_MS = 200;

export interface LogCheckpoint {
  /** Messages of the container's log copied (in the log's order). */
  messages: number;
  stdoutBytes: number;
  stderrBytes: number;
}

const EMPTY: LogCheckpoint = { messages: 0, stdoutBytes: 0, stderrBytes: 0 };

export function readCheckpoint(runDir: string): LogCheckpoint {
  try {
    const c = JSON.parse(readFileSync(path.join(runDir, CHECKPOINT_FILE), 'utf8')) as LogCheckpoint;
    if ([c.messages, c.stdoutBytes, c.stderrBytes].every((n) => Number.isSafeInteger(n) && n >= 0)) return c;
  } catch {
    /* none yet: a fresh start */
  }
  return EMPTY;
}

/**
 * Demultiplexes Docker's log stream (8-byte frame headers: stream 1 stdout / 2 stderr, then the big-endian size; one
 * frame per message of the log, a line or a 16 KiB piece of a longer one) and appends the payloads to the two files.
 */
export class LogPump {
  private pending: Buffer = Buffer.alloc(0);
  private readonly fds: { stdout: number; stderr: number };
  private cp: LogCheckpoint;
  /** Messages of the log still to skip (copied before a restart). */
  private skip: number;
  private lastSave = 0;
  private closed = false;

  constructor(
    private readonly runDir: string,
    files: { stdout: string; stderr: string },
  ) {
    this.cp = readCheckpoint(runDir);
    this.skip = this.cp.messages;
    this.fds = { stdout: openSync(files.stdout, 'a'), stderr: openSync(files.stderr, 'a') };
    // Bytes after the checkpoint are fetched again: cut them off so they are not doubled.
    ftruncateSync(this.fds.stdout, this.cp.stdoutBytes);
    ftruncateSync(this.fds.stderr, this.cp.stderrBytes);
  }

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let off = 0;
    while (this.pending.length - off >= 8) {
      const size = this.pending.readUInt32BE(off + 4);
      if (this.pending.length - off - 8 < size) break;
      const kind = this.pending[off];
      this.message(kind === 2 ? 'stderr' : 'stdout', this.pending.subarray(off + 8, off + 8 + size));
      off += 8 + size;
    }
    this.pending = this.pending.subarray(off);
    if (Date.now() - this.lastSave >= CHECKPOINT_EVERY_MS) this.save();
  }

  private message(stream: 'stdout' | 'stderr', payload: Buffer): void {
    if (this.skip > 0) {
      this.skip--;
      return;
    }
    let written = 0;
    while (written < payload.length) written += writeSync(this.fds[stream], payload, written);
    this.cp = {
      messages: this.cp.messages + 1,
      stdoutBytes: this.cp.stdoutBytes + (stream === 'stdout' ? payload.length : 0),
      stderrBytes: this.cp.stderrBytes + (stream === 'stderr' ? payload.length : 0),
    };
  }

  /** Writes the checkpoint (atomically: a file renamed into place). */
  save(): void {
    this.lastSave = Date.now();
    const tmp = path.join(this.runDir, `${CHECKPOINT_FILE}.tmp`);
    writeFileSync(tmp, JSON.stringify(this.cp));
    renameSync(tmp, path.join(this.runDir, CHECKPOINT_FILE));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.save();
    closeSync(this.fds.stdout);
    closeSync(this.fds.stderr);
  }
}
