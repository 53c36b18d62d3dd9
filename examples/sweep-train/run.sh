#!/usr/bin/env bash
# The seeds' scenario end to end: a training job run in parallel over three model classes x three hyperparameter
# settings (9 runs, 3 at a time), ranked by validation accuracy, then one final run that trains the best on all data.
#
#   dsjobs server &                 # in another terminal (or DSJOBS_ENDPOINT=http://host:port)
#   examples/sweep-train/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dsjobs() { node "$here/../../bin/dsjobs.js" "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }

# The job: the job/ directory (train.py + the dsjobs_metrics.py helper), uploaded as a .tar.gz.
job=$(dsjobs --json job create --name sweep-train --artifact "$here/job" --entrypoint train.py \
  --shape "${SHAPE:-Local.Light}" --max-runtime 10m | json "['id']")
echo "job: $job"

# The sweep: every MODEL x HP combination, at most 3 at once, best accuracy wins, then a final run with FINAL=1.
result=$(dsjobs --json sweep create --job "$job" --name sweep-train \
  --grid MODEL=logreg,knn,stumps --grid HP=1,2,3 --max-parallel 3 \
  --metric accuracy --goal max --final --final-env FINAL=1 --wait)
sweep=$(echo "$result" | json "['sweep']['id']")
dsjobs sweep get "$sweep"

final=$(echo "$result" | json "['sweep']['finalJobRunId']")
echo
echo "final run: $final"
dsjobs run watch "$final"
