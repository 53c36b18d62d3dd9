import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  ArchiveError,
  archiveKindOf,
  defaultArchiveLimits,
  extractArchive,
  inspectArchive,
  type ArchiveKind,
  type ArchiveLimits,
} from '../../src/archive/archive.js';

// ---------------------------------------------------------------------------
// Fixture builder: python3's zipfile/tarfile write whatever names and types we
// ask for (absolute paths, '..', links, devices), unlike most CLI tools.

type Spec =
  | { type: 'file'; name: string; data?: string; zeros?: number; random?: number; mode?: number }
  | { type: 'dir'; name: string }
  | { type: 'symlink'; name: string; target: string }
  | { type: 'hardlink'; name: string; target: string }
  | { type: 'chardev'; name: string }
  | { type: 'fifo'; name: string };

const BUILDER = String.raw`
import io, json, os, sys, tarfile, zipfile
spec = json.loads(sys.argv[1])
out, fmt, entries = spec['out'], spec['format'], spec['entries']

def data_of(e):
    if 'zeros' in e: return b'\0' * e['zeros']
    if 'random' in e: return os.urandom(e['random'])
    return e.get('data', '').encode()

if fmt in ('tar', 'tar.gz'):
    with tarfile.open(out, 'w:gz' if fmt == 'tar.gz' else 'w', format=tarfile.GNU_FORMAT) as tf:
        for e in entries:
            ti = tarfile.TarInfo(e['name'])
            ti.mtime = 1700000000
            t = e['type']
            if t == 'file':
                d = data_of(e)
                ti.size = len(d)
                ti.mode = e.get('mode', 0o644)
                tf.addfile(ti, io.BytesIO(d))
                continue
            if t == 'dir':
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif t == 'symlink':
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, e['target'], 0o777
            elif t == 'hardlink':
                ti.type, ti.linkname = tarfile.LNKTYPE, e['target']
            elif t == 'chardev':
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
            elif t == 'fifo':
                ti.type = tarfile.FIFOTYPE
            else:
                raise SystemExit('bad type ' + t)
            tf.addfile(ti)
elif fmt == 'zip':
    with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as zf:
        for e in entries:
            zi = zipfile.ZipInfo(e['name'], date_time=(2024, 1, 1, 0, 0, 0))
            zi.create_system = 3
            zi.compress_type = zipfile.ZIP_DEFLATED
            t = e['type']
            if t == 'file':
                zi.external_attr = (0o100000 | e.get('mode', 0o644)) << 16
                zf.writestr(zi, data_of(e))
            elif t == 'dir':
                zi.external_attr = (0o040755 << 16) | 0x10
                zf.writestr(zi, b'')
            elif t == 'symlink':
                zi.external_attr = 0o120777 << 16
                zf.writestr(zi, e['target'].encode())
            elif t == 'chardev':
                zi.external_attr = 0o020644 << 16
                zf.writestr(zi, b'')
            else:
                raise SystemExit('type not supported for zip: ' + t)
else:
    raise SystemExit('bad format ' + fmt)

# Post-processing to craft what the libraries refuse to write.
buf = bytearray(open(out, 'rb').read())
for a, b in spec.get('replace', []):
    a, b = a.encode('latin1'), b.encode('latin1')
    assert len(a) == len(b) and a in buf
    buf = bytearray(bytes(buf).replace(a, b))
if 'lie_size' in spec:  # zip: claim another uncompressed size for one entry, in both its headers
    import struct
    name, size = spec['lie_size']['name'].encode(), spec['lie_size']['size']
    for sig, size_at, len_at, name_at in ((b'PK\x03\x04', 22, 26, 30), (b'PK\x01\x02', 24, 28, 46)):
        i = 0
        while (i := buf.find(sig, i)) >= 0:
            n = struct.unpack_from('<H', buf, i + len_at)[0]
            if bytes(buf[i + name_at:i + name_at + n]) == name:
                struct.pack_into('<I', buf, i + size_at, size)
            i += 4
open(out, 'wb').write(bytes(buf))
`;

