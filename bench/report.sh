#!/usr/bin/env bash
# Renders a benchmark's results.json into DIR/benchmarks.md and the plots
# DIR/bench/throughput.png and DIR/bench/latency.png, and prints the headline
# table. Every number in the document comes from results.json, except the
# section "Where the time goes", which is bench/profile.md: profiles taken by
# hand (perf, callgrind, strace), each with its command and date.
#
#   bench/report.sh RESULTS_JSON DIR

# The jq programs below are in single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: bench/report.sh RESULTS_JSON DIR" >&2; exit 2; }
RESULTS=$(realpath "$1")
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT/bench"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/inboxd-report.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# jq on the results; null and missing values print as "n/a".
j() { jq -r "($1) // \"n/a\"" "$RESULTS"; }
has() { [ "$(jq -r "has(\"$1\")" "$RESULTS")" = true ]; }

JQ_LIB='
def r0: if type == "number" then round else . end;
def r1: if type == "number" then (. * 10 | round) / 10 else . end;
def r2: if type == "number" then (. * 100 | round) / 100 else . end;
def r3: if type == "number" then (. * 1000 | round) / 1000 else . end;
def pct: if type == "number" then "\(. * 100 | round) %" else "n/a" end;
def commas: if type == "number" then round | tostring | explode | reverse
  | [recurse(.[3:]; length > 0) | .[0:3] | reverse | implode] | reverse | join(",") else . end;
def tname: {inboxd: "inboxd", limit: "limit (posix_spawn, no watching)",
            inotifywait: "inotifywait \\| xargs -P2", incron: "incrond"}[.] // .;
'
jr() { jq -r "$JQ_LIB $1" "$RESULTS"; }

# --- Plots ----------------------------------------------------------------------

plots() {
  command -v gnuplot >/dev/null || { echo "report: gnuplot missing, no plots" >&2; return 0; }
  if has throughput; then
    jr '.throughput as $t | "round inboxd limit inotifywait incron",
        ($t.runs | group_by(.round)[] | . as $r
         | "\($r[0].round) " + (["inboxd", "limit", "inotifywait", "incron"]
             | map(. as $tool | ($r[] | select(.tool == $tool) | .files_per_s) // 0 | tostring)
             | join(" ")))' >"$WORK/throughput.dat"
    gnuplot -e "data='$WORK/throughput.dat'; out='$OUT/bench/throughput.png'; subtitle='$(j '.throughput.files') files, $(j '.throughput.concurrency') handlers in flight'" \
      "$HERE/throughput.gp"
  fi
  if has latency; then
    local tool
    for tool in inboxd limit inotifywait incron; do
      jq -r --arg t "$tool" '.latency.tools[] | select(.tool == $t) | .cdf[]? |
        "\(if .[0] < 0.1 then 0.1 else .[0] end) \(.[1])"' "$RESULTS" >"$WORK/$tool.dat"
      [ -s "$WORK/$tool.dat" ] || echo "0.1 0" >"$WORK/$tool.dat"
    done
    gnuplot -e "dir='$WORK'; out='$OUT/bench/latency.png'; subtitle='$(j '.latency.rate_per_s') files/s for $(j '.latency.seconds') s, settle 0'" \
      "$HERE/latency.gp"
  fi
}

# --- Document -------------------------------------------------------------------

machine_section() {
  cat <<MD
## The machine and the run

| | |
|---|---|
| started | $(j '.machine.started_at') (mode: **$(j '.machine.mode')**, took $(j '.machine.duration_seconds') s) |
| CPUs | $(j '.machine.nproc') × $(j '.machine.cpu_model') |
| two busy processes | got $(jr '.calibration.effective_cpus | r2')× the work of one (bench/cpu_spin.c, 2 s each) |
| memory | $(jr '.machine.memory_kib / 1048576 | r1') GiB |
| kernel / OS | $(j '.machine.kernel') / $(j '.machine.os') |
| temporary directory | \`$(j '.machine.tmp_dir')\` on $(j '.machine.tmp_fs') |
| one synced 4 KiB write | $(j '.calibration.synced_write_ms') ms (dd oflag=dsync, 200 writes) |
| one handler start, run and wait | $(j '.calibration.handler_start_ms') ms (hyperfine -N, mean) |
| removing an empty directory | $(j '.calibration.rmdir_ms') ms (200 in a row; the filesystem is mounted with online discard) |
| load average (1, 5, 15 min) | $(j '.machine.loadavg_start') at the start, $(j '.machine.loadavg_end') at the end |
| versions | $(j '.machine.versions.inboxd'); $(j '.machine.versions.inotifywait'); $(j '.machine.versions.incron'); SQLite $(j '.machine.versions.sqlite'); $(j '.machine.versions.valgrind') |
| handler | \`bench/handler.c\`, linked $(j '.machine.handler_link') |

Run folders are removed only when the benchmark ends, and on ext4 without a
journal the benchmark first waits 30 s for the writeback of earlier
deletions: there, creating files after many deletions is up to twenty times
slower for tens of seconds (\`retire\` in \`bench/lib.sh\`), which would
have charged each run for the cleanup of the one before.

Other people were compiling and running tests on this machine during the run
(see the load averages above; each throughput run records the 1-minute load
at its start in \`results.json\`). Every timing below is one sample from a
shared, noisy machine.
MD
}

targets_section() {
  has throughput || has latency || has claim || has scale || return 0
  cat <<MD

## Targets

Each line is one target, the figure this run measured for it, and whether it
held. Ratios are medians of per-round ratios (each round's rates divided by
one another); "CPU per file" counts the tool's processes and the handlers it
started, so that the limit program is charged for its handlers too.

| target | measured | held |
|---|---|---|
$(jr '
  def yes($ok): if $ok == null then "n/a" elif $ok then "yes" else "**no**" end;
  def median: sort | if length == 0 then null
    elif length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def round_ratio($a; $b): [.throughput.runs as $r | $r[] | select(.tool == $a) | . as $x
    | ($r[] | select(.tool == $b and .round == $x.round) | .files_per_s) as $y
    | select($y > 0) | $x.files_per_s / $y] | median;
  (if .throughput then
    (.throughput.summary) as $s |
    (round_ratio("inboxd"; "limit")) as $rl | (round_ratio("inboxd"; "inotifywait")) as $ri |
    (round_ratio("inboxd"; "incron")) as $rc |
    ($s.inboxd.median_cpu_total_ms_per_file / $s.limit.median_cpu_total_ms_per_file) as $cpu |
    "| throughput ≥ 0.9 × the limit | \($rl | r2) × (\($s.inboxd.median_files_per_s | r1) against \($s.limit.median_files_per_s | r1) files/s) | \(yes($rl >= 0.9)) |",
    "| throughput ≥ 1.8 × inotifywait \\| xargs | \($ri | r2) × | \(yes($ri >= 1.8)) |",
    "| throughput ≥ 3 × incrond | \($rc | r2) × | \(yes($rc >= 3)) |",
    "| CPU per file ≤ 1.2 × the limit | \($cpu | r2) × (\($s.inboxd.median_cpu_total_ms_per_file | r3) against \($s.limit.median_cpu_total_ms_per_file | r3) ms; the daemon alone \($s.inboxd.median_cpu_own_ms_per_file | r3) ms) | \(yes($cpu <= 1.2)) |"
   else empty end),
  (([(.throughput.summary.inboxd.missed // 0), (.claim.left_in_drop_folder // 0), (.claim.backlog.left_in_drop_folder // 0),
     ((.latency.tools // [])[] | select(.tool == "inboxd") | .missed),
     ((.misses.tools // [])[] | select(.tool == "inboxd") | .before_start.missed + .after_start.missed + .burst.missed)]
    | add) as $lost | "| no file missed, in every scenario | \($lost) missed | \(yes($lost == 0)) |"),
  (if .claim then
    "| claim rate ≥ 50,000 files/s | \(.claim.files_per_s | commas) files/s into a paused inbox (the writer alone: \(.claim.writer_files_per_s | commas)); \(.claim.backlog.files_per_s // "n/a" | commas) files/s for a backlog at start\(if .claim.limit then " (the rename limit: \(.claim.limit.files_per_s | commas))" else "" end) | \(yes(.claim.files_per_s >= 50000)) |"
   else empty end),
  (if .latency then
    (.latency.tools[] | select(.tool == "inboxd")) as $l |
    "| latency p50 ≤ 2 ms | \($l.p50_ms | r2) ms | \(yes($l.p50_ms <= 2)) |",
    "| latency p99 ≤ 5 ms | \($l.p99_ms | r2) ms | \(yes($l.p99_ms <= 5)) |"
   else empty end),
  (if .scale then
    "| RSS ≤ 32 MiB with \(.scale.rows | commas) queued jobs | \(.scale.rss_kib / 1024 | r1) MiB (peak \(.scale.hwm_kib / 1024 | r1) MiB) | \(yes(.scale.hwm_kib <= 32768)) |",
    "| ready ≤ 1 s with \(.scale.rows | commas) rows | \(.scale.ready_seconds) s | \(yes(.scale.ready_seconds <= 1)) |",
    "| idle: no periodic wakeups | \(.scale.idle_empty.voluntary_switches_per_s) voluntary switches/s empty, \(.scale.idle_full_queue.voluntary_switches_per_s) with the full queue | \(yes(.scale.idle_empty.voluntary_switches_per_s < 0.5 and .scale.idle_full_queue.voluntary_switches_per_s < 0.5)) |",
    "| idle RSS < 8 MiB | \(.scale.empty_rss_kib / 1024 | r1) MiB | \(yes(.scale.empty_rss_kib < 8192)) |"
   else empty end)')

Where a target did not hold, "What the targets that did not hold would need"
(under "Where the time goes" below) shows the profile and what would be
needed.
MD
}

throughput_section() {
  has throughput || return 0
  cat <<MD

## Throughput against the limit and the peers

$(j '.throughput.files') small files (64 bytes) written as fast as possible into
an empty folder; $(j '.throughput.concurrency') handlers in flight; the handler
appends one line to a log. Files per second run from the writer's first
\`open\` to the end of the last handler (its own clock). The four contenders
ran alternately, round after round, so that drift in the machine's speed
hits them alike, after one warm-up round with a tenth of the files that is not
counted; each tool's rate is divided by the limit's rate **of the same
round**.

- **inboxd**: \`settle: 0\`, \`concurrency: 2\`, default logging (info, to a
  file), \`on_success: move\` (the default), state in the same temporary
  directory.
- **limit**: \`bench/spawn_limit.c\` reads the writer's file names from a pipe
  and \`posix_spawn\`s the handler, 2 in flight: no watching, no queue, no
  bookkeeping. Nothing that runs a process per file can beat it on this
  machine.
- **inotifywait | xargs -P2**: \`inotifywait -m -e close_write,moved_to --format %w%f DIR | xargs -P2 -n1 handler LOG\`.
- **incrond**: \`incrond -n\` with a system table \`DIR IN_CLOSE_WRITE,IN_MOVED_TO handler LOG \$@/\$#\`
  (a private incron.conf points the table, user and lock directories into the
  run's temporary folder). incron has no concurrency limit: it starts a
  handler per event at once. It gets $(j '.throughput.incron_files // .throughput.files') files a round
  instead of $(j '.throughput.files'), so that the whole benchmark stays within
  its time budget; its rate is still divided by the limit's rate of the same round.

| round | tool | files/s | ratio to limit | handled | missed | duplicated | own CPU ms/file | with children ms/file | load |
|---|---|---|---|---|---|---|---|---|---|
$(jr '.throughput.runs[] | "| \(.round) | \(.tool | tname) | \(.files_per_s) | \(.ratio_to_limit | pct) | \(.handled) | \(.missed) | \(.duplicated) | \(.cpu_own_ms_per_file) | \(.cpu_total_ms_per_file) | \(.load1_at_start) |"')

Medians over the rounds:

| tool | files/s | ratio to limit (per round) | median ratio | own CPU ms/file | with children ms/file |
|---|---|---|---|---|---|
$(jr '.throughput as $t | $t.order[] | . as $k | $t.summary[$k] | select(. != null) | "| \($k | tname) | \(.median_files_per_s | r1) | \(.ratios | map(pct) | join(", ")) | **\(.median_ratio_to_limit | pct)** | \(.median_cpu_own_ms_per_file | r3) | \(.median_cpu_total_ms_per_file | r3) |"')

"Own CPU" is the user+system time of the tool's own processes during the run
(/proc/PID/stat; for the pipeline inotifywait and xargs together; for the
limit program its getrusage); "with children" adds the processes it started
and reaped (the handlers).

![throughput](bench/throughput.png)
MD
}

misses_section() {
  has misses || return 0
  cat <<MD

## Missed files

Three cases per tool, each with a fresh folder and a fresh start of the tool:
$(jr '.misses.tools[0].before_start.files') files already in the folder when the tool starts, $(jr '.misses.tools[0].after_start.files') written after
it is ready, and a burst of $(jr '.misses.tools[0].burst.files') files into a tool started while
\`fs.inotify.max_queued_events\` was $(j '.misses.max_queued_events_in_burst') (the limit is taken when an inotify
instance is created, so it was lowered only around the tool's start and put
back right after). inboxd counts a file once it is claimed into its
persistent queue; the peers keep nothing, so for them only a handler run
counts.

| tool | present before start | written after start | burst | duplicated in burst | inotify overflows logged |
|---|---|---|---|---|---|
$(jr '.misses.tools[] | "| \(.tool | tname) | \(.before_start.noticed)/\(.before_start.files) | \(.after_start.noticed)/\(.after_start.files) | \(.burst.noticed)/\(.burst.files)\(if .burst.queue_lowered then "" else " (queue not lowered: not root)" end) | \(.burst.duplicated) | \(if .tool == "inboxd" then .burst.overflows_logged else "n/a" end) |"')
MD
}

claim_section() {
  has claim || return 0
  cat <<MD

## Claim rate

Two runs of $(j '.claim.files') files, \`settle: 0\`, with no handler running while
files are claimed:

- **Burst:** the files are written as fast as the writer can into an inbox
  paused with \`inboxctl pause\` (files are still claimed, no handler starts).
  Measured from the first write to the log time of the last \`job claimed\`
  line. The writer alone took $(j '.claim.write_seconds') s ($(j '.claim.writer_files_per_s') files/s), so this rate
  cannot exceed the writer's.
- **Backlog:** the files are written before the daemon starts; measured from
  the daemon's start to the last \`job claimed\` line. This is the daemon's own
  rate (startup scan, claim transactions, one rename per file). One handler,
  holding, runs meanwhile.
- **The limit** for the backlog: a C loop that reads the folder and moves
  each regular file into another folder, one \`lstat\` and one
  \`renameat2(RENAME_NOREPLACE)\` per file, with no queue. A move between
  two folders takes both folders' locks and the filesystem's rename lock,
  so claims from one drop folder cannot run side by side.

| run | files claimed | left in the drop folder | seconds | files/s |
|---|---|---|---|---|
| burst into a paused inbox | $(j '.claim.claimed') of $(j '.claim.files') | $(j '.claim.left_in_drop_folder') | $(j '.claim.seconds') | **$(j '.claim.files_per_s')** |
| backlog at start | $(j '.claim.backlog.claimed') of $(j '.claim.backlog.files') | $(j '.claim.backlog.left_in_drop_folder') | $(j '.claim.backlog.seconds') | **$(j '.claim.backlog.files_per_s')** |
$(jr 'if .claim.limit then "| the limit: lstat and rename, one file at a time (bench/claim_limit.c) | \(.claim.limit.files) of \(.claim.files) | 0 | \(.claim.limit.seconds) | **\(.claim.limit.files_per_s)** |" else empty end')

inotify overflows during the burst (each followed by a rescan): $(j '.claim.overflows_logged').
Each run waits until the queue holds every file or nothing new was claimed
for 30 s; a file still in the drop folder then would only be found by the
next full rescan (\`rescan_interval\`, 10 minutes by default).
MD
}

latency_section() {
  has latency || return 0
  cat <<MD

## Latency

$(j '.latency.rate_per_s') files per second for $(j '.latency.seconds') s. The writer records
CLOCK_REALTIME right after each \`close\`; the handler records it first thing
in \`main\`. The difference is the time to notice the file, decide and start
a process. A writer that loses its CPU between its \`close\` and that clock
read makes one latency look shorter than it was, even below zero (the
smallest of each tool is \`min_ms\` in \`results.json\`).

| tool | files | p50 ms | p90 ms | p99 ms | max ms | missed |
|---|---|---|---|---|---|---|
$(jr '.latency.tools[] | "| \(.tool | tname) | \(.n) | \(.p50_ms) | \(.p90_ms) | \(.p99_ms) | \(.max_ms) | \(.missed) |"')

![latency](bench/latency.png)
MD
}

scale_section() {
  has scale || return 0
  cat <<MD

## Scale and idle

A queue of $(jr '.scale.rows') queued jobs: inboxd created its own \`queue.db\` (schema
from \`daemon/queue/schema.cpp\`), then the rows were inserted offline with
\`sqlite3\` in one transaction ($(j '.scale.prefill_seconds') s; the database is $(j '.scale.db_mib') MiB),
with \`job_counts\` raised to match. That is quicker than dropping a million
files and stands for the same queue. The inbox has \`concurrency: 1\` and its
handler sleeps an hour, so one job runs and the rest wait.

| | with $(jr '.scale.rows') queued jobs | empty queue |
|---|---|---|
| start to "inboxd ready" | $(j '.scale.ready_seconds') s (includes SQLite's quick_check at open) | |
| \`inboxctl status\` round trip, median of 21 | $(j '.scale.status_ms') ms (per-state counters and an index: no scan) | |
| RSS after ready | $(jr '.scale.rss_kib / 1024 | r1') MiB (peak $(jr '.scale.hwm_kib / 1024 | r1') MiB) | $(jr '.scale.empty_rss_kib / 1024 | r1') MiB |
| idle CPU over $(j '.scale.idle_seconds') s | $(j '.scale.idle_full_queue.cpu_ms') ms ($(j '.scale.idle_full_queue.cpu_percent') %) | $(j '.scale.idle_empty.cpu_ms') ms ($(j '.scale.idle_empty.cpu_percent') %) |
| wakeups per second (voluntary context switches, all threads) | $(j '.scale.idle_full_queue.voluntary_switches_per_s') | $(j '.scale.idle_empty.voluntary_switches_per_s') |
| involuntary switches per second | $(j '.scale.idle_full_queue.involuntary_switches_per_s') | $(j '.scale.idle_empty.involuntary_switches_per_s') |
| perf stat: task-clock ms / context switches | $(j '.scale.idle_full_queue.perf_task_clock_ms') / $(j '.scale.idle_full_queue.perf_context_switches') | $(j '.scale.idle_empty.perf_task_clock_ms') / $(j '.scale.idle_empty.perf_context_switches') |

CPU time comes from /proc/PID/stat (10 ms ticks), so a figure of 0 ms means
less than one tick over the whole window.
$(jr 'if .scale.separate_run then .scale.separate_run as $r | "
These figures come from a separate run (`\($r.command)`, started \($r.started_at), load
average \($r.loadavg_start)). In the full run the daemon needed \($r.full_run.ready_seconds) s to become ready
and reached \($r.full_run.hwm_kib / 1024 | r1) MiB: the prefilled jobs had no spooled files, and the
daemon failed one after another (\"file missing from the spool\") within a single turn of its
loop, before it could report ready. It now fails such jobs one per turn, and
the benchmark gives the first jobs their files." else "" end')
MD
}

counts_section() {
  has callgrind || has syscalls || return 0
  cat <<MD

## Repeatable counts

Timings on this machine drift; counts do not. \`valgrind --tool=callgrind\`
counted the instructions of the daemon process (handlers are not traced) for
a run of $(j '.callgrind.files') files, and for a run that only starts, becomes
ready and stops; the difference divided by the files is the cost of claiming,
running and recording one file. The same for the limit program.

| | instructions per file |
|---|---|
| inboxd (claim + spawn + record + move) | **$(j '.callgrind.inboxd_ir_per_file')** |
| limit program (posix_spawn + wait) | $(j '.callgrind.limit_ir_per_file') |

Only user-space instructions of the one process are counted: the kernel's
work (fork, exec, fsync) is not, and the limit program's \`posix_spawn\` does
its copying in the child, which is not traced either.

\`strace -c -p PID\` on the daemon's event-loop thread (strace attaches to that one thread: the
queue's sync thread, the folder worker and the handlers are not traced), $(j '.syscalls.files') files, calls per file:

| fsync/fdatasync | process creations | renames | mkdir | rmdir |
|---|---|---|---|---|
| $(j '.syscalls.syncs_per_file') | $(j '.syscalls.process_creations_per_file') | $(j '.syscalls.renames_per_file') | $(j '.syscalls.mkdirs_per_file') | $(j '.syscalls.rmdirs_per_file') |
MD
}

poll_scan_section() {
  has poll_scan || return 0
  cat <<MD

## Poll scan, $(jr '.poll_scan.files | commas') files

What one full scan of a drop folder holding $(jr '.poll_scan.files | commas') small files costs: every
poll (\`watch: poll\`, every \`poll_interval\`) and every periodic rescan in
inotify mode (\`rescan_interval\`) is one. \`scan_bench\`
(\`tests/unit/watcher/scan_bench.cpp\`) creates the files (named like
\`$(j '.poll_scan.name_example')\`, beside the \`.inboxd\`, \`done\` and \`failed\` folders of an
inbox) and alternates $(j '.poll_scan.rounds') rounds of

- **limit**: a bare \`opendir\`/\`readdir\`/\`fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW)\`
  loop that keeps nothing;
- **inboxd**: what \`Inbox::scan\` does: \`scan_directory\` of the inbox (sorted by
  name), the name filter with the default excludes on every name,
  \`SettleTracker::observe\` for every file, then the tracker's next deadline.
  One tracker lives through the run, as in the daemon, so the rounds measure
  the re-scan of unchanged files; the first scan, when every file is new to
  the tracker, is listed apart.

The page cache is not dropped: both read a warm dentry and inode cache, so
this is CPU work (user and kernel), not disk reads.

| | limit | inboxd | inboxd / limit |
|---|---|---|---|
| wall ms per scan, median of $(j '.poll_scan.rounds') rounds | $(jr '.poll_scan.limit_median_ms | r1') | $(jr '.poll_scan.inboxd_median_ms | r1') | **$(j '.poll_scan.ratio')×** (median of the rounds' ratios) |
| µs per file | $(jr '.poll_scan.limit_us_per_file | r2') | $(jr '.poll_scan.inboxd_us_per_file | r2') | |
| CPU ms per scan, user + system (medians) | $(j '.poll_scan.limit_median_user_ms') + $(j '.poll_scan.limit_median_sys_ms') | $(j '.poll_scan.inboxd_median_user_ms') + $(j '.poll_scan.inboxd_median_sys_ms') | |
| minor page faults per scan (median) | $(j '.poll_scan.limit_median_minor_faults') | $(j '.poll_scan.inboxd_median_minor_faults') | |
| wall ms of each round | $(jr '.poll_scan.limit_ms | map(r1 | tostring) | join(", ")') | $(jr '.poll_scan.inboxd_ms | map(r1 | tostring) | join(", ")') | $(jr '(.poll_scan.ratios // []) | map(tostring) | join(", ")') |
| first scan (every file new to the settle tracker) | | $(jr '.poll_scan.first_scan_ms | r1') ms | |
| instructions per file (callgrind, $(jr '.poll_scan.callgrind.files | commas') files) | $(j '.poll_scan.callgrind.limit_ir_per_file') | $(j '.poll_scan.callgrind.inboxd_ir_per_file') (first scan $(j '.poll_scan.callgrind.inboxd_first_ir_per_file')) | $(jr '.poll_scan.callgrind | .inboxd_ir_per_file / .limit_ir_per_file | r1')× |

Memory: $(jr '.poll_scan.rss_kib_after_scan_1 / 1024 | r1') MiB resident after the first inboxd scan and $(jr '.poll_scan.rss_kib_after_last_scan / 1024 | r1') MiB
after scan $(j '.poll_scan.scans') ($(j '.poll_scan.rss_kib_growth') KiB more; from scan 2 to scan $(j '.poll_scan.scans') it moved by $(jr '(.poll_scan.rss_kib_after_each_scan // [])[1:] | if length > 0 then max - min else "n/a" end') KiB; the
settle tracker holds $(jr '.poll_scan.tracked | commas') files). The process's peak (\`ru_maxrss\`) was $(jr '.poll_scan.peak_rss_kib / 1024 | r1') MiB,
$(jr '.poll_scan | if .rss_kib_highest_after_a_scan then (.peak_rss_kib - .rss_kib_highest_after_a_scan) / 1024 | r1 else "n/a" end') MiB above the highest reading between scans: most likely one scan's
listing (entries, files, their order) while it is in memory.

CPU times are the process's own (\`getrusage\`; the kernel splits them into user
and system by sampling). Instructions are counted in user space only, one
callgrind dump per scan (client requests in the bench), so they leave out
the kernel's share, which the system times show.
MD
}

# Hand-written: what the profiles showed and what each missed target needs.
profile_section() {
  [ -f "$HERE/profile.md" ] || return 0
  echo
  cat "$HERE/profile.md"
}

discussion_section() {
  discussion_text | awk 'NR <= 3 || NF > 0'
}

discussion_text() {
  cat <<MD

## Discussion

$(jr '
  def rr($k): .throughput.summary[$k].median_ratio_to_limit;
  if .throughput then
    "- **inboxd reached \(rr("inboxd") | pct) of the limit** (median of the per-round ratios; "
    + "\(.throughput.summary.inboxd.median_files_per_s | r1) against \(.throughput.summary.limit.median_files_per_s | r1) files/s). "
    + "inotifywait | xargs reached \(rr("inotifywait") | pct) and incrond \(rr("incron") | pct)."
  else empty end')
$(jr '
  if .throughput and .syscalls.syncs_per_file then
    (.throughput.summary.inboxd) as $i | (.throughput.summary.limit) as $l |
    "- Where inboxd'"'"'s time goes: at the median rate it finished a file every \(1000 / $i.median_files_per_s | r2) ms "
    + "(the limit: every \(1000 / $l.median_files_per_s | r2) ms). Its own CPU was \($i.median_cpu_own_ms_per_file | r2) ms per file "
    + "(the limit program: \($l.median_cpu_own_ms_per_file | r2) ms)"
    + (if .callgrind.inboxd_ir_per_file then ", while callgrind counted \(.callgrind.inboxd_ir_per_file / 1e6 | r2) million user-space instructions per file "
       + "(well under a millisecond of CPU): most of the daemon'"'"'s CPU is spent in the kernel on its behalf" else "" end)
    + ". strace counted \(.syscalls.syncs_per_file) syncs per file"
    + (if .calibration.synced_write_ms then " (\(.calibration.synced_write_ms) ms per synced write on this disk)" else "" end)
    + "; they run on the queue'"'"'s sync thread, grouped, not on the event loop that starts handlers. "
    + "With \(.machine.nproc) vCPUs shared by the daemon, two handlers and the writer, every millisecond of daemon CPU "
    + "is one the handlers do not get."
  else empty end')
$(jr '
  if .calibration then
    "- This machine has \(.machine.nproc) vCPUs; "
    + (if .calibration.effective_cpus < 1.5
       then "for CPU work they behaved like little more than one: two busy processes got \(.calibration.effective_cpus | r2)× the work of one during this run. "
       else "two busy processes got \(.calibration.effective_cpus | r2)× the work of one during this run. " end)
    + (if .calibration.handler_start_ms then "Starting, running and reaping the tiny handler took \(.calibration.handler_start_ms) ms on average (hyperfine)" else "" end)
    + (if .throughput then
         (.throughput.summary.limit as $l | .throughput.summary.inboxd as $i
          | ($l.median_cpu_total_ms_per_file - $l.median_cpu_own_ms_per_file) as $handler
          | ", and the limit program finished one handler every \(1000 / $l.median_files_per_s | r2) ms with 2 in flight"
            + (if $i.median_cpu_own_ms_per_file > $handler
               then ". A handler cost \($handler | r2) ms of CPU, less than inboxd'"'"'s own \($i.median_cpu_own_ms_per_file | r2) ms per file: on this machine the daemon'"'"'s work per file, not process creation, bounds its rate (see \"Where the time goes\")."
               else ": process creation bounds every tool here, and inboxd pays it too." end))
       else "." end)
  else empty end')
$(jr '
  if .throughput then
    [.throughput.runs[] | select(.tool == "limit") | .files_per_s] as $l |
    if ($l | length) > 1 then
      "- Timings drift: the limit itself ran at \($l | map(tostring) | join(", ")) files/s in successive rounds "
      + "(\(($l | max) / ($l | min) * 100 - 100 | round) % apart), which is why every ratio is taken within its round "
      + "and the median reported. The others moved too, and not in step with the limit: "
      + ([.throughput.runs | group_by(.tool)[] | select(.[0].tool != "limit")
          | "\(.[0].tool) \(map(.files_per_s | tostring) | join(" → "))"] | join(", "))
      + " files/s. Two rounds are a small sample: take single rates and ratios alike as rough."
    else
      "- With a single round each ratio is one sample; the machine'"'"'s speed drifts over tens of minutes, so treat it as rough."
    end
  else empty end')
$(jr '
  if .misses then
    (.misses.tools | map({key: .tool, value: .}) | from_entries) as $m |
    "- Misses: inboxd noticed \($m.inboxd.before_start.noticed)/\($m.inboxd.before_start.files) files present at start, "
    + "\($m.inboxd.after_start.noticed)/\($m.inboxd.after_start.files) written later and \($m.inboxd.burst.noticed)/\($m.inboxd.burst.files) of the burst "
    + "(\($m.inboxd.burst.overflows_logged) queue overflows, each answered by a rescan). "
    + "inotifywait | xargs: \($m.inotifywait.before_start.noticed), \($m.inotifywait.after_start.noticed) and \($m.inotifywait.burst.noticed); "
    + "incrond: \($m.incron.before_start.noticed), \($m.incron.after_start.noticed) and \($m.incron.burst.noticed). "
    + "Neither peer looks at files that were there before it started, and neither recovers from a lost event."
  else empty end')
$(jr '
  ([(.throughput.summary.inboxd.missed // 0), (.claim.left_in_drop_folder // 0),
    ((.misses.tools // [])[] | select(.tool == "inboxd") | .before_start.missed + .after_start.missed + .burst.missed)]
   | add) as $lost |
  if $lost > 0 then
    "- **inboxd left files behind in this run**: \(.throughput.summary.inboxd.missed // 0) in the throughput runs, "
    + "\(.claim.left_in_drop_folder // 0) in the claim-rate burst, "
    + "\([(.misses.tools // [])[] | select(.tool == "inboxd") | .before_start.missed + .after_start.missed + .burst.missed] | add // 0) in the miss tests. "
    + "Such a file stays in the drop folder until the next full rescan (`rescan_interval`, 10 minutes by default). "
    + "inotify queue overflows logged: \(.claim.overflows_logged // "n/a") in the claim-rate burst, "
    + "\([(.misses.tools // [])[] | select(.tool == "inboxd") | .burst.overflows_logged] | first // "n/a") in the miss burst; "
    + "a file written while the daemon rescans after an overflow is the first suspect."
  else empty end')
$(jr '
  if .latency then
    (.latency.tools | map({key: .tool, value: .}) | from_entries) as $l |
    "- Latency at a gentle rate: inboxd p50 \($l.inboxd.p50_ms) ms / p99 \($l.inboxd.p99_ms) ms, the limit p50 \($l.limit.p50_ms) ms / p99 \($l.limit.p99_ms) ms. "
    + "The difference is what inboxd does between noticing a file and starting its handler (claim transaction, rename, start transaction)."
  else empty end')
- The figures come from one run of \`scripts/bench\` on a shared machine while
  other work was running; rerun it before relying on a number, and compare
  ratios and counts rather than absolute rates across machines.
MD
}

method_notes() {
  cat <<MD

## Reproducing

\`\`\`sh
scripts/bench            # the full run; writes docs/bench/results.json, docs/bench/*.png
                         # and this file
scripts/bench --quick    # smaller sizes, a few minutes
bench/report.sh docs/bench/results.json docs   # re-render this file from the JSON
\`\`\`

The run above took $(j '.machine.duration_seconds') s; the budget is about 15 minutes, which is
why incrond gets $(j '.throughput.incron_files // .throughput.files') files a throughput round (at its rate
10,000 files took three to four minutes a round).

The script installs what it needs with apt-get (inotify-tools, incron,
gnuplot-nox, sqlite3, valgrind, jq; hyperfine, linux-perf and strace when the
archive has them), builds \`build/bin/inboxd\` with \`scripts/build\` if it is
missing, compiles the helpers in \`bench/\`, and runs everything in a
temporary directory. Every process it starts is stopped by pid when it exits
(also on failure or Ctrl-C), and the lowered \`fs.inotify.max_queued_events\`
is restored. \`--only throughput,latency\` runs a subset; \`--out DIR\` writes
elsewhere.

Helpers: \`tests/unit/watcher/scan_bench.cpp\` (the poll scan and its limit,
built with \`cmake --preset bench\` unless \`--scan-bench PATH\` names one),
\`bench/writer.c\` (drops files, records close times),
\`bench/handler.c\` (the handler), \`bench/spawn_limit.c\` (the limit),
\`bench/cpu_spin.c\` (CPU calibration), \`bench/lib.sh\` and \`bench/tools.sh\`
(process bookkeeping and the four contenders), \`bench/report.sh\`,
\`bench/throughput.gp\` and \`bench/latency.gp\` (this document and its plots).
MD
}

render() {
  {
    echo "# Benchmarks"
    echo
    echo "Generated by \`scripts/bench\` from \`docs/bench/results.json\`; every number below was measured in"
    echo "that run, on the machine described next. Nothing is copied from elsewhere or estimated,"
    echo "except where a line says \"about\" and shows its arithmetic."
    echo
    machine_section
    targets_section
    throughput_section
    misses_section
    claim_section
    latency_section
    scale_section
    counts_section
    poll_scan_section
    profile_section
    discussion_section
    method_notes
  } >"$OUT/benchmarks.md"
}

# --- Terminal table --------------------------------------------------------------

table() {
  echo
  jr '
    "inboxd benchmark (\(.machine.mode), \(.machine.duration_seconds) s)",
    (if .throughput then
      "throughput (\(.throughput.files) files, \(.throughput.concurrency) in flight), median files/s and ratio to limit:",
      (.throughput as $t | $t.order[] | . as $k | $t.summary[$k] | select(. != null)
        | "  \($k | .[0:12] | . + (" " * (12 - length)))  \(.median_files_per_s | r1 | tostring | . + (" " * (8 - length)))  \(.median_ratio_to_limit | pct)  (missed \(.missed), duplicated \(.duplicated))")
    else empty end),
    (if .misses then "misses (noticed of before-start / after-start / burst):",
      (.misses.tools[] | "  \(.tool | .[0:12] | . + (" " * (12 - length)))  \(.before_start.noticed)/\(.before_start.files)  \(.after_start.noticed)/\(.after_start.files)  \(.burst.noticed)/\(.burst.files)")
    else empty end),
    (if .claim then "claim rate: burst \(.claim.files_per_s) files/s (\(.claim.claimed) files in \(.claim.seconds) s; the writer alone \(.claim.writer_files_per_s)), backlog at start \(.claim.backlog.files_per_s // "n/a") files/s\(if .claim.limit then " (the rename limit \(.claim.limit.files_per_s))" else "" end)" else empty end),
    (if .latency then "latency p50 / p99 / max ms:",
      (.latency.tools[] | "  \(.tool | .[0:12] | . + (" " * (12 - length)))  \(.p50_ms) / \(.p99_ms) / \(.max_ms)")
    else empty end),
    (if .scale then "scale: \(.scale.rows) jobs: ready in \(.scale.ready_seconds) s, RSS \(.scale.rss_kib / 1024 | r1) MiB; idle \(.scale.idle_full_queue.voluntary_switches_per_s) wakeups/s, \(.scale.idle_full_queue.cpu_ms) ms CPU in \(.scale.idle_seconds) s (empty daemon: \(.scale.idle_empty.voluntary_switches_per_s) wakeups/s)" else empty end),
    (if .callgrind then "instructions per file: inboxd \(.callgrind.inboxd_ir_per_file), limit \(.callgrind.limit_ir_per_file)" else empty end),
    (if .syscalls then "per file: \(.syscalls.syncs_per_file) syncs, \(.syscalls.process_creations_per_file) process creations" else empty end),
    (if .poll_scan then "poll scan of \(.poll_scan.files) files: inboxd \(.poll_scan.inboxd_median_ms | r1) ms, limit \(.poll_scan.limit_median_ms | r1) ms (\(.poll_scan.ratio)x); instructions per file \(.poll_scan.callgrind.inboxd_ir_per_file) vs \(.poll_scan.callgrind.limit_ir_per_file)" else empty end)'
}

plots
render
table
