# Helpers sourced by scripts/bench: process bookkeeping and clean-up, waiting
# on deadlines, starting and stopping each tool under test, and turning the
# handler's log into numbers.
#
# Every process the benchmark starts is recorded by pid in BENCH_PIDS and
# stopped by bench_cleanup (installed as the EXIT trap by scripts/bench),
# together with the process group it leads: tools are started through setsid,
# so a tool's pid is also the id of a group holding whatever it forked (incron's
# shells, xargs' handlers). inboxd puts each handler into a group of its own;
# handlers that would outlive a run (BENCH_HOLD) log their pid, and the files
# listed in BENCH_HOLD_LOGS are read at clean-up to stop them.
#
# Globals expected from scripts/bench: BENCH_TMP (the run's temporary
# directory), BENCH_BIN (the compiled helpers), INBOXD (the daemon binary).

BENCH_PIDS=()
BENCH_HOLD_LOGS=()
BENCH_SYSCTL_SAVED=""   # "path value" of a sysctl to put back
BENCH_KEEP_TMP=0
BENCH_CLK_TCK=$(getconf CLK_TCK)

say() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Sleeps without starting a process: a read with a timeout on a FIFO that
# never delivers anything (the FIFO is opened read-write, so it never blocks
# on open and never reports end of file).
nap() { read -rt "$1" <>"$BENCH_TMP/nap.fifo" || true; }

# Microseconds since the epoch, from bash itself (no fork).
now_us() { local t=$EPOCHREALTIME; printf '%s' "${t/./}"; }

# Starts "$@" in a new session in the background, stdin, stdout and stderr
# from and to the given files, and records its pid. The pid is left in STARTED_PID. setsid
# does not fork here (a background child of a non-interactive shell is not a
# group leader), so the pid is the program's own and also its group's id.
start_bg() {
  local in=$1 out=$2 err=$3
  shift 3
  setsid "$@" <"$in" >"$out" 2>"$err" &
  STARTED_PID=$!
  BENCH_PIDS+=("$STARTED_PID")
}

alive() { kill -0 "$1" 2>/dev/null; }

# Stops one recorded process: SIGTERM, then after `grace` seconds SIGKILL to
# it and its group. Reaps it when it is our child.
stop_pid() {
  local pid=$1 grace=${2:-5} waited=0
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    while alive "$pid" && [ "$(proc_state "$pid")" != Z ] && ((waited < grace * 20)); do
      nap 0.05
      waited=$((waited + 1))
    done
  fi
  kill -KILL -- "-$pid" 2>/dev/null || true
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Field 3 of /proc/PID/stat (R, S, Z, ...), empty when gone.
proc_state() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  printf '%s' "${stat%% *}"
}

kill_hold_handlers() {
  local log pid
  for log in "${BENCH_HOLD_LOGS[@]}"; do
    [ -f "$log" ] || continue
    while read -r _ _ pid _; do
      # Only our handler: a pid may have been reused since it was logged.
      if tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "$BENCH_BIN/handler"; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done <"$log"
  done
}

restore_sysctl() {
  [ -n "$BENCH_SYSCTL_SAVED" ] || return 0
  local path=${BENCH_SYSCTL_SAVED% *} value=${BENCH_SYSCTL_SAVED##* }
  if printf '%s\n' "$value" >"$path" 2>/dev/null; then
    say "restored $path=$value"
  else
    say "warning: could not restore $path to $value"
  fi
  BENCH_SYSCTL_SAVED=""
}

# Lowers (or sets) a sysctl under /proc/sys, remembering the old value for
# restore_sysctl and the EXIT trap. Returns 1 when it cannot be written.
set_sysctl() {
  local path=$1 value=$2 old
  old=$(cat "$path") || return 1
  [ -w "$path" ] || return 1
  [ -z "$BENCH_SYSCTL_SAVED" ] && BENCH_SYSCTL_SAVED="$path $old"
  printf '%s\n' "$value" >"$path" 2>/dev/null || return 1
}

bench_cleanup() {
  local status=$? pid
  trap - EXIT INT TERM
  restore_sysctl
  for pid in "${BENCH_PIDS[@]}"; do stop_pid "$pid" 2; done
  kill_hold_handlers
  if [ -n "${BENCH_TMP:-}" ] && [ -d "$BENCH_TMP" ]; then
    if ((BENCH_KEEP_TMP)); then
      say "kept $BENCH_TMP"
    else
      fast_rm "$BENCH_TMP"
    fi
  fi
  exit "$status"
}

# Puts a finished run's folder aside; it goes with the temporary directory
# when the benchmark ends. Removing it at once would slow every run after
# it: ext4 without a journal (as on the machines this runs on) passes over
# each inode freed in the last 5 s, or 5 min while its table block is not
# yet written back, when it creates a file (find_inode_bit). After 20,000
# deletions a writer alone took 5.1 s for 10,000 files instead of 1.1 s, and
# a tool measured after a removed run measured that instead of itself.
RETIRED=0
retire() {
  [ -d "$1" ] || return 0
  RETIRED=$((RETIRED + 1))
  mkdir -p "$BENCH_TMP/retired"
  mv "$1" "$BENCH_TMP/retired/$RETIRED"
}

# Removes a folder. Freeing a block can take milliseconds on a
# filesystem mounted with online discard, and a run leaves up to 100,000 files
# and as many spool directories, so files and then leaf directories go in
# parallel batches before the rest.
fast_rm() {
  [ -d "$1" ] || return 0
  find "$1" -type f -print0 2>/dev/null | xargs -0 -r -P 8 -n 512 rm -f
  find "$1" -mindepth 1 -type d -links 2 -print0 2>/dev/null | xargs -0 -r -P 8 -n 256 rm -rf
  rm -rf "$1"
}

# --- Waiting --------------------------------------------------------------

# Waits until FILE contains PATTERN (fixed string); fails after DEADLINE s,
# or as soon as the process PID (when given) has ended.
wait_for_text() {
  local file=$1 pattern=$2 deadline=$3 pid=${4:-} start
  start=$(now_us)
  until [ -f "$file" ] && grep -qF -- "$pattern" "$file"; do
    (($(now_us) - start < deadline * 1000000)) || return 1
    if [ -n "$pid" ] && { ! alive "$pid" || [ "$(proc_state "$pid")" = Z ]; }; then return 1; fi
    nap 0.02
  done
}

# Number of handler log lines for benchmark files (probe lines left out).
handled_lines() {
  [ -f "$1" ] || { echo 0; return; }
  grep -cv -- '/probe-' "$1" || true
}

# Waits until LOG holds EXPECTED handler lines, or nothing has been added for
# QUIET seconds, or DEADLINE seconds have passed. Prints the last count.
wait_for_handled() {
  local log=$1 expected=$2 quiet=$3 deadline=$4 start last_change count last=-1
  start=$(now_us)
  last_change=$start
  while :; do
    count=$(handled_lines "$log")
    if ((count != last)); then
      last=$count
      last_change=$(now_us)
    fi
    ((count >= expected)) && break
    (($(now_us) - last_change >= quiet * 1000000)) && break
    (($(now_us) - start >= deadline * 1000000)) && break
    nap 0.25
  done
  echo "$count"
}

# --- Measuring processes ---------------------------------------------------

# utime stime cutime cstime of PID in clock ticks (fields 14-17).
proc_cpu_ticks() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo "0 0 0 0"; return; }
  stat=${stat##*) }
  # After the ")" the first field is field 3, so fields 14-17 are 12-15 here.
  awk '{print $12, $13, $14, $15}' <<<"$stat"
}

