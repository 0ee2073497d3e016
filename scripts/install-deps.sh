#!/usr/bin/env bash
# Installs every Debian package Ferry's build, tests, tools and benchmarks need.
# Idempotent and non-interactive; runs `apt-get update` only when a package is missing.
set -euo pipefail

pkgs=(
  build-essential cmake ninja-build pkg-config
  liburing-dev libaio-dev            # POSIX backend engines
  libgtest-dev libgmock-dev          # tests
  libcli11-dev nlohmann-json3-dev    # tools: CLI parsing, JSON output
  libyaml-cpp-dev libxxhash-dev      # KV engine: YAML config, XXH3-128 keys
  robin-map-dev                      # KV engine: the chunk index's hash map
  libcurl4-openssl-dev libssl-dev    # OBJ backend: HTTP and Signature V4
  libpugixml-dev                     # OBJ backend: S3's XML
  libisal-dev                        # OBJ backend: CRC32C of PUT bodies (ISA-L)
  openssl                            # OBJ tests: the S3 server's TLS certificate
  fio                                # bench/posix-vs-fio.sh baseline
  curl                               # bench/obj-vs-boto3.sh baseline
  python3                            # bench scripts (Debian's /usr/bin/python3)
)

# cuFile for the GDS and GDS_MT plugins: from the CUDA toolkit when it has it, else the
# pinned nvidia-cufile wheel (headers and library) in .venv, where cmake/FerryCuda.cmake
# looks. Without a CUDA toolkit there is nothing to build it for.
install_cufile_wheel() {
  local cuda=${CUDA_HOME:-/usr/local/cuda}
  [ -x "$cuda/bin/nvcc" ] || command -v nvcc >/dev/null || return 0
  [ -f "$cuda/include/cufile.h" ] && return 0
  local root
  root=$(cd "$(dirname "$0")/.." && pwd)
  if ! ls "$root"/.venv/lib/python3*/site-packages/nvidia/cu*/include/cufile.h >/dev/null 2>&1; then
    echo "install-deps: nvidia-cufile wheel into $root/.venv"
    "${PYTHON:-python3}" -m venv "$root/.venv"
    "$root/.venv/bin/python" -m pip install -q --disable-pip-version-check -r "$root/scripts/requirements-build.txt"
  fi
}
install_cufile_wheel

# The Python package's build (nanobind) and tests (numpy, pytest), pinned, into .venv;
# reinstalled only when the pins change.
install_python_packages() {
  local root req stamp
  root=$(cd "$(dirname "$0")/.." && pwd)
  req="$root/scripts/requirements-python.txt"
  stamp="$root/.venv/.ferry-python-$(sha256sum "$req" | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  [ -x "$root/.venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$root/.venv"
  echo "install-deps: Python packages (scripts/requirements-python.txt) into $root/.venv"
  "$root/.venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
  rm -f "$root"/.venv/.ferry-python-*
  touch "$stamp"
}
install_python_packages

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "install-deps: missing packages (${missing[*]}); run as root or install sudo" >&2
    exit 1
  fi
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
