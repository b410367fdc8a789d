#!/usr/bin/env bash
# Install what cmsim needs to build and test on Debian 12, if it is missing.
#
# As root: installs the missing packages with apt-get.  As another user:
# prints the exact apt-get line to run and exits 1.  Packages:
#   build-essential cmake pkg-config  the toolchain
#   libgsl-dev                        GSL (numerics, statistics, samplers)
#   libconfig-dev                     libconfig 1.5 (scenario files)
#   librandom123-dev                  Random123 (Philox4x32-10)
#   libmd-dev                         SHA-256 of scenario files (libmd, dpkg's own digest library)
#   libomp-dev is not needed: GCC ships libgomp
#   libopenmpi-dev openmpi-bin        the optional MPI build and its test
#   python3 python3-numpy python3-libconf  tests read the CSV with a real CSV reader;
#                                     the NumPy peer implementation (bench/peer)
set -euo pipefail

pkgs=(build-essential cmake pkg-config libgsl-dev libconfig-dev librandom123-dev libmd-dev
      libopenmpi-dev openmpi-bin python3 python3-numpy python3-libconf)
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "cmsim: missing packages (${missing[*]}) and no apt-get here; install them with your package manager" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "cmsim: missing packages. Run as root:" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "cmsim: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