let tmpRoot = '';
let counter = 0;

before(async () => {
  tmpRoot = await fsp.mkdtemp(path.join(os.tmpdir(), 'dsjobs-archive-test-'));
});

after(async () => {
  if (tmpRoot) await fsp.rm(tmpRoot, { recursive: true, force: true });
});

const EXT: Record<ArchiveKind, string> = { zip: '.zip', 'tar.gz': '.tar.gz', tar: '.tar' };

/** A fresh work dir with an empty `dest` inside it; returns both. */
async function workDir(): Promise<{ work: string; dest: string }> {
  const work = path.join(tmpRoot, `case-${++counter}`);
  const dest = path.join(work, 'dest');
  await fsp.mkdir(dest, { recursive: true });
  return { work, dest };
}

interface Tweaks {
  /** Same-length byte replacements applied to the finished archive (latin1 strings). */
  replace?: [string, string][];
  /** zip only: uncompressed size to claim for one entry. */
  lie_size?: { name: string; size: number };
}

function build(work: string, kind: ArchiveKind, entries: Spec[], tweaks: Tweaks = {}): string {
  const out = path.join(work, `archive${EXT[kind]}`);
  execFileSync('python3', ['-c', BUILDER, JSON.stringify({ out, format: kind, entries, ...tweaks })]);
  return out;
}

function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

async function assertArchiveError(p: Promise<unknown>, mentions: string[]): Promise<ArchiveError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, 'expected the archive to be refused');
  assert.ok(caught instanceof ArchiveError, `expected ArchiveError, got ${String(caught)}`);
  for (const m of mentions) {
    assert.ok(caught.message.includes(m), `message ${JSON.stringify(caught.message)} should mention ${JSON.stringify(m)}`);
  }
  return caught;
}

/**
 * Asserts that both inspect and extract refuse the archive with a message
 * naming `mentions`, that `outside` paths were never created, and that the
 * destination is left empty.
 */
async function expectRefused(
  kind: ArchiveKind,
  entries: Spec[] | ((work: string) => Spec[]),
  opts: {
    mentions: string[];
    outside?: (work: string) => string[];
    limits?: ArchiveLimits;
    prepare?: (work: string) => Promise<void>;
    tweaks?: Tweaks;
  },
): Promise<ArchiveError> {
  const { work, dest } = await workDir();
  await opts.prepare?.(work);
  const file = build(work, kind, typeof entries === 'function' ? entries(work) : entries, opts.tweaks);
  const outside = opts.outside?.(work) ?? [];
  for (const p of outside) assert.ok(!exists(p), `precondition: ${p} must not exist`);
  const workListing = (await fsp.readdir(work)).sort();

  await assertArchiveError(inspectArchive(file, kind, opts.limits), opts.mentions);
  assert.deepEqual(await fsp.readdir(dest), [], 'inspect must not write anything');

  const err = await assertArchiveError(extractArchive(file, kind, dest, opts.limits), opts.mentions);
  for (const p of outside) assert.ok(!exists(p), `${p} must not have been written`);
  assert.deepEqual(await fsp.readdir(dest), [], 'destDir must be left empty after a failed extract');
  // Nothing appeared next to dest either.
  assert.deepEqual((await fsp.readdir(work)).sort(), workListing);
  return err;
}

const benign: Spec[] = [
  { type: 'dir', name: 'top/' },
  { type: 'file', name: 'top/ok.txt', data: 'fine\n' },
];

// ---------------------------------------------------------------------------

test('archiveKindOf detects by extension, case-insensitively', () => {
  assert.equal(archiveKindOf('a.zip'), 'zip');
  assert.equal(archiveKindOf('A.ZIP'), 'zip');
  assert.equal(archiveKindOf('dir/a.tar.gz'), 'tar.gz');
  assert.equal(archiveKindOf('a.TGZ'), 'tar.gz');
  assert.equal(archiveKindOf('a.Tar'), 'tar');
  assert.equal(archiveKindOf('a.gz'), null);
  assert.equal(archiveKindOf('a.tar.bz2'), null);
  assert.equal(archiveKindOf('zip'), null);
  assert.deepEqual(
    { ...defaultArchiveLimits },
    { maxEntries: 100_000, maxTotalBytes: 8 * 1024 ** 3, maxRatio: 200 },
  );
});

