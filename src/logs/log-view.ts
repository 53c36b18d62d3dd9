import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** One record of a run's log.ndjson, with where it lies in the file. */
export interface ViewRecord {
  seq: number;
  time: string;
  stream: string;
  message: string;
  /** Byte offsets of the record's line: [start, end), the newline included. */
  start: number;
  end: number;
}

/**
 * Bytes read per step. A record is at most MAX_LINE_BYTES (64 KiB) of output, escaped (up to 6 bytes per byte for
 * control characters) plus ~80 bytes of JSON: a step that finds no whole line is doubled until it does.
 */
const STEP = 256 * 1024;

/**
 * Reads a run's log.ndjson as OCI Logging search reads a log: from a byte position, a page at a time, forward or
 * backward, with a binary search for the first record at or after a time (records are appended in time order). It
 * never reads more than a page's lines plus one step, so a search in a 100 MB log costs what its page costs; only
 * whole lines are read (a line being appended is not there yet).
 */
export class LogView {
  private constructor(
    private readonly fd: number,
    /** The file's size when opened: what a search pass sees. */
    readonly size: number,
  ) {}

  /** null when the run has no log file (not started, or removed). */
  static open(file: string): LogView | null {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return null;
    }
    return new LogView(fd, fstatSync(fd).size);
  }

  close(): void {
    closeSync(this.fd);
  }

  private read(from: number, to: number): Buffer {
    const buf = Buffer.allocUnsafe(Math.max(0, to - from));
    let got = 0;
    while (got < buf.length) {
      const n = readSync(this.fd, buf, got, buf.length - got, from + got);
      if (n <= 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  }

  /** The first whole record starting at or after `pos` (a position inside a line skips to the next line). */
  private recordFrom(pos: number): { start: number; time: string } | null {
    for (let step = STEP; ; step *= 2) {
      const buf = this.read(Math.max(0, pos - 1), Math.min(this.size, pos + step));
      // At pos 0, or when the byte before pos is a newline, pos starts a record.
      let start = pos === 0 ? 0 : buf.indexOf(10);
      if (start === -1) {
        if (pos + step >= this.size) return null;
        continue;
      }
      if (pos !== 0) start += pos; // buf[0] is the byte at pos - 1: the newline's index plus one, offset by pos - 1
      const line = this.read(start, Math.min(this.size, start + step));
      const nl = line.indexOf(10);
      if (nl === -1) {
        if (start + step >= this.size) return null;
        continue;
      }
      return { start, time: timeOf(line.subarray(0, nl)) };
    }
  }

  /** The byte offset of the first record whose time is >= `time` (the file's size when none is). */
  seek(time: string): number {
    let lo = 0;
    let hi = this.size;
    // Bisect down to a step, then scan: lo is always the start of a record older than `time` (or 0).
    while (hi - lo > STEP) {
      const mid = Math.floor((lo + hi) / 2);
      const r = this.recordFrom(mid);
      if (r === null || r.time >= time) hi = mid;
      else lo = r.start;
    }
    for (let pos = lo; ; ) {
      const page = this.forward(pos, 1024);
      if (page.records.length === 0) return pos;
      const hit = page.records.find((r) => r.time >= time);
      if (hit) return hit.start;
      pos = page.next;
    }
  }

  /** Up to `max` records from byte `pos` on; `next`: where the following page starts. */
  forward(pos: number, max: number): { records: ViewRecord[]; next: number } {
    const records: ViewRecord[] = [];
    let at = pos;
    for (let step = STEP; records.length < max && at < this.size; ) {
      const buf = this.read(at, Math.min(this.size, at + step));
      let from = 0;
      let nl: number;
      while (records.length < max && (nl = buf.indexOf(10, from)) !== -1) {
        records.push(parse(buf.subarray(from, nl), at + from, at + nl + 1));
        from = nl + 1;
      }
      if (from === 0) {
        // Not one whole line in the step: a longer line, or the end of what is written.
        if (at + step >= this.size) break;
        step *= 2;
        continue;
      }
      at += from;
      step = STEP;
    }
    return { records, next: records.length > 0 ? records[records.length - 1].end : pos };
  }

  /** Up to `max` records ending before byte `end`, newest first; `next`: where the following page ends. */
  backward(end: number, max: number): { records: ViewRecord[]; next: number } {
    const records: ViewRecord[] = [];
    let at = Math.min(end, this.size);
    for (let step = STEP; records.length < max && at > 0; ) {
      const from = Math.max(0, at - step);
      const buf = this.read(from, at);
      // Whole lines of buf: after its first newline, unless it starts the file.
      let first = from === 0 ? 0 : buf.indexOf(10) + 1;
      if (from !== 0 && first === 0) {
        step *= 2;
        continue;
      }
      const lines: ViewRecord[] = [];
      while (first < buf.length) {
        const nl = buf.indexOf(10, first);
        if (nl === -1) break;
        lines.push(parse(buf.subarray(first, nl), from + first, from + nl + 1));
        first = nl + 1;
      }
      if (lines.length === 0) {
        if (from === 0) break;
        step *= 2;
        continue;
      }
      for (let i = lines.length - 1; i >= 0 && records.length < max; i--) records.push(lines[i]);
      at = records[records.length - 1].start;
      step = STEP;
    }
    return { records, next: records.length > 0 ? records[records.length - 1].start : end };
  }
}

/** The time of a record without parsing it all: records start {"seq":N,"time":"<ISO>". */
function timeOf(line: Buffer): string {
  const at = line.indexOf('"time":"');
  return at === -1 ? '' : line.toString('latin1', at + 8, at + 32);
}

function parse(line: Buffer, start: number, end: number): ViewRecord {
  const r = JSON.parse(line.toString('utf8')) as { seq: number; time: string; stream: string; message: string };
  return { seq: r.seq, time: r.time, stream: r.stream, message: r.message, start, end };
}
