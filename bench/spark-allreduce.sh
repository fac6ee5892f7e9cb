#!/usr/bin/env bash
# The ring all-reduce's cost per step (1, 4, 40 MB on 2 and 4 ranks, loopback TCP) and the step time it predicts at
# 8 and 64 workers: bench/spark-allreduce.sh [COMPUTE_S GRADIENT_MB]. Results: bench/spark-allreduce.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
cd "$root"
mvn -B -q -o -pl spark -am test-compile -DskipTests >&2
mvn -B -q -o -pl spark dependency:build-classpath -Dmdep.outputFile=spark/target/test-classpath.txt -Dmdep.includeScope=test >&2 2>/dev/null \
  || (cd spark && ls target/lib/*.jar | tr '\n' ':' > target/test-classpath.txt)
cp="spark/target/test-classes:spark/target/classes:core/target/classes:$(cat spark/target/test-classpath.txt)"
for jar in spark/target/lib/*.jar; do cp="$cp:$jar"; done
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -Xmx2g -cp "$cp" dev.dora4j.spark.RingAllReduceBench "$@"
