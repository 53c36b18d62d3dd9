// Where validated entries go: an in-memory tree (inspection) or the real file system under the destination root
// (extraction). Every path is the root plus components the unpacker verified are real directories.

import { constants as fsConstants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import path from 'node:path';

export type TreeNode =
  | { type: 'dir' }
  | { type: 'file'; size: number; mode: number }
  | { type: 'symlink'; target: string }
  | { type: 'other' };

/** All `rel` arguments are component lists that contain no symlinks (except possibly the last). */
export interface Tree {
  lookup(rel: string[]): Promise<TreeNode | null>;
  mkdir(rel: string[]): Promise<void>;
  remove(rel: string[]): Promise<void>;
  /** Creates a new file (the path must not exist); calls count() before each chunk is written. */
  writeFile(rel: string[], data: AsyncIterable<Buffer>, mode: number, count: (n: number) => void): Promise<number>;
  symlink(rel: string[], target: string): Promise<void>;
  copyFile(from: string[], to: string[], node: { size: number; mode: number }): Promise<void>;
}

export class VirtualTree implements Tree {
  private nodes = new Map<string, TreeNode>();

  async lookup(rel: string[]): Promise<TreeNode | null> {
    return this.nodes.get(rel.join('/')) ?? null;
  }
  async mkdir(rel: string[]): Promise<void> {
    this.nodes.set(rel.join('/'), { type: 'dir' });
  }
  async remove(rel: string[]): Promise<void> {
    this.nodes.delete(rel.join('/'));
  }
  async writeFile(rel: string[], data: AsyncIterable<Buffer>, mode: number, count: (n: number) => void) {
    let size = 0;
    for await (const chunk of data) {
      count(chunk.length);
      size += chunk.length;
    }
    this.nodes.set(rel.join('/'), { type: 'file', size, mode });
    return size;
  }
  async symlink(rel: string[], target: string): Promise<void> {
    this.nodes.set(rel.join('/'), { type: 'symlink', target });
  }
  async copyFile(_from: string[], to: string[], node: { size: number; mode: number }): Promise<void> {
    this.nodes.set(to.join('/'), { type: 'file', size: node.size, mode: node.mode });
  }
}

export class FsTree implements Tree {
  constructor(private readonly root: string) {}

  private abs(rel: string[]): string {
    return path.join(this.root, ...rel);
  }

  async lookup(rel: string[]): Promise<TreeNode | null> {
    const p = this.abs(rel);
    let st;
    try {
      st = await fsp.lstat(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw err;
    }
    if (st.isSymbolicLink()) return { type: 'symlink', target: await fsp.readlink(p) };
    if (st.isDirectory()) return { type: 'dir' };
    if (st.isFile()) return { type: 'file', size: st.size, mode: st.mode & 0o777 };
    return { type: 'other' };
  }

  async mkdir(rel: string[]): Promise<void> {
    await fsp.mkdir(this.abs(rel), { mode: 0o755 });
  }

  async remove(rel: string[]): Promise<void> {
    await fsp.unlink(this.abs(rel));
  }

  async writeFile(rel: string[], data: AsyncIterable<Buffer>, mode: number, count: (n: number) => void) {
    const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
    const fh = await fsp.open(this.abs(rel), flags, 0o600);
    let size = 0;
    try {
      for await (const chunk of data) {
        count(chunk.length);
        let off = 0;
        while (off < chunk.length) {
          const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
          off += bytesWritten;
        }
        size += chunk.length;
      }
      await fh.chmod(mode);
    } finally {
      await fh.close();
    }
    return size;
  }

  async symlink(rel: string[], target: string): Promise<void> {
    await fsp.symlink(target, this.abs(rel));
  }

  async copyFile(from: string[], to: string[], node: { size: number; mode: number }): Promise<void> {
    await fsp.copyFile(this.abs(from), this.abs(to), fsConstants.COPYFILE_EXCL);
    await fsp.chmod(this.abs(to), node.mode);
  }
}

export async function emptyDir(root: string): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(root);
  } catch {
    return;
  }
  for (const name of names) {
    // rm does not follow symbolic links; it removes the link itself.
    await fsp.rm(path.join(root, name), { recursive: true, force: true }).catch(() => undefined);
  }
}