# Sum of own CPU (utime+stime) and of reaped children (cutime+cstime) over
# the given pids, in milliseconds: "OWN CHILDREN".
cpu_ms() {
  local pid own=0 kids=0 u s cu cs
  for pid in "$@"; do
    read -r u s cu cs < <(proc_cpu_ticks "$pid")
    own=$((own + u + s))
    kids=$((kids + cu + cs))
  done
  echo "$((own * 1000 / BENCH_CLK_TCK)) $((kids * 1000 / BENCH_CLK_TCK))"
}

# Voluntary and involuntary context switches summed over all threads of PID.
ctxt_switches() {
  cat /proc/"$1"/task/*/status 2>/dev/null |
    awk '/^voluntary_ctxt_switches/ {v += $2} /^nonvoluntary_ctxt_switches/ {n += $2} END {print v + 0, n + 0}'
}

status_kib() { awk -v key="$2:" '$1 == key {print $2}' "/proc/$1/status"; }

# --- Reading the handler's log ---------------------------------------------

# From the handler log LOG of a run whose writer started at FIRST_NS and wrote
# EXPECTED files named PREFIX*: "LINES UNIQUE DUPLICATED MISSED SECONDS", where
# SECONDS runs from the first write to the last handler's end.
summarize_run() {
  local log=$1 first=$2 expected=$3 prefix=${4:-f}
  awk -v first="$first" -v expected="$expected" -v prefix="$prefix" '
    {
      n = split($4, parts, "/"); name = parts[n]
      if (index(name, prefix) != 1) next
      lines++; seen[name]++
      if ($2 + 0 > last) last = $2 + 0
    }
    END {
      for (k in seen) { uniq++; if (seen[k] > 1) dup += seen[k] - 1 }
      secs = last > 0 ? (last - first) / 1e9 : 0
      printf "%d %d %d %d %.6f\n", lines, uniq, dup, expected - uniq, secs
    }' "$log"
}

# Latencies in ms (handler start minus the writer's close), one per file,
# sorted: joins the writer's TIMES file with the handler LOG by file name.
latencies_ms() {
  awk 'NR == FNR { closed[$2] = $1; next }
    {
      n = split($4, parts, "/"); name = parts[n]
      if ((name in closed) && !(name in done)) { done[name] = 1; printf "%.3f\n", ($1 - closed[name]) / 1e6 }
    }' "$1" "$2" | sort -n
}

# JSON object with n, p50, p90, p99, max and a 101-point CDF of a sorted
# column of numbers.
quantiles_json() {
  awk '{ v[++n] = $1 }
    function q(p,   i) { i = int(p * n + 0.999999); if (i < 1) i = 1; if (i > n) i = n; return v[i] }
    END {
      if (n == 0) { print "{\"n\":0}"; exit }
      printf "{\"n\":%d,\"min_ms\":%.3f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"cdf\":[", n, v[1], q(0.5), q(0.9), q(0.99), v[n]
      for (k = 0; k <= 100; k++) printf "%s[%.3f,%.2f]", (k ? "," : ""), (k ? q(k / 100) : v[1]), k / 100
      print "]}"
    }' "$1"
}

# Median wall time in ms of N runs of `inboxctl --socket SOCKET --json status`.
status_median_ms() {
  local ctl=$1 socket=$2 n=$3 i t0 t1
  for ((i = 0; i < n; i++)); do
    t0=$(now_us)
    "$ctl" --socket "$socket" --json status >/dev/null || return 1
    t1=$(now_us)
    echo $((t1 - t0))
  done | sort -n | awk '{v[NR] = $1} END {printf "%.2f", v[int((NR + 1) / 2)] / 1000}'
}
