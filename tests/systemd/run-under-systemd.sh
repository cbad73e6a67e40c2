#!/usr/bin/env bash
# Runs inboxd under a real systemd and checks the unit end to end
# (inside-systemd.sh has the list): installation, start after READY=1, a file
# processed inside the sandbox, journal priorities, reload (good and refused),
# the watchdog restarting a stuck daemon, a clean stop, no restart after 78.
#
# systemd runs as PID 1 of a throwaway container: systemd-nspawn on the host's
# own /usr with a fresh /etc and /var in memory (--volatile=yes), the source
# tree bound read-only. Nothing on the host changes, and it works whether or
# not the host's PID 1 is systemd (a sandbox, a CI runner).
#
# Usage: run-under-systemd.sh [--before-wiring] [BUILD_DIR]
#   BUILD_DIR        holds bin/inboxd and bin/inboxctl (default: build)
#   --before-wiring  the daemon does not send notifications yet (see
#                    inside-systemd.sh)
# Needs root and systemd-nspawn (Debian package systemd-container); exits 77
# (skipped) without them.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
mode=()
if [ "${1:-}" = "--before-wiring" ]; then
  mode=(--before-wiring)
  shift
fi
build=$(cd "${1:-$src/build}" && pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: needs root (systemd-nspawn)"
  exit 77
fi
if ! command -v systemd-nspawn >/dev/null; then
  echo "skipped: systemd-nspawn not found (install the Debian package systemd-container)"
  exit 77
fi
for b in inboxd inboxctl; do
  [ -x "$build/bin/$b" ] || { echo "error: $build/bin/$b is not built"; exit 1; }
done

binds=(--bind-ro="$src")
case "$build/" in
  "$src"/*) ;;
  *) binds+=(--bind-ro="$build") ;;
esac
# Without a systemd on the host there is no bus to register the container or
# allocate its scope with; it then stays in this process's cgroup.
host=()
[ -d /run/systemd/system ] || host=(--register=no --keep-unit)

log=$(mktemp /tmp/inboxd-nspawn-XXXXXX.log)
systemd-nspawn --quiet --directory=/ --volatile=yes "${host[@]}" "${binds[@]}" \
  --console=pipe --boot >"$log" 2>&1 </dev/null &
nspawn=$!

stop_container() {
  if kill -0 "$nspawn" 2>/dev/null; then
    kill -TERM "$nspawn" 2>/dev/null || true  # nspawn halts the container
    for _ in $(seq 1 100); do
      kill -0 "$nspawn" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$nspawn" 2>/dev/null || true
  fi
  wait "$nspawn" 2>/dev/null || true
  rm -f "$log"
}
trap stop_container EXIT

# The container's PID 1 is nspawn's child.
leader=""
for _ in $(seq 1 150); do
  leader=$(ps -o pid= --ppid "$nspawn" | head -n1 | tr -d ' ' || true)  # none yet: ps exits 1
  [ -n "$leader" ] && [ "$(cat "/proc/$leader/comm" 2>/dev/null)" = systemd ] && break
  leader=""
  kill -0 "$nspawn" 2>/dev/null || break
  sleep 0.2
done
# A machine that cannot boot a container at all (no cgroup delegation, a
# container runtime that forbids it, another nspawn holding /) is not a
# failure of inboxd: say so loudly and skip. Everything after a successful
# boot is a real check.
cannot_boot() {
  echo "SKIPPED: $1: the checks under a real systemd did not run"
  sed 's/^/    /' "$log"
  exit 77
}
if [ -z "$leader" ]; then
  cannot_boot "the container did not start"
fi
inside() { nsenter --target "$leader" --all -- "$@"; }

# Until its private socket exists systemctl cannot even ask; "degraded" is
# fine: some of the host's units do not work in a container.
state=""
for _ in $(seq 1 300); do
  state=$(inside systemctl is-system-running 2>/dev/null || true)
  case "$state" in running | degraded) break ;; esac
  sleep 0.2
done
case "$state" in
  running | degraded) ;;
  *) cannot_boot "systemd in the container did not finish booting (state: ${state:-none})" ;;
esac
echo "systemd $(inside systemctl --version | awk 'NR == 1 { print $2 }') is up in a container ($state)"

inside timeout 150 env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
  bash "$src/tests/systemd/inside-systemd.sh" "$src" "$build" "${mode[@]}"
