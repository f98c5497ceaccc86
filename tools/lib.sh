# shellcheck shell=bash
# Shared by tools/run and tools/test (sourced, not executed): install the
# Debian 12 packages Postern needs, configure build/ once, build it.
#
# Environment:
#   CI=true              apt-get runs non-interactively (also when stdin is not a terminal)
#   POSTERN_BUILD_LOCK   lock file serialising builds of one tree (default /tmp/postern-build.lock)

POSTERN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
POSTERN_BUILD="$POSTERN_ROOT/build"
POSTERN_BUILD_LOCK=${POSTERN_BUILD_LOCK:-/tmp/postern-build.lock}

# Everything the build and the tests use, all from Debian 12. cmake is here
# because meson finds POCO through its CMake package files; scdoc builds the
# man pages (the build skips them without it). debhelper, dpkg-dev and systemd
# (sysusers, systemd-analyze, the unit directory) build and test the .deb;
# clang and its runtime build the sanitizer and libFuzzer stage (tools/test).
# libcrypt-dev and libargon2-dev verify imported Dovecot password hashes;
# whois (mkpasswd) and argon2 make such hashes in tests/integration/test_sasl.py.
POSTERN_PACKAGES=(
  g++ meson ninja-build pkg-config cmake python3
  libpoco-dev libssl-dev liblmdb-dev libcrypt-dev libargon2-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc libabsl-dev
  doctest-dev zlib1g-dev libpython3.11-testsuite
  fetchmail getmail6 curl isync offlineimap3 openssl
  scdoc
  debhelper dpkg-dev systemd
  whois argon2
  clang-14 libclang-rt-14-dev
)

postern_say() { printf '==> %s\n' "$*" >&2; }
postern_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Prints the packages of POSTERN_PACKAGES that are not installed.
postern_missing_packages() {
  local p status
  for p in "${POSTERN_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    [[ $status == ii* ]] || printf '%s\n' "$p"
  done
}

# Installs whatever is missing; as non-root prints the command and exits 1.
postern_install_deps() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    postern_say "not a Debian system: not checking packages (need: ${POSTERN_PACKAGES[*]})"
    return 0
  fi
  local -a missing
  mapfile -t missing < <(postern_missing_packages)
  ((${#missing[@]} == 0)) && return 0

  if ((EUID != 0)); then
    printf 'Missing packages: %s\nInstall them as root with:\n  apt-get update && apt-get install -y %s\n' \
      "${missing[*]}" "${missing[*]}" >&2
    exit 1
  fi
  local -a yes=()
  if [[ ${CI:-} == true || ! -t 0 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    yes=(-y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  fi
  postern_say "installing: ${missing[*]}"
  apt-get update || postern_die "apt-get update failed"
  if ((${#yes[@]})); then
    apt-get install "${yes[@]}" --no-install-recommends "${missing[@]}" </dev/null
  else
    apt-get install --no-install-recommends "${missing[@]}"
  fi || postern_die "apt-get install failed"
}

# Runs a command holding the build lock (when flock exists).
postern_locked() {
  if command -v flock >/dev/null 2>&1; then
    flock "$POSTERN_BUILD_LOCK" "$@"
  else
    "$@"
  fi
}

# Configures build/ unless it already is; builds everything (or the given targets).
postern_build() {
  if [[ ! -f $POSTERN_BUILD/meson-private/coredata.dat ]]; then
    postern_say "configuring $POSTERN_BUILD"
    postern_locked meson setup "$POSTERN_BUILD" "$POSTERN_ROOT" || return 1
  fi
  postern_say "building"
  postern_locked ninja -C "$POSTERN_BUILD" "$@"
}

# The sanitizer build (build-asan/): clang, ASan + UBSan, and the libFuzzer
# targets registered as fuzz-run-* tests running POSTERN_FUZZ_SECONDS each.
POSTERN_ASAN_BUILD="$POSTERN_ROOT/build-asan"
postern_build_asan() {
  if [[ ! -f $POSTERN_ASAN_BUILD/meson-private/coredata.dat ]]; then
    postern_say "configuring $POSTERN_ASAN_BUILD (clang, ASan + UBSan, libFuzzer)"
    CC=clang-14 CXX=clang++-14 postern_locked meson setup "$POSTERN_ASAN_BUILD" "$POSTERN_ROOT" \
      -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false \
      -Dwerror=false -Dfuzz_seconds="${POSTERN_FUZZ_SECONDS:-60}" || return 1
  else
    postern_locked meson configure "$POSTERN_ASAN_BUILD" -Dfuzz_seconds="${POSTERN_FUZZ_SECONDS:-60}" || return 1
  fi
  postern_say "building $POSTERN_ASAN_BUILD"
  postern_locked ninja -C "$POSTERN_ASAN_BUILD"
}
