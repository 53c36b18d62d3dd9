#!/usr/bin/env bash
# A two-node Slurm cluster on this one machine, for tests, benchmarks and trying the Slurm executor out
# (docs/slurm.md): munged, slurmctld and `slurmd -N node1`, `slurmd -N node2`, each on its own port, everything
# (config, state, spool, logs, munge's socket) in one state directory, so several clusters can run side by side and
# nothing of the host's own Slurm or munge is touched.
#
#   scripts/slurm-cluster.sh start  STATE_DIR [default|tuned]   prints SLURM_CONF=<STATE_DIR>/slurm.conf when up
#   scripts/slurm-cluster.sh stop   STATE_DIR                   stops the daemons this state dir's pid files name
#   scripts/slurm-cluster.sh status STATE_DIR                   exit 0 when both nodes are up (idle/mixed/allocated)
#
# Clients (sbatch, squeue, scancel, sacct) find the cluster through SLURM_CONF. Needs root, slurm-wlm and munge
# (scripts/setup-host.sh installs them). "tuned" (the default) uses Slurm's documented high-throughput settings, which
# took bare sbatch from 1.5 to 4 trivial jobs/s on this kind of machine (docs/benchmarks.md); "default" leaves
# Slurm's own defaults, for comparison.
set -euo pipefail
cmd=${1:-}
dir=${2:-}
mode=${3:-tuned}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop|status STATE_DIR [default|tuned]" >&2
  exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf="$dir/slurm.conf"
export SLURM_CONF="$conf"
PATH="$PATH:/usr/sbin:/sbin"

stop_pidfile() {
  local f=$1
  [ -f "$f" ] || return 0
  local pid
  pid=$(cat "$f" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

nodes_up() {
  # Both nodes known and in a state that takes jobs.
  local states
  states=$(sinfo -h -N -o '%N %t' 2>/dev/null | sort -u) || return 1
  [ "$(echo "$states" | grep -cE '^node[12] (idle|mix|alloc)')" -ge 2 ]
}

case "$cmd" in
  stop)
    # Jobs first: a job's slurmstepd outlives a stopped slurmd, and with it the job's processes.
    if [ -f "$conf" ] && [ -f "$dir/slurmctld.pid" ]; then
      timeout 10 scancel --full --signal=KILL --state=RUNNING $(squeue -h -o %i 2>/dev/null) >/dev/null 2>&1 || true
      timeout 10 scancel $(squeue -h -o %i 2>/dev/null) >/dev/null 2>&1 || true
    fi
    for n in node1 node2; do stop_pidfile "$dir/slurmd-$n.pid"; done
    stop_pidfile "$dir/slurmctld.pid"
    stop_pidfile "$dir/munge/munged.pid"
    # Whatever of this cluster's jobs is still there (slurmstepd and the job's processes carry SLURM_CONF).
    needle="SLURM_CONF=$conf"
    for p in /proc/[0-9]*; do
      pid=${p#/proc/}
      [ "$pid" = "$$" ] && continue
      if tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qxF "$needle"; then kill -9 "$pid" 2>/dev/null || true; fi
    done
    exit 0
    ;;
  status)
    [ -f "$conf" ] && nodes_up
    exit $?
    ;;
  start) ;;
  *)
    echo "unknown command $cmd (start|stop|status)" >&2
    exit 2
    ;;
esac

for bin in munged slurmctld slurmd sbatch sinfo; do
  command -v "$bin" >/dev/null || { echo "slurm-cluster: $bin is not installed (apt-get install slurm-wlm munge; scripts/setup-host.sh does it)" >&2; exit 1; }
done
if [ -f "$conf" ] && nodes_up; then
  echo "SLURM_CONF=$conf"
  exit 0
fi

# Three free TCP ports in a row (slurmctld, node1, node2), picked at random so clusters of parallel tests differ.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 1 50); do
  base=$((20000 + RANDOM % 20000))
  if port_free "$base" && port_free $((base + 1)) && port_free $((base + 2)); then break; fi
