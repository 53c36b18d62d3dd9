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
 * - makes the run's scratch directory on the node's own disk (`DSJOBS_SCRATCH_DIR`, under `scratchBase` or Slurm's
 *   TMPDIR, per job; removed when the run ends; the block storage size is not enforced there),
 * - writes `started` (the server's sign that the run is running: Slurm's own RUNNING comes with its next poll),
 * - records the run's CPU and memory use every `usageSeconds` (`usage`: every process of the run's session, from
 *   /proc), the bytes its work and scratch directories take, and its GPUs' use (nvidia-smi on the run's PATH, for
 *   the GPUs Slurm gave the job), which the server reads as the run's metrics; a multi-node run's tasks record
 *   theirs in `nodes/<rank>.usage`,
 * - on SIGTERM (dsjobs' cancel, `scancel --batch --signal=TERM`, or Slurm's own time limit) passes TERM to the run's
 *   group and, if the run is still there after the grace period, SIGKILLs the group,
 * - when the run's main process has ended: SIGKILLs what is left of its group, records the exit status (and
 *   `exhausted` = memory when the kernel killed a process of the job's memory cgroup meanwhile), and exits
 *   with it (Slurm's proctrack plugin kills whatever else the job left on the node when the batch script ends).
 *
 * A multi-node run (launch.json has `multiNode`) is one job of N nodes, one replica per node. The batch script, on
 * the allocation's first node, is then the coordinator: it picks MASTER_ADDR (its host) and a free MASTER_PORT,
 * starts one `srun --nodes=1 --ntasks=1 --relative=<rank>` step per replica (all at once for IN_PARALLEL; group
 * after group for IN_ORDER, each once the previous group's processes all run), each step being this script in
 * `task` mode on its node: it runs the replica's process as above, with RANK, NODE_RANK, LOCAL_RANK, WORLD_SIZE,
 * NODE_COUNT, MASTER_ADDR, MASTER_PORT and FQDN set (and its node's address for the coordinator's
 * `cluster-nodes.json`, ADS's CLUSTER_NODES_METADATA_FILE), and writes each line of its output into the run's one
 * stdout.log/stderr.log labelled `[<node> rank <r>] ` (one write per line on O_APPEND files, so lines of nodes
 * never interleave within a line). The coordinator records each group's state in `groups.json` (the run's
 * nodeGroupDetailsList), stops the remaining replicas (SIGTERM, then SIGKILL after the grace period) once a group
 * can no longer reach its minimumSuccessReplicas, and records the run's exit status: 0 when every group had at
 * least minimumSuccessReplicas successful replicas, else the status of a failed group's first failed replica.
 *
 * Python 3's standard library only: every node that runs Python artifacts has it.
 */
export const NODE_SUPERVISOR_NAME = 'dsjobs-node-supervisor.py';

export const NODE_SUPERVISOR_SOURCE = String.raw`#!/usr/bin/env python3
# dsjobs node-side supervisor (written by the dsjobs server; see src/executors/slurm/node-supervisor.ts).
import errno, json, os, shutil, signal, socket, subprocess, sys, threading, time

run_dir = sys.argv[1]
with open(os.path.join(run_dir, "launch.json"), encoding="utf-8") as f:
    spec = json.load(f)
grace = float(spec.get("graceSeconds", 30))
# The run's block storage size in bytes (0: none asked for), enforced by guard_storage.
disk_limit = int(spec.get("diskLimitBytes") or 0)

def record(name, text):
    path = os.path.join(run_dir, name)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)

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

def with_slurm(env):
    # What Slurm tells the job about itself (job id, node list, CPUs), under the run's own variables.
    env = dict(env)
    for k, v in os.environ.items():
        if k.startswith("SLURM") and k not in env:
            env[k] = v
    return env

def supervise(argv, env, cwd, out, err, started):
    """Runs argv in a session of its own, TERM then (after the grace period) KILL to its group on SIGTERM; returns
    its wait status, None if it could not be waited for."""
    terminating = {"at": None}
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = os.fork()
    if child == 0:
        try:
            os.setsid()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.dup2(out, 1)
            os.dup2(err, 2)
            os.chdir(cwd)
            os.execvpe(argv[0], argv, env)
        except BaseException as e:
            os.write(2, ("dsjobs: cannot start %s: %s\n" % (argv[0], e)).encode())
            os._exit(127)
    def on_term(signum, frame):
        if terminating["at"] is None:
            terminating["at"] = time.monotonic()
        try:
            os.killpg(child, signal.SIGTERM)
        except OSError:
            pass
    signal.signal(signal.SIGTERM, on_term)
    started(child)
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
    return status

def status_text(status):
    if os.WIFSIGNALED(status):
        return "signal %d\n" % os.WTERMSIG(status)
    return "%d\n" % os.WEXITSTATUS(status)

def exit_with(text):
    t = text.split()
    sys.exit(128 + int(t[1]) if t[0] == "signal" else int(t[0]))

LOG_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND

def dir_bytes(d, budget=None, whole=False):
    # Bytes the files under d take on disk (their blocks, as du counts), links not followed; with whole, each file's
    # blocks or its length, whichever is larger (a sparse file counts whole, as a volume would have to hold it). None
    # past the budget of entries (a run with millions of files is not sampled every interval); no budget: all of them.
    total = 0
    for root, dirs, files in os.walk(d):
        for name in files:
            if budget is not None:
                budget[0] -= 1
                if budget[0] < 0:
                    return None
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += max(st.st_blocks * 512, st.st_size) if whole else st.st_blocks * 512
    return total

def gpu_use(smi, indices):
    # The average use and memory use of the job's GPUs (Slurm's indices of them on this node), from nvidia-smi.
    try:
        out = subprocess.run([smi, "--query-gpu=index,utilization.gpu,memory.used,memory.total", "--format=csv,noheader,nounits"],
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    util, mem = [], []
    for line in out.splitlines():
        f = [x.strip() for x in line.split(",")]
        if len(f) < 4 or f[0] not in indices:
            continue
        try:
            util.append(float(f[1]))
            if float(f[3]) > 0:
                mem.append(100.0 * float(f[2]) / float(f[3]))
        except ValueError:
            continue
    avg = lambda xs: sum(xs) / len(xs) if xs else None
    return avg(util), avg(mem)

def job_gpus():
    # The GPUs Slurm gave this job (or step) on this node, by nvidia-smi's index.
    ids = os.environ.get("SLURM_STEP_GPUS") or os.environ.get("SLURM_JOB_GPUS") or ""
    return set(x for x in ids.split(",") if x)

def sample_usage(session, every, out_name, dirs, cpus, limit, gpus, env_path, stop):
    # The run's CPU (percent of the CPUs Slurm gave it on this node, over the last interval), resident memory (every
    # process of its session, from /proc), the bytes its work and scratch directories take, and its GPUs' use
    # (nvidia-smi on the run's PATH, where Slurm gave it GPUs), recorded as
    # "cpu_percent rss_bytes limit_bytes disk_bytes disk_limit_bytes gpu_percent gpu_memory_percent cpus" ("-": none).
    tck, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    smi = shutil.which("nvidia-smi", path=env_path) if gpus else None
    num = lambda v, fmt: "-" if v is None else fmt % v
    prev = None
    while not stop.is_set():
        ticks, rss = 0, 0
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
                rest = st[st.rfind(")") + 2:].split()
                if int(rest[3]) == session:
                    ticks += int(rest[11]) + int(rest[12])
                    rss += int(rest[21]) * page
            except (OSError, ValueError, IndexError):
                continue
        now = time.monotonic()
        if prev is not None and now > prev[0]:
            cpu = 100.0 * (ticks - prev[1]) / tck / (now - prev[0]) / cpus
            budget = [20000]
            sizes = [dir_bytes(d, budget) for d in dirs]
            disk = None if None in sizes else sum(sizes)
            gpu, gpu_mem = gpu_use(smi, gpus) if smi else (None, None)
            try:
                if not stop.is_set():
                    record(out_name, "%.2f %d %d %s %d %s %s %d\n" % (max(0.0, cpu), rss, limit, num(disk, "%d"), disk_limit, num(gpu, "%.2f"), num(gpu_mem, "%.2f"), cpus))
            except OSError:
                pass
        prev = (now, ticks)
        stop.wait(every)

def guard_storage(session, dirs, limit, flag, stop):
    # The run's block storage size, enforced on a node without volumes: once its work and scratch directories hold
    # more than it asked for, its whole group is killed and the reason recorded (flag), so it fails "block storage
    # exhausted" as on a volume. Checked every second, or less often where a walk takes long (at most a tenth of the
    # time is spent walking), so a run with many files does not pay for its own guard.
    pause = 1.0
    while not stop.wait(pause):
        t0 = time.monotonic()
        used = sum(dir_bytes(d, whole=True) for d in dirs)
        if used > limit:
            record(flag, "blockStorage\n")
            try:
                os.killpg(session, signal.SIGKILL)
            except OSError:
                pass
            return
        pause = max(1.0, 10 * (time.monotonic() - t0))

def scratch_dir(suffix=""):
    # The job's scratch directory on the node's own disk (Slurm's TMPDIR where it sets one), removed when the run
    # ends; its size with the work directory's is the run's block storage (guard_storage).
    base = spec.get("scratchBase") or os.environ.get("TMPDIR") or "/tmp"
    path = os.path.join(base, "dsjobs-scratch-%s%s" % (os.environ.get("SLURM_JOB_ID", os.getpid()), suffix))
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path

def single():
    out = os.open(os.path.join(run_dir, "stdout.log"), LOG_FLAGS, 0o644)
    err = os.open(os.path.join(run_dir, "stderr.log"), LOG_FLAGS, 0o644)
    oom_before = oom_kills()
    scratch = scratch_dir()
    env = with_slurm(spec["env"])
    env["DSJOBS_SCRATCH_DIR"] = scratch
    cpus = max(1, int(os.environ.get("SLURM_CPUS_PER_TASK") or os.environ.get("SLURM_CPUS_ON_NODE") or "1"))
    limit = int(os.environ.get("SLURM_MEM_PER_NODE") or "0") * 1024 * 1024
    guarding = threading.Event()
    def started(child):
        record("child.pid", "%d\n" % child)
        record("started", "%d\n" % child)
        threading.Thread(target=sample_usage, args=(child, float(spec.get("usageSeconds", 5)), "usage", [spec["cwd"], scratch], cpus, limit,
                                                    job_gpus(), env.get("PATH"), threading.Event()), daemon=True).start()
        if disk_limit > 0:
            threading.Thread(target=guard_storage, args=(child, [spec["cwd"], scratch], disk_limit, "exhausted", guarding), daemon=True).start()
    try:
        status = supervise(spec["argv"], env, spec["cwd"], out, err, started)
    finally:
        guarding.set()
        shutil.rmtree(scratch, ignore_errors=True)
    if status is None:
        sys.exit(1)
    failed = not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0
    if failed and not os.path.exists(os.path.join(run_dir, "exhausted")) and oom_kills() > oom_before:
        record("exhausted", "memory\n")
    text = status_text(status)
    record("exit.status", text)
    exit_with(text)

def pump(fd, log, label):
    # Each complete line goes to the run's log in one write, labelled; a last line without its newline gets one.
    buf = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        buf += chunk
        cut = buf.rfind(b"\n")
        if cut >= 0:
            lines = buf[:cut].split(b"\n")
            buf = buf[cut + 1:]
            os.write(log, b"".join(label + l + b"\n" for l in lines))
    if buf:
        os.write(log, label + buf + b"\n")
    os.close(fd)

def task(rank, master_addr, master_port):
    rep = spec["multiNode"]["replicas"][rank]
    node = os.environ.get("SLURMD_NODENAME") or socket.gethostname()
    env = with_slurm(rep["env"])
    env.update({"MASTER_ADDR": master_addr, "MASTER_PORT": master_port, "FQDN": socket.getfqdn()})
    scratch = scratch_dir("-%d" % rank)
    env["DSJOBS_SCRATCH_DIR"] = scratch
    label = ("[%s rank %d] " % (node, rank)).encode()
    logs = [os.open(os.path.join(run_dir, n), LOG_FLAGS, 0o644) for n in ("stdout.log", "stderr.log")]
    pipes = [os.pipe(), os.pipe()]
    pumps = [threading.Thread(target=pump, args=(r, log, label), daemon=True) for (r, _), log in zip(pipes, logs)]
    def started(child):
        # The write ends are the child's alone now: the pumps see the end of its output when it (and its group) ends.
        os.close(pipes[0][1])
        os.close(pipes[1][1])
        for t in pumps:
            t.start()
        try:
            ip = socket.gethostbyname(socket.getfqdn())
        except OSError:
            ip = socket.getfqdn()
        record("nodes/%d.ip" % rank, ip + "\n")
        record("nodes/%d.started" % rank, node + "\n")
        threading.Thread(target=sample_usage, args=(child, float(spec.get("usageSeconds", 5)), "nodes/%d.usage" % rank, [spec["cwd"], scratch],
                                                    max(1, int(rep["cpus"])), int(rep["memMb"]) * 1024 * 1024, job_gpus() if rep["gpus"] > 0 else set(),
                                                    env.get("PATH"), sampling), daemon=True).start()
        if disk_limit > 0:
            # The work directory (shared by the replicas) and this replica's own scratch directory.
            threading.Thread(target=guard_storage, args=(child, [spec["cwd"], scratch], disk_limit, "nodes/%d.exhausted" % rank, sampling), daemon=True).start()
    sampling = threading.Event()
    try:
        status = supervise(rep["argv"], env, spec["cwd"], pipes[0][1], pipes[1][1], started)
    finally:
        sampling.set()
        shutil.rmtree(scratch, ignore_errors=True)
    try:
        # An ended replica uses nothing: the run's metrics are its running replicas'.
        os.unlink(os.path.join(run_dir, "nodes", "%d.usage" % rank))
    except OSError:
        pass
    for t in pumps:
        # A process that left the group may hold the pipe open: its output is not waited for past 5 s.
        t.join(5)
    text = "1\n" if status is None else status_text(status)
    record("nodes/%d.status" % rank, text)
    exit_with(text)

def coordinate():
    mn = spec["multiNode"]
    reps, groups = mn["replicas"], mn["groups"]
    os.makedirs(os.path.join(run_dir, "nodes"), exist_ok=True)
    master_addr = socket.getfqdn()
    s = socket.socket()
    s.bind(("", 0))
    master_port = str(s.getsockname()[1])
    s.close()
    procs, ended = {}, {}
    term = {"at": None, "sent": False, "killed": False}
    def stop_all():
        if term["at"] is None:
            term["at"] = time.monotonic()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop_all())
    def launch(r):
        rep = reps[r]
        cmd = ["srun", "--nodes=1", "--ntasks=1", "--relative=%d" % r, "--cpus-per-task=%d" % rep["cpus"], "--mem=%dM" % rep["memMb"], "--quiet"]
        if rep["gpus"] > 0:
            cmd.append("--gres=%s:%d" % (mn["gres"], rep["gpus"]))
        cmd += ["python3", spec["supervisor"], run_dir, "task", str(r), master_addr, master_port]
        procs[r] = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    def node_of(r):
        try:
            with open(os.path.join(run_dir, "nodes", "%d.started" % r)) as f:
                return f.read().strip()
        except OSError:
            return None
    def status_of(r):
        try:
            with open(os.path.join(run_dir, "nodes", "%d.status" % r)) as f:
                return f.read()
        except OSError:
            return None
    def ok(text):
        return text.strip() == "0"
    def describe(r, text):
        t = text.split()
        what = "signal %s" % t[1] if t[0] == "signal" else "exit code %s" % t[0]
        return "rank %d%s: %s" % (r, " on " + node_of(r) if node_of(r) else " (never ran)", what)
    members = [[r for r in range(len(reps)) if reps[r]["group"] == g] for g in range(len(groups))]
    def group_state(g):
        rs, need = members[g], groups[g]["minimumSuccessReplicas"]
        good = sum(1 for r in rs if r in ended and ok(ended[r]))
        bad = [r for r in rs if r in ended and not ok(ended[r])]
        if len(rs) - len(bad) < need:
            return {"name": groups[g]["name"], "lifecycleState": "FAILED",
                    "lifecycleDetails": "%d of %d replicas succeeded, %d needed; %s" % (good, len(rs), need, describe(bad[0], ended[bad[0]]))}
        if all(r in ended for r in rs):
            return {"name": groups[g]["name"], "lifecycleState": "DELETED", "lifecycleDetails": "%d of %d replicas succeeded" % (good, len(rs))}
        running = sum(1 for r in rs if r in procs and node_of(r))
        if running == len(rs):
            return {"name": groups[g]["name"], "lifecycleState": "ACTIVE", "lifecycleDetails": "%d replicas running" % len(rs)}
        return {"name": groups[g]["name"], "lifecycleState": "CREATING", "lifecycleDetails": "%d of %d replicas running" % (running, len(rs))}
    last = None
    known_ips = []
    next_group = 0
    marked = False
    while True:
        if term["at"] is None and next_group < len(groups):
            prev = members[next_group - 1] if next_group > 0 else []
            if mn["startupOrder"] == "IN_PARALLEL" or all(node_of(r) or r in ended for r in prev):
                for r in members[next_group]:
                    launch(r)
                next_group += 1
                continue
        for r, p in procs.items():
            if r not in ended and p.poll() is not None:
                # The task's own record when it wrote one; srun's code otherwise (the task never ran).
                ended[r] = status_of(r) or "%d\n" % (p.returncode if p.returncode > 0 else 1)
        ips = []
        for r in sorted(procs):
            try:
                with open(os.path.join(run_dir, "nodes", "%d.ip" % r)) as f:
                    ips.append({"Rank": r, "IPAddress": f.read().strip()})
            except OSError:
                pass
        if len(ips) != len(known_ips):
            # ADS's CLUSTER_NODES_METADATA_FILE: the nodes known so far, which a driver polls until all are there.
            known_ips = ips
            record("cluster-nodes.json", json.dumps(ips))
        if not marked and any(node_of(r) for r in procs):
            marked = True
            record("started", "%d\n" % os.getpid())
        states = [group_state(g) for g in range(len(groups))]
        if term["at"] is None and any(st["lifecycleState"] == "FAILED" for st in states):
            stop_all()
        text = json.dumps(states)
        if text != last:
            last = text
            record("groups.json", text)
        if term["at"] is not None and not term["sent"]:
            # TERM to every step of the job (not this batch step): the replicas' supervisors pass it on and SIGKILL
            # after the grace period. Not srun's own forwarding: srun cancels its step (SIGKILL) on SIGTERM.
            term["sent"] = True
            subprocess.run(["scancel", "--quiet", "--signal=TERM", os.environ["SLURM_JOB_ID"]], stdin=subprocess.DEVNULL)
        if term["at"] is not None and not term["killed"] and time.monotonic() - term["at"] >= grace + 5:
            # The tasks SIGKILL their groups after the grace period; srun is killed when they still do not end.
            term["killed"] = True
            for p in procs.values():
                if p.poll() is None:
                    p.kill()
        if all(r in ended for r in procs) and (next_group >= len(groups) or term["at"] is not None):
            break
        time.sleep(0.1)
    for r in range(len(reps)):
        # Replicas never launched (a group stopped before IN_ORDER reached it) did not succeed.
        ended.setdefault(r, "1\n")
    states = [group_state(g) for g in range(len(groups))]
    record("groups.json", json.dumps(states))
    if not marked:
        record("started", "%d\n" % os.getpid())
    failed = [g for g in range(len(groups)) if states[g]["lifecycleState"] == "FAILED"]
    text = "0\n"
    if failed:
        bad = [r for r in members[failed[0]] if not ok(ended[r])]
        text = ended[bad[0]] if bad else "1\n"
        if bad and os.path.exists(os.path.join(run_dir, "nodes", "%d.exhausted" % bad[0])):
            # The replica that failed its group was stopped for writing past the run's block storage.
            record("exhausted", "blockStorage\n")
    record("exit.status", text)
    exit_with(text)

if len(sys.argv) > 2 and sys.argv[2] == "task":
    task(int(sys.argv[3]), sys.argv[4], sys.argv[5])
elif spec.get("multiNode"):
    coordinate()
else:
    single()
`;
