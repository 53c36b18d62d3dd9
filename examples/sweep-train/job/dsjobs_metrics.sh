# Report metrics to dsjobs from a shell job: source this file, then
#   dsjobs_metric accuracy 0.93        # prints: DSJOBS_METRIC accuracy=0.93
dsjobs_metric() {
  case "$1" in
    [A-Za-z_]*) ;;
    *) echo "dsjobs_metric: bad metric name '$1'" >&2; return 2 ;;
  esac
  printf 'DSJOBS_METRIC %s=%s\n' "$1" "$2"
}
