#!/usr/bin/env bash
# Installs everything mlpscale needs to build, test and run its demo, from Debian 12 packages.
# Run as root.  MLPSCALE_SKIP_APT=1 skips it (for developers who know they have it all).
set -euo pipefail

[ "${MLPSCALE_SKIP_APT:-0}" = 1 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: run as root (it installs Debian packages)" >&2
    exit 1
fi

PACKAGES=(
    build-essential make gcc pkg-config
    postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap libpq-dev
    libopenblas-dev libpng-dev libjpeg-dev zlib1g-dev
    dataset-fashion-mnist gnuplot-nox
    libtap-parser-sourcehandler-pgtap-perl
    clang libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian package starts a cluster of its own on port 5432; mlpscale's scripts use their
# own throwaway clusters and leave that one alone.
