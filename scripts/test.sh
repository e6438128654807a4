#!/usr/bin/env bash
# The whole test suite: prerequisites, restore, build, every test project. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prereqs.sh
export PATH="$HOME/.dotnet:$PATH"
dotnet build ExoFS.sln -c Release -nologo -v quiet
dotnet test ExoFS.sln -c Release --no-build -nologo --logger "console;verbosity=normal" -- RunConfiguration.TreatNoTestsAsError=false
