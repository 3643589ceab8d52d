#!/usr/bin/env bash
# images_agent_test.sh: image automation in `windlass run`, render mode, against the real
# harness (kube-apiserver + KWOK, Git over HTTPS, the anonymous registry behind a relay):
# dev follows an image policy; a new tag pushed reaches dev's Deployment within one scan
# interval (plus the sync), recorded with trigger image and the image used; the registry
# taken away keeps the last good choice and shows in status, metrics and the log.
# Git mode: prod (branch env/prod) gets one commit that changes exactly the lines with
# setter markers, and applies it; a "$hold" marker is never rewritten and status shows it.
# Needs the harness's exports and the windlass binary as $1. Fails, never skips.
set -uo pipefail
WINDLASS=$(realpath "${1:?usage: images_agent_test.sh WINDLASS}")
HERE=$(cd "$(dirname "$0")" && pwd)
for v in KUBECONFIG WINDLASS_TEST_GIT_ROOT WINDLASS_TEST_GIT_HTTPS_URL WINDLASS_TEST_GIT_TOKEN \
         WINDLASS_TEST_GIT_CA WINDLASS_TEST_KUBECTL WINDLASS_TEST_REGISTRY; do
  [[ -n ${!v:-} ]] || { echo "images_agent_test: $v is not set: start the harness (tests/harness/up) and source its env file"; echo "0 passed, 1 failed"; exit 1; }
done
K="$WINDLASS_TEST_KUBECTL --kubeconfig $KUBECONFIG"
passed=0 failed=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
wait_for() {  # wait_for SECONDS COMMAND...: polls every 0.1 s
  local end=$((SECONDS + $1)); shift
  while ((SECONDS < end)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

W=$(mktemp -d "${TMPDIR:-/tmp}/windlass-images.XXXXXX")
id=$(basename "$W" | tr 'A-Z.' 'a-z-' | tail -c 7)
NS="wl-img-$id"
REPO="images-$id"
IMAGE_REPO="windlass/agent-$id"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  $K delete namespace "$NS-dev" "$NS-prod" --wait=false >/dev/null 2>&1
  rm -rf "$W" "$WINDLASS_TEST_GIT_ROOT/$REPO.git"
}
trap cleanup EXIT

# A relay in front of the registry, so the test can take it away and bring it back.
start_proxy() {  # HOST PORT [LISTEN_PORT]
  rm -f "$W/reg.port"
  python3 "$HERE/tcp_proxy.py" "$W/reg.port" "$1" "$2" ${3:-} &
  proxy=$!
  pids+=($proxy)
  for _ in $(seq 50); do [[ -s $W/reg.port ]] && break; sleep 0.1; done
}
start_proxy "${WINDLASS_TEST_REGISTRY%:*}" "${WINDLASS_TEST_REGISTRY##*:}"
reg_port=$(cat "$W/reg.port")
REGISTRY=127.0.0.1:$reg_port

# shellcheck source=oci_push.sh
source "$HERE/oci_push.sh"
OCI_AUTH=()
ociImage "$W"
check "tags 0.9.0 and 1.0.0 pushed" ociPush "$WINDLASS_TEST_REGISTRY" "$IMAGE_REPO" "$W" 0.9.0 1.0.0

git init -q --bare -b main "$WINDLASS_TEST_GIT_ROOT/$REPO.git"
git -C "$WINDLASS_TEST_GIT_ROOT/$REPO.git" config http.receivepack true
git clone -q "$WINDLASS_TEST_GIT_ROOT/$REPO.git" "$W/work" 2>/dev/null
cd "$W/work" || exit 1
git config user.name "Ada Author"; git config user.email ada@example.com
cat > web.yaml <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: $REGISTRY/$IMAGE_REPO:0.9.0 # {"\$imagepolicy": "flux-system:web"}
      - {name: proxy, image: "example.com/proxy:1.0"}
YAML
cat > release.yaml <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: release}
data:
  version: "0.9.0" # {"\$imagepolicy": "web:tag"}
  pinned: "0.9.0" # {"\$imagepolicy": "web:tag", "\$hold": "pinned during incident"}
  note: keep me   # a comment that stays
