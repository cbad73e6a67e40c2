#!/usr/bin/env bash
# Builds the Debian package with CPack from a configured build directory and
# checks it: the files land where systemd, man and bash look for them, the
# unit is the repository's, /etc/inboxd/inboxd.yaml is a conffile, the
# maintainer scripts are executable valid sh and create the user and
# directories, and the man pages render without warnings.
#
# Usage: check-package.sh SOURCE_DIR BUILD_DIR
# Exit: 0 ok, 1 a check failed, 77 skipped (no cpack or dpkg-deb).
set -euo pipefail

src=${1:?usage: check-package.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: check-package.sh SOURCE_DIR BUILD_DIR}
for tool in cpack dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "skipped: $tool not found"; exit 77; }
done

scratch=$(mktemp -d /tmp/inboxd-deb-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$scratch/out" >"$scratch/cpack.log" 2>&1; then
  cat "$scratch/cpack.log"
  find "$scratch/out" -name '*.log' -exec tail -n 30 {} + 2>/dev/null || true
  echo "FAIL: cpack -G DEB"
  exit 1
fi
deb=$(find "$scratch/out" -maxdepth 1 -name 'inboxd_*.deb' | head -n1)
[ -n "$deb" ] || { echo "FAIL: no inboxd_*.deb"; exit 1; }
ok "cpack built $(basename "$deb")"

dpkg-deb -c "$deb" | awk '{ print $NF }' | sed 's|^\./|/|' >"$scratch/files"
for f in /usr/bin/inboxd /usr/bin/inboxctl /usr/lib/systemd/system/inboxd.service \
         /usr/lib/sysusers.d/inboxd.conf /usr/lib/tmpfiles.d/inboxd.conf \
         /etc/inboxd/inboxd.yaml /usr/share/man/man8/inboxd.8 /usr/share/man/man1/inboxctl.1 \
         /usr/share/man/man5/inboxd.yaml.5 /usr/share/doc/inboxd/inboxd.yaml.example; do
  if grep -qxF "$f" "$scratch/files"; then ok "$f"; else fail "missing $f"; fi
done
if [ -f "$src/daemon/inboxctl/inboxctl.bash-completion" ]; then
  grep -qxF /usr/share/bash-completion/completions/inboxctl "$scratch/files" ||
    fail "missing the bash completion"
fi

dpkg-deb -x "$deb" "$scratch/root"
cmp -s "$src/systemd/inboxd.service" "$scratch/root/usr/lib/systemd/system/inboxd.service" &&
  ok "the unit is systemd/inboxd.service (ExecStart=/usr/bin/inboxd)" ||
  fail "the packaged unit differs from systemd/inboxd.service"

dpkg-deb -e "$deb" "$scratch/control"
if grep -qx /etc/inboxd/inboxd.yaml "$scratch/control/conffiles" 2>/dev/null; then
  ok "/etc/inboxd/inboxd.yaml is a conffile"
else
  fail "/etc/inboxd/inboxd.yaml is not a conffile"
fi
for script in postinst prerm postrm; do
  f="$scratch/control/$script"
  if [ -x "$f" ] && sh -n "$f"; then ok "$script is executable valid sh"; else fail "$script"; fi
done
grep -q 'systemd-sysusers /usr/lib/sysusers.d/inboxd.conf' "$scratch/control/postinst" &&
  grep -q 'systemd-tmpfiles --create /usr/lib/tmpfiles.d/inboxd.conf' "$scratch/control/postinst" &&
  ok "postinst runs systemd-sysusers and systemd-tmpfiles" ||
  fail "postinst does not create the user and directories"
depends=$(dpkg-deb -f "$deb" Depends)
grep -q libuv1 <<<"$depends" && ok "Depends: $depends" || fail "Depends lacks libuv1: $depends"

if command -v groff >/dev/null; then
  for page in "$src"/docs/man/*.[158]; do
    warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
    [ -z "$warnings" ] && ok "$(basename "$page") renders cleanly" ||
      fail "$(basename "$page"): $warnings"
  done
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all package checks passed"
