// Caps on what unpacking an archive may cost (entries, bytes, compression ratio), and the meter that enforces them
// while entries stream in.

import { ArchiveError, entryMsg, formatBytes, show } from './messages.js';
import { GiB, KiB, MiB } from './units.js';

/** ratio = uncompressed total / archive file size */
export interface ArchiveLimits {
  maxEntries: number;
  maxTotalBytes: number;
  maxRatio: number;
}

export const defaultArchiveLimits: ArchiveLimits = Object.freeze({
  maxEntries: 100_000,
  maxTotalBytes: 8 * GiB,
  maxRatio: 200,
});

/** The ratio cap only applies once the unpacked total is above this. */
export const RATIO_MIN_BYTES = 10 * MiB;
/** Longest symbolic link target we accept from a zip entry body. */
export const MAX_ZIP_LINK_TARGET = 4 * KiB;
/** Like the kernel's ELOOP limit. */
export const MAX_SYMLINK_HOPS = 40;

export class Meter {
  entries = 0;
  bytes = 0;

  constructor(
    readonly limits: ArchiveLimits,
    readonly archiveSize: number,
  ) {}

  entry(name: string): void {
    this.entries++;
    if (this.entries > this.limits.maxEntries) {
      throw new ArchiveError(
        `archive has more than ${this.limits.maxEntries} entries (limit reached at entry '${show(name)}')`,
      );
    }
  }

  /** Checks that `n` more bytes would fit, without counting them. */
  expect(n: number, name: string): void {
    this.check(this.bytes + n, name);
  }

  add(n: number, name: string): void {
    this.bytes += n;
    this.check(this.bytes, name);
  }

  private check(total: number, name: string): void {
    if (total > this.limits.maxTotalBytes) {
      throw entryMsg(
        name,
        `takes the unpacked size of the archive over the limit of ${formatBytes(this.limits.maxTotalBytes)}`,
      );
    }
    if (total > RATIO_MIN_BYTES && total > this.limits.maxRatio * this.archiveSize) {
      throw entryMsg(
        name,
        `takes the unpacked size of the archive to more than ${this.limits.maxRatio} times the archive's ` +
          `own size (${formatBytes(this.archiveSize)}); refusing a likely decompression bomb`,
      );
    }
  }

  /**
   * Raw tar stream bytes (after gunzip) also count, minus a generous per-entry
   * allowance for headers and padding, so that a stream of metadata or
   * ignorable blocks can't make us decompress forever.
   */
  checkStream(streamBytes: number): void {
    const overhead = 16 * MiB + (this.entries + 1) * 64 * KiB;
    const excess = streamBytes - overhead;
    if (excess > this.limits.maxTotalBytes) {
      throw new ArchiveError(
        `archive expands to more than the limit of ${formatBytes(this.limits.maxTotalBytes)}`,
      );
    }
    if (excess > RATIO_MIN_BYTES && excess > this.limits.maxRatio * this.archiveSize) {
      throw new ArchiveError(
        `archive expands to more than ${this.limits.maxRatio} times its own size; refusing a likely decompression bomb`,
      );
    }
  }
}
