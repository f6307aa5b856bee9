#!/usr/bin/env bash
# Installs the Debian packages named on the command line whose program of the same name is
# missing (espeak-ng, sox: the programs the tests run). Uses apt-get as root, or through sudo
# when sudo works without a prompt; otherwise says what to install and exits 1.
#   tools/install-debian-packages.sh espeak-ng sox
set -euo pipefail
missing=()
for pkg in "$@"; do
  command -v "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install.sh: the tests need ${missing[*]}; this is not a Debian system (no apt-get):" \
       "install them with your package manager, then run ./install.sh --dev again" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "install.sh: the tests need ${missing[*]}; run: sudo apt-get install ${missing[*]}" \
       "(then ./install.sh --dev again)" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
