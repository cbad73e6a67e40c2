# Sourced by the scripts: installs the Debian packages inboxd needs to build
# and test, only when one is missing (apt-get needs root; otherwise say what
# to install).
INBOXD_PACKAGES=(
  build-essential cmake pkg-config
  libuv1-dev libyaml-cpp-dev libsqlite3-dev libspdlog-dev libfmt-dev
  catch2 nlohmann-json3-dev libcli11-dev
  systemd systemd-container
  clang libclang-rt-14-dev clang-format
  sshfs openssh-server
  valgrind
)

inboxd_install_deps() {
  local missing=() pkg
  for pkg in "${INBOXD_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "error: missing packages ${missing[*]}; install them as root" >&2; return 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
