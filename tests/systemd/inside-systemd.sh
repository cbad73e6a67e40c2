#!/usr/bin/env bash
# The checks of run-under-systemd.sh, run on a machine (normally a throwaway
# container) whose PID 1 is systemd: installs inboxd with scripts/install,
# starts it through inboxd.service with an inbox in /srv/inboxd, and checks
# what an administrator relies on: start returns once the daemon is ready,
# files are processed inside the sandbox, the journal gets priorities, a
# refused reload fails `systemctl reload`, a stuck daemon is restarted by the
# watchdog, stop is clean and a bad configuration is not restarted.
#
# Usage: inside-systemd.sh SOURCE_DIR BUILD_DIR [--before-wiring]
#   --before-wiring  the daemon does not send notifications yet: run the unit
#                    as Type=exec without a watchdog and skip the checks that
#                    need READY/STATUS/RELOADING and the admin socket.
# Prints one line per check and "N passed, N failed"; exits 1 on a failure.
set -uo pipefail

src=${1:?usage: inside-systemd.sh SOURCE_DIR BUILD_DIR [--before-wiring]}
build=${2:?usage: inside-systemd.sh SOURCE_DIR BUILD_DIR [--before-wiring]}
wired=1
[ "${3:-}" = "--before-wiring" ] && wired=0

prefix=/opt/inboxd
config=/etc/inboxd/inboxd.yaml
inbox=/srv/inboxd/test
passed=0
failed=0

check() {  # check DESCRIPTION COMMAND...
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then
    echo "ok: $what"
    passed=$((passed + 1))
  else
    echo "FAIL: $what"
    [ -n "$out" ] && sed 's/^/    /' <<<"$out"
    failed=$((failed + 1))
  fi
}
skip() { echo "skip: $1 (before wiring)"; }
ms_now() { echo $(($(date +%s%N) / 1000000)); }
timings=$(mktemp)
timed() {  # timed NAME COMMAND...: runs it, notes how long it took (check runs it in a subshell)
  local name=$1 start rc
  shift
  start=$(ms_now)
  "$@"
  rc=$?
  printf '%s=%sms ' "$name" $(($(ms_now) - start)) >>"$timings"
  return $rc
}
prop() { systemctl show -p "$1" --value inboxd.service; }
wait_for() {  # wait_for SECONDS COMMAND...: polls every 0.2s
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}
main_pid_changed_from() { [ "$(prop MainPID)" != 0 ] && [ "$(prop MainPID)" != "$1" ]; }
restarts_above() { [ "$(prop NRestarts)" -gt "$1" ]; }
is_active() { [ "$(prop ActiveState)" = active ]; }
failed_with() { [ "$(prop ExecMainStatus)" = "$1" ] && [ "$(prop ActiveState)" = failed ]; }
in_journal() {  # in_journal PRIORITY TEXT: a line of this run with that priority
  journalctl --sync 2>/dev/null || true
  journalctl -u inboxd.service -o json --no-pager |
    grep -F "\"PRIORITY\":\"$1\"" | grep -qF "$2"
}

write_config() {
  cat > "$config" <<EOF
inboxes:
  - name: test
    path: $inbox
    command: ["/bin/cat", "{path}"]
    settle: 250ms
    $1
EOF
}

# --- install ---------------------------------------------------------------
check "scripts/install PREFIX=$prefix" \
  env PREFIX="$prefix" INBOXD_BUILD_DIR="$build" "$src/scripts/install"
