#!/usr/bin/env bash
# web_test.sh: the read-only web page of `windlass run`, loaded in headless Chromium against the
# real harness: every environment is listed with its short commit and (escaped) subject, a drift
# repair shows in the history naming the object, and screenshots land in OUTDIR. Needs the
# harness's exports, the windlass binary as $1 and the folder for the screenshots as $2. Fails,
# never skips, when a piece (Chromium included) is missing. Ends with "N passed, M failed".
set -uo pipefail
WINDLASS=$(realpath "${1:?usage: web_test.sh WINDLASS OUTDIR}")
OUT=$(realpath "${2:?usage: web_test.sh WINDLASS OUTDIR}")
for v in KUBECONFIG WINDLASS_TEST_GIT_ROOT WINDLASS_TEST_GIT_HTTPS_URL WINDLASS_TEST_GIT_TOKEN \
         WINDLASS_TEST_GIT_CA WINDLASS_TEST_KUBECTL; do
  [[ -n ${!v:-} ]] || { echo "web_test: $v is not set: start the harness and source its env file"; echo "0 passed, 1 failed"; exit 1; }
done
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[[ -n $CHROMIUM ]] || { echo "web_test: chromium is missing (packaging/install-deps)"; echo "0 passed, 1 failed"; exit 1; }
K="$WINDLASS_TEST_KUBECTL --kubeconfig $KUBECONFIG"
passed=0 failed=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
wait_for() {
  local end=$((SECONDS + $1)); shift
  while ((SECONDS < end)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

W=$(mktemp -d "${TMPDIR:-/tmp}/windlass-web.XXXXXX")
id=$(basename "$W" | tr 'A-Z.' 'a-z-' | tail -c 7)
NS="wl-web-$id"
REPO="web-$id"
pid=
cleanup() {
  [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null
  $K delete namespace "$NS-dev" "$NS-prod" --wait=false >/dev/null 2>&1
  rm -rf "$W" "$WINDLASS_TEST_GIT_ROOT/$REPO.git"
}
trap cleanup EXIT

git init -q --bare -b main "$WINDLASS_TEST_GIT_ROOT/$REPO.git"
git clone -q "$WINDLASS_TEST_GIT_ROOT/$REPO.git" "$W/work" 2>/dev/null
cd "$W/work"
git config user.name "Ada Author"; git config user.email ada@example.com
mkdir -p app
printf 'resources: [config.yaml]\n' > app/kustomization.yaml
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {level: info}\n' > app/config.yaml
git add -A
# A subject that would run script if the page did not escape it.
SUBJECT='Settings <img src=x onerror="document.title=1"> & "quoted"'
git commit -qm "$SUBJECT" && git push -q origin HEAD:main 2>/dev/null
SHORT=$(git rev-parse --short=7 HEAD)

printf '%s\n' "$WINDLASS_TEST_GIT_TOKEN" > "$W/token"
printf '%s\n' "${WINDLASS_TEST_GIT_USER:-git}" > "$W/user"
cat > "$W/windlass.yaml" <<YAML
apiVersion: windlass.dev/v1alpha1
kind: Agent
repository:
  url: $WINDLASS_TEST_GIT_HTTPS_URL/$REPO.git
  credentials: {usernameFile: $W/user, passwordFile: $W/token, caFile: $WINDLASS_TEST_GIT_CA}
  interval: 1h
cluster: {kubeconfig: $KUBECONFIG}
stateDir: $W/state
server: {address: "127.0.0.1:0"}
environments:
- {name: dev, branch: main, path: app, namespace: $NS-dev, healthTimeout: 30s}
- {name: prod, branch: main, path: app, namespace: $NS-prod, healthTimeout: 30s}
YAML
"$WINDLASS" run --config "$W/windlass.yaml" --log-format json 2>> "$W/agent.log" &
pid=$!
wait_for 30 grep -q 'http server listening' "$W/agent.log"
P=$(grep -o '"msg":"http server listening".*"port":"[0-9]*"' "$W/agent.log" | tail -n 1 | grep -o '[0-9]*"$' | tr -d '"')
URL="http://127.0.0.1:$P"
level() { $K -n "$1" get configmap settings -o jsonpath='{.data.level}' 2>/dev/null; }
synced() { [[ $(level "$NS-dev") == info && $(level "$NS-prod") == info ]]; }
check "the agent syncs both environments" wait_for 60 synced

# Drift in dev: reverted by the agent and recorded with trigger drift.
$K -n "$NS-dev" patch configmap settings -p '{"data":{"level":"hacked"}}' >/dev/null
drift_recorded() { curl -sf "$URL/api/v1/environments/dev/history?limit=5" | grep -q '"trigger":"drift"'; }
check "the drift in dev is repaired and recorded" wait_for 30 drift_recorded
DRIFT_SEQ=$(curl -sf "$URL/api/v1/environments/dev/history?limit=5" |
  python3 -c 'import json,sys; print(next(r["seq"] for r in json.load(sys.stdin)["records"] if r["trigger"]=="drift"))')

chrome() {  # chromium with a private profile; no sandbox (it may run as root in CI)
  timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$W/chrome" --virtual-time-budget=3000 "$@" 2>> "$W/chromium.log"
}
chrome --dump-dom "$URL/" > "$W/index.html"
check "the index lists both environments" \
  bash -c "grep -q 'data-env=\"dev\"' '$W/index.html' && grep -q 'data-env=\"prod\"' '$W/index.html'"
check "each environment shows the 7-character commit id $SHORT and the subject" \
  bash -c "(( \$(grep -o \">$SHORT</code>\" '$W/index.html' | wc -l) == 2 )) &&
           grep -qF 'Settings &lt;img src=x onerror=\"document.title=1\"&gt; &amp; \"quoted\"' '$W/index.html'"
check "the subject is text, not markup: no <img> element, the title untouched" \
  bash -c "! grep -q '<img' '$W/index.html' && grep -q '<title>windlass: environments</title>' '$W/index.html'"
check "health and last sync are shown" \
  bash -c "grep -q 'badge b-healthy\">Healthy<' '$W/index.html' && grep -q 'badge b-succeeded\">Succeeded<' '$W/index.html'"

chrome --dump-dom "$URL/environments/dev?trigger=drift" > "$W/dev-drift.html"
check "the dev history filtered by trigger drift shows the repair naming the object" \
  bash -c "grep -q 'data-trigger=\"drift\"' '$W/dev-drift.html' &&
           grep -qF 'ConfigMap $NS-dev/settings' '$W/dev-drift.html' &&
           grep -qE 'reverted [^ ]*ConfigMap $NS-dev/settings' '$W/dev-drift.html' &&
           ! grep -q 'data-trigger=\"poll\"' '$W/dev-drift.html'"
check "the history page says the chain verifies" grep -q 'History chain verified' "$W/dev-drift.html"
chrome --dump-dom "$URL/environments/dev#seq-$DRIFT_SEQ" > "$W/dev-open.html"
check "the record named in the address is expanded by the page's script" \
  grep -q "<details class=\"record\" data-seq=\"$DRIFT_SEQ\" data-trigger=\"drift\" data-outcome=\"Succeeded\" open=\"\">" "$W/dev-open.html"

rm -f "$OUT/web-index.png" "$OUT/web-history.png"
chrome --window-size=1280,720 --screenshot="$OUT/web-index.png" "$URL/" >/dev/null
chrome --window-size=1280,900 --screenshot="$OUT/web-history.png" "$URL/environments/dev#seq-$DRIFT_SEQ" >/dev/null
check "screenshots written to $OUT (web-index.png, web-history.png)" \
  bash -c "[[ \$(stat -c %s '$OUT/web-index.png' 2>/dev/null || echo 0) -gt 10000 &&
              \$(stat -c %s '$OUT/web-history.png' 2>/dev/null || echo 0) -gt 10000 ]]"

kill -TERM "$pid"; wait "$pid" 2>/dev/null; pid=
echo "$passed passed, $failed failed"
((failed == 0))
