#!/usr/bin/env bash
# DoRA vs LoRA (and full fine-tuning) on SST-2 and TREC with all-MiniLM-L6-v2:
# learning rate chosen on dev at rank 8, then ranks 4, 8, 16 x 3 seeds, scored on test.
# Usage: bench/classification-study.sh MINILM_DIR OUT_DIR [extra ClassificationStudy options]
# (MINILM_DIR: `./dora4j convert --onnx all-minilm-l6-v2.onnx --out MINILM_DIR`). A rerun skips finished runs.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: bench/classification-study.sh MINILM_DIR OUT_DIR [options]}
out=${2:?usage: bench/classification-study.sh MINILM_DIR OUT_DIR [options]}
shift 2
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
mvn -B -ntp -q -Dmaven.test.skip=true package -pl bench -am
run() {
  "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseZGC \
    -cp bench/target/benchmarks.jar dev.dora4j.bench.ClassificationStudy --model "$model" "$@"
}
run --dataset sst2 --out "$out/sst2" --data ../shared/data/classification "$@"
run --dataset trec --out "$out/trec" --data ../shared/data/classification "$@"