const normalTree: Spec[] = [
  { type: 'dir', name: 'project/' },
  { type: 'dir', name: 'project/src/' },
  { type: 'dir', name: 'project/src/pkg/' },
  { type: 'file', name: 'project/src/pkg/data.txt', data: 'nested data\n' },
  { type: 'file', name: 'project/run.sh', data: '#!/bin/sh\necho hi\n', mode: 0o755 },
  { type: 'file', name: 'project/README.md', data: '# readme\n', mode: 0o600 },
  { type: 'file', name: 'project/empty.txt', data: '' },
  // parent directory not listed explicitly:
  { type: 'file', name: 'project/implicit/dir/file.txt', data: 'implicit\n' },
];

for (const kind of ['zip', 'tar.gz', 'tar'] as const) {
  test(`normal ${kind}: extracts nested dirs, content and the exec bit`, async () => {
    const { work, dest } = await workDir();
    const file = build(work, kind, normalTree);

    const infos = await inspectArchive(file, kind);
    assert.deepEqual(await fsp.readdir(dest), []);
    const byPath = new Map(infos.map((i) => [i.path, i]));
    assert.deepEqual([...byPath.keys()].sort(), [
      'project',
      'project/README.md',
      'project/empty.txt',
      'project/implicit/dir/file.txt',
      'project/run.sh',
      'project/src',
      'project/src/pkg',
      'project/src/pkg/data.txt',
    ]);
    assert.equal(byPath.get('project')?.type, 'directory');
    assert.deepEqual(byPath.get('project/run.sh'), {
      path: 'project/run.sh',
      type: 'file',
      size: 18,
      mode: 0o755,
    });
    assert.equal(byPath.get('project/README.md')?.mode, 0o644);

    await extractArchive(file, kind, dest);
    assert.equal(await fsp.readFile(path.join(dest, 'project/src/pkg/data.txt'), 'utf8'), 'nested data\n');
    assert.equal(await fsp.readFile(path.join(dest, 'project/implicit/dir/file.txt'), 'utf8'), 'implicit\n');
    assert.equal(await fsp.readFile(path.join(dest, 'project/run.sh'), 'utf8'), '#!/bin/sh\necho hi\n');
    assert.equal(await fsp.readFile(path.join(dest, 'project/empty.txt'), 'utf8'), '');
    const runMode = (await fsp.stat(path.join(dest, 'project/run.sh'))).mode & 0o7777;
    assert.equal(runMode & 0o100, 0o100, 'script must be executable');
    const readmeMode = (await fsp.stat(path.join(dest, 'project/README.md'))).mode & 0o7777;
    assert.equal(readmeMode & 0o111, 0, 'plain file must not be executable');
    assert.equal(readmeMode & 0o400, 0o400, 'plain file must be readable');
    assert.deepEqual(await fsp.readdir(work), [path.basename(file), 'dest'].sort());
  });
}

test('tar.gz: in-root symlinks are kept as symlinks, in-root hard links are copied', async () => {
  const { work, dest } = await workDir();
  const file = build(work, 'tar.gz', [
    { type: 'dir', name: './' },
    { type: 'file', name: './top/lib/real.txt', data: 'real\n' },
    { type: 'symlink', name: './top/link.txt', target: 'lib/real.txt' },
    { type: 'symlink', name: './top/lib/up', target: '..' },
    { type: 'hardlink', name: './top/hard.txt', target: './top/lib/real.txt' },
  ]);
  const infos = await inspectArchive(file, 'tar.gz');
  assert.deepEqual(
    infos.map((i) => [i.path, i.type]),
    [
      ['top/lib/real.txt', 'file'],
      ['top/link.txt', 'symlink'],
      ['top/lib/up', 'symlink'],
      ['top/hard.txt', 'file'],
    ],
  );
  await extractArchive(file, 'tar.gz', dest);
  const link = path.join(dest, 'top/link.txt');
  assert.ok((await fsp.lstat(link)).isSymbolicLink());
  assert.equal(await fsp.readlink(link), 'lib/real.txt');
  assert.equal(await fsp.readFile(link, 'utf8'), 'real\n');
  const hard = path.join(dest, 'top/hard.txt');
  assert.ok((await fsp.lstat(hard)).isFile());
  assert.equal(await fsp.readFile(hard, 'utf8'), 'real\n');
});

