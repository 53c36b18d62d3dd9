/**
 * The node-side supervisor: the batch script of every Slurm job dsjobs submits. The server writes it into the shared
 * directory (so every node has it, as it has the run's files) and sbatch runs it on the node with the run's
 * directory as its one argument.
 *
 * Why a supervisor of our own rather than Slurm's accounting: the Slurm tools disagree about how a job ended (a
 * canceled job that trapped TERM and exited 143 is `143:0` to scontrol, `CANCELLED 0:0` to sacct's job line and
 * `FAILED 15:0` to its batch step), sacct needs slurmdbd, and a death by signal N and `exit 128+N` look alike to a
 * shell. The supervisor waits for the run's process itself and records what the kernel said, in the format the
 * local executor's supervisor writes (`N\n` or `signal N\n`, renamed into place so a reader never sees half of it).
 *
 * What it does, in order:
 * - reads `launch.json` (argument words, the complete environment, the working directory, the grace period),
 * - starts the run in a session of its own (so the run's whole process group can be signalled) with stdout and
 *   stderr appended to `stdout.log` and `stderr.log` in the run's directory, which the server tails (the run's
 *   output lands on the shared disk as it is written: nothing is lost while the server is away),
 * - writes `started` (the server's sign that the run is running: Slurm's own RUNNING comes with its next poll),
 * - on SIGTERM (dsjobs' cancel, `scancel --batch --signal=TERM`, or Slurm's own time limit) passes TERM to the run's
 *   group and, if the run is still there after the grace period, SIGKILLs the group,
 * - when the run's main process has ended: SIGKILLs what is left of its group, records the exit status (and
 *   `exhausted` = memory when the kernel killed a process of the job's memory cgroup meanwhile), and exits
 *   with it (Slurm's proctrack plugin kills whatever else the job left on the node when the batch script ends).
 *
 * Python 3's standard library only: every node that runs Python artifacts has it.
 */
export const NODE_SUPERVISOR_NAME = 'dsjobs-node-supervisor.py';

export const NODE_SUPERVISOR_SOURCE = String.raw`#!/usr/bin/env python3
# dsjobs node-side supervisor (written by the dsjobs server; see src/executors/slurm/node-supervisor.ts).
import errno, json, os, signal, sys, time

run_dir = sys.argv[1]
with open(os.path.join(run_dir, "launch.json"), encoding="utf-8") as f:
    spec = json.load(f)

def record(name, text):
    tmp = os.path.join(run_dir, name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, os.path.join(run_dir, name))

flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
out = os.open(os.path.join(run_dir, "stdout.log"), flags, 0o644)
err = os.open(os.path.join(run_dir, "stderr.log"), flags, 0o644)
env = dict(spec["env"])
# What Slurm tells the job about itself (job id, node list, CPUs), under the run's own variables.
for k, v in os.environ.items():
    if k.startswith("SLURM") and k not in env:
        env[k] = v

def oom_kills():
    # The kernel's count of out-of-memory kills in this job's memory cgroup (Slurm's task/cgroup makes it).
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, ctrls, rel = line.rstrip("\n").split(":", 2)
                if "memory" in ctrls.split(","):
                    with open("/sys/fs/cgroup/memory" + rel + "/memory.oom_control") as g:
                        for l in g:
                            if l.startswith("oom_kill "):
                                return int(l.split()[1])
                elif ctrls == "":
                    with open("/sys/fs/cgroup" + rel + "/memory.events") as g:
                        for l in g:
                            if l.startswith("oom_kill "):
                                return int(l.split()[1])
    except (OSError, ValueError):
        pass
    return 0

oom_before = oom_kills()
terminating = {"at": None}

def on_term(signum, frame):
    if terminating["at"] is None:
        terminating["at"] = time.monotonic()
    try:
        os.killpg(child, signal.SIGTERM)
    except OSError:
        pass

signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = os.fork()
if child == 0:
    try:
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.chdir(spec["cwd"])
        os.execvpe(spec["argv"][0], spec["argv"], env)
    except BaseException as e:
        os.write(2, ("dsjobs: cannot start %s: %s\n" % (spec["argv"][0], e)).encode())
        os._exit(127)
signal.signal(signal.SIGTERM, on_term)
record("child.pid", "%d\n" % child)
record("started", "%d\n" % child)
grace = float(spec.get("graceSeconds", 30))
status = None
while status is None:
    try:
        pid, st = os.waitpid(child, os.WNOHANG)
    except ChildProcessError:
        break
    if pid == child:
        status = st
        break
    if terminating["at"] is not None and time.monotonic() - terminating["at"] >= grace:
        try:
            os.killpg(child, signal.SIGKILL)
        except OSError:
            pass
    time.sleep(0.05)
try:
    os.killpg(child, signal.SIGKILL)
except OSError:
    pass
if status is None:
    sys.exit(1)
if (not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0) and oom_kills() > oom_before:
    record("exhausted", "memory\n")
if os.WIFSIGNALED(status):
    record("exit.status", "signal %d\n" % os.WTERMSIG(status))
    sys.exit(128 + os.WTERMSIG(status))
code = os.WEXITSTATUS(status)
record("exit.status", "%d\n" % code)
sys.exit(code)
`;
