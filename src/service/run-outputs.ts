import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { formatOciUri, parseOciUri, type OciUri } from '../domain/output-uri.js';
import type { BucketRecord } from '../store/object-store.js';
import type { RunRecord } from '../store/records.js';
import type { ObjectStorageService } from './object-storage.js';

/**
 * Where the notebook driver (job-spec/drivers/notebook-driver.ts) writes the executed notebook, relative to the run's
 * working directory, whatever the notebook's own name and place: the server keeps it from there.
 */
export const EXECUTED_NOTEBOOK_FILE = '.dsjobs-executed.ipynb';
/** The executed notebook kept with a run, in its run directory (removed with the run). */
const KEPT_NOTEBOOK = 'executed-notebook.ipynb';
/** A notebook larger than this (outputs holding images, say) is not kept: it would be served whole to the console. */
export const MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024;
/** Files named one by one in the run's log; past this, one line counts the rest (a run may write thousands). */
const LISTED_FILES = 100;

const OBJECT_HEADERS = { contentLanguage: null, contentEncoding: null, contentDisposition: null, cacheControl: null, metadata: {} };

async function* walk(dir: string, rel = ''): AsyncGenerator<string> {
  const entries = await fsp.readdir(path.join(dir, rel), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    // Symbolic links are never followed: a run could otherwise have the server copy any file it can read.
    if (e.isDirectory()) yield* walk(dir, r);
    else if (e.isFile()) yield r;
  }
}

const inside = (root: string, p: string) => p === root || p.startsWith(root + path.sep);

/** What one run's end copied: for its log (lines) and its lifecycleDetails (note). */
interface Outcome {
  lines: string[];
  note: string | null;
}

/**
 * ADS's run outputs, served by the server (docs/ads-runtimes.md#run-outputs): when a run ends, successfully or not,
 * and before its final state is written (so whatever its success starts finds them), its OUTPUT_DIR is copied to
 * its `oci://` OUTPUT_URI in this server's Object Storage, and a notebook run's executed notebook is kept with the
 * run (and copied there too). It reads the run's working directory once nothing of the run runs any more (the
 * executors' cleanup hook), so no file is copied while the run still writes it. What was copied is appended to the
 * run's log; failures (no such bucket, not authorized) go to its lifecycleDetails.
 */
export class RunOutputs {
  constructor(
    private readonly objects: ObjectStorageService,
    /** The runs' directories (one per run id): the kept notebook lives in its run's. */
    private readonly runsDir: string,
    private readonly opts: {
      /** Refuses (throws) when neither the run's principal nor its creator may write the bucket; absent: no authorization. */
      authorize?: (run: RunRecord, bucket: BucketRecord) => Promise<void>;
      log?: { error(obj: unknown, msg: string): void };
    } = {},
  ) {}

  /** Whether the run has anything for collect() to do (most runs have not: their end is not delayed). */
  wants(run: RunRecord): boolean {
    return run.launch.env.JOB_RUN_NOTEBOOK !== undefined || /^oci:\/\//i.test(run.launch.env.OUTPUT_URI ?? '');
  }

  /**
   * Keeps the executed notebook and copies the outputs; appends what was done to `logFile` (the run's stdout, not yet
   * fully captured). Never throws: returns the note for lifecycleDetails (null: nothing worth saying there).
   */
  async collect(run: RunRecord, workDir: string, logFile: string): Promise<string | null> {
    let out: Outcome;
    try {
      out = await this.copy(run, workDir);
    } catch (err) {
      this.opts.log?.error({ runId: run.id, err }, "copying a run's outputs failed");
      out = { lines: [`outputs not copied: ${(err as Error).message}`], note: `Outputs were not copied: ${(err as Error).message.slice(0, 300)}.` };
    }
    if (out.lines.length > 0) await this.appendLog(logFile, out.lines).catch((err) => this.opts.log?.error({ runId: run.id, err }, "writing a run's outputs to its log failed"));
    return out.note;
  }