test('zip: in-root symlink entries (S_IFLNK) are created as symlinks', async () => {
  const { work, dest } = await workDir();
  const file = build(work, 'zip', [
    { type: 'file', name: 'top/real.txt', data: 'real\n' },
    { type: 'symlink', name: 'top/link.txt', target: 'real.txt' },
  ]);
  await extractArchive(file, 'zip', dest);
  const link = path.join(dest, 'top/link.txt');
  assert.ok((await fsp.lstat(link)).isSymbolicLink());
  assert.equal(await fsp.readFile(link, 'utf8'), 'real\n');
});

test('setuid/setgid/sticky bits are dropped, exec bit kept', async () => {
  for (const kind of ['tar.gz', 'zip'] as const) {
    const { work, dest } = await workDir();
    const file = build(work, kind, [
      { type: 'file', name: 'suid', data: 'x', mode: 0o4755 },
      { type: 'file', name: 'sgid', data: 'x', mode: 0o2644 },
      { type: 'file', name: 'sticky', data: 'x', mode: 0o1777 },
    ]);
    await extractArchive(file, kind, dest);
    const mode = async (n: string) => (await fsp.stat(path.join(dest, n))).mode & 0o7777;
    assert.equal(await mode('suid'), 0o755);
    assert.equal(await mode('sgid'), 0o644);
    assert.equal(await mode('sticky'), 0o755);
  }
});

test('duplicate entries: the later one wins', async () => {
  const { work, dest } = await workDir();
  const file = build(work, 'tar.gz', [
    { type: 'file', name: 'a.txt', data: 'first' },
    { type: 'file', name: 'a.txt', data: 'second' },
  ]);
  const infos = await inspectArchive(file, 'tar.gz');
  assert.deepEqual(infos, [{ path: 'a.txt', type: 'file', size: 6, mode: 0o644 }]);
  await extractArchive(file, 'tar.gz', dest);
  assert.equal(await fsp.readFile(path.join(dest, 'a.txt'), 'utf8'), 'second');
});

test('zip: __MACOSX entries are skipped silently', async () => {
  const { work, dest } = await workDir();
  const file = build(work, 'zip', [
    { type: 'file', name: 'top/a.txt', data: 'a' },
    { type: 'dir', name: '__MACOSX/' },
    { type: 'file', name: '__MACOSX/top/._a.txt', data: 'junk' },
  ]);
  const infos = await inspectArchive(file, 'zip');
  assert.deepEqual(
    infos.map((i) => i.path),
    ['top/a.txt'],
  );
  await extractArchive(file, 'zip', dest);
  assert.deepEqual(await fsp.readdir(dest), ['top']);
  assert.deepEqual(await fsp.readdir(path.join(dest, 'top')), ['a.txt']);
});

// ---------------------------------------------------------------------------
// Refusals

