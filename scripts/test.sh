#!/usr/bin/env bash
# The whole test suite from a fresh machine: install deps, configure, build, run ctest.
#   scripts/test.sh                 # Release-ish build in build/
#   FERRY_SANITIZE=address,undefined BUILD_TYPE=Sanitize BUILD_DIR=build-asan scripts/test.sh
#   FERRY_SANITIZE=thread BUILD_TYPE=Sanitize BUILD_DIR=build-tsan scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DFERRY_SANITIZE="${FERRY_SANITIZE:-}" >/dev/null
cmake --build "$build_dir" -j "$jobs"
if ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 300; then
  exit 0
fi
# LeakSanitizer's stop-the-world tracer (it ptraces every thread at exit to scan for leaks)
# sometimes crashes itself ("Tracer caught signal 11 ... LeakSanitizer has encountered a
# fatal error") while io_uring's kernel worker threads of the process are exiting: a crash
# of the tool after the test passed, not a report. Only when every failure is that, and
# nothing failed or was reported otherwise, the failed tests run once more; any other
# failure fails here.
tmp="$build_dir/Testing/Temporary"
if [ -n "${FERRY_SANITIZE:-}" ] && [ -f "$tmp/LastTestsFailed.log" ]; then
  failed=$(wc -l <"$tmp/LastTestsFailed.log")
  tracer=$(grep -c "LeakSanitizer has encountered a fatal error" "$tmp/LastTest.log" || true)
  if [ "$failed" -gt 0 ] && [ "$tracer" -ge "$failed" ] &&
     ! grep -qE '^\[  FAILED  \]|ERROR: (Address|Leak)Sanitizer: |WARNING: ThreadSanitizer|runtime error:' "$tmp/LastTest.log"; then
    echo "test.sh: $failed test(s) passed but LeakSanitizer's tracer crashed at their exit; running them once more:"
    cat "$tmp/LastTestsFailed.log"
    exec ctest --test-dir "$build_dir" --output-on-failure --rerun-failed --timeout 300
  fi
fi
exit 1