YAML
printf 'resources: [web.yaml, release.yaml]\n' > kustomization.yaml
git add -A && git commit -qm "web" && git push -q origin HEAD:main 2>/dev/null &&
  git push -q origin HEAD:env/prod 2>/dev/null
BARE=$WINDLASS_TEST_GIT_ROOT/$REPO.git

printf '%s\n' "$WINDLASS_TEST_GIT_TOKEN" > "$W/token"
printf '%s\n' "${WINDLASS_TEST_GIT_USER:-git}" > "$W/user"
INTERVAL=3
cat > "$W/windlass.yaml" <<YAML
apiVersion: windlass.dev/v1alpha1
kind: Agent
repository:
  url: $WINDLASS_TEST_GIT_HTTPS_URL/$REPO.git
  credentials: {usernameFile: $W/user, passwordFile: $W/token, caFile: $WINDLASS_TEST_GIT_CA}
  interval: 1s
cluster: {kubeconfig: $KUBECONFIG}
stateDir: $W/state
server: {address: "127.0.0.1:0"}
environments:
- {name: dev, branch: main, namespace: $NS-dev, healthTimeout: 60s, images: [{policy: web, update: render}]}
- {name: prod, branch: env/prod, namespace: $NS-prod, healthTimeout: 60s, images: [{policy: web, update: git}]}
imageCommit: {authorName: Image Bot, authorEmail: images@example.com, messageTemplate: "images for {{branch}}\\n\\n{{changes}}"}
imagePolicies:
- {name: web, image: $REGISTRY/$IMAGE_REPO, insecure: true, interval: ${INTERVAL}s, policy: {semver: {range: ">=1.0.0"}}}
YAML

image() { $K -n "$NS-dev" get deploy web -o jsonpath="{.spec.template.spec.containers[$1].image}" 2>/dev/null; }
is_image() { [[ $(image 0) == "$1" ]]; }

"$WINDLASS" run --config "$W/windlass.yaml" --log-format json 2>> "$W/agent.log" &
agent=$!
pids+=($agent)

check "dev runs the policy's choice (1.0.0), not the 0.9.0 written in Git" \
  wait_for 60 is_image "$REGISTRY/$IMAGE_REPO:1.0.0"
check "the other container is left as rendered" test "$(image 1)" = example.com/proxy:1.0
check "Git is not written in render mode" test "$(git -C "$BARE" rev-list --count main)" = 1

# Git mode: one commit on env/prod, only the marker lines, and prod applies it.
export K NS; prod_image() { $K -n "$NS-prod" get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}' 2>/dev/null; }
export -f prod_image
check "a commit appears on env/prod" \
  wait_for 60 bash -c "[[ \$(git -C '$BARE' rev-list --count env/prod) == 2 ]]"
check "the commit is by the configured author with the templated message" \
  bash -c "[[ \$(git -C '$BARE' log -1 --format='%an <%ae>|%s' env/prod) == 'Image Bot <images@example.com>|images for env/prod' ]]"
check "the commit changes exactly the two unheld marker lines" \
  bash -c "[[ \$(git -C '$BARE' diff --numstat env/prod~1 env/prod | sort | tr '\t' ' ') == \$'1 1 release.yaml\n1 1 web.yaml' ]]"
check "the marker lines now name 1.0.0 and every other byte is kept" \
  bash -c "git -C '$BARE' show env/prod:web.yaml | grep -qF 'image: $REGISTRY/$IMAGE_REPO:1.0.0 # {\"\$imagepolicy\": \"flux-system:web\"}' &&
    [[ \$(git -C '$BARE' show env/prod:web.yaml | sed 's/:1.0.0 #/:0.9.0 #/') == \$(git -C '$BARE' show env/prod~1:web.yaml) ]]"
check "the held marker is not rewritten" \
  bash -c "git -C '$BARE' show env/prod:release.yaml | grep -qF 'pinned: \"0.9.0\" # {\"\$imagepolicy\": \"web:tag\", \"\$hold\"'"
