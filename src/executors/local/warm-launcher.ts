import path from 'node:path';
import { createRunCgroupsAsync, emptyAndRemoveCgroups, joinDirs, type CgroupHost, type RunCgroups } from './cgroups.js';
import { runUserOption, type RunUser } from './run-user.js';
import { sandboxCommand, type SandboxHost } from './sandbox.js';
import type { NativeSpawner } from './spawners.js';
import { BASE_ENV, type SupervisorCommands } from './supervisor-command.js';
import type { WarmLauncher, WarmSandbox } from './warm-sandboxes.js';
import { makeSpaceDirsAsync, spaceDirs } from './workspace.js';

/** A warm sandbox's cgroup limits until its run's replace them: room for bwrap and the waiting supervisor. */
export const WARM_LIMITS = { cpus: 1, memoryBytes: 256 * 1024 ** 2, pidsMax: 64 };

export interface WarmLauncherOptions {
  runUser: RunUser;
  cgroups: CgroupHost;
  sandbox: SandboxHost;
  dataDir: string;
  commands: SupervisorCommands;
  /** The native spawner, made on first use. */
  spawner: () => NativeSpawner;
  /** The native spawner if one is running (giving up or watching a warm sandbox never starts one). */
  running: () => NativeSpawner | null;
  /** A new warm sandbox's cgroup name. */
  cgroupName: () => string;
}

/**
 * Starts, gives up and disposes of warm sandboxes for WarmSandboxes (see warm-sandboxes.ts): a native supervisor in
 * warm mode (-W) on a free volume, in cgroups of its own, with the standard sandbox set up and its inner half waiting.
 */
export function warmLauncher(o: WarmLauncherOptions): WarmLauncher {
  const removeCgroups = async (cg: RunCgroups | null) => {
    if (cg) await emptyAndRemoveCgroups(cg);
  };
  const exited = (w: WarmSandbox) => o.running()?.exited(w.pid) ?? null;
  return {
    start: async (v: { mountPoint: string }): Promise<WarmSandbox> => {
      const space = v.mountPoint;
      // Made ahead of any run, so through the thread pool: no run's start waits on it, and every request does on the
      // event loop.
      await makeSpaceDirsAsync(space, o.runUser);
      const cgroups = o.cgroups.mode !== 'none' ? await createRunCgroupsAsync(o.cgroups, o.cgroupName(), WARM_LIMITS) : null;
      const sandbox = o.commands.sandboxFor(space, { mounts: [], network: true, pythonEnv: null, devices: [] });
      const inner = [o.commands.supervisor!, '-w', ...runUserOption(o.runUser)];
      const { argv, supervisorOptions } = sandboxCommand(o.sandbox, sandbox, spaceDirs(space).work, inner);
      try {
        const { pid, startTime } = await o.spawner().warm({
          args: [...(cgroups ? joinDirs(cgroups) : []).flatMap((d) => ['-g', d]), '-R', ...supervisorOptions, '-W', ...argv],
          cwd: '/',
          env: { PATH: BASE_ENV.PATH ?? '/usr/bin:/bin' },
          // What the sandbox says if it fails before any run is there.
          stdout: '/dev/null',
          stderr: path.join(o.dataDir, 'warm-sandboxes.log'),
        });
        return { pid, startTime, cgroups };
      } catch (e) {
        await removeCgroups(cgroups);
        throw e;
      }
    },
    giveUp: async (w: WarmSandbox) => {
      o.running()?.giveUp(w.pid);
      const gone = exited(w);
      if (gone) {
        // A timer that holds the event loop: at shutdown nothing else does (the spawner's pipes are unref'd).
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, 2000)))]);
        clearTimeout(timer);
      }
      await removeCgroups(w.cgroups);
    },
    exited,
    dispose: (w: WarmSandbox) => removeCgroups(w.cgroups),
  };
}
