// The archive room's errors and how they name entries, limits and broken archives.

import type { ArchiveKind } from './types.js';
import { GiB, KiB, MiB } from './units.js';

export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}

export function show(name: string): string {
  return name.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function entryMsg(name: string, rest: string): ArchiveError {
  return new ArchiveError(`archive entry '${show(name)}' ${rest}`);
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export function corrupt(kind: ArchiveKind, err: unknown): ArchiveError {
  if (err instanceof ArchiveError) return err;
  // tar's errors look like 'TAR_ENTRY_INVALID: checksum failure'; keep the readable part.
  const detail = errorText(err).replace(/^TAR_[A-Z_]+: /, '');
  return new ArchiveError(`archive is not a valid ${kind} file: ${detail}`);
}

export function formatBytes(n: number): string {
  if (n >= GiB && n % GiB === 0) return `${n / GiB} GiB`;
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} bytes`;
}
