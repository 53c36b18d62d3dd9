// `dsjobs job get JOB --yaml [--artifact-dir DIR]`: the job as an ADS YAML spec (job-spec/to-ads.ts). With DIR, the
// code the runtime needs is saved there (a python or script artifact as uploaded; a notebook's packed code/), and
// the spec names it, so `dsjobs job create -f` of the spec makes an equivalent job.
import { createWriteStream, existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'yaml';
import type { DsJobsClient, Job } from '../sdk/client.js';
import { adsRuntimeOf, jobToAds, type SavedArtifact } from '../job-spec/to-ads.js';

/** The file name an artifact was uploaded under, from its content-disposition (RFC 6266 filename* first). */
export function artifactFileName(disposition: string | null): string | null {
  if (!disposition) return null;
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  if (star) return decodeURIComponent(star[1]);
  const plain = /filename="((?:[^"\\]|\\.)*)"|filename=([^;]+)/i.exec(disposition);
  return plain ? (plain[1] ?? plain[2]).replace(/\\(.)/g, '$1').trim() : null;
}

export async function jobAsAdsYaml(api: DsJobsClient, job: Job, artifactDir?: string): Promise<{ yaml: string; warnings: string[] }> {
  const type = adsRuntimeOf(job);
  const env = job.jobConfigurationDetails?.environmentVariables ?? {};
  const saved: SavedArtifact = {};
  let name: string | null = null;
  const needsCode = type === 'script' || type === 'pyTorchDistributed' || (type === 'notebook' && !/^https?:\/\//i.test(env.JOB_RUN_NOTEBOOK ?? ''));
  if (needsCode && job.lifecycleState === 'ACTIVE') {
    const res = await api.getArtifact(job.id);
    name = artifactFileName(res.headers.get('content-disposition'));
    if (!artifactDir || !res.body) {
      await res.body?.cancel();
    } else {
      const dir = path.resolve(artifactDir);
      await fsp.mkdir(dir, { recursive: true });
      const file = path.join(dir, path.basename(name ?? 'artifact'));
      await pipeline(Readable.fromWeb(res.body as never), createWriteStream(file));
      if (type === 'script') saved.file = file;
      else {
        // The bundle of a runtime with a driver (cli/bundle.ts): the driver at the top, the spec's code under code/.
        const tar = await import('tar');
        await tar.x({ file, cwd: dir, filter: (p) => p === 'code' || p.startsWith('code/') || p.startsWith('./code/') });
        await fsp.rm(file);
        // A bundle without code of its own (a gitPython-style driver alone) has no code/ to name.
        if (existsSync(path.join(dir, 'code'))) saved.codeDir = path.join(dir, 'code');
      }
    }
  }
  const { doc, warnings } = jobToAds(job as never, saved, name);
  return { yaml: stringify(doc, { lineWidth: 0 }), warnings };
}
