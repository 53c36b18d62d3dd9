import { lchownSync, lstatSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The user a sandboxed run's processes run as. A server that runs as root (the native sandbox, or bubblewrap as root)
 * gives runs this unprivileged uid and gid: the inner supervisor becomes it in the run's first process (supervisor.c,
 * become_run_user), after the sandbox is set up. What the run must write (its work directory, home, /tmp and storage
 * mounts) is handed to it here. A server that is not root cannot change users: its runs keep its own uid (bubblewrap's
 * user namespace maps it to itself), and `uid` is null.
 */
export interface RunUser {
  /** null: runs keep the server's own user (the server is not root). */
  uid: number | null;
  gid: number | null;
  /** The name the host's passwd gives the uid ("nobody"), for USER and LOGNAME; the uid itself where it has none. */
  name: string;
  /** Open files per process of the run (RLIMIT_NOFILE, soft and hard). */
  openFilesMax: number;
}

export function runUserFor(opts: { uid: number; gid: number; openFilesMax: number }): RunUser {
  if (process.getuid?.() !== 0) {
    const name = process.env.USER ?? String(process.getuid?.() ?? '');
    return { uid: null, gid: null, name, openFilesMax: opts.openFilesMax };
  }
  return { uid: opts.uid, gid: opts.gid, name: passwdName(opts.uid) ?? String(opts.uid), openFilesMax: opts.openFilesMax };
}

/** The inner supervisor's `-u UID:GID:NOFILE` (-1: keep the user). */
export function runUserOption(u: RunUser): string[] {
  return ['-u', `${u.uid ?? -1}:${u.gid ?? -1}:${u.openFilesMax}`];
}

/** "65534 (nobody)", for the start-up report. */
export function describeRunUser(u: RunUser): string {
  if (u.uid === null) return `the server's own user (${u.name}; the server is not root, so runs cannot get another)`;
  return `uid ${u.uid}${u.name !== String(u.uid) ? ` (${u.name})` : ''}, gid ${u.gid}, no supplementary groups`;
}

/** Makes `paths` (directories or files the server made for the run) the run user's; the entries, not their contents. */
export function giveToRun(u: RunUser, paths: string[]): void {
  if (u.uid === null) return;
  for (const p of paths) lchownSync(p, u.uid, u.gid!);
}

/**
 * Makes a whole tree the run user's (an unpacked artifact: the server extracted it as root), links themselves, never
 * what they point to. Bounded by the archive limits that made the tree.
 */
export function giveTreeToRun(u: RunUser, dir: string): void {
  if (u.uid === null) return;
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    lchownSync(d, u.uid, u.gid!);
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else lchownSync(p, u.uid, u.gid!);
    }
  }
}

/**
 * A storage mount's directory, writable by the run user: the directory is made theirs; where it was not yet (first
 * use, or written by runs of a version that ran them as root), what root owns inside becomes theirs too, once. What
 * other users own is left as it is. Returns a warning where that fails (an NFS export that squashes root, say).
 */
export function giveMountToRun(u: RunUser, dir: string): string | null {
  if (u.uid === null) return null;
  try {
    const st = lstatSync(dir);
    if (st.uid === u.uid) return null;
    // The walk runs once per directory, at a run's start: bounded, so a large dataset cannot hold the server up.
    let entries = 0;
    const stack = [dir];
    while (stack.length > 0 && entries < MOUNT_WALK_MAX_ENTRIES) {
      const d = stack.pop()!;
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) stack.push(p);
        else if (lstatSync(p).uid === 0) lchownSync(p, u.uid, u.gid!);
        entries++;
      }
      if (d !== dir && lstatSync(d).uid === 0) lchownSync(d, u.uid, u.gid!);
    }
    // The directory itself in any case: the run can write there. A later run does not walk it again.
    lchownSync(dir, u.uid, u.gid!);
    if (stack.length > 0) {
      return `storage mount ${dir} holds more than ${MOUNT_WALK_MAX_ENTRIES} entries: only part of what root owns there was given to the run user (uid ${u.uid}); chown the rest on the host`;
    }
    return null;
  } catch (e) {
    return `storage mount ${dir} could not be given to the run user (uid ${u.uid}): ${(e as Error).message}; the run may not be able to write it`;
  }
}

/**
 * Whether the run user can execute `file`: search permission on every directory on the way, to the file and to what
 * it links to, and execute permission on the file, by the owner, group or other bits that apply to the run user.
 */
export function runUserCanExecute(u: RunUser, file: string): boolean {
  if (u.uid === null) return true;
  const allowed = (p: string, bit: number) => {
    const st = statSync(p);
    const shift = st.uid === u.uid ? 6 : st.gid === u.gid ? 3 : 0;
    return ((st.mode >> shift) & bit) !== 0;
  };
  try {
    const real = realpathSync(file);
    for (const p of new Set([path.resolve(file), real])) {
      for (let d = path.dirname(p); ; d = path.dirname(d)) {
        if (!allowed(d, 1)) return false;
        if (d === '/') break;
      }
    }
    return allowed(real, 1);
  } catch {
    return false;
  }
}

/** Entries a storage mount's first walk looks at (giveMountToRun): ~1 s of lstat and lchown here. */
const MOUNT_WALK_MAX_ENTRIES = 100_000;

function passwdName(uid: number): string | null {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && Number(f[2]) === uid && f[2] !== '') return f[0];
    }
  } catch {
    /* no passwd */
  }
  return null;
}