for (const kind of ['zip', 'tar.gz'] as const) {
  test(`${kind}: refuses '../evil'`, async () => {
    const err = await expectRefused(kind, [...benign, { type: 'file', name: '../evil', data: 'pwned' }], {
      mentions: ["'../evil'", 'outside the artifact directory'],
      outside: (work) => [path.join(work, 'evil')],
    });
    assert.match(err.message, /^archive entry '\.\.\/evil' would be written outside the artifact directory/);
  });

  test(`${kind}: refuses a nested '..' that climbs out`, async () => {
    await expectRefused(kind, [...benign, { type: 'file', name: 'top/../../evil2', data: 'pwned' }], {
      mentions: ["'top/../../evil2'"],
      outside: (work) => [path.join(work, 'evil2')],
    });
  });

  test(`${kind}: refuses an absolute path`, async () => {
    await expectRefused(kind, [...benign, { type: 'file', name: '/tmp/dsjobs-archive-test-evil', data: 'pwned' }], {
      mentions: ["'/tmp/dsjobs-archive-test-evil'", 'absolute'],
      outside: () => ['/tmp/dsjobs-archive-test-evil'],
    });
  });

  test(`${kind}: refuses a symlink to /etc/passwd`, async () => {
    await expectRefused(kind, [...benign, { type: 'symlink', name: 'top/passwd', target: '/etc/passwd' }], {
      mentions: ["'top/passwd'", '/etc/passwd'],
    });
  });

  test(`${kind}: refuses a symlink 'a -> ..' and a write through it`, async () => {
    await expectRefused(
      kind,
      [...benign, { type: 'symlink', name: 'a', target: '..' }, { type: 'file', name: 'a/escaped.txt', data: 'x' }],
      { mentions: ["'a'", 'outside the artifact directory'], outside: (work) => [path.join(work, 'escaped.txt')] },
    );
  });

  test(`${kind}: refuses a symlink to an absolute dir followed by a write through it`, async () => {
    // like `d -> /tmp` then `d/x`, but aimed at a directory of our own
    await expectRefused(
      kind,
      (work) => [
        ...benign,
        { type: 'symlink', name: 'd', target: path.join(work, 'outside') },
        { type: 'file', name: 'd/x', data: 'x' },
      ],
      {
        mentions: ["'d'", 'outside the artifact directory'],
        prepare: (work) => fsp.mkdir(path.join(work, 'outside')),
        outside: (work) => [path.join(work, 'outside', 'x')],
      },
    );
  });
}

test('zip: refuses backslash and drive-letter paths', async () => {
  await expectRefused('zip', [...benign, { type: 'file', name: '..\\evil-bs', data: 'x' }], {
    mentions: ["'../evil-bs'"],
    outside: (work) => [path.join(work, 'evil-bs'), path.join(work, '..\\evil-bs')],
  });
  await expectRefused('zip', [...benign, { type: 'file', name: 'C:/evil', data: 'x' }], {
    mentions: ["'C:/evil'", 'absolute'],
  });
});

test('zip: refuses a name with a NUL byte', async () => {
  await expectRefused('zip', [...benign, { type: 'file', name: 'top/evil#name.txt', data: 'x' }], {
    tweaks: { replace: [['evil#name', 'evil\u0000name']] },
    mentions: ["'top/evil\\x00name.txt'", 'NUL'],
  });
});

test('zip: refuses an entry whose real size is larger than its header says', async () => {
  await expectRefused(
    'zip',
    [...benign, { type: 'file', name: 'top/liar.bin', zeros: 100_000 }],
    { tweaks: { lie_size: { name: 'top/liar.bin', size: 10 } }, mentions: ['archive is not a valid zip file', "'top/liar.bin'"] },
  );
});

test('a file entry replaces an earlier symlink instead of writing through it', async () => {
  for (const kind of ['tar.gz', 'zip'] as const) {
    const { work, dest } = await workDir();
    const file = build(work, kind, [
      { type: 'file', name: 'b.txt', data: 'original' },
      { type: 'symlink', name: 'a.txt', target: 'b.txt' },
      { type: 'file', name: 'a.txt', data: 'replacement' },
    ]);
    await extractArchive(file, kind, dest);
    assert.ok((await fsp.lstat(path.join(dest, 'a.txt'))).isFile());
    assert.equal(await fsp.readFile(path.join(dest, 'a.txt'), 'utf8'), 'replacement');
    assert.equal(await fsp.readFile(path.join(dest, 'b.txt'), 'utf8'), 'original');
  }
});

