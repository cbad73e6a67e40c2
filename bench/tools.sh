# The four contenders behind one interface, sourced by scripts/bench after
# bench/lib.sh:
#
#   tool_start TOOL RUN DIR LOG   start TOOL watching DIR with the handler
#                                 appending to LOG; returns once it is ready.
#                                 RUN is the run's private scratch folder.
#   tool_feed                     where the writer's -p output must go ("" when
#                                 the tool watches the folder itself)
#   tool_cpu                      "OWN_MS CHILDREN_MS" of the tool's processes
#   tool_stop                     stop it, letting running handlers finish
#
# TOOL is one of inboxd, limit, inotifywait, incron. The number of handlers in
# flight is BENCH_CONCURRENCY; inboxd's inbox can get extra YAML lines from
# INBOX_EXTRA. Only one tool runs at a time; its state is in TOOL_*.

TOOL_NAME=""
TOOL_PIDS=()
TOOL_RUN=""
TOOL_FEED=""
INBOX_EXTRA=""

tool_start() {
  TOOL_NAME=$1 TOOL_RUN=$2
  TOOL_PIDS=()
  TOOL_FEED=""
  mkdir -p "$TOOL_RUN"
  "start_$1" "$3" "$4"
}

tool_feed() { printf '%s' "$TOOL_FEED"; }

tool_cpu() {
  if [ "$TOOL_NAME" = limit ]; then
    echo "0 0"  # read from its exit report by tool_stop_cpu
  else
    cpu_ms "${TOOL_PIDS[@]}"
  fi
}

tool_stop() { "stop_$TOOL_NAME"; }

# --- inboxd ---------------------------------------------------------------

# Writes an inboxd configuration for one inbox "bench" on DIR.
inboxd_config() {
  local file=$1 state=$2 dir=$3 log=$4 concurrency=$5
  cat >"$file" <<YAML
state_dir: "$state"
log_level: info
shutdown_grace: 3s
inboxes:
  - name: bench
    path: "$dir"
    command: ["$BENCH_BIN/handler", "$log", "{path}"]
    settle: 0
    concurrency: $concurrency
    max_queue: 2000000
    error_threshold: off
    kill_grace: 1s
$INBOX_EXTRA
YAML
}

# Starts inboxd (optionally under a wrapper such as valgrind, in WRAP) and
# waits for "inboxd ready"; READY_DEADLINE seconds at most.
start_inboxd() {
  local dir=$1 log=$2
  inboxd_config "$TOOL_RUN/inboxd.yaml" "$TOOL_RUN/state" "$dir" "$log" "$BENCH_CONCURRENCY"
  # WRAP is a command prefix of plain words, split on purpose.
  # shellcheck disable=SC2086
  start_bg /dev/null /dev/null "$TOOL_RUN/inboxd.log" ${WRAP:-} "$INBOXD" --config "$TOOL_RUN/inboxd.yaml"
  TOOL_PIDS=("$STARTED_PID")
  wait_for_text "$TOOL_RUN/inboxd.log" "inboxd ready" "${READY_DEADLINE:-120}" "$STARTED_PID" ||
    die "inboxd did not become ready (log: $(tail -n 3 "$TOOL_RUN/inboxd.log" 2>/dev/null))"
}

stop_inboxd() { stop_pid "${TOOL_PIDS[0]}" 30; }

# Jobs in state STATE (or all states but claiming when STATE is "any"),
# from the daemon's own counters.
queue_count() {
  local db=$TOOL_RUN/state/queue.db where=""
  [ "$1" = any ] || where="WHERE state = '$1'"
  sqlite3 -cmd ".timeout 2000" "$db" "SELECT coalesce(sum(n), 0) FROM job_counts $where;" \
    2>/dev/null || echo 0
}

# Waits until inboxd has recorded EXPECTED jobs as done; DEADLINE seconds.
wait_for_done() {
  local expected=$1 deadline=$2 start
  start=$(now_us)
  until (($(queue_count "done") >= expected)); do
    (($(now_us) - start < deadline * 1000000)) || return 1
    nap 0.1
  done
}

# --- limit: posix_spawn from a list, no watching ------------------------------

