/**
 * What the job-spec reader may look at on the machine it runs on: what is at a path, and the user's home (for `~/`).
 * The CLI answers from the file system (cli/spec-files.ts); the web console, which has none, answers from the file
 * the user picked. Paths are POSIX and absolute.
 */
export interface SpecFiles {
  kind(absolutePath: string): 'file' | 'directory' | 'other' | null;
  readonly home: string;
}