test('tar.gz: refuses a write through a symlink that escapes only after resolving other symlinks', async () => {
  // p -> d1/l/..  (d1/l does not exist yet, so p looks harmless)
  // d1/l -> ..     (harmless on its own: points at the root)
  // now p resolves to <dest>/.. ; writing p/x would land next to dest.
  await expectRefused(
    'tar.gz',
    [
      ...benign,
      { type: 'symlink', name: 'p', target: 'd1/l/..' },
      { type: 'dir', name: 'd1/' },
      { type: 'symlink', name: 'd1/l', target: '..' },
      { type: 'file', name: 'p/x', data: 'pwned' },
    ],
    {
      mentions: ["'p/x'", 'through a symbolic link'],
      outside: (work) => [path.join(work, 'x')],
    },
  );
});

test('tar.gz: refuses a symlink that only escapes once a later symlink exists', async () => {
  await expectRefused(
    'tar.gz',
    [
      ...benign,
      { type: 'symlink', name: 'p', target: 'd1/l/..' },
      { type: 'symlink', name: 'd1/l', target: '..' },
    ],
    { mentions: ["'p'", 'outside the artifact directory'] },
  );
});

test('tar.gz: a symlink whose target is an earlier in-root symlink that climbs out is refused', async () => {
  await expectRefused(
    'tar.gz',
    [
      ...benign,
      { type: 'symlink', name: 'd1/l', target: '..' },
      { type: 'symlink', name: 'q', target: 'd1/l/../x' },
    ],
    { mentions: ["'q'"] },
  );
});

test('tar.gz: refuses a hard link to ../../etc/passwd', async () => {
  await expectRefused('tar.gz', [...benign, { type: 'hardlink', name: 'top/passwd', target: '../../etc/passwd' }], {
    mentions: ["'top/passwd'", '../../etc/passwd'],
  });
});

test('tar.gz: refuses a hard link to an absolute path and to a missing entry', async () => {
  await expectRefused('tar.gz', [...benign, { type: 'hardlink', name: 'top/passwd', target: '/etc/passwd' }], {
    mentions: ["'top/passwd'", '/etc/passwd'],
  });
  await expectRefused('tar.gz', [...benign, { type: 'hardlink', name: 'top/h', target: 'top/missing' }], {
    mentions: ["'top/h'", 'not a regular file earlier in the archive'],
  });
});

test('tar.gz: a hard link target is never resolved through a symlink to outside', async () => {
  // Physically, d1/l/../x is <dest>/../x, which exists; it must not be copied in.
  await expectRefused(
    'tar.gz',
    [...benign, { type: 'symlink', name: 'd1/l', target: '..' }, { type: 'hardlink', name: 'h', target: 'd1/l/../x' }],
    { mentions: ["'h'"], prepare: (work) => fsp.writeFile(path.join(work, 'x'), 'secret') },
  );
});

test('tar: refuses device and FIFO entries', async () => {
  for (const kind of ['tar', 'tar.gz'] as const) {
    await expectRefused(kind, [...benign, { type: 'chardev', name: 'top/null' }], {
      mentions: ["'top/null'", 'character device'],
    });
    await expectRefused(kind, [...benign, { type: 'fifo', name: 'top/fifo' }], {
      mentions: ["'top/fifo'", 'FIFO'],
    });
  }
});

test('zip: refuses device entries', async () => {
  await expectRefused('zip', [...benign, { type: 'chardev', name: 'top/null' }], {
    mentions: ["'top/null'", 'character device'],
  });
});

const small = (over: Partial<ArchiveLimits>): ArchiveLimits => ({ ...defaultArchiveLimits, ...over });

