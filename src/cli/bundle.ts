// The artifact of a spec whose runtime brings a driver (gitPython, notebook): the generated files, with the spec's
// own file or directory under code/, laid out in a temporary directory for uploadArtifact.
import { promises as fsp, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { JobSpecResult } from '../job-spec/job-spec.js';

/** The path to upload (a file, or a directory uploaded as .tar.gz of its contents) and how to remove it. */
export async function bundleArtifact(spec: JobSpecResult, artifactPath = spec.artifactPath): Promise<{ path: string; remove(): Promise<void> }> {
  const files = spec.generatedFiles ?? [];
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'dsjobs-bundle-'));
  const remove = () => fsp.rm(tmp, { recursive: true, force: true });
  try {
    if (files.length === 1 && !artifactPath && !spec.artifactEntrypoint) {
      const file = path.join(tmp, files[0].name);
      await fsp.writeFile(file, files[0].content);
      return { path: file, remove };
    }
    const dir = path.join(tmp, 'artifact');
    await fsp.mkdir(dir);
    for (const f of files) await fsp.writeFile(path.join(dir, f.name), f.content);
    if (artifactPath) {
      const code = path.join(dir, 'code');
      if (statSync(artifactPath).isDirectory()) await fsp.cp(artifactPath, code, { recursive: true });
      else {
        await fsp.mkdir(code);
        await fsp.copyFile(artifactPath, path.join(code, path.basename(artifactPath)));
      }
    }
    return { path: dir, remove };
  } catch (e) {
    await remove();
    throw e;
  }
}
