#!/usr/bin/env bash
# The full crash test of issue #13: 200 approved documents, 25 kill -9 at random moments of each run of
# `sealbatch run --once` (restarted each time), three seeds. Each run must end with 200 delivered, each
# with one new valid signature (pyHanko), 200 `stamp` records naming the delivered bytes, 200 approval
# uses (consumed once, none given back), no quarantine (so no `crash-loop`), `audit verify` intact.
# `make test` runs the same test smaller (60 documents, 12 kills, one random seed).
#
#   scripts/kill-soak.sh                      # seeds 1301,1302,1303, build in .build
#   SEEDS=7,8,9 DOCS=200 KILLS=30 SCRATCH=.build-b scripts/kill-soak.sh
#
# One line per seed ("crash run seed …") with the measured numbers; exit status is the test's.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
SCRATCH=${SCRATCH:-.build}
export SEALBATCH_CRASH_DOCS=${DOCS:-200}
export SEALBATCH_CRASH_KILLS=${KILLS:-25}
export SEALBATCH_CRASH_SEEDS=${SEEDS:-1301,1302,1303}
export SEALBATCH_REQUIRE_TOOLS=1
if [ "${SKIP_BUILD:-}" != "1" ]; then swift build --build-tests --scratch-path "$SCRATCH"; fi
SEALBATCH_TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sealbatch-kill-soak.XXXXXX")
export SEALBATCH_TEST_TMP
OUT="$SEALBATCH_TEST_TMP/output.txt"
status=0
swift test --skip-build --scratch-path "$SCRATCH" --filter 'CrashTests/everyDocumentSealedAndRecordedExactlyOnceAcrossKillNines' 2>&1 | tee "$OUT" || status=$?
grep '^crash run seed' "$OUT" || true
if [ "$status" = 0 ]; then rm -rf "$SEALBATCH_TEST_TMP"; else echo "test files kept in $SEALBATCH_TEST_TMP" >&2; fi
exit "$status"
