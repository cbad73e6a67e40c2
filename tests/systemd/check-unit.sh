#!/usr/bin/env bash
# Checks systemd/inboxd.service, inboxd.sysusers and inboxd.tmpfiles with
# systemd's own tools:
#   - `systemd-analyze verify` prints nothing for the unit. It exits 0 even on
#     unknown keys, so its output is what counts. /usr/bin/inboxd may not
#     exist here, so the copy verified runs the built binaries instead.
#   - `systemd-analyze security --offline=yes` rates it 1.5 or lower.
#   - the settings the product relies on are there (Type=notify, the reload
#     client, the watchdog, the stop timeout above the graces, ...).
#   - systemd-sysusers and systemd-tmpfiles apply the other two files cleanly
#     to a scratch root.
#
# Usage: check-unit.sh SOURCE_DIR BIN_DIR
# Exit: 0 ok, 1 a check failed, 77 skipped (no systemd-analyze; Debian
# package: systemd).
set -euo pipefail

src=${1:?usage: check-unit.sh SOURCE_DIR BIN_DIR}
bin=${2:?usage: check-unit.sh SOURCE_DIR BIN_DIR}
unit="$src/systemd/inboxd.service"
max_exposure=1.5

if ! command -v systemd-analyze >/dev/null; then
  echo "skipped: systemd-analyze not found (install the Debian package systemd)"
  exit 77
fi

scratch=$(mktemp -d /tmp/inboxd-unit-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# 1. verify, on a copy whose binaries exist.
for b in inboxd inboxctl; do
  [ -x "$bin/$b" ] || { echo "FAIL: $bin/$b is not built"; exit 1; }
done
sed -e "s|/usr/bin/inboxd |$bin/inboxd |; s|/usr/bin/inboxctl |$bin/inboxctl |" \
  "$unit" > "$scratch/inboxd.service"
verify_out=$(systemd-analyze verify --man=no "$scratch/inboxd.service" 2>&1) || true
if [ -n "$verify_out" ]; then
  fail "systemd-analyze verify is not silent:"
  echo "$verify_out"
else
  echo "ok: systemd-analyze verify is silent"
fi

# 2. exposure score.
security_out=$(systemd-analyze security --offline=yes --no-pager "$unit" 2>&1) || true
score=$(sed -n 's/.*Overall exposure level for inboxd.service: \([0-9.]*\).*/\1/p' <<<"$security_out")
if [ -z "$score" ]; then
  fail "no exposure score from systemd-analyze security:"
  echo "$security_out"
elif awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }'; then
  echo "ok: exposure $score <= $max_exposure"
else
  fail "exposure $score > $max_exposure"
  grep '✗' <<<"$security_out" || true
fi

# 3. what the product relies on.
require_line() {
  if grep -qxF -- "$1" "$unit"; then echo "ok: $1"; else fail "missing line: $1"; fi
}
require_line "Type=notify"
require_line "NotifyAccess=main"
require_line "ExecStart=/usr/bin/inboxd --config /etc/inboxd/inboxd.yaml"
require_line "ExecReload=/usr/bin/inboxctl --socket /run/inboxd/inboxd.sock reload"
require_line "WatchdogSec=30s"
require_line "User=inboxd"
require_line "StateDirectory=inboxd"
require_line "RuntimeDirectory=inboxd"
require_line "KillMode=mixed"
require_line "Restart=on-failure"
require_line "RestartPreventExitStatus=78 75"
require_line "ProtectSystem=strict"
require_line "ReadWritePaths=-/srv/inboxd"
stop_timeout=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\{0,1\}$/\1/p' "$unit")
# shutdown_grace (30s) + kill_grace (10s), the defaults.
if [ -n "$stop_timeout" ] && [ "$stop_timeout" -gt 40 ]; then
  echo "ok: TimeoutStopSec=${stop_timeout}s > 40s"
else
  fail "TimeoutStopSec must be a number of seconds above 40"
fi

# 4. sysusers and tmpfiles, applied to a scratch root.
mkdir -p "$scratch/root/etc"
if out=$(systemd-sysusers --root="$scratch/root" "$src/systemd/inboxd.sysusers" 2>&1) &&
   grep -q '^inboxd:x:[0-9]*:[0-9]*:.*:/var/lib/inboxd:' "$scratch/root/etc/passwd"; then
  echo "ok: systemd-sysusers creates the inboxd user"
else
  fail "systemd-sysusers: $out"
fi
if out=$(systemd-tmpfiles --root="$scratch/root" --create "$src/systemd/inboxd.tmpfiles" 2>&1) &&
   [ -d "$scratch/root/var/lib/inboxd" ] && [ -d "$scratch/root/srv/inboxd" ]; then
  echo "ok: systemd-tmpfiles creates the directories"
else
  fail "systemd-tmpfiles: $out"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all unit checks passed"
