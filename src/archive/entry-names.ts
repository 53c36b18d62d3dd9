// Entry names and modes as an archive states them, turned into safe relative path components.

import { entryMsg } from './messages.js';

export function isAbsoluteLike(p: string): boolean {
  return p.startsWith('/') || p.startsWith('\\') || /^[a-zA-Z]:/.test(p);
}

/**
 * Normalizes an entry name to path components. Rejects NUL bytes, absolute
 * paths (posix, Windows drive, backslash-rooted) and `..` that climbs above
 * the root. Backslashes are treated as separators.
 */
export function entryComponents(name: string): string[] {
  if (name.includes('\0')) throw entryMsg(name, 'has an invalid name (it contains a NUL byte)');
  if (isAbsoluteLike(name)) {
    throw entryMsg(name, 'has an absolute path and would be written outside the artifact directory');
  }
  const out: string[] = [];
  for (const seg of name.replace(/\\/g, '/').split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) throw entryMsg(name, 'would be written outside the artifact directory');
      out.pop();
      continue;
    }
    out.push(seg);
  }
  return out;
}

/** Components of a symlink target, for resolution (not normalized: '..' kept). */
export function targetComponents(target: string): string[] {
  return target.replace(/\\/g, '/').split('/');
}

export function normalizeMode(raw: number): number {
  // Keep only "executable or not"; never setuid/setgid/sticky, never odd permissions.
  return raw & 0o111 ? 0o755 : 0o644;
}
