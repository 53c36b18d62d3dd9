// Browser stand-in for node:fs, for src/cli/job-spec.ts only. The console has no file system: the artifact a
// pasted spec names is the file the user picked, so `statSync` answers "a file" for the picked file's name (in the
// spec's directory or any other: the spec was written for another machine's paths) and "nothing there" for every
// other name. Directory artifacts cannot be picked.

let picked: string | null = null;

/** Sets the name of the file the user picked for the spec's artifact (null: none). */
export function setPickedFile(name: string | null): void {
  picked = name;
}

interface StatLike {
  isFile(): boolean;
  isDirectory(): boolean;
}

export function statSync(p: string, _opts?: { throwIfNoEntry?: boolean }): StatLike | undefined {
  if (picked !== null && p.slice(p.lastIndexOf('/') + 1) === picked) return { isFile: () => true, isDirectory: () => false };
  return undefined;
}

export default { statSync };
