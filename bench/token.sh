#!/usr/bin/env bash
# Token benchmark: signatures per second through the SealToken actor vs calling the PKCS#11 module
# directly, in the same process, on a SoftHSM2 development token (RSA-2048 and EC P-256).
# Target: actor overhead <= 5 % (ratio actor/direct >= 0.95). Also times `token init-dev` (< 2 s).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
BIN=${SEALBATCH_BIN:-$(swift build -c release --show-bin-path)/sealbatch}
[ -x "$BIN" ] || swift build -c release --product sealbatch
# Rounds must be long enough (>= 100 ms) that scheduler noise does not swamp a few-percent difference:
# EC signatures on SoftHSM2 take ~0.1 ms, RSA-2048 ~1 ms.
COUNT_RSA=${TOKEN_BENCH_COUNT_RSA:-6000}
COUNT_EC=${TOKEN_BENCH_COUNT_EC:-40000}
WORK=$(mktemp -d /tmp/sealbatch-bench-token-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
umask 077
head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$WORK/pin"   # random dev PIN, mode 0600, removed on exit

for kt in rsa2048 ec-p256; do
  start=$(date +%s.%N)
  "$BIN" token init-dev --dir "$WORK/$kt" --label "bench-$kt" --key-type "$kt" --pin-file "$WORK/pin" >/dev/null
  end=$(date +%s.%N)
  init_s=$(python3 -c "print(round($end - $start, 3))")
  COUNT=$COUNT_RSA; [ "$kt" = ec-p256 ] && COUNT=$COUNT_EC
  json=$("$BIN" token bench --token-config "$WORK/$kt/token.json" --pin-file "$WORK/pin" --count "$COUNT" 2>/dev/null)
  echo "$kt: $json (init-dev ${init_s}s)"
  actor=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['actor-per-second'])" "$json")
  direct=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['direct-per-second'])" "$json")
  conc=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['actor-concurrent-per-second'])" "$json")
  acpu=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['actor-per-cpu-second'])" "$json")
  dcpu=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['direct-per-cpu-second'])" "$json")
  paired=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['paired-ratio'])" "$json")
  load=$(cut -d' ' -f1 /proc/loadavg)
  python3 scripts/bench-record.py token "$kt signatures/s via actor (load avg $load)" "sig/s" "$actor" "$direct" "direct C_Sign, same process" --target "actor overhead <= 5 % (ratio >= 0.95)" --ratio "$paired"
  python3 scripts/bench-record.py token "$kt signatures per CPU-second via actor" "sig/cpu-s" "$acpu" "$dcpu" "direct C_Sign, same process" --target "actor overhead <= 5 % (ratio >= 0.95)"
  python3 scripts/bench-record.py token "$kt signatures/s via actor, 8 concurrent callers" "sig/s" "$conc" "$direct" "direct C_Sign, same process" --target "ratio >= 0.95"
  python3 scripts/bench-record.py token "$kt token init-dev time" "s" "$init_s" --target "< 2 s"
done
