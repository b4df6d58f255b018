#!/usr/bin/env bash
# Runs every suite against one build (ASan + UBSan from `make test`):
# Criterion unit tests, node --test system tests, Playwright browser tests.
# Ends with one line "N passed, N failed" summing all suites.
set -uo pipefail
build=${1:-build-asan}
cd "$(dirname "$0")/.."
root=$(pwd)
export VIGIL_BIN="$root/$build/vigil"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
passed=0
failed=0
unit_failed=""

echo "== unit tests (Criterion)"
for t in "$build"/tests/unit/test_*; do
  [ -f "$t" ] && [ -x "$t" ] || continue
  name=$(basename "$t")
  "$t" --jobs 1 >"$out/$name.log" 2>&1
  rc=$?
  line=$(grep -a "Synthesis:" "$out/$name.log" | tail -1)
  p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$line")
  f=$(sed -n 's/.*Failing: \([0-9]*\).*Crashing: \([0-9]*\).*/\1 \2/p' <<<"$line")
  if [ -z "$p" ]; then p=0; f="1 0"; fi
  read -r fl cr <<<"$f"
  fails=$((fl + cr))
  if [ $rc -ne 0 ] && [ $fails -eq 0 ]; then fails=1; fi
  passed=$((passed + p))
  failed=$((failed + fails))
  if [ $fails -ne 0 ]; then
    echo "FAIL $name: $p passed, $fails failed"
    unit_failed+=" $name"
    grep -a -E "FAIL|Assertion|ERROR|runtime error|Sanitizer" "$out/$name.log" | head -40
  else
    echo "ok   $name: $p passed"
  fi
done

run_node() { # suite-name dir
  local suite=$1 dir=$2
  echo "== $suite tests (node --test $dir)"
  node --test --test-concurrency=1 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$out/$suite.tap" \
    "$dir"/*.test.mjs
  local rc=$?
  local p f
  p=$(grep -E '^# pass ' "$out/$suite.tap" | tail -1 | awk '{print $3}')
  f=$(grep -E '^# fail ' "$out/$suite.tap" | tail -1 | awk '{print $3}')
  p=${p:-0}
  f=${f:-0}
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p))
  failed=$((failed + f))
}

# Each failing node test with the first lines of its error, so the end of
# the output says what failed even when only the tail of it is kept.
tap_failures() { # tap-file
  awk '
    /^ *not ok / { show = 1; err = 0; n = 0; sub(/^ */, ""); print "  " $0; next }
    !show { next }
    /^ *\.\.\.$/ { show = 0; next }
    /^ *error:/ { err = 1 }
    /^ *(code|name|expected|actual|operator|stack|location|failureType|duration_ms):/ { err = 0 }
    err && n < 10 && !/^ *$/ { sub(/^ */, ""); print "      " $0; n++ }
  ' "$1"
}

run_node system tests/system
run_node browser tests/browser

if [ $failed -ne 0 ]; then
  echo "== failures"
  [ -n "$unit_failed" ] && echo "  unit:$unit_failed (their output is above)"
  for t in "$out"/*.tap; do [ -f "$t" ] && tap_failures "$t"; done
fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
