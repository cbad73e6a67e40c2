#!/usr/bin/env bash
# Checks scripts/install into a staging directory (DESTDIR): every file lands
# where systemd and man look for it, the unit runs the binaries under PREFIX,
# and an existing /etc/inboxd/inboxd.yaml is never overwritten.
#
# Usage: check-install.sh SOURCE_DIR BUILD_DIR   (BUILD_DIR holds bin/inboxd)
set -euo pipefail

src=${1:?usage: check-install.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: check-install.sh SOURCE_DIR BUILD_DIR}
stage=$(mktemp -d /tmp/inboxd-install-XXXXXX)
trap 'rm -rf "$stage"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_file() {
  if [ -f "$stage/$1" ]; then echo "ok: /$1"; else fail "missing /$1"; fi
}

DESTDIR="$stage" PREFIX=/opt/inboxd INBOXD_BUILD_DIR="$build" "$src/scripts/install" >/dev/null
for f in opt/inboxd/bin/inboxd opt/inboxd/bin/inboxctl \
         opt/inboxd/lib/systemd/system/inboxd.service \
         opt/inboxd/lib/sysusers.d/inboxd.conf opt/inboxd/lib/tmpfiles.d/inboxd.conf \
         opt/inboxd/share/man/man8/inboxd.8 opt/inboxd/share/man/man1/inboxctl.1 \
         opt/inboxd/share/man/man5/inboxd.yaml.5 \
         opt/inboxd/share/doc/inboxd/inboxd.yaml.example etc/inboxd/inboxd.yaml; do
  expect_file "$f"
done
if [ -f "$src/daemon/inboxctl/inboxctl.bash-completion" ]; then
  expect_file opt/inboxd/share/bash-completion/completions/inboxctl
fi
[ -x "$stage/opt/inboxd/bin/inboxd" ] || fail "inboxd is not executable"
unit="$stage/opt/inboxd/lib/systemd/system/inboxd.service"
if grep -qx 'ExecStart=/opt/inboxd/bin/inboxd --config /etc/inboxd/inboxd.yaml' "$unit" &&
   grep -qx 'ExecReload=/opt/inboxd/bin/inboxctl --socket /run/inboxd/inboxd.sock reload' "$unit"; then
  echo "ok: the unit runs the binaries under PREFIX"
else
  fail "the unit's ExecStart/ExecReload do not point at PREFIX/bin"
fi
cmp -s "$src/config/inboxd.yaml" "$stage/etc/inboxd/inboxd.yaml" || fail "config differs"

echo "# edited by the administrator" > "$stage/etc/inboxd/inboxd.yaml"
DESTDIR="$stage" PREFIX=/opt/inboxd INBOXD_BUILD_DIR="$build" "$src/scripts/install" >/dev/null
if [ "$(cat "$stage/etc/inboxd/inboxd.yaml")" = "# edited by the administrator" ]; then
  echo "ok: an existing configuration is kept"
else
  fail "an existing configuration was overwritten"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all install checks passed"
