#!/usr/bin/env bash
# Side-by-side training speed and memory of dora4j and the PyTorch peer (../shared/bench/peer-torch), one run after
# the other on the same machine: for each round, config and method, the peer first, then `./dora4j bench` with the
# peer's settings (2 threads, 5 timed steps after 2 warm-up steps; batch 4 on 'small', 2 on 'base', 1 on 'qwen05b' and
# 'llama1b'; sequences of 256).
#
#   bench/peer-compare.sh OUT_DIR [ROUNDS] [CONFIGS] [METHODS]
#   bench/peer-compare.sh /tmp/cmp 2 "small base" "lora dora"
#
# Writes OUT_DIR/peer.jsonl (the peer's records), OUT_DIR/dora4j-<config>-<method>-<round>.json and prints two tables:
# per config and method the median over rounds of each side's median step time, tokens/s and peak RSS, and the ratios;
# then every round: both sides' median steps, dora4j's first step over its median, peak RSS, the fraction of the FMA
# peak measured after the run, each timed step, and the JIT compilation (ms) and GC cycles within each.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: bench/peer-compare.sh OUT_DIR [ROUNDS] [CONFIGS] [METHODS]}"
rounds="${2:-2}"
configs="${3:-small base}"
methods="${4:-lora dora}"
peer="$root/../shared/bench/peer-torch"
mkdir -p "$out"
cd "$root"
for round in $(seq 1 "$rounds"); do
  for c in $configs; do
    batch=4; [ "$c" = base ] && batch=2; case "$c" in qwen05b|llama1b) batch=1 ;; esac
    for m in $methods; do
      pm="$m"; [ "$m" = full ] && pm=ft
      ( eval "$(bash "$peer/setup.sh")"
        /usr/bin/python3 "$peer/torch_ref.py" --mode "$pm" --config "$c" --threads 2 --steps 5 --warmup 2 \
          --json "$out/peer.jsonl" --tag "round$round" > "$out/peer-$c-$m-$round.txt" 2>&1 )
      ./dora4j bench --config "../shared/bench/configs/$c.json" --method "$m" --batch "$batch" --steps 5 --warmup 2 \
        --threads 2 --json > "$out/dora4j-$c-$m-$round.json" 2> "$out/dora4j-$c-$m-$round.err"
      echo "round $round $c $m done" >&2
    done
  done
done
/usr/bin/python3 - "$out" <<'EOF'
import glob, json, statistics, sys
out = sys.argv[1]
peer = {}
for line in open(f"{out}/peer.jsonl"):
    r = json.loads(line)
    peer.setdefault((r["config"], "full" if r["mode"] == "ft" else r["mode"]), []).append(r)
ours = {}
for f in sorted(glob.glob(f"{out}/dora4j-*.json")):
    r = json.load(open(f))
    r["_round"] = int(f.rsplit("-", 1)[1].removesuffix(".json"))
    c = r["config"].split("/")[-1].removesuffix(".json")
    ours.setdefault((c, r["method"]), []).append(r)
med = statistics.median
print("| config | method | peer step s | dora4j step s | peer tok/s | dora4j tok/s | speed ratio | peer peak RSS MB | dora4j peak RSS MB | RSS ratio | dora4j GFLOP/s (of measured FMA peak) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
rows = {}
for key in sorted(ours, key=lambda k: (k[0] != "small", k[1])):
    if key not in peer:
        continue
    p, o = peer[key], ours[key]
    ps, os_ = med([r["step_s_median"] for r in p]), med([r["step_s_median"] for r in o])
    prss, orss = med([r["peak_rss_all_mb"] for r in p]), med([r["peak_rss_mb"] for r in o])
    gf = med([r["gflops_per_s"] for r in o])
    frac = med([r["fraction_of_peak"] for r in o])
    rows[key] = (ps, os_, prss, orss)
    print(f"| {key[0]} | {key[1]} | {ps:.3f} | {os_:.3f} | {p[0]['B'] * p[0]['T'] / ps:.0f} | {o[0]['batch'] * o[0]['seq_len'] / os_:.0f} "
          f"| {ps / os_:.2f}x | {prss:.0f} | {orss:.0f} | {orss / prss:.2f} | {gf:.0f} ({100 * frac:.0f} %) |")
for c in sorted({k[0] for k in rows}):
    if (c, "dora") in rows and (c, "lora") in rows:
        d, l = rows[(c, "dora")], rows[(c, "lora")]
        print(f"{c}: DoRA/LoRA step time dora4j {d[1] / l[1]:.2f}x, peer {d[0] / l[0]:.2f}x; "
              f"DoRA/LoRA peak RSS dora4j {d[3] / l[3]:.2f}x, peer {d[2] / l[2]:.2f}x")
# every round: the targets hold per round, so the medians above are not enough to judge them
print()
print("| config | method | round | peer / dora4j step s | speed ratio | first/median | peak RSS MB dora4j / peer "
      "| RSS ratio | % of FMA peak | dora4j's timed steps s | JIT ms / GC cycles per timed step |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
tags = {}
for key, recs in peer.items():
    for r in recs:
        tags[(key, r["tag"])] = r
for key in sorted(ours, key=lambda k: (k[0] != "small", k[1])):
    for o in sorted(ours[key], key=lambda r: r["_round"]):
        p = tags.get((key, f"round{o['_round']}"))
        if p is None:
            continue
        steps = " ".join(f"{t:.3f}" for t in o["step_s"])
        jvm = " ".join(f"{j}/{c}" for j, c in zip(o.get("step_jit_ms", []), o.get("step_gc_cycles", []))) or "-"
        print(f"| {key[0]} | {key[1]} | {o['_round']} | {p['step_s_median']:.3f} / {o['step_s_median']:.3f} "
              f"| {p['step_s_median'] / o['step_s_median']:.2f}x | {o['step_s'][0] / o['step_s_median']:.2f} "
              f"| {o['peak_rss_mb']:.0f} / {p['peak_rss_all_mb']:.0f} | {o['peak_rss_mb'] / p['peak_rss_all_mb']:.2f} "
              f"| {100 * o['fraction_of_peak']:.0f} % of {o['fma_peak_gflops']:.0f} | {steps} | {jvm} |")
EOF