check "systemctl link the unit" systemctl link "$prefix/lib/systemd/system/inboxd.service"
mkdir -p /etc/systemd/system/inboxd.service.d
{
  echo "[Service]"
  echo "# Sanitizer builds: LeakSanitizer needs ptrace, which the sandbox refuses."
  echo "Environment=ASAN_OPTIONS=detect_leaks=0"
  echo "RestartSec=1s"
  if [ "$wired" = 1 ]; then
    echo "WatchdogSec=3s"
    echo "# SIGKILL ends even a stopped process, so the test need not wait for TimeoutAbortSec."
    echo "WatchdogSignal=SIGKILL"
  else
    echo "Type=exec"
    echo "WatchdogSec=0"
  fi
} > /etc/systemd/system/inboxd.service.d/test.conf
systemctl daemon-reload
mkdir -p "$inbox"
chown inboxd:inboxd "$inbox"
write_config ""
check "inboxd --check accepts the configuration" "$prefix/bin/inboxd" --check --config "$config"

# --- start -----------------------------------------------------------------
check "systemctl start inboxd" timed start systemctl start inboxd.service
check "the service is active" is_active
pid=$(prop MainPID)
if [ "$wired" = 1 ]; then
  # Type=notify: start returned after READY=1, so the socket must answer now.
  check "inboxctl status answers as soon as start returns" \
    "$prefix/bin/inboxctl" --socket /run/inboxd/inboxd.sock status
  check "systemctl status shows a STATUS= line" test -n "$(prop StatusText)"
else
  skip "inboxctl status answers as soon as start returns"
  skip "systemctl status shows a STATUS= line"
fi
check "the daemon runs as the inboxd user" test "$(ps -o user= -p "$pid")" = inboxd
check "the daemon cannot gain privileges" grep -qx $'NoNewPrivs:\t1' "/proc/$pid/status"
check "the daemon runs under a system call filter" grep -qx $'Seccomp:\t2' "/proc/$pid/status"

# --- a file is processed inside the sandbox ----------------------------------
echo "hello" > "$inbox/letter.txt"
check "a dropped file ends in done/" wait_for 20 test -f "$inbox/done/letter.txt"
check "the journal has inboxd's lines with their priorities" wait_for 5 in_journal 6 "inboxd ready"

# --- reload ------------------------------------------------------------------
if [ "$wired" = 1 ]; then
  check "systemctl reload succeeds with a valid configuration" timed reload systemctl reload inboxd.service
  write_config "no_such_key: 1"
  check "systemctl reload fails when the configuration is refused" \
    bash -c '! systemctl reload inboxd.service'
  check "a refused reload leaves the daemon running" test "$(prop MainPID)" = "$pid"
  check "the refusal names the file and key in the journal" \
    wait_for 5 in_journal 3 "no_such_key"
  write_config ""
  check "systemctl reload succeeds again" systemctl reload inboxd.service
else
  skip "systemctl reload succeeds / fails on a refused configuration"
fi

# --- watchdog ----------------------------------------------------------------
if [ "$wired" = 1 ]; then
  restarts=$(prop NRestarts)
  kill -STOP "$pid"
  check "a stuck daemon is restarted by the watchdog" wait_for 20 main_pid_changed_from "$pid"
  check "the restart is counted" wait_for 10 restarts_above "$restarts"
  check "the restarted daemon becomes active" wait_for 20 is_active
else
  skip "a stuck daemon is restarted by the watchdog"
fi

# --- stop --------------------------------------------------------------------
check "systemctl stop inboxd" timed stop systemctl stop inboxd.service
check "the daemon exited 0" test "$(prop ExecMainStatus)" = 0
check "the service is inactive, not failed" test "$(prop ActiveState)" = inactive
check "the journal has the stop line" wait_for 5 in_journal 6 "inboxd stopped"

# --- a bad configuration is not restarted ------------------------------------
write_config "no_such_key: 1"
restarts=$(prop NRestarts)
systemctl start inboxd.service >/dev/null 2>&1
check "a bad configuration fails the service with exit 78" \
  wait_for 20 failed_with 78
# Nothing to poll for: a restart that should not happen. RestartSec=1s, so one
# would have happened within 2s.
sleep 2
check "exit 78 is not restarted" test "$(prop NRestarts)" = "$restarts"
write_config ""

echo "timings: $(cat "$timings")(systemctl, the daemon built with sanitizers)"
rm -f "$timings"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
