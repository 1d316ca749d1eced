#!/usr/bin/env bash
# Mutation fuzzing of approval manifest files: random byte edits, insertions, deletions and truncations
# of a genuine signed manifest go through parse + admission; anything but a clean ApprovalRefusal (a
# crash, another error) fails. GOV_FUZZ_ITERATIONS (default 20000) and GOV_FUZZ_SEED select the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
export GOV_FUZZ_ITERATIONS=${GOV_FUZZ_ITERATIONS:-20000}
export GOV_FUZZ_SEED=${GOV_FUZZ_SEED:-$RANDOM}
echo "governance fuzz: $GOV_FUZZ_ITERATIONS mutations, seed $GOV_FUZZ_SEED"
swift build --build-tests > .build/fuzz-governance-build.log 2>&1 || { tail -30 .build/fuzz-governance-build.log; exit 2; }
swift test --skip-build --filter 'GovernanceTests.*mutatedManifestFilesAreRefusedNeverCrash' 2>&1 | tail -3