for (const kind of ['zip', 'tar.gz'] as const) {
  test(`${kind}: entry-count cap`, async () => {
    const entries: Spec[] = [1, 2, 3, 4, 5].map((i) => ({ type: 'file', name: `f${i}.txt`, data: `${i}` }));
    await expectRefused(kind, entries, { mentions: ['more than 3 entries', "'f4.txt'"], limits: small({ maxEntries: 3 }) });
    // exactly at the cap is fine
    const { work, dest } = await workDir();
    const file = build(work, kind, entries.slice(0, 3));
    await extractArchive(file, kind, dest, small({ maxEntries: 3 }));
    assert.equal((await fsp.readdir(dest)).length, 3);
  });

  test(`${kind}: total-bytes cap`, async () => {
    await expectRefused(
      kind,
      [
        { type: 'file', name: 'a.bin', random: 600 },
        { type: 'file', name: 'b.bin', random: 600 },
      ],
      { mentions: ["'b.bin'", 'over the limit of 1000 bytes'], limits: small({ maxTotalBytes: 1000 }) },
    );
  });

  test(`${kind}: compression-ratio cap (20 MiB of zeros, maxRatio 10)`, async () => {
    const entries: Spec[] = [...benign, { type: 'file', name: 'top/zeros.bin', zeros: 20 * 1024 * 1024 }];
    await expectRefused(kind, entries, {
      mentions: ["'top/zeros.bin'", 'more than 10 times'],
      limits: small({ maxRatio: 10 }),
    });
  });
}

test('ratio cap is not applied to small archives', async () => {
  const { work, dest } = await workDir();
  const file = build(work, 'tar.gz', [{ type: 'file', name: 'zeros.bin', zeros: 1024 * 1024 }]);
  await extractArchive(file, 'tar.gz', dest, small({ maxRatio: 2 }));
  assert.equal((await fsp.stat(path.join(dest, 'zeros.bin'))).size, 1024 * 1024);
});

test('tar.gz: hard links count towards the total-bytes cap', async () => {
  await expectRefused(
    'tar.gz',
    [
      { type: 'file', name: 'big.bin', random: 600 },
      { type: 'hardlink', name: 'copy.bin', target: 'big.bin' },
    ],
    { mentions: ["'copy.bin'", 'over the limit'], limits: small({ maxTotalBytes: 1000 }) },
  );
});

test('corrupt archives are refused as invalid', async () => {
  for (const kind of ['zip', 'tar.gz', 'tar'] as const) {
    const { work, dest } = await workDir();
    const file = path.join(work, `random${EXT[kind]}`);
    for (const prefix of [[], [0x1f, 0x8b, 0x08, 0x00]]) {
      const junk = randomBytes(64 * 1024);
      Buffer.from(prefix).copy(junk); // also: a gzip header followed by garbage
      await fsp.writeFile(file, junk);
      await assertArchiveError(inspectArchive(file, kind), [`archive is not a valid ${kind} file`]);
      await assertArchiveError(extractArchive(file, kind, dest), [`archive is not a valid ${kind} file`]);
      assert.deepEqual(await fsp.readdir(dest), []);
    }
  }
});

test('truncated archives are refused and leave nothing behind', async () => {
  for (const kind of ['zip', 'tar.gz', 'tar'] as const) {
    const { work, dest } = await workDir();
    const good = build(work, kind, [
      { type: 'file', name: 'top/a.bin', random: 200_000 },
      { type: 'file', name: 'top/b.bin', random: 200_000 },
    ]);
    const buf = await fsp.readFile(good);
    const cut = path.join(work, `cut${EXT[kind]}`);
    await fsp.writeFile(cut, buf.subarray(0, Math.floor(buf.length * 0.75)));
    await assertArchiveError(inspectArchive(cut, kind), [`archive is not a valid ${kind} file`]);
    await assertArchiveError(extractArchive(cut, kind, dest), [`archive is not a valid ${kind} file`]);
    assert.deepEqual(await fsp.readdir(dest), []);
  }
});

test('extractArchive refuses a non-empty destination', async () => {
  const { work, dest } = await workDir();
  const file = build(work, 'tar.gz', benign);
  await fsp.writeFile(path.join(dest, 'existing'), 'x');
  await assert.rejects(extractArchive(file, 'tar.gz', dest), /not empty/);
  assert.deepEqual(await fsp.readdir(dest), ['existing']);
});
