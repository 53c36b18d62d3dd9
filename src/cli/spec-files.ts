import fs from 'node:fs';
import os from 'node:os';
import type { SpecFiles } from '../job-spec/job-spec.js';

/** The job-spec reader's view of this machine: the file system, and HOME (else the account's home) for `~/`. */
export function localSpecFiles(env: NodeJS.ProcessEnv = process.env): SpecFiles {
  return {
    kind(p) {
      const st = fs.statSync(p, { throwIfNoEntry: false });
      return !st ? null : st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
    },
    home: env.HOME || os.homedir(),
  };
}
