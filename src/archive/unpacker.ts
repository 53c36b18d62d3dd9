// Validation and placement of entries, shared by inspect and extract: paths, links (resolved and checked before the
// OS ever follows one), hard links, duplicates and the limits.

import { entryComponents, isAbsoluteLike, normalizeMode, targetComponents } from './entry-names.js';
import { MAX_SYMLINK_HOPS, type Meter } from './limits.js';
import { ArchiveError, entryMsg, errorText, show } from './messages.js';
import type { Tree } from './trees.js';
import type { ArchiveEntryInfo, RawEntry } from './types.js';

export class Unpacker {
  /** Keyed by normalized entry path; later duplicates overwrite. */
  readonly infos = new Map<string, ArchiveEntryInfo>();
  /** Symlinks we created, keyed by their real location; re-checked at the end. */
  private links = new Map<string, { name: string; parent: string[]; leaf: string[] }>();
  /** Real directories already seen; they are never removed or replaced while unpacking. */
  private dirs = new Set<string>();

  constructor(
    private readonly tree: Tree,
    private readonly meter: Meter,
  ) {}

  /**
   * Resolves `parts` starting from the real directory `start`, following
   * symlinks found in the tree. Throws `escape()` if resolution would leave
   * the root (via '..' or an absolute link). In 'mkdir' mode missing
   * components are created as directories and non-directories are refused; in
   * 'lexical' mode missing components are taken as they are. Returns the real
   * components (no symlinks in them).
   */
  private async walk(
    start: string[],
    parts: string[],
    name: string,
    how: 'mkdir' | 'lexical',
    escape: () => ArchiveError,
  ): Promise<string[]> {
    const real = [...start];
    const pending = [...parts];
    let hops = 0;
    while (pending.length > 0) {
      const c = pending.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (real.length === 0) throw escape();
        real.pop();
        continue;
      }
      if (c.includes('\0')) throw escape();
      const next = [...real, c];
      const nextKey = next.join('/');
      if (this.dirs.has(nextKey)) {
        real.push(c);
        continue;
      }
      const node = await this.tree.lookup(next);
      if (node === null) {
        if (how === 'mkdir') {
          await this.tree.mkdir(next);
          this.dirs.add(nextKey);
        }
        real.push(c);
      } else if (node.type === 'symlink') {
        if (++hops > MAX_SYMLINK_HOPS) throw entryMsg(name, 'goes through too many levels of symbolic links');
        if (isAbsoluteLike(node.target)) throw escape();
        pending.unshift(...targetComponents(node.target));
      } else if (node.type === 'dir') {
        this.dirs.add(nextKey);
        real.push(c);
      } else if (how === 'mkdir') {
        throw entryMsg(name, `needs '${show(next.join('/'))}' to be a directory, but it is a file`);
      } else {
        real.push(c);
      }
    }
    return real;
  }

  /** Real components of the entry's parent directory, created as needed. */
  private parentOf(comps: string[], name: string): Promise<string[]> {
    return this.walk([], comps.slice(0, -1), name, 'mkdir', () =>
      entryMsg(name, 'would be written through a symbolic link to outside the artifact directory'),
    );
  }

  /** Makes room for a new non-directory at `leaf` (later duplicates win). */
  private async clearLeaf(leaf: string[], name: string): Promise<void> {
    const node = await this.tree.lookup(leaf);
    if (node === null) return;
    if (node.type === 'dir') throw entryMsg(name, 'would replace a directory of the same name');
    await this.tree.remove(leaf);
    this.links.delete(leaf.join('/'));
  }

  async handle(e: RawEntry): Promise<void> {
    this.meter.entry(e.name);
    if (e.kind === 'skip') return;
    const comps = entryComponents(e.name);
    if (comps.length === 0) {
      if (e.kind === 'directory') return; // the root itself, e.g. './'
      throw entryMsg(e.name, 'has an empty name');
    }
    const key = comps.join('/');
    try {
      switch (e.kind) {
        case 'directory': {
          await this.walk([], comps, e.name, 'mkdir', () =>
            entryMsg(e.name, 'would be written through a symbolic link to outside the artifact directory'),
          );
          this.record({ path: key, type: 'directory', size: 0, mode: 0o755 });
          return;
        }
        case 'file': {
          this.meter.expect(e.size, e.name);
          const leaf = [...(await this.parentOf(comps, e.name)), comps[comps.length - 1]];
          await this.clearLeaf(leaf, e.name);
          const mode = normalizeMode(e.mode);
          const size = await this.tree.writeFile(leaf, e.data(), mode, (n) => this.meter.add(n, e.name));
          this.record({ path: key, type: 'file', size, mode });
          return;
        }
        case 'symlink': {
          const t = e.target;
          const outside = () =>
            entryMsg(e.name, `is a symbolic link to '${show(t)}', which is outside the artifact directory`);
          if (t === '') throw entryMsg(e.name, 'is a symbolic link with an empty target');
          if (t.includes('\0')) throw entryMsg(e.name, 'is a symbolic link whose target contains a NUL byte');
          if (isAbsoluteLike(t)) throw outside();
          const parent = await this.parentOf(comps, e.name);
          const leaf = [...parent, comps[comps.length - 1]];
          await this.clearLeaf(leaf, e.name);
          // Resolve the target against what exists now; re-checked in finish().
          await this.walk(parent, targetComponents(t), e.name, 'lexical', outside);
          await this.tree.symlink(leaf, t);
          this.links.set(leaf.join('/'), { name: e.name, parent, leaf });
          this.record({ path: key, type: 'symlink', size: 0, mode: 0o777, linkTarget: t });
          return;
        }
        case 'hardlink': {
          const t = e.target;
          const outside = () =>
            entryMsg(e.name, `is a hard link to '${show(t)}', which is outside the artifact directory`);
          let targetComps: string[];
          try {
            targetComps = entryComponents(t);
          } catch {
            throw outside();
          }
          if (targetComps.length === 0) throw entryMsg(e.name, 'is a hard link with an empty target');
          const notFile = () =>
            entryMsg(e.name, `is a hard link to '${show(t)}', which is not a regular file earlier in the archive`);
          const srcParent = await this.walk([], targetComps.slice(0, -1), e.name, 'lexical', outside);
          const src = [...srcParent, targetComps[targetComps.length - 1]];
          const node = await this.tree.lookup(src);
          if (node === null || node.type !== 'file') throw notFile();
          this.meter.expect(node.size, e.name);
          const leaf = [...(await this.parentOf(comps, e.name)), comps[comps.length - 1]];
          if (leaf.join('/') !== src.join('/')) {
            await this.clearLeaf(leaf, e.name);
            this.meter.add(node.size, e.name);
            await this.tree.copyFile(src, leaf, node);
          }
          this.record({ path: key, type: 'file', size: node.size, mode: normalizeMode(node.mode) });
          return;
        }
      }
    } catch (err) {
      if (err instanceof ArchiveError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw entryMsg(e.name, `could not be unpacked: ${code ?? errorText(err)}`);
    }
  }

  private record(info: ArchiveEntryInfo): void {
    this.infos.set(info.path, info);
  }

  /**
   * Later entries can change how an earlier symlink resolves (e.g. `p -> d/l/..`
   * created before `d/l -> ..`), so every symlink is checked again at the end.
   */
  async finish(): Promise<void> {
    for (const link of this.links.values()) {
      const node = await this.tree.lookup(link.leaf);
      if (node === null || node.type !== 'symlink') continue;
      await this.walk(link.parent, targetComponents(node.target), link.name, 'lexical', () =>
        entryMsg(
          link.name,
          `is a symbolic link to '${show(node.target)}', which resolves to outside the artifact directory`,
        ),
      );
    }
  }
}
