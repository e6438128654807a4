#!/usr/bin/env bash
# The main job on a fresh machine: prerequisites, build, then exofs itself.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prereqs.sh
export PATH="$HOME/.dotnet:$PATH"
dotnet build Cli/Cli.csproj -c Release -nologo -v quiet -o out/exofs
exofs=out/exofs/exofs
"$exofs" --help