check "prod applies the commit" wait_for 60 bash -c "[[ \$(prod_image) == '$REGISTRY/$IMAGE_REPO:1.0.0' ]]"
check "windlass status shows the hold and its reason" \
  wait_for 20 bash -c "'$WINDLASS' status --config '$W/windlass.yaml' --env prod 2>/dev/null | grep -q 'image hold: web at release.yaml:6: pinned during incident'"

# A new tag: dev takes it within one scan interval (+10% jitter) plus the sync.
ociPush "$WINDLASS_TEST_REGISTRY" "$IMAGE_REPO" "$W" 1.1.0
pushed=$(date +%s%N)
if wait_for 30 is_image "$REGISTRY/$IMAGE_REPO:1.1.0"; then
  took=$((($(date +%s%N) - pushed) / 1000000))
  check "a new tag 1.1.0 reaches dev in ${took} ms (scan interval ${INTERVAL}s)" \
    test "$took" -lt $((INTERVAL * 1100 + 15000))
else
  bad "a new tag 1.1.0 reaches dev"
fi
check "the history records trigger image and the image used" \
  wait_for 30 bash -c "'$WINDLASS' history --config '$W/windlass.yaml' --env dev -o json | tail -n 1 |
    grep '\"trigger\":\"image\"' | grep -q '$REGISTRY/$IMAGE_REPO:1.1.0'"
check "the log names the new image" \
  grep -q "\"msg\":\"new image chosen\".*$IMAGE_REPO:1.1.0" "$W/agent.log"
check "git mode: the new tag is committed to env/prod and applied" \
  wait_for 60 bash -c "[[ \$(prod_image) == '$REGISTRY/$IMAGE_REPO:1.1.0' ]] &&
    git -C '$BARE' show env/prod:release.yaml | grep -qF 'version: \"1.1.0\"' &&
    git -C '$BARE' show env/prod:release.yaml | grep -qF 'pinned: \"0.9.0\"'"
check "windlass images says what dev runs and would take" \
  bash -c "'$WINDLASS' images --config '$W/windlass.yaml' | grep -q 'web (render): runs $REGISTRY/$IMAGE_REPO:1.1.0, would take $REGISTRY/$IMAGE_REPO:1.1.0'"

# The registry goes away: the last good choice stays, and status, metrics and log say so.
kill -9 "$proxy"; wait "$proxy" 2>/dev/null
ociPush "$WINDLASS_TEST_REGISTRY" "$IMAGE_REPO" "$W" 1.2.0
check "a failed scan is logged" \
  wait_for $((INTERVAL * 3)) grep -q '"msg":"image scan failed; keeping the last good choice"' "$W/agent.log"
check "status shows the scan error" \
  wait_for 10 grep -q '"scanError": "image policy web: registry' "$W/state/status/dev.json"
port=$(grep -o '"msg":"http server listening".*"port":"[0-9]*"' "$W/agent.log" | tail -n 1 |
  grep -o '[0-9]*"$' | tr -d '"')
check "metrics: windlass_image_scan_failing{policy=\"web\"} 1" \
  bash -c "curl -sf http://127.0.0.1:$port/metrics | grep -q '^windlass_image_scan_failing{policy=\"web\"} 1'"
check "dev keeps 1.1.0 while the registry is away" is_image "$REGISTRY/$IMAGE_REPO:1.1.0"
start_proxy "${WINDLASS_TEST_REGISTRY%:*}" "${WINDLASS_TEST_REGISTRY##*:}" "$reg_port"
check "the registry back: 1.2.0 reaches dev" wait_for 40 is_image "$REGISTRY/$IMAGE_REPO:1.2.0"
check "windlass status shows the image in use" \
  bash -c "'$WINDLASS' status --config '$W/windlass.yaml' --env dev 2>/dev/null | grep -q 'image: *web (render): $REGISTRY/$IMAGE_REPO:1.2.0'"
check "status clears the scan error" \
  wait_for 10 grep -q '"scanError": ""' "$W/state/status/dev.json"

kill -TERM "$agent"; wait "$agent" 2>/dev/null
echo "$passed passed, $failed failed"
((failed == 0))
