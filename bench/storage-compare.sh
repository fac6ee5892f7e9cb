#!/usr/bin/env bash
# Training speed and memory of a DoRA step with the frozen base in each storage, one process after the other on the
# same machine: for each round and config, `./dora4j bench` with an F32 base, then BF16, then NF4 (a BF16 model with
# NF4 linear weights), 2 threads, 5 timed steps after 2 warm-up steps, batch 4 on 'small', 2 on 'base', r 16, all
# seven projections.
#
#   bench/storage-compare.sh OUT_DIR [ROUNDS] [CONFIGS]
#
# Writes OUT_DIR/<config>-<storage>-<round>.json and prints, per config and round, each storage's median step and
# peak RSS and its step ratio to the F32 base of the same round.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: bench/storage-compare.sh OUT_DIR [ROUNDS] [CONFIGS]}"
rounds="${2:-3}"
configs="${3:-small base}"
mkdir -p "$out"
cd "$root"
for round in $(seq 1 "$rounds"); do
  for c in $configs; do
    batch=4; [ "$c" = base ] && batch=2
    for s in f32 bf16 nf4; do
      storage=(--dtype "$s"); [ "$s" = nf4 ] && storage=(--dtype bf16 --quantize nf4)
      ./dora4j bench --config "../shared/bench/configs/$c.json" --method dora --batch "$batch" --steps 5 --warmup 2 \
        --threads 2 "${storage[@]}" --json > "$out/$c-$s-$round.json" 2> "$out/$c-$s-$round.err"
      echo "round $round $c $s done" >&2
    done
  done
done
/usr/bin/python3 - "$out" "$rounds" "$configs" <<'PY'
import json, sys
out, rounds, configs = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
print("| config | round | storage | step s | ratio to F32 | peak RSS MB | bytes per frozen param |")
print("|---|---|---|---|---|---|---|")
for c in configs:
    for r in range(1, rounds + 1):
        runs = {s: json.load(open(f"{out}/{c}-{s}-{r}.json")) for s in ("f32", "bf16", "nf4")}
        for s, o in runs.items():
            print(f"| {c} | {r} | {s} | {o['step_s_median']:.3f} | {o['step_s_median'] / runs['f32']['step_s_median']:.2f} | "
                  f"{o['peak_rss_mb']:.0f} | {o['bytes_per_frozen_param']:.2f} |")
PY