done

mkdir -p "$dir/munge" "$dir/state" "$dir/spool/node1" "$dir/spool/node2" "$dir/log"
chmod 700 "$dir/munge"
# munge insists its key and directories are private to the user it runs as.
[ -f "$dir/munge/munge.key" ] || {
  if [ -r /etc/munge/munge.key ]; then install -m 600 /etc/munge/munge.key "$dir/munge/munge.key"; else mungekey -c -k "$dir/munge/munge.key"; fi
}
munged --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
  --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" --force

host=$(hostname)
# Memory limits: task/cgroup puts each job in a memory cgroup of its --mem (an out-of-memory kill is then the
# kernel's, which the node-side supervisor reports), where this host lets us write cgroups; else none.
task=task/none
if [ -w /sys/fs/cgroup/memory ] || grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
  task=task/cgroup
  printf 'CgroupPlugin=autodetect\nCgroupMountpoint=/sys/fs/cgroup\nConstrainRAMSpace=yes\nConstrainSwapSpace=yes\n' >"$dir/cgroup.conf"
fi
if [ "$mode" = tuned ]; then
  # Slurm's high-throughput guide: schedule at once on submit and on every event, look deep into the queue, and
  # forget finished jobs after 5 s (the default 300 s keeps them in slurmctld's tables).
  sched="SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,default_queue_depth=1000,max_rpc_cnt=150"
  minage="MinJobAge=5"
else
  sched="SchedulerParameters=defer"
  minage="MinJobAge=300"
fi
cat >"$conf" <<EOF
ClusterName=dsjobs$(printf '%s' "$dir" | md5sum | cut -c1-8)
SlurmctldHost=$host
SlurmctldPort=$base
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=$task
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# A job without --mem takes 100 MB per CPU, not the whole node's memory.
DefMemPerCPU=100
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
$sched
$minage
GresTypes=gpu
NodeName=node[1-2] NodeHostname=$host Port=$((base + 1))-$((base + 2)) CPUs=2 RealMemory=4000 Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
# Two GPUs per node as Slurm counts them (/dev/null and /dev/zero stand for the devices: this host has none), so GPU shapes can be asked
# for; tests put a fake nvidia-smi on the nodes' PATH for their metrics.
printf 'NodeName=node[1-2] Name=gpu File=/dev/null\nNodeName=node[1-2] Name=gpu File=/dev/zero\n' >"$dir/gres.conf"
# -c: a fresh cluster each start (no jobs from an earlier one in the state dir). Returns once both nodes take jobs.
start_daemons() {
  slurmctld -c -f "$conf"
  slurmd -N node1 -f "$conf" || true
  slurmd -N node2 -f "$conf" || true
  for _ in $(seq 1 "$1"); do
    nodes_up && return 0
    sleep 0.2
  done
  return 1
}
if [ "$task" = task/cgroup ] && ! start_daemons 100; then
  # A host (a container, say) that lets us write cgroups but not the way slurmd's cgroup plugin needs: no memory
  # limits rather than no cluster.
  echo "slurm-cluster: slurmd did not come up with task/cgroup; starting without memory limits (see $dir/log)" >&2
  for n in node1 node2; do stop_pidfile "$dir/slurmd-$n.pid"; done
  stop_pidfile "$dir/slurmctld.pid"
  sed -i 's#^TaskPlugin=task/cgroup#TaskPlugin=task/none#' "$conf"
  task=task/none
fi
if [ "$task" = task/none ] && ! start_daemons 300; then
  echo "slurm-cluster: the nodes did not come up in 60 s; see $dir/log" >&2
  sinfo -N >&2 || true
  tail -n 20 "$dir/log/"*.log >&2 || true
  exit 1
fi
echo "SLURM_CONF=$conf"
