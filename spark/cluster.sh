#!/usr/bin/env bash
# A real Spark standalone cluster on this machine from the build's jars: one Master and two Workers (1 core and
# 1 GB each by default), all bound to 127.0.0.1, started in the background and stopped by the PIDs this script wrote.
#   spark/cluster.sh start [WORKERS]   prints the master URL (spark://127.0.0.1:7077) on stdout
#   spark/cluster.sh stop
# Needs `mvn -pl spark -am package -DskipTests` (./dora4j ... --spark builds it). State and logs: spark/target/cluster/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="$here/target/cluster"
home="$here/target/spark-home"
port="${SPARK_MASTER_PORT:-7077}"
java="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
opens=()
for pkg in java.lang java.lang.invoke java.lang.reflect java.io java.net java.nio java.util java.util.concurrent \
    java.util.concurrent.atomic jdk.internal.ref sun.nio.ch sun.nio.cs sun.util.calendar; do
  opens+=("--add-opens=java.base/$pkg=ALL-UNNAMED")
done

start() {
  local workers="${1:-2}"
  [ -f "$here/target/dora4j-spark.jar" ] || { echo "error: build first: mvn -pl spark -am package -DskipTests" >&2; exit 1; }
  if [ -f "$state/master.pid" ] && kill -0 "$(cat "$state/master.pid")" 2>/dev/null; then
    echo "error: a cluster started here is running (stop it with $0 stop)" >&2; exit 1
  fi
  # Workers start executors with SPARK_HOME/jars/* as their class path: the runtime jars and dora4j's.
  rm -rf "$home" && mkdir -p "$home/jars" "$state"
  ln -s "$here/target/lib/"*.jar "$here/target/dora4j-spark.jar" "$home/jars/"
  export SPARK_HOME="$home" SPARK_SCALA_VERSION=2.13 SPARK_LOCAL_IP=127.0.0.1
  local cp="$home/jars/*"
  # the daemons log at INFO to their files (dora4j's jar keeps Spark quiet for the command line)
  cat >"$state/log4j2.properties" <<'LOG'
rootLogger.level = info
rootLogger.appenderRef.stderr.ref = stderr
appender.console.type = Console
appender.console.name = stderr
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
LOG
  opens+=("-Dlog4j2.configurationFile=$state/log4j2.properties" --enable-native-access=ALL-UNNAMED)
  nohup "$java" -Xmx512m "${opens[@]}" -cp "$cp" org.apache.spark.deploy.master.Master \
    --host 127.0.0.1 --port "$port" --webui-port 0 >"$state/master.log" 2>&1 &
  echo $! >"$state/master.pid"
  for i in $(seq 1 60); do
    grep -q "I have been elected leader" "$state/master.log" 2>/dev/null && break
    sleep 1
  done
  grep -q "I have been elected leader" "$state/master.log" || { echo "error: the master did not start; see $state/master.log" >&2; stop; exit 1; }
  for w in $(seq 1 "$workers"); do
    mkdir -p "$state/worker-$w"
    nohup "$java" -Xmx512m "${opens[@]}" -cp "$cp" org.apache.spark.deploy.worker.Worker --host 127.0.0.1 \
      --cores 1 --memory "${SPARK_WORKER_MEMORY:-1g}" --webui-port 0 --work-dir "$state/worker-$w" \
      "spark://127.0.0.1:$port" >"$state/worker-$w.log" 2>&1 &
    echo $! >"$state/worker-$w.pid"
  done
  for i in $(seq 1 60); do
    [ "$(grep -l "Successfully registered with master" "$state"/worker-*.log 2>/dev/null | wc -l)" -ge "$workers" ] && break
    sleep 1
  done
  echo "spark://127.0.0.1:$port"
}

stop() {
  for f in "$state"/worker-*.pid "$state"/master.pid; do
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    if kill -0 "$pid" 2>/dev/null; then
      # the worker's executors are its children; they end with it
      pkill -TERM -P "$pid" 2>/dev/null || true
      kill "$pid" 2>/dev/null || true
      for i in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

case "${1:-}" in
  start) start "${2:-2}" ;;
  stop) stop ;;
  *) echo "usage: $0 start [WORKERS] | stop" >&2; exit 2 ;;
esac
