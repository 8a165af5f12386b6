#!/usr/bin/env bash
# Installs the Debian packages the tests need, when missing: a real redis-server for the
# integration tests, PyTorch for fixtures and golden outputs, OpenBLAS for a fair PyTorch
# baseline. Needs root (or sudo) for apt-get; says what is missing otherwise.
set -euo pipefail
packages=(redis-server python3-torch python3-torchvision python3-numpy libopenblas0-pthread)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]})) || exit 0
echo "deps: installing ${missing[*]}"
sudo=""
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null || { echo "deps: need root to apt-get install ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