start_limit() {
  local log=$2
  TOOL_FEED=$TOOL_RUN/feed
  mkfifo "$TOOL_FEED"
  start_bg "$TOOL_FEED" /dev/null "$TOOL_RUN/limit.err" \
    "$BENCH_BIN/spawn_limit" "$BENCH_CONCURRENCY" "$BENCH_BIN/handler" "$log"
  TOOL_PIDS=("$STARTED_PID")
}

# The limit program ends by itself once the writer closes the FIFO.
stop_limit() {
  local start
  start=$(now_us)
  while alive "${TOOL_PIDS[0]}" && (($(now_us) - start < 60000000)); do
    [ "$(proc_state "${TOOL_PIDS[0]}")" = Z ] && break
    nap 0.05
  done
  stop_pid "${TOOL_PIDS[0]}" 5
}

# "OWN_MS CHILDREN_MS" from the limit program's exit report.
limit_cpu() {
  sed -n 's/.*self_ms=\([0-9]*\) children_ms=\([0-9]*\).*/\1 \2/p' "$TOOL_RUN/limit.err"
}

# --- inotifywait | xargs -P ----------------------------------------------------

start_inotifywait() {
  local dir=$1 log=$2
  mkfifo "$TOOL_RUN/events"
  start_bg /dev/null "$TOOL_RUN/events" "$TOOL_RUN/inotifywait.err" \
    inotifywait -m -e close_write,moved_to --format %w%f "$dir"
  TOOL_PIDS=("$STARTED_PID")
  start_bg "$TOOL_RUN/events" /dev/null "$TOOL_RUN/xargs.err" \
    xargs -P "$BENCH_CONCURRENCY" -n 1 "$BENCH_BIN/handler" "$log"
  TOOL_PIDS+=("$STARTED_PID")
  wait_for_text "$TOOL_RUN/inotifywait.err" "Watches established" 30 "${TOOL_PIDS[0]}" ||
    die "inotifywait did not start: $(cat "$TOOL_RUN/inotifywait.err")"
}

# Stopping inotifywait closes the pipe; xargs then waits for its handlers.
stop_inotifywait() {
  local start
  stop_pid "${TOOL_PIDS[0]}" 5
  start=$(now_us)
  while alive "${TOOL_PIDS[1]}" && [ "$(proc_state "${TOOL_PIDS[1]}")" != Z ] &&
    (($(now_us) - start < 30000000)); do
    nap 0.05
  done
  stop_pid "${TOOL_PIDS[1]}" 5
}

# --- incrond ------------------------------------------------------------------

# incrond runs in the foreground (-n) on a configuration of its own (-f), so
# its system table, user tables, allow list and lock file all live in the
# run's folder and nothing under /etc is touched. Readiness: probe files are
# dropped until the handler reports one.
start_incron() {
  local dir=$1 log=$2 k=0 start
  mkdir -p "$TOOL_RUN/incron.d" "$TOOL_RUN/incron.user"
  : >"$TOOL_RUN/incron.allow"
  cat >"$TOOL_RUN/incron.conf" <<CONF
system_table_dir = $TOOL_RUN/incron.d
user_table_dir = $TOOL_RUN/incron.user
allowed_users = $TOOL_RUN/incron.allow
lockfile_dir = $TOOL_RUN
lockfile_name = incrond
CONF
  printf '%s IN_CLOSE_WRITE,IN_MOVED_TO %s %s $@/$#\n' "$dir" "$BENCH_BIN/handler" "$log" \
    >"$TOOL_RUN/incron.d/bench"
  start_bg /dev/null "$TOOL_RUN/incrond.out" "$TOOL_RUN/incrond.err" \
    incrond -n -f "$TOOL_RUN/incron.conf"
  TOOL_PIDS=("$STARTED_PID")
  start=$(now_us)
  until [ -f "$log" ] && grep -qF -- "/probe-" "$log"; do
    alive "${TOOL_PIDS[0]}" || die "incrond exited: $(cat "$TOOL_RUN/incrond.err")"
    (($(now_us) - start < 30000000)) || die "incrond did not run the probe handler"
    k=$((k + 1))
    : >"$dir/probe-$k"
    nap 0.2
  done
  nap 0.3
  rm -f "$dir"/probe-*
}

stop_incron() {
  stop_pid "${TOOL_PIDS[0]}" 5
}
