#!/usr/bin/env bash
# Runs every test of the solution in Release, on a fresh machine too: installs what the tests need
# (idempotent), builds, tests, and ends with one "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."

need_packages=()
command -v g++ >/dev/null || need_packages+=(g++)
# The end-to-end tests start a real Redis for cluster membership.
command -v redis-server >/dev/null || [[ -x /usr/bin/redis-server ]] || need_packages+=(redis-server)
# promtool and prometheus (Debian package prometheus) check the dashboard's PromQL, a live /metrics scrape, and every dashboard query against a real Prometheus.
{ command -v promtool && command -v prometheus; } >/dev/null || need_packages+=(prometheus)
# The summary line is the contract even when nothing could run: a failed set-up reports why and "0 passed, N failed".
setup_failed() {
  echo "cannot run the tests: $1" >&2
  echo "0 passed, 1 failed"
  exit 1
}
# npm installs the web page's viewer library (OpenSeadragon, pinned) when the API project builds.
command -v npm >/dev/null || need_packages+=(npm)
# The web page's browser test drives Debian's headless Chromium through chromedriver.
[[ -x /usr/bin/chromium ]] || need_packages+=(chromium)
[[ -x /usr/bin/chromedriver ]] || need_packages+=(chromium-driver)
if ((${#need_packages[@]})); then
  sudo=(); [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  # Another apt/dpkg (unattended upgrades, a parallel job) may hold the lock: wait for it instead of failing at once.
  apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
  "${apt[@]}" update -qq || setup_failed "apt-get update failed (exit $?)"
  log=$(mktemp)
  if ! "${apt[@]}" install -y -qq --no-install-recommends "${need_packages[@]}" >"$log" 2>&1; then
    reason=$(grep -E '^(E|W):' "$log" | head -n 3 | tr '\n' ' ' || true)
    rm -f "$log"
    setup_failed "installing ${need_packages[*]} failed: ${reason:-see apt-get output}"
  fi
  rm -f "$log"
fi
# kubectl (>= 1.27, with kustomize v5) renders the manifests; it is not in Debian's archive, so it must be on the image.
command -v kubectl >/dev/null || setup_failed "tests need kubectl >= 1.27 on PATH (kubectl kustomize renders k8s/)"

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
status=0
dotnet build OrleansDiffusion.sln -c Release -nologo -clp:ErrorsOnly || setup_failed "the build failed"
dotnet test OrleansDiffusion.sln -c Release --no-build -nologo --logger "trx" --results-directory "$results" "$@" || status=$?

passed=0; failed=0
for trx in "$results"/*.trx; do
  [[ -e $trx ]] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx")
  passed=$((passed + $(sed -E 's/.* passed="([0-9]+)".*/\1/' <<<"$counters")))
  run_failed=$(sed -E 's/.* failed="([0-9]+)".*/\1/' <<<"$counters")
  # A test host that crashes leaves its finished tests passed and none failed; the run itself is the failure.
  if ((run_failed == 0)) && grep -q '<ResultSummary outcome="Failed"' "$trx"; then
    run_failed=1
    echo "a test run was aborted: $(grep -o '<Text>[^<]*' "$trx" | head -n 1 | sed 's/<Text>//')" >&2
  fi
  failed=$((failed + run_failed))
done
# dotnet test failed without a failure on record (a project that left no results): count it.
if ((status != 0 && failed == 0)); then failed=1; fi
echo "$passed passed, $failed failed"
if ((passed == 0)); then echo "no test ran" >&2; exit 1; fi
exit $status
