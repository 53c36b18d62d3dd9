import path from 'node:path';
import { startEnvironment, type LaunchPlan } from '../../domain/launch.js';
import { runUserCanExecute, runUserOption, type RunUser } from './run-user.js';
import { resolvConf, sandboxArgs, type SandboxHost } from './sandbox.js';
import { nativeSupervisor, which } from './which.js';

/**
 * The command line that starts a run: the programs it is made of (interpreters, setsid, sh, the native supervisor),
 * the artifact's argv by its kind, the run's environment, the sandbox's arguments, and the supervisor's arguments
 * around all of it (the native supervisor's, or the sh supervisor's script).
 */

/**
 * The supervisor: a POSIX shell that starts the run in a new session (setsid, so the run's process group is its
 * own and can be signalled as a whole), records the child's pid, waits, and writes the exit status. The server
 * can die at any moment: the supervisor outlives it and the status file tells a restarted server how the run
 * ended. Arguments reach the run as argv through "$@": no shell ever evaluates them. dash's `wait` reports a
 * signal death as 128+N, as every POSIX shell does.
 */
const SUPERVISOR = [
  'd=$1; shift',
  '"$SETSID_BIN" "$@" &',
  'c=$!',
  'echo "$c" > "$d/child.pid"',
  'wait "$c"',
  'echo "$?" > "$d/exit.status"',
].join('\n');

/**
 * With the sh supervisor: joins the run's cgroups, then becomes the program. Arguments: N, N cgroup directories,
 * the program and its arguments. Exit 126 if a cgroup cannot be joined, as a shell does for "cannot execute".
 */
const JOIN_CGROUPS = [
  'n=$1; shift',
  'while [ "$n" -gt 0 ]; do echo 0 > "$1/cgroup.procs" || exit 126; shift; n=$((n - 1)); done',
  'exec "$@"',
].join('\n');

/** supervisor.c's REPORT_FD. */
const REPORT_FD = 63;

/**
 * What a process expects from its host and gets on an OCI job too: a PATH, a HOME, a locale, a temp dir. Taken
 * from the server's own environment (nothing else of it leaks into runs); the job's and run's variables win.
 */
export const BASE_ENV: Record<string, string> = Object.fromEntries(
  ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR']
    .map((k) => [k, process.env[k]] as const)
    .filter((e): e is readonly [string, string] => typeof e[1] === 'string'),
);

export interface CommandOptions {
  pythonCommand: string;
  bashCommand: string;
  javaCommand: string;
  supervisor?: 'native' | 'sh';
  sandbox: SandboxHost;
  runUser: RunUser;
  /** The server's data directory: hidden from sandboxed runs. */
  dataDir: string;
}

/** Builds runs' command lines with the programs found on this host once, at start. */
export class SupervisorCommands {
  private readonly python: string | null;
  private readonly bash: string | null;
  private readonly java: string | null;
  private readonly setsid: string;
  private readonly sh: string;
  /** The native supervisor (supervisor.c, built by npm run build); null: the sh supervisor is used. */
  readonly supervisor: string | null;

  constructor(private readonly opts: CommandOptions) {
    const setsid = which('setsid');
    if (!setsid) throw new Error('setsid (util-linux) is required to run local jobs and was not found on PATH');
    this.setsid = setsid;
    this.sh = which('sh') ?? '/bin/sh';
    // A sandboxed run's interpreter must be one the run user can execute.
    const runnable = (f: string) => !opts.sandbox.program || runUserCanExecute(opts.runUser, f);
    this.python = which(opts.pythonCommand, undefined, runnable);
    this.bash = which(opts.bashCommand, undefined, runnable);
    this.java = which(opts.javaCommand, undefined, runnable);
    this.supervisor = opts.supervisor === 'sh' ? null : nativeSupervisor();
  }

  private interpreter(kind: 'python' | 'bash' | 'java'): string {
    const cmd = this[kind];
    if (!cmd) {
      const configured = { python: this.opts.pythonCommand, bash: this.opts.bashCommand, java: this.opts.javaCommand }[kind];
      throw new Error(`the ${kind} interpreter '${configured}' was not found on the server's PATH (among those the run user can execute)`);
    }
    return cmd;
  }

