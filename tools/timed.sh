#!/usr/bin/env bash
# Time one phase of `make book` / `make test`, or print the phases timed so far.
#   tools/timed.sh PHASE COMMAND [ARGS...]   run COMMAND; print and record its wall time
#   tools/timed.sh --summary                 the phases recorded since the last --reset
#   tools/timed.sh --reset                   forget the recorded phases
set -uo pipefail
LOG=_build/phase_times.txt
case "${1:-}" in
  --reset) mkdir -p _build && : > "$LOG"; exit 0 ;;
  --summary)
    [ -s "$LOG" ] || exit 0
    echo "time per phase:"
    awk -F'\t' '{printf "  %-16s %7.1f s\n", $1, $2; t += $2} END {printf "  %-16s %7.1f s\n", "total", t}' "$LOG"
    exit 0 ;;
esac
phase=$1; shift
start=$(date +%s.%N)
"$@"; rc=$?
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
mkdir -p _build && printf '%s\t%s\n' "$phase" "$secs" >> "$LOG"
echo "⏱ $phase: $secs s$([ $rc -ne 0 ] && echo " (failed, exit $rc)")"
exit $rc
