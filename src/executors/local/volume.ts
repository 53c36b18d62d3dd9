import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, ftruncateSync, readdirSync, readFileSync, realpathSync, renameSync, rmdirSync, rmSync, unlinkSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { which } from './which.js';

const run = promisify(execFile);

/**
 * Block storage: each run's space is an ext4 file system of the run's blockStorageSizeInGBs, in a sparse image
 * file mounted through a loop device. Writing past it fails inside the job with ENOSPC ("No space left on
 * device") and nothing spills onto the server's disk. Sparse: a 50 GB volume costs what the run writes, and
 * formatting one took ~30 ms here (lazy inode tables, lazily initialized journal). The journal is small (4 MB) and
 * there for speed, not safety (the volume is scratch space that does not outlive the run, like OCI's): ext4 without
 * one checks every free inode it considers against the time it was freed and skips those freed in the last minutes,
 * one buffer lookup each, so a recycled volume (emptied after every run) made each new file dearer the more runs it
 * had served; with a journal it does not (file create + delete: 80 -> 40 us measured here). Needs root (mount) and the loop driver; elsewhere the space is a plain directory and the
 * size is not enforced, which the server says at start.
 */
export interface VolumeHost {
  available: boolean;
  note: string | null;
}

interface Tools {
  mkfs: string;
  mount: string;
  umount: string;
}

let tools: Tools | null = null;

function findTools(): Tools | null {
  const env = `${process.env.PATH ?? ''}:/usr/sbin:/sbin`;
  const mkfs = which('mkfs.ext4', env);
  const mount = which('mount', env);
  const umount = which('umount', env);
  return mkfs && mount && umount ? { mkfs, mount, umount } : null;
}