  /**
   * argv for a file by its extension: .py with python (the run's Python environment's when it has one), .sh with
   * bash, .jar with java -jar, else run it directly.
   */
  argvFor(file: string, pythonEnv: string | null): string[] {
    const lower = file.toLowerCase();
    if (lower.endsWith('.py')) return [pythonEnv ? path.join(pythonEnv, 'bin', 'python') : this.interpreter('python'), file];
    if (lower.endsWith('.sh')) return [this.interpreter('bash'), file];
    if (lower.endsWith('.jar')) return [this.interpreter('java'), '-jar', file];
    return [file];
  }

  /** The sandbox's arguments (bwrap's command line) for a run's space (the volume or directory it works in). */
  sandboxFor(space: string, run: { mounts: LaunchPlan['mounts']; network: boolean; pythonEnv: string | null; devices: string[] }): string[] {
    return sandboxArgs({
      hide: [this.opts.dataDir],
      space,
      tmp: path.join(space, 'tmp'),
      mounts: run.mounts,
      network: run.network,
      // The inner supervisor runs inside: shown at its own path even where the sandbox hides the host's (a
      // checkout under /tmp); a cached conda pack lives in the hidden data directory.
      readOnly: [...(this.supervisor ? [this.supervisor] : []), ...(run.pythonEnv ? [run.pythonEnv] : []), ...resolvConf()],
      devices: run.devices,
    });
  }

  /**
   * With the native supervisor, its inner half runs inside the sandbox and reports signals as signals (bwrap alone
   * turns a death by signal N into exit code 128+N): its part of the command inside; none without it.
   */
  innerSupervisor(): string[] {
    return this.supervisor ? [this.supervisor, '-r', String(REPORT_FD), ...runUserOption(this.opts.runUser)] : [];
  }

  /**
   * The run's environment: the host's basics, the plan's variables and those given at start, its Python
   * environment's, its private files' (`privateEnv`), and last the GPUs it was given (a run must not pick others).
   */
  environment(r: {
    plan: LaunchPlan;
    startEnv?: Record<string, string>;
    pythonEnv: string | null;
    space: string;
    sandboxed: boolean;
    privateEnv: Record<string, string>;
    gpus: string[];
  }): Record<string, string> {
    const env: Record<string, string> = {
      ...BASE_ENV,
      ...(r.sandboxed ? { USER: this.opts.runUser.name, LOGNAME: this.opts.runUser.name } : {}),
      HOME: path.join(r.space, 'home'),
      TMPDIR: r.sandboxed ? '/tmp' : path.join(r.space, 'tmp'),
      ...startEnvironment(r.plan, r.startEnv),
    };
    if (r.pythonEnv) {
      env.PATH = `${path.join(r.pythonEnv, 'bin')}:${env.PATH ?? BASE_ENV.PATH ?? '/usr/bin:/bin'}`;
      env.CONDA_PREFIX = r.pythonEnv;
    }
    Object.assign(env, r.privateEnv);
    // After the job's own variables: a run must not pick GPUs it was not given.
    env.CUDA_VISIBLE_DEVICES = r.gpus.length > 0 ? r.gpus.join(',') : '';
    env.NVIDIA_VISIBLE_DEVICES = r.gpus.length > 0 ? r.gpus.join(',') : 'void';
    return env;
  }

  /**
   * The supervisor's program, arguments and environment for a run: the native supervisor joins the cgroups (-g), marks
   * a sandboxed run (-R) and takes the sandbox's options; the sh supervisor runs its script with setsid and joins the
   * cgroups through JOIN_CGROUPS.
   */
  supervise(r: {
    runDir: string;
    argv: string[];
    env: Record<string, string>;
    cgroupDirs: string[];
    sandboxed: boolean;
    supervisorOptions: string[];
  }): { file: string; args: string[]; env: Record<string, string> } {
    const native = this.supervisor;
    if (native) {
      return {
        file: native,
        args: [...r.cgroupDirs.flatMap((d) => ['-g', d]), ...(r.sandboxed ? ['-R'] : []), ...r.supervisorOptions, r.runDir, ...r.argv],
        env: r.env,
      };
    }
    return {
      file: this.sh,
      args: ['-c', SUPERVISOR, 'dsjobs-supervisor', r.runDir, this.sh, '-c', JOIN_CGROUPS, 'join', String(r.cgroupDirs.length), ...r.cgroupDirs, ...r.argv],
      env: { ...r.env, SETSID_BIN: this.setsid },
    };
  }
}
