// The pyTorchDistributed runtime's driver (in place of ADS's driver_pytorch.py), at the top of the job's artifact
// with the spec's code under code/. It runs on every node of the multi-node run. Kept as text because the spec
// reader is bundled into the web console.

export const PYTORCH_DRIVER_NAME = 'driver_pytorch.sh';

/**
 * Runs OCI__LAUNCH_CMD (the spec's `command`) in code/, the job's arguments after it. A torchrun command is given
 * the node's place in the job as ADS's driver gives it (--nnodes, --node_rank, and the rendezvous at the first
 * node), from the variables dsjobs sets on every node of a multi-node run.
 */
export const PYTORCH_DRIVER_SH = [
  '#!/usr/bin/env bash',
  "# dsjobs driver of ADS's pyTorchDistributed runtime: runs OCI__LAUNCH_CMD on this node of the multi-node run.",
  'set -e',
  'here=$(cd "$(dirname "$0")" && pwd)',
  'if [ -d "$here/code" ]; then cd "$here/code"; fi',
  'cmd=$OCI__LAUNCH_CMD',
  'case "$cmd" in',
  '  torchrun|torchrun\\ *)',
  '    cmd="torchrun --nnodes=$NODE_COUNT --node_rank=$NODE_RANK --master_addr=$MASTER_ADDR --master_port=$MASTER_PORT${cmd#torchrun}" ;;',
  'esac',
  'exec bash -c "$cmd \\"\\$@\\"" dsjobs-pytorch "$@"',
  '',
].join('\n');
