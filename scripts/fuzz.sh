#!/usr/bin/env bash
# Runs every libFuzzer target for a fixed time, each with its own corpus
# folder under tests/fuzz/corpus-<name> (not committed), and stops at the
# first crash with the reproducer's path.
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-60}
cd "$(dirname "$0")/.."
status=0
for f in "$build"/tests/fuzz/fuzz_*; do
  [ -f "$f" ] && [ -x "$f" ] || continue
  name=$(basename "$f")
  corpus="tests/fuzz/corpus-${name#fuzz_}"
  mkdir -p "$corpus"
  echo "fuzz: $name for ${seconds}s"
  if ! "$f" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$build/" "$corpus" 2>"$build/$name.log"; then
    echo "fuzz: $name FAILED, see $build/$name.log"
    tail -30 "$build/$name.log"
    status=1
  else
    grep -E "stat::number_of_executed_units" "$build/$name.log" | sed "s/^/  $name /"
  fi
done
exit $status
