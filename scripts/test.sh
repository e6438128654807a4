#!/usr/bin/env bash
# The whole test suite: prerequisites, restore, build, every test project. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prereqs.sh
export PATH="$HOME/.dotnet:$PATH"
dotnet build ExoFS.sln -c Release -nologo -v quiet
log=$(mktemp)
set +e
dotnet test ExoFS.sln -c Release --no-build -nologo -- RunConfiguration.TreatNoTestsAsError=false 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# One summary over all projects: the per-project lines above say which tests ran where.
awk '/(Passed|Failed)! +- +Failed:/ { gsub(",", ""); f += $4; p += $6; s += $8; t += $10 }
     END { printf "\nALL TEST PROJECTS: %d total, %d passed, %d failed, %d skipped\n", t, p, f, s }' "$log"
rm -f "$log"
exit "$rc"
