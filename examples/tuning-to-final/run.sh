#!/usr/bin/env bash
# Tuning to a final model, with the state in Object Storage: one tuning job run in parallel, one run per model class
# (a sweep over MODEL_CLASS), each writing its best score and parameters to oci://results@<ns>/<batch>/<class>.json
# through a bucket mount; when all have ended, the sweep's final step starts the final job, which reads every result
# from the bucket, picks the best class, trains it on the whole data set and writes the model and a report there.
#
#   dsjobs server &                 # in another terminal (or DSJOBS_ENDPOINT=http://host:port)
#   examples/tuning-to-final/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# Through cat: node leaves a pipe it writes to in non-blocking mode, and this script's own echo on the same pipe then
# fails (EAGAIN) whenever its reader is slow; `pipefail` keeps dsjobs' exit status.
dsjobs() { node "$here/../../bin/dsjobs.js" "$@" | cat; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }

ns=$(dsjobs os namespace)
batch=${BATCH:-tuning-$(date -u +%Y%m%d%H%M%S)}
if ! dsjobs --json os bucket list | python3 -c "import json,sys; sys.exit(0 if any(b['name'] == 'results' for b in json.load(sys.stdin)) else 1)"; then
  dsjobs os bucket create results >/dev/null
fi
echo "results: oci://results@$ns/$batch/"

# Two jobs over the same job/ directory (uploaded as a .tar.gz), each mounting the batch's prefix at /mnt/results.
specs=$(mktemp -d)
trap 'rm -rf "$specs"' EXIT
for step in tune final; do
  cat > "$specs/$step.yaml" <<YAML
name: tuning-to-final-$step
artifact: $here/job
entrypoint: $step.py
shape: ${SHAPE:-Local.Light}
maxRuntime: 10m
mounts:
  - src: oci://results@$ns/$batch
    dest: /mnt/results
YAML
done
tune=$(dsjobs --json job create -f "$specs/tune.yaml" | json "['id']")
final=$(dsjobs --json job create -f "$specs/final.yaml" | json "['id']")

# One trial per class, all at once; the final job runs when they have ended.
result=$(dsjobs --json sweep create --job "$tune" --name "$batch" --grid MODEL_CLASS=logreg,knn,stumps \
  --max-parallel 3 --metric accuracy --goal max --final-job "$final" --wait)
sweep=$(echo "$result" | json "['sweep']['id']")
run=$(echo "$result" | json "['sweep']['finalJobRunId']")
dsjobs run watch "$run" >/dev/null
echo "sweep $sweep, final run $run"
echo
dsjobs os object get results "$batch/final/report.txt" - 2>/dev/null
echo
echo "model: oci://results@$ns/$batch/final/model.json"
dsjobs os object list results --prefix "$batch/"
