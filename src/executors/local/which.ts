import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Resolves a command against the server's PATH once, so a run's own PATH cannot swap its interpreter. `accept`: a
 * further condition on each candidate (that the run user can execute it: a shim under root's 0700 home cannot be).
 */
export function which(command: string, envPath = process.env.PATH ?? '', accept: (file: string) => boolean = () => true): string | null {
  if (command.includes('/')) return isExecutable(command) && accept(command) ? path.resolve(command) : null;
  for (const dir of envPath.split(':')) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (isExecutable(candidate) && accept(candidate)) return candidate;
  }
  return null;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The native supervisor (supervisor.c and sandbox.c, built next to this module by npm run build), or null. */
export function nativeSupervisor(): string | null {
  const p = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dsjobs-supervisor');
  return isExecutable(p) ? p : null;
}
