#!/usr/bin/env bash
# Installs what ExoFS needs on Debian 12: libfuse3 and fusermount3 for mounts, fuse2fs/postmark/gnuplot and
# libfuse3-dev/gcc/pkg-config (passthrough_ll, built from libfuse's example source) for the comparison
# benchmarks, groff and man-db for the exofs(8) page, and the .NET SDK if it is missing. Idempotent; quiet when all is there.
set -euo pipefail
need=()
for pkg in fuse3 libfuse3-3 libfuse3-dev gcc pkg-config fuse2fs e2fsprogs postmark gnuplot-nox attr git fonts-dejavu-core groff man-db; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! command -v dotnet >/dev/null 2>&1; then
  echo "installing the .NET 10 SDK" >&2
  curl -fsSL https://dot.net/v1/dotnet-install.sh -o /tmp/dotnet-install.sh
  bash /tmp/dotnet-install.sh --channel 10.0 --install-dir "$HOME/.dotnet" >/dev/null
  export PATH="$HOME/.dotnet:$PATH"
fi
# /dev/fuse is created by the fuse module; load it when it is missing and we may.
[ -e /dev/fuse ] || $sudo modprobe fuse 2>/dev/null || true
