import { readdirSync, readFileSync } from 'node:fs';

/** Every host process's pid and argv (zombies and processes gone meanwhile, whose cmdline is empty, left out). */
export function processArgv(): { pid: number; argv: string[] }[] {
  const out: { pid: number; argv: string[] }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmd) out.push({ pid: Number(d), argv: cmd.split('\0').filter(Boolean) });
  }
  return out;
}

/** Whether a process exists (a zombie counts until it is reaped). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
