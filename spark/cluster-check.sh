#!/usr/bin/env bash
# Checks data-parallel training on a real standalone cluster (spark/cluster.sh: a Master and two 1-core Workers on
# 127.0.0.1): DoRA on stories260K, 60 steps of --batch 2 --micro-batch 1, one process against 2 ranks whose first
# executor is SIGKILLed in mid-run. Spark relaunches the gang, it resumes from the last checkpoint, and the adapter
# must be byte-for-byte the one-process adapter. Then LoRA, 20 steps, 2 ranks against one process, byte for byte.
# Takes about a minute and a half; run by .ci/run after `mvn verify`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
model="$(cd ../shared/data/models/stories260K && pwd)/stories260K.bin"
work="$(mktemp -d)"
trap 'spark/cluster.sh stop; rm -rf "$work"' EXIT
./dora4j train --spark 'local[1]' --help >/dev/null   # builds the spark module when needed
master="$(spark/cluster.sh start 2)"
for n in Tom Sue Ben Lily Max Mia; do
  echo "{\"text\": \"Once upon a time, $n had a red ball. $n liked to play with it every day.\"}"
done >"$work/data.jsonl"
common=(--model "$model" --data "$work/data.jsonl" --steps 60 --batch 2 --micro-batch 1 --seq-len 64 --lr 1e-2
  --warmup-steps 0 --dropout 0 --save-every 10 --threads 1)
./dora4j train "${common[@]}" --out "$work/one" >/dev/null 2>&1
./dora4j train --spark "$master" --workers 2 --peer-timeout 30 "${common[@]}" --out "$work/two" >"$work/two.log" 2>&1 &
run=$!
metrics="$work/two/metrics.jsonl"
for i in $(seq 1 1500); do
  [ -f "$metrics" ] && [ "$(wc -l <"$metrics")" -ge 15 ] && break
  sleep 0.2
done
worker="$(cat spark/target/cluster/worker-1.pid)"
executor=""
for p in $(pgrep -P "$worker"); do ps -o args= -p "$p" | grep -q CoarseGrainedExecutorBackend && executor="$p"; done
[ -n "$executor" ] || { echo "FAIL: no executor under worker $worker" >&2; exit 1; }
at="$(wc -l <"$metrics")"
kill -9 "$executor"
echo "SIGKILLed executor $executor at step $at of 60"
wait "$run" || { cat "$work/two.log" >&2; echo "FAIL: the Spark run failed" >&2; exit 1; }
[ "$at" -lt 60 ] || { echo "FAIL: the run ended before the executor was killed" >&2; exit 1; }
[ "$(wc -l <"$metrics")" -eq 60 ] || { echo "FAIL: metrics.jsonl does not hold steps 1 to 60 once each" >&2; exit 1; }
if cmp -s "$work/one/adapter_model.safetensors" "$work/two/adapter_model.safetensors"; then
  echo "OK: after a relaunch from the last checkpoint, 2 ranks on $master end with the one-process adapter, byte for byte"
else
  echo "FAIL: the adapters differ" >&2
  exit 1
fi
lora=(--method lora --model "$model" --data "$work/data.jsonl" --steps 20 --batch 2 --micro-batch 1 --seq-len 64 --lr 1e-2
  --warmup-steps 0 --dropout 0 --save-every 10 --threads 1)
./dora4j train "${lora[@]}" --out "$work/lora-one" >/dev/null 2>&1
./dora4j train --spark "$master" --workers 2 --peer-timeout 30 "${lora[@]}" --out "$work/lora-two" >"$work/lora.log" 2>&1 \
  || { cat "$work/lora.log" >&2; echo "FAIL: the LoRA Spark run failed" >&2; exit 1; }
if cmp -s "$work/lora-one/adapter_model.safetensors" "$work/lora-two/adapter_model.safetensors"; then
  echo "OK: LoRA, 2 ranks on $master end with the one-process adapter, byte for byte"
else
  echo "FAIL: the LoRA adapters differ" >&2
  exit 1
fi