/** Tries the whole cycle once on a tiny image: format, mount, unmount. */
export async function detectVolumes(enabled: boolean, scratchDir: string): Promise<VolumeHost> {
  if (!enabled) return { available: false, note: 'block storage volumes are turned off in the server config (blockStorage: "directory")' };
  tools = findTools();
  if (!tools) return { available: false, note: 'mkfs.ext4 or mount was not found: block storage sizes are not enforced' };
  mkdirSync(scratchDir, { recursive: true });
  const dir = mkdtempSync(path.join(scratchDir, 'volume-probe-'));
  const img = path.join(dir, 'probe.img');
  const mnt = path.join(dir, 'mnt');
  try {
    await createVolume(img, mnt, 16 * 1024 * 1024);
    await removeVolume(img, mnt);
    return { available: true, note: null };
  } catch (e) {
    return { available: false, note: `loop-mounted volumes cannot be made here (${firstLine(e)}): block storage sizes are not enforced` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function firstLine(e: unknown): string {
  const err = e as { stderr?: string; message?: string };
  return String(err.stderr || err.message || e).trim().split('\n')[0];
}

/** Makes a sparse image of `bytes`, formats it and mounts it at `mountPoint` (created if missing). */
export async function createVolume(img: string, mountPoint: string, bytes: number): Promise<void> {
  const t = tools ?? (tools = findTools());
  if (!t) throw new Error('mkfs.ext4 or mount was not found');
  const fd = openSync(img, 'w', 0o600);
  try {
    ftruncateSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
  mkdirSync(mountPoint, { recursive: true });
  try {
    await run(t.mkfs, ['-q', '-F', '-m', '0', '-J', 'size=4', '-E', 'lazy_itable_init=1,lazy_journal_init=1,nodiscard', img]);
    await run(t.mount, ['-o', 'loop,nosuid,nodev,discard', img, mountPoint]);
  } catch (e) {
    rmSync(img, { force: true });
    throw new Error(`could not create the run's block storage volume: ${firstLine(e)}`);
  }
}

/**
 * Unmounts (lazily if something still holds it) and deletes the image unless asked to keep it. Never throws for
 * what is already gone.
 */
export async function removeVolume(img: string, mountPoint: string, opts: { keepImage?: boolean } = {}): Promise<void> {
  const t = tools ?? (tools = findTools());
  if (t) {
    try {
      await run(t.umount, [mountPoint]);
    } catch (e) {
      const msg = firstLine(e);
      if (!/not mounted|no mount point|not found/i.test(msg)) {
        await run(t.umount, ['-l', mountPoint]).catch(() => {});
      }
    }
  }
  // Through the thread pool: unlinking an image frees its blocks, and on the event loop that took 6% of the server's
  // CPU profile during benchmark 3' (a stall of tens of ms each time a volume was discarded).
  if (!opts.keepImage) await fsp.rm(img, { force: true });
}

/** The mount points of /proc/self/mountinfo text, in order, unescaped (space, tab, newline, backslash are \\ooo). */
function mountPoints(mountinfo: string): { point: string; fields: string[] }[] {
  const unescape = (p: string) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return mountinfo
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f.length >= 7)
    .map((f) => ({ point: unescape(f[4]!), fields: f }));
}

/** The mount at `dir` (the last one: the one on top) in /proc/self/mountinfo text, or null. */
export function mountInfoOf(dir: string, mountinfo: string): { shared: boolean } | null {
  let found: { shared: boolean } | null = null;
  for (const { point, fields } of mountPoints(mountinfo)) {
    if (point !== dir) continue;
    found = { shared: fields.slice(6, fields.indexOf('-')).some((o) => o.startsWith('shared:')) };
  }
  return found;
}

const mountinfo = () => readFileSync('/proc/self/mountinfo', 'utf8');

/** Whether anything is mounted at or below `dir` (then it must not be removed recursively). */
export function hasMountsUnder(dir: string): boolean {
  return mountPoints(mountinfo()).some((m) => m.point === dir || m.point.startsWith(`${dir}/`));
}

/**
 * Makes `dir` (the volumes directory) a mount of its own with shared propagation: `mount --bind dir dir` unless it
 * is a mount already, then `mount --make-shared dir`. Each sandbox's copy of the host's tree holds a copy of every
 * volume mounted when it started (hidden with the data directory); the sandboxes turn their copies into slaves, so
 * with the volumes shared, a volume unmounted on the host is unmounted in every sandbox too. Where `/` is private
 * (no systemd, as on this project's machines) nothing propagated: a discarded volume's loop device and blocks stayed
 * held by every run that had started meanwhile, until the last of them ended. Returns why it could not be done (''
 * when it was) and whether the bind mount is this server's to remove at its stop (see `<dir>.bind` below).
 */
export async function shareMounts(dir: string): Promise<{ note: string; bound: boolean }> {
  const t = tools ?? (tools = findTools());
  if (!t) return { note: 'mount was not found', bound: false };
  const real = realpathSync(dir);
  let bound = false;
  try {
    let info = mountInfoOf(real, mountinfo());
    if (info?.shared) return { note: '', bound: existsSync(`${real}.bind`) };
    // `<dir>.bind` marks a bind mount made here: one that outlived its server (runs were still using volumes) is
    // recognised by the next, which removes it at its own stop once nothing is mounted under it.
    bound = existsSync(`${real}.bind`) && info !== null;
    if (!info) {
      // A bind mount over the directory would hide the volumes mounted in it now (runs of a server that did not share
      // it, still running): not this time, then.
      if (mountPoints(mountinfo()).some((m) => m.point.startsWith(`${real}/`))) {
        return { note: 'volumes of runs started by an earlier server are still mounted in the volumes directory, so it is made shared at a later start', bound: false };
      }
      writeFileSync(`${real}.bind`, '');
      await run(t.mount, ['--bind', real, real]);
      bound = true;
    }
    await run(t.mount, ['--make-shared', real]);
    info = mountInfoOf(real, mountinfo());
    return { note: info?.shared ? '' : `${real} is not shown as a shared mount after mount --make-shared`, bound };
  } catch (e) {
    return { note: `the volumes directory could not be made a shared mount (${firstLine(e)})`, bound };
  }
}

export interface SpaceUsage {
  totalBytes: number;
  usedBytes: number;
  availableBytes: number;
}

export function spaceUsage(dir: string): SpaceUsage | null {
  try {
    const s = statfsSync(dir);
    const total = s.blocks * s.bsize;
    return { totalBytes: total, usedBytes: (s.blocks - s.bfree) * s.bsize, availableBytes: s.bavail * s.bsize };
  } catch {
    return null;
  }
}

export interface Volume {
  image: string;
  mountPoint: string;
}

/**
 * Volumes made ahead of time, so a run's start does not wait for mkfs and mount (~30 ms on an idle host, 60+ ms
 * under load). Kept per size; after a take, the pool refills in the background. A free volume has a
 * `<name>.free` marker beside it: at start, the volumes a previous server left free are removed, and the ones
 * runs use are left to their runs' cleanup. A taken volume's marker is renamed to `<name>.used` and back when it
 * is recycled, rather than deleted and created again: on ext4 without a journal every freed inode makes the next
 * file creations in that directory group dearer for minutes (see createVolume), and the run directories are there.
 */
export class VolumePool {
  private readonly free = new Map<number, Volume[]>();
  /** Sizes being filled, with the fill (close() waits for them: a volume made meanwhile would stay mounted). */
  private readonly filling = new Map<number, Promise<void>>();
  /** Mount points of the volumes runs hold: taken here, or re-attached after a restart (hold). */
  private readonly inUse = new Set<string>();
  /** Mount points of volumes being made (mkfs, mount): neither free nor held yet. */
  private readonly making = new Set<string>();
  /**
   * Mount points of discarded volumes, empty, for the next volumes. Removing a directory that is a mount point in
   * another mount namespace detaches the mounts there, and every sandbox's namespace has a copy of each volume
   * mounted when it was made: bwrap, re-mounting its copy of the host's tree read-only, fails ("Can't bind mount
   * /oldroot/ on /newroot/: ... No such file or directory") when one disappears under it. So a server never removes
   * a mount point while it runs; it reuses them, and removes them at shutdown.
   */
  private readonly spares: string[] = [];
  /** Recycles in progress (close() waits for them: one that finished emptying after close() would stay mounted). */
  private readonly recycling = new Set<Promise<void>>();
  /**
   * Volumes being emptied to be kept, per size: they count against maxFree from the moment they are chosen, or runs
   * that end together (each emptied in its own time) would all be kept, past maxFree.
   */
  private readonly emptying = new Map<number, number>();
  private closed = false;
  /** Called when a volume joins the free list (the executor starts a warm sandbox on it). */
  onFree: ((v: Volume) => void) | null = null;
  /** Awaited before a free volume is unmounted for good (its warm sandbox must let go of it first). */
  beforeRemove: ((v: Volume) => Promise<void>) | null = null;

  constructor(
    private readonly dir: string,
    private readonly size: number,
  ) {}

  /**
   * Why unmounting a volume may not release it, or '' when it does (see shareMounts). Set by clean().
   */
  propagationNote = '';
  /** Whether clean() made the volumes directory a mount (close() removes it again when nothing is left under it). */
  private bindMounted = false;

  /**
   * Removes the free volumes of a previous server (its runs' volumes are left alone) and its spare mount points, and
   * makes the volumes directory a shared mount (see shareMounts).
   */
  async clean(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const shared = await shareMounts(this.dir);
    this.propagationNote = shared.note;
    this.bindMounted = shared.bound;
    const names = readdirSync(this.dir);
    for (const n of names) {
      // A spare mount point, or a mount point left by a volume discarded before its directory went: rmdir removes
      // only an empty directory that nothing is mounted on (a run's volume, even without a marker, stays).
      if (n.startsWith('vol-') && !n.includes('.') && !names.includes(`${n}.free`) && !names.includes(`${n}.used`)) {
        try {
          rmdirSync(path.join(this.dir, n));
        } catch {
          /* in use */
        }
      }
    }
    for (const n of names) {
      if (!n.endsWith('.free')) continue;
      const name = n.slice(0, -'.free'.length);
      await removeVolume(path.join(this.dir, `${name}.img`), path.join(this.dir, name));
      rmSync(path.join(this.dir, name), { recursive: true, force: true });
      rmSync(path.join(this.dir, n), { force: true });
    }
  }

  /**
   * A mounted, empty volume of `bytes`: from the pool when one is ready (the last one `prefer` accepts, if any),
   * else made now.
   */
  async take(bytes: number, prefer?: (v: Volume) => boolean): Promise<Volume> {
    const ready = this.free.get(bytes);
    // Last in, first out: a volume just emptied is warm in the page cache.
    let at = ready ? ready.length - 1 : -1;
    if (ready && prefer) for (let i = at; i >= 0; i--) if (prefer(ready[i]!)) { at = i; break; }
    const v = ready && at >= 0 ? ready.splice(at, 1)[0]! : null;
    if (this.size > 0) void this.fill(bytes);
    if (v) {
      renameSync(`${v.mountPoint}.free`, `${v.mountPoint}.used`);
      this.inUse.add(v.mountPoint);
      return v;
    }
    const made = await this.make(bytes, false);
    this.inUse.add(made.mountPoint);
    this.making.delete(made.mountPoint);
    return made;
  }

  /** A volume a run re-attached after a restart still holds (so sweepOrphans leaves it). */
  hold(mountPoint: string): void {
    this.inUse.add(mountPoint);
  }

  /**
   * After a restart, once every run the database says is active has been re-attached or settled: unmounts and
   * deletes the volumes no run holds and the pool does not have, which a start or a cleanup interrupted by the
   * previous server's death left mounted (each holds a loop device and its blocks). Unmounted images (kept with
   * keepWorkDirs) and mounts that are not a volume of ours (no image beside them) are left alone; `keepImage` (with
   * keepWorkDirs) unmounts them but keeps their images, as a run's cleanup does then. Returns how many went.
   */
  async sweepOrphans(opts: { keepImage?: boolean } = {}): Promise<number> {
    // Asked again for each volume: the pool changes while an orphan is being removed.
    const known = (mountPoint: string) =>
      this.inUse.has(mountPoint) || this.making.has(mountPoint) || this.spares.includes(mountPoint) || this.freeVolumes().some((v) => v.mountPoint === mountPoint);
    let dirDev: number;
    try {
      dirDev = statSync(this.dir).dev;
    } catch {
      return 0;
    }
    let n = 0;
    for (const name of readdirSync(this.dir)) {
      if (!/^vol-[0-9a-f]+$/.test(name)) continue;
      const mountPoint = path.join(this.dir, name);
      if (known(mountPoint)) continue;
      try {
        // Mounted (another device than the directory it is in), and one of ours: its image beside it.
        if (statSync(mountPoint).dev === dirDev || !existsSync(`${mountPoint}.img`)) continue;
        await this.discard({ image: `${mountPoint}.img`, mountPoint }, opts);
        n++;
      } catch {
        /* in use after all (umount refused), or gone meanwhile: left as it is */
      }
    }
    return n;
  }

  private async make(bytes: number, free: boolean): Promise<Volume> {
    const mountPoint = this.spares.pop() ?? path.join(this.dir, `vol-${randomBytes(8).toString('hex')}`);
    const v = { image: `${mountPoint}.img`, mountPoint };
    // The marker first: a crash half-way leaves a volume the next start removes.
    if (free) writeFileSync(`${v.mountPoint}.free`, '');
    // In `making` until the caller has it in a free list or in use (see sweepOrphans); a failure takes it out here.
    this.making.add(mountPoint);
    try {
      await createVolume(v.image, v.mountPoint, bytes);
    } catch (e) {
      this.making.delete(mountPoint);
      throw e;
    }
    return v;
  }

  /**
   * Fills the pool for a size now, before any run asks for it (the server does it for the default size at start, so
   * the first run does not wait for mkfs). Resolves when the pool for that size is full (or cannot be filled).
   */
  prefill(bytes: number): Promise<void> {
    return this.size > 0 ? this.fill(bytes) : Promise.resolve();
  }

  private fill(bytes: number): Promise<void> {
    const running = this.filling.get(bytes);
    if (running || this.closed) return running ?? Promise.resolve();
    const done = this.fillNow(bytes);
    this.filling.set(bytes, done);
    return done;
  }

  private async fillNow(bytes: number): Promise<void> {
    // After fill() has recorded this fill: the finally below must never run before that.
    await Promise.resolve();
    try {
      const list = this.free.get(bytes) ?? [];
      this.free.set(bytes, list);
      while (list.length < this.size && !this.closed) {
        const v = await this.make(bytes, true);
        list.push(v);
        this.making.delete(v.mountPoint);
        this.onFree?.(v);
      }
    } catch {
      /* the pool is an optimisation: a run that finds it empty makes its own volume and reports any error */
    } finally {
      this.filling.delete(bytes);
    }
  }

  /** Unmounts and deletes a run's volume instead of recycling it; `keepImage` keeps the image file. */
  async discard(v: Volume, opts: { keepImage?: boolean } = {}): Promise<void> {
    await removeVolume(v.image, v.mountPoint, opts);
    this.inUse.delete(v.mountPoint);
    rmSync(`${v.mountPoint}.used`, { force: true });
    // A kept image stays beside its own mount point, unused; otherwise the mount point serves the next volume. Once:
    // a volume can be discarded twice (a failed start discards it, then the run's cleanup finds it gone and discards
    // it again), and a mount point listed twice became two volumes on one mount point, the second taken while the
    // first was in use (seen as a run failing on its volume's missing marker after a restart).
    if (!opts.keepImage && !this.closed) {
      if (!this.spares.includes(v.mountPoint)) this.spares.push(v.mountPoint);
    }
    else rmSync(v.mountPoint, { recursive: true, force: true });
  }

  /** Unmounts and removes the free volumes and the spare mount points (server shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.filling.values(), ...this.recycling]);
    for (const d of this.spares.splice(0)) rmSync(d, { recursive: true, force: true });
    for (const list of this.free.values()) {
      for (const v of list.splice(0)) {
        await this.beforeRemove?.(v);
        await removeVolume(v.image, v.mountPoint);
        rmSync(v.mountPoint, { recursive: true, force: true });
        rmSync(`${v.mountPoint}.free`, { force: true });
      }
    }
    // The bind mount clean() made goes too, unless volumes of runs still running are mounted under it (umount then
    // fails with EBUSY and the next start finds it): a stopped server leaves its data directory removable.
    if (this.bindMounted && tools) {
      const real = realpathSync(this.dir);
      await run(tools.umount, [real]).then(
        () => rmSync(`${real}.bind`, { force: true }),
        () => {},
      );
    }
  }

  /**
   * A run is done with its volume: it is emptied and goes back to the pool when the pool has room for it
   * (`maxFree` per size), else it is unmounted and deleted. Emptying costs one directory walk; making a new volume
   * costs mkfs, mount and, later, umount (three processes and ~30 ms). The run's processes are gone by now (its
   * cgroup or process group was killed first). Deleted blocks go back to the host (mounted with `discard`).
   */
  recycle(v: Volume, maxFree: number): Promise<void> {
    const done = this.recycleNow(v, maxFree).finally(() => this.recycling.delete(done));
    this.recycling.add(done);
    return done;
  }

  private async recycleNow(v: Volume, maxFree: number): Promise<void> {
    let bytes = 0;
    try {
      bytes = statSync(v.image).size;
    } catch {
      bytes = 0;
    }
    const emptying = this.emptying.get(bytes) ?? 0;
    if (this.closed || bytes === 0 || (this.free.get(bytes)?.length ?? 0) + emptying >= Math.max(maxFree, this.size)) return this.discard(v);
    this.emptying.set(bytes, emptying + 1);
    try {
      await this.empty(v);
    } catch {
      // Something would not go away: this volume is not reused.
      return this.discard(v);
    } finally {
      this.emptying.set(bytes, this.emptying.get(bytes)! - 1);
    }
    // The server began stopping while the volume was being emptied: close() has unmounted the free ones already.
    if (this.closed) return this.discard(v);
    try {
      renameSync(`${v.mountPoint}.used`, `${v.mountPoint}.free`);
    } catch {
      // No marker to rename: the volume was made for its run directly (the pool was empty), or handed out by an
      // earlier version of the server.
      writeFileSync(`${v.mountPoint}.free`, '');
    }
    this.inUse.delete(v.mountPoint);
    const list = this.free.get(bytes) ?? [];
    list.push(v);
    this.free.set(bytes, list);
    this.onFree?.(v);
  }

  /** Empties a used volume for its next run: the directories every run gets stay, emptied; the rest goes. */
  private async empty(v: Volume): Promise<void> {
    for (const entry of readdirSync(v.mountPoint, { withFileTypes: true })) {
      if (entry.name === 'lost+found') continue;
      const p = path.join(v.mountPoint, entry.name);
      // The directories every run gets stay (made again by the next run otherwise), emptied.
      if (entry.isDirectory() && RUN_DIRS.has(entry.name)) await emptyDirectory(p);
      else await fsp.rm(p, { recursive: true, force: true });
    }
    // The run owned its volume's root too: give the next run the mode a fresh file system has.
    chmodSync(v.mountPoint, 0o755);
  }

  /** The free volumes, every size. */
  freeVolumes(): Volume[] {
    return [...this.free.values()].flat();
  }

  /** Whether a path is a pool volume's mount point (a handle's space). */
  owns(mountPoint: string): boolean {
    return path.dirname(mountPoint) === this.dir && existsSync(mountPoint);
  }
}

/** What every run's space holds (the executor makes them): recycling keeps them, emptied. */
const RUN_DIRS = new Set(['work', 'tmp', 'home']);

/**
 * Empties a directory and gives it a fresh directory's mode. A few entries (a trivial run's) synchronously: a dozen
 * system calls, where the thread pool's round trips cost the event loop more than the calls themselves; a tree goes
 * through fsp.rm, which never blocks the event loop for long. Symbolic links are removed, never followed.
 */
async function emptyDirectory(dir: string): Promise<void> {
  const entries = readdirSync(dir, { withFileTypes: true });
  for (const [i, e] of entries.entries()) {
    const p = path.join(dir, e.name);
    if (i < 64 && !e.isDirectory()) unlinkSync(p);
    else await fsp.rm(p, { recursive: true, force: true });
  }
  chmodSync(dir, 0o755);
}