  /** Where the executed notebook kept with the run is (absent: not a notebook run, or it wrote none). */
  notebookFile(runId: string): string {
    return path.join(this.runsDir, runId, KEPT_NOTEBOOK);
  }

  /** Removes what is kept with a deleted run. */
  async remove(runId: string): Promise<void> {
    await fsp.rm(path.join(this.runsDir, runId, KEPT_NOTEBOOK), { force: true });
  }

  private async copy(run: RunRecord, workDir: string): Promise<Outcome> {
    const env = run.launch.env;
    const lines: string[] = [];
    const root = await fsp.realpath(workDir).catch(() => null);
    // The workspace is gone (a cleanup that ran before a restart): there is nothing left to copy, and nothing to say.
    if (!root) return { lines, note: null };
    const notebook = env.JOB_RUN_NOTEBOOK !== undefined ? await this.keepNotebook(run.id, root, notebookName(env.JOB_RUN_NOTEBOOK), lines) : null;
    const uriText = expandVariables(env.OUTPUT_URI ?? '', { ...env, JOB_RUN_OCID: run.id });
    if (!/^oci:\/\//i.test(uriText)) return { lines, note: null };
    let uri: OciUri;
    try {
      uri = parseOciUri(uriText, 'OUTPUT_URI');
    } catch (e) {
      return this.refused(lines, uriText, (e as Error).message);
    }
    const dest = formatOciUri(uri);
    if (uri.namespace !== this.objects.namespace) return this.refused(lines, dest, `namespace '${uri.namespace}' is not this server's ('${this.objects.namespace}')`);
    let bucket: BucketRecord;
    try {
      bucket = await this.objects.getBucket(uri.bucket);
    } catch {
      return this.refused(lines, dest, `bucket '${uri.bucket}' does not exist`);
    }
    try {
      await this.opts.authorize?.(run, bucket);
    } catch (e) {
      return this.refused(lines, dest, `not authorized: ${(e as Error).message}`);
    }
    const files: { from: string; name: string; label: string }[] = [];
    const dir = env.OUTPUT_DIR;
    let missing: string | null = null;
    if (dir) {
      const base = env.GIT_URL !== undefined ? codeDir(root, env.CODE_DIR) : root;
      const src = base ? await fsp.realpath(path.join(base, dir)).catch(() => null) : null;
      if (!src || !inside(root, src) || !(await fsp.stat(src)).isDirectory()) {
        missing = dir;
      } else {
        for await (const rel of walk(src)) files.push({ from: path.join(src, rel), name: uri.prefix + rel, label: `${dir.replace(/\/+$/, '')}/${rel}` });
      }
    }
    if (notebook) files.push({ from: notebook.file, name: uri.prefix + notebook.name, label: `the executed notebook` });
    if (missing !== null) lines.push(`outputs: OUTPUT_DIR '${missing}' does not exist in the run's working directory: nothing of it copied`);
    else if (!dir && !notebook) lines.push(`outputs: OUTPUT_URI ${dest} is set without OUTPUT_DIR: nothing to copy`);
    let bytes = 0;
    let copied = 0;
    let lineCount = 0;
    const failed: string[] = [];
    // At most LISTED_FILES lines, copied or not: a failed run's DSJOBS_FAILURE line must stay among the log's last 200.
    const line = (l: string) => void (lineCount++ < LISTED_FILES && lines.push(l));
    for (const f of files) {
      try {
        const st = await fsp.lstat(f.from);
        // A hard link made by the run could name a file of the host's that the server, not the run, may read.
        if (st.nlink > 1) throw new Error('a hard link: the file it names may not be the run\'s own');
        const o = await this.objects.putObject(uri.bucket, f.name, createReadStream(f.from, { highWaterMark: 1 << 20 }), {
          expectedSize: st.size,
          headers: { contentType: f.name.endsWith('.ipynb') ? 'application/x-ipynb+json' : 'application/octet-stream', ...OBJECT_HEADERS },
        });
        copied++;
        bytes += o.size;
        line(`outputs: ${f.label} -> oci://${uri.bucket}@${uri.namespace}/${f.name} (${o.size} bytes, md5 ${o.md5})`);
      } catch (e) {
        failed.push(`${f.label}: ${(e as Error).message}`);
        line(`outputs: ${f.label} not copied: ${(e as Error).message}`);
      }
    }
    if (lineCount > LISTED_FILES) lines.push(`outputs: ... and ${lineCount - LISTED_FILES} more file(s) (the summary below counts them)`);
    lines.push(`outputs: copied ${copied} file(s), ${bytes} bytes, to ${dest}${failed.length ? `; ${failed.length} failed` : ''}`);
    const note = failed.length
      ? `Outputs copied to ${dest}: ${copied} file(s), ${bytes} bytes; ${failed.length} file(s) failed: ${failed.slice(0, 3).join('; ').slice(0, 400)}.`
      : `Outputs copied to ${dest}: ${copied} file(s), ${bytes} bytes.`;
    return { lines, note };
  }

  private refused(lines: string[], dest: string, why: string): Outcome {
    lines.push(`outputs: not copied to ${dest}: ${why}`);
    return { lines, note: `Outputs not copied to ${dest}: ${why}.` };
  }

  /** Keeps the executed notebook the driver wrote (atomically: a reader sees the whole file or none). */
  private async keepNotebook(runId: string, root: string, name: string, lines: string[]): Promise<{ file: string; name: string } | null> {
    const from = path.join(root, EXECUTED_NOTEBOOK_FILE);
    const st = await fsp.lstat(from).catch(() => null);
    if (!st) {
      lines.push('outputs: the run wrote no executed notebook (it ended before the notebook driver did)');
      return null;
    }
    if (!st.isFile() || st.nlink > 1) {
      lines.push(`outputs: ${EXECUTED_NOTEBOOK_FILE} is not a regular file of the run's own (a link?): not kept`);
      return null;
    }
    if (st.size > MAX_NOTEBOOK_BYTES) {
      lines.push(`outputs: the executed notebook is ${st.size} bytes, over the ${MAX_NOTEBOOK_BYTES} kept with a run: not kept`);
      return null;
    }
    const kept = this.notebookFile(runId);
    const tmp = `${kept}.tmp`;
    await fsp.copyFile(from, tmp);
    await fsp.rename(tmp, kept);
    lines.push(`outputs: the executed notebook (${st.size} bytes) is kept with the run (GET /jobRuns/${runId}/notebook)`);
    return { file: kept, name };
  }

  private async appendLog(file: string, lines: string[]): Promise<void> {
    const st = await fsp.stat(file).catch(() => null);
    let lead = '';
    if (st && st.size > 0) {
      const fh = await fsp.open(file, 'r');
      try {
        const b = Buffer.alloc(1);
        await fh.read(b, 0, 1, st.size - 1);
        // The run's last line may lack its newline: ours start on a line of their own.
        if (b[0] !== 0x0a) lead = '\n';
      } finally {
        await fh.close();
      }
    }
    await fsp.appendFile(file, lead + lines.map((l) => `[dsjobs] ${l}\n`).join(''));
  }
}

/** The directory a gitPython run cloned into (the driver's CODE_DIR, relative to the working directory). */
function codeDir(root: string, codeDirVar: string | undefined): string | null {
  const d = codeDirVar || 'code';
  return path.isAbsolute(d) ? null : path.join(root, d);
}

/** The executed notebook's object name: the notebook's own (JOB_RUN_NOTEBOOK, a path in the artifact or a URL). */
function notebookName(notebook: string): string {
  const base = notebook.replace(/[?#].*$/, '').split('/').filter(Boolean).pop() ?? '';
  return /\.ipynb$/i.test(base) ? base : 'notebook.ipynb';
}

/**
 * `${NAME}` and `$NAME` replaced by the run's variables, as ADS's drivers expand OUTPUT_URI inside the run (its
 * samples write `oci://bucket@ns/prefix/${JOB_RUN_OCID}`); names the run does not have stay as written.
 */
export function expandVariables(s: string, env: Record<string, string>): string {
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (all, a?: string, b?: string) => env[(a ?? b)!] ?? all);
}
