#!/usr/bin/env bash
# harness_smoke_test.sh ENVFILE: proves that the environment started by `tests/harness/up ENVFILE`
# is real and usable: Kubernetes (server-side apply, audit log, RBAC 403, Deployment rollout through
# KWOK, namespace termination), Git (HTTPS with token, SSH with pinned host key, git://, push) and
# the OCI registries (250 tags, paginated tag list, anonymous and basic auth).
# Prints one line per check ("PASS ..." / "FAIL ...") and finally "N passed, M failed";
# exits non-zero if any check failed. Never skips: a missing variable or tool is a failure.
set -uo pipefail

ENVFILE=${1:?usage: harness_smoke_test.sh ENVFILE}
# shellcheck disable=SC1090
source "$ENVFILE"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
finish() { echo "$passed passed, $failed failed"; ((failed == 0)); exit $?; }

T=$(mktemp -d "${TMPDIR:-/tmp}/windlass-smoke.XXXXXX")
trap 'rm -rf -- "$T"' EXIT
RUN=$(date +%s)-$$

required=(KUBECONFIG WINDLASS_TEST_RESTRICTED_KUBECONFIG WINDLASS_TEST_RESTRICTED_NAMESPACE
  WINDLASS_TEST_KUBECTL WINDLASS_TEST_AUDIT_LOG WINDLASS_TEST_API_SERVER WINDLASS_TEST_API_CA
  WINDLASS_TEST_GIT_ROOT WINDLASS_TEST_GIT_HTTPS_URL WINDLASS_TEST_GIT_USER WINDLASS_TEST_GIT_TOKEN
  WINDLASS_TEST_GIT_CA WINDLASS_TEST_GIT_SSH_URL WINDLASS_TEST_GIT_SSH_KEY
  WINDLASS_TEST_GIT_KNOWN_HOSTS WINDLASS_TEST_GIT_WRONG_KNOWN_HOSTS WINDLASS_TEST_GIT_DAEMON_URL
  WINDLASS_TEST_REGISTRY WINDLASS_TEST_REGISTRY_AUTH WINDLASS_TEST_REGISTRY_USER
  WINDLASS_TEST_REGISTRY_PASSWORD)
missing=0
for v in "${required[@]}"; do
  if [[ -z ${!v:-} ]]; then fail "ENVFILE does not export $v"; missing=1; fi
done
((missing == 0)) || finish

K=("$WINDLASS_TEST_KUBECTL" --request-timeout=30s)
KR=("$WINDLASS_TEST_KUBECTL" --kubeconfig "$WINDLASS_TEST_RESTRICTED_KUBECONFIG" --request-timeout=30s)

# ---------------------------------------------------------------------------------------------
# Kubernetes
NS=smoke-$RUN
if "${K[@]}" create namespace "$NS" >"$T/ns.out" 2>&1; then
  pass "admin creates namespace $NS"
else
  fail "admin creates namespace $NS: $(cat "$T/ns.out")"
fi

cat >"$T/cm.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: smoke-cm, namespace: $NS}
data: {run: "$RUN"}
EOF
if "${K[@]}" apply --server-side --field-manager=windlass-smoke -f "$T/cm.yaml" >"$T/ssa.out" 2>&1 &&
   [[ $("${K[@]}" -n "$NS" get configmap smoke-cm -o 'jsonpath={.data.run}') == "$RUN" ]]; then
  pass "server-side apply of a ConfigMap as admin"
else
  fail "server-side apply of a ConfigMap as admin: $(cat "$T/ssa.out")"
fi
managers=$("${K[@]}" -n "$NS" get configmap smoke-cm --show-managed-fields \
  -o 'jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation} {end}' 2>&1)
if [[ $managers == *"windlass-smoke/Apply"* ]]; then
  pass "managedFields records windlass-smoke as an Apply manager"
else
  fail "managedFields lacks windlass-smoke/Apply: $managers"
fi

# auditHas FILTER: true when an audit event matches (python expression over `e`).
auditHas() {
  python3 - "$WINDLASS_TEST_AUDIT_LOG" "$1" <<'EOF'
import json, sys
path, expr = sys.argv[1], sys.argv[2]
with open(path) as f:
    for line in f:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if eval(expr, {}, {"e": e, "ref": e.get("objectRef", {}),
                           "user": e.get("user", {}).get("username", "")}):
            sys.exit(0)
sys.exit(1)
EOF
}
ssaFilter="e.get('verb') == 'patch' and ref.get('resource') == 'configmaps'
  and ref.get('namespace') == '$NS' and ref.get('name') == 'smoke-cm'
  and 'fieldManager=windlass-smoke' in e.get('requestURI', '')
  and e.get('stage') == 'ResponseComplete' and e.get('responseStatus', {}).get('code') in (200, 201)
  and user == 'windlass-admin' and e.get('level') in ('Metadata', 'Request', 'RequestResponse')"
ssaFilter=${ssaFilter//$'\n'/ }
found=0
for _ in $(seq 50); do
  if auditHas "$ssaFilter"; then found=1; break; fi
  sleep 0.2
done
if ((found)); then
  pass "audit log shows the server-side apply (patch, fieldManager, user, Metadata level)"
else
  fail "audit log $WINDLASS_TEST_AUDIT_LOG has no event for the server-side apply"
fi

RNS=$WINDLASS_TEST_RESTRICTED_NAMESPACE
if "${KR[@]}" -n "$RNS" get configmaps >"$T/r-read.out" 2>&1; then
  pass "restricted user may read in $RNS"
else
  fail "restricted user cannot read in $RNS: $(cat "$T/r-read.out")"
fi
if "${KR[@]}" -n "$RNS" create configmap forbidden-cm --from-literal=a=b >"$T/r-write.out" 2>&1; then
  fail "restricted user could create a ConfigMap in $RNS"
elif grep -qi 'forbidden.*User "restricted" cannot create' "$T/r-write.out"; then
  pass "restricted user's write is Forbidden"
else
  fail "restricted user's write failed without Forbidden: $(cat "$T/r-write.out")"
fi
token=$(sed -n 's/.*token: "\(.*\)".*/\1/p' "$WINDLASS_TEST_RESTRICTED_KUBECONFIG")
code=$(curl -s -o "$T/r-curl.out" -w '%{http_code}' --cacert "$WINDLASS_TEST_API_CA" \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/apply-patch+yaml' \
  -X PATCH --data-binary @"$T/cm.yaml" \
  "$WINDLASS_TEST_API_SERVER/api/v1/namespaces/$NS/configmaps/smoke-cm?fieldManager=intruder")
if [[ $code == 403 ]]; then
  pass "restricted user's server-side apply gets HTTP 403"
else
  fail "restricted user's server-side apply got HTTP $code: $(head -c 300 "$T/r-curl.out")"
fi

if [[ -n ${WINDLASS_TEST_AGENT_KUBECONFIG:-} ]]; then
  KA=("$WINDLASS_TEST_KUBECTL" --kubeconfig "$WINDLASS_TEST_AGENT_KUBECONFIG" --request-timeout=30s)
  if "${KA[@]}" --as=tenant-a -n team-a create configmap "imp-$RUN" --from-literal=a=b \
       >"$T/imp.out" 2>&1; then
    pass "gitops-agent impersonating tenant-a writes in team-a"
  else
    fail "gitops-agent impersonating tenant-a: $(cat "$T/imp.out")"
  fi
  if "${KA[@]}" --as=someone-else -n team-a get configmaps >"$T/imp2.out" 2>&1; then
    fail "gitops-agent could impersonate someone-else"
  elif grep -qi 'cannot impersonate' "$T/imp2.out"; then
    pass "gitops-agent impersonating another user is forbidden"
  else
    fail "impersonating another user failed oddly: $(cat "$T/imp2.out")"
  fi
  "${K[@]}" -n team-a delete configmap "imp-$RUN" --ignore-not-found >/dev/null 2>&1
else
  fail "ENVFILE does not export WINDLASS_TEST_AGENT_KUBECONFIG"
fi

if "${K[@]}" -n "$NS" create deployment web --image=registry.invalid/web:1 --replicas=2 \
     >"$T/deploy.out" 2>&1 &&
   "${K[@]}" -n "$NS" wait --for=condition=Available deployment/web --timeout=90s \
     >>"$T/deploy.out" 2>&1 &&
   "${K[@]}" -n "$NS" rollout status deployment/web --timeout=60s >>"$T/deploy.out" 2>&1; then
  pass "Deployment becomes Available through KWOK"
else
  fail "Deployment did not become Available: $(tail -n 5 "$T/deploy.out")"
fi
ready=$("${K[@]}" -n "$NS" get deployment web -o 'jsonpath={.status.readyReplicas}' 2>&1)
nodes=$("${K[@]}" -n "$NS" get pods -l app=web -o 'jsonpath={.items[*].spec.nodeName}' 2>&1)
phases=$("${K[@]}" -n "$NS" get pods -l app=web -o 'jsonpath={.items[*].status.phase}' 2>&1)
if [[ $ready == 2 && $nodes == "kwok-node-0 kwok-node-0" && $phases == "Running Running" ]]; then
  pass "2 pods scheduled on kwok-node-0 and Running"
else
  fail "pods not as expected: readyReplicas=$ready nodes='$nodes' phases='$phases'"
fi

if "${K[@]}" delete namespace "$NS" --wait=true --timeout=120s >"$T/nsdel.out" 2>&1; then
  if "${K[@]}" get namespace "$NS" >"$T/nsget.out" 2>&1; then
    fail "namespace $NS still exists after deletion"
  elif grep -q NotFound "$T/nsget.out"; then
    pass "namespace deletion completes (contents garbage-collected, namespace gone)"
  else
    fail "namespace lookup after deletion failed oddly: $(cat "$T/nsget.out")"
  fi
else
  fail "namespace $NS did not terminate: $(cat "$T/nsdel.out")"
fi

# ---------------------------------------------------------------------------------------------
# Git
export GIT_TERMINAL_PROMPT=0 GIT_CONFIG_NOSYSTEM=1 GIT_ASKPASS=/bin/false SSH_ASKPASS=/bin/false
export HOME=$T/home   # no user gitconfig, credential helpers or ~/.ssh influence the checks
mkdir -p "$HOME"
git config --global user.name "windlass smoke"
git config --global user.email "smoke@windlass.invalid"
git config --global init.defaultBranch main
git config --global protocol.file.allow always

REPO=smoke-$RUN.git
git init -q --bare "$WINDLASS_TEST_GIT_ROOT/$REPO"
git init -q "$T/seed"
echo "seed $RUN" >"$T/seed/README"
git -C "$T/seed" add README
git -C "$T/seed" commit -q -m seed
git -C "$T/seed" push -q "$WINDLASS_TEST_GIT_ROOT/$REPO" main
SEED=$(git -C "$T/seed" rev-parse HEAD)

base=${WINDLASS_TEST_GIT_HTTPS_URL#https://}
goodUrl=https://$WINDLASS_TEST_GIT_USER:$WINDLASS_TEST_GIT_TOKEN@$base/$REPO
badUrl=https://$WINDLASS_TEST_GIT_USER:wrong-$WINDLASS_TEST_GIT_TOKEN@$base/$REPO
if GIT_SSL_CAINFO=$WINDLASS_TEST_GIT_CA git clone -q "$goodUrl" "$T/https" >"$T/hc.out" 2>&1 &&
   [[ $(git -C "$T/https" rev-parse HEAD) == "$SEED" ]]; then
  pass "git clone over HTTPS with the right token"
else
  fail "git clone over HTTPS with the right token: $(cat "$T/hc.out")"
fi
if GIT_SSL_CAINFO=$WINDLASS_TEST_GIT_CA git clone -q "$badUrl" "$T/https-bad" >"$T/hb.out" 2>&1; then
  fail "git clone over HTTPS succeeded with a wrong token"
elif grep -qiE 'Authentication failed|401' "$T/hb.out"; then
  pass "git clone over HTTPS with a wrong token fails with an authentication error"
else
  fail "wrong-token clone failed without a clear error: $(cat "$T/hb.out")"
fi
if git clone -q "$goodUrl" "$T/https-noca" >"$T/hn.out" 2>&1; then
  fail "git clone over HTTPS succeeded without trusting the test CA"
elif grep -qiE 'certificate|SSL' "$T/hn.out"; then
  pass "git clone over HTTPS without the test CA fails with a TLS error"
else
  fail "untrusted-CA clone failed without a TLS error: $(cat "$T/hn.out")"
fi
if [[ -d $T/https/.git ]]; then
  echo "https $RUN" >"$T/https/https.txt"
  git -C "$T/https" add https.txt
  git -C "$T/https" commit -q -m "push over https"
  if GIT_SSL_CAINFO=$WINDLASS_TEST_GIT_CA git -C "$T/https" push -q origin main >"$T/hp.out" 2>&1 &&
     [[ $(git -C "$WINDLASS_TEST_GIT_ROOT/$REPO" rev-parse main) == \
        "$(git -C "$T/https" rev-parse HEAD)" ]]; then
    pass "git push over HTTPS"
  else
    fail "git push over HTTPS: $(cat "$T/hp.out")"
  fi
else
  fail "git push over HTTPS: no clone to push from"
fi

sshCommand() {  # sshCommand KNOWN_HOSTS
  printf 'ssh -i %q -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=%q' \
    "$WINDLASS_TEST_GIT_SSH_KEY" "$1"
  printf ' -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o ConnectTimeout=10'
}
sshUrl=$WINDLASS_TEST_GIT_SSH_URL/$REPO
if GIT_SSH_COMMAND=$(sshCommand "$WINDLASS_TEST_GIT_KNOWN_HOSTS") \
     git clone -q "$sshUrl" "$T/ssh" >"$T/sc.out" 2>&1 &&
   [[ $(git -C "$T/ssh" rev-parse HEAD) == "$(git -C "$WINDLASS_TEST_GIT_ROOT/$REPO" rev-parse main)" ]]
then
  pass "git clone over SSH with the known host key"
else
  fail "git clone over SSH with the known host key: $(cat "$T/sc.out")"
fi
if GIT_SSH_COMMAND=$(sshCommand "$WINDLASS_TEST_GIT_WRONG_KNOWN_HOSTS") \
     git clone -q "$sshUrl" "$T/ssh-bad" >"$T/sb.out" 2>&1; then
  fail "git clone over SSH succeeded although known_hosts pins another host key"
elif grep -qiE 'host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED' "$T/sb.out"; then
  pass "git clone over SSH with a mismatching known host key is refused"
else
  fail "mismatching host key: refused without a host-key error: $(cat "$T/sb.out")"
fi
: >"$T/empty_known_hosts"
if GIT_SSH_COMMAND=$(sshCommand "$T/empty_known_hosts") \
     git clone -q "$sshUrl" "$T/ssh-unknown" >"$T/su.out" 2>&1; then
  fail "git clone over SSH succeeded with an unknown host key"
elif grep -qi 'host key verification failed' "$T/su.out"; then
  pass "git clone over SSH with an unknown host key is refused"
else
  fail "unknown host key: refused without a host-key error: $(cat "$T/su.out")"
fi
if [[ -d $T/ssh/.git ]]; then
  echo "ssh $RUN" >"$T/ssh/ssh.txt"
  git -C "$T/ssh" add ssh.txt
  git -C "$T/ssh" commit -q -m "push over ssh"
  if GIT_SSH_COMMAND=$(sshCommand "$WINDLASS_TEST_GIT_KNOWN_HOSTS") \
       git -C "$T/ssh" push -q origin main >"$T/sp.out" 2>&1 &&
     [[ $(git -C "$WINDLASS_TEST_GIT_ROOT/$REPO" rev-parse main) == \
        "$(git -C "$T/ssh" rev-parse HEAD)" ]]; then
    pass "git push over SSH"
  else
    fail "git push over SSH: $(cat "$T/sp.out")"
  fi
else
  fail "git push over SSH: no clone to push from"
fi

if git clone -q "$WINDLASS_TEST_GIT_DAEMON_URL/$REPO" "$T/daemon" >"$T/dc.out" 2>&1 &&
   [[ $(git -C "$T/daemon" rev-parse HEAD) == "$(git -C "$WINDLASS_TEST_GIT_ROOT/$REPO" rev-parse main)" ]]
then
  pass "git clone over git:// (git daemon)"
else
  fail "git clone over git://: $(cat "$T/dc.out")"
fi

# ---------------------------------------------------------------------------------------------
# OCI registries: a tiny OCI layout written here, pushed with skopeo once, then the same manifest
# put under 250 tags with curl; the paginated tag list must return all of them.
IMG=$T/oci
mkdir -p "$IMG/blobs/sha256"
blob() {  # blob FILE -> prints sha256 hex and stores it in the layout
  local hex
  hex=$(sha256sum "$1" | cut -d' ' -f1)
  cp "$1" "$IMG/blobs/sha256/$hex"
  echo "$hex"
}
printf 'windlass smoke %s\n' "$RUN" >"$T/payload.txt"
tar -C "$T" -cf "$T/layer.tar" payload.txt
gzip -n -c "$T/layer.tar" >"$T/layer.tar.gz"
layerHex=$(blob "$T/layer.tar.gz")
diffHex=$(sha256sum "$T/layer.tar" | cut -d' ' -f1)
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$diffHex" >"$T/config.json"
configHex=$(blob "$T/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
  "$configHex" "$(stat -c %s "$T/config.json")" "$layerHex" "$(stat -c %s "$T/layer.tar.gz")" \
  >"$T/manifest.json"
manifestHex=$(blob "$T/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"v0"}}]}' \
  "$manifestHex" "$(stat -c %s "$T/manifest.json")" >"$IMG/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$IMG/oci-layout"

# tagList REGISTRY REPO [CURL-AUTH...]: follows the Link header with n=100; prints one tag a line
# and the number of pages to $T/pages.
tagList() {
  local registry=$1 repo=$2; shift 2
  local path="/v2/$repo/tags/list?n=100" pages=0
  : >"$T/tags.all"
  while [[ -n $path ]] && ((pages < 20)); do
    pages=$((pages + 1))
    curl -sf --max-time 10 "$@" -D "$T/headers" -o "$T/page.json" "http://$registry$path" || return 1
    python3 -c 'import json,sys; [print(t) for t in json.load(open(sys.argv[1]))["tags"]]' \
      "$T/page.json" >>"$T/tags.all" || return 1
    path=$(sed -n 's/^[Ll]ink: *<\([^>]*\)>.*rel="next".*/\1/p' "$T/headers" | tr -d '\r')
  done
  echo "$pages" >"$T/pages"
  cat "$T/tags.all"
}

# registryCheck LABEL REGISTRY SKOPEO-CREDS-ARGS CURL-AUTH-ARGS...
registryCheck() {
  local label=$1 registry=$2 creds=$3; shift 3
  local repo=smoke/app-$RUN
  # shellcheck disable=SC2086
  if skopeo --insecure-policy copy -q --dest-tls-verify=false $creds \
       "oci:$IMG:v0" "docker://$registry/$repo:v0" >"$T/skopeo.out" 2>&1; then
    pass "$label: skopeo pushes the OCI layout"
  else
    fail "$label: skopeo push: $(cat "$T/skopeo.out")"
    return
  fi
  local args=() i
  for i in $(seq 1 249); do
    args+=(-T "$T/manifest.json" "http://$registry/v2/$repo/manifests/v$i")
  done
  if curl -sf --max-time 120 "$@" -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
       -o /dev/null "${args[@]}" 2>"$T/put.out"; then
    pass "$label: 249 more tags put with curl"
  else
    fail "$label: putting tags failed: $(cat "$T/put.out")"
  fi
  seq 0 249 | sed 's/^/v/' | sort >"$T/expected"
  if tagList "$registry" "$repo" "$@" | sort >"$T/got" && cmp -s "$T/expected" "$T/got"; then
    pass "$label: paginated tag list (n=100, Link) returns all 250 tags in $(cat "$T/pages") pages"
  else
    fail "$label: tag list has $(wc -l <"$T/got") of 250 tags (pages: $(cat "$T/pages" 2>/dev/null))"
  fi
  if [[ $(cat "$T/pages" 2>/dev/null) -ge 3 ]]; then
    pass "$label: the Link header was followed (>= 3 pages)"
  else
    fail "$label: expected >= 3 pages, got $(cat "$T/pages" 2>/dev/null)"
  fi
  local digest
  digest=$(curl -sf "$@" -o /dev/null -D - \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$registry/v2/$repo/manifests/v137" | tr -d '\r' |
    sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *//p')
  if [[ $digest == "sha256:$manifestHex" ]]; then
    pass "$label: tag v137 resolves to the pushed manifest digest"
  else
    fail "$label: tag v137 digest '$digest' != sha256:$manifestHex"
  fi
}

registryCheck "anonymous registry" "$WINDLASS_TEST_REGISTRY" ""
RU=$WINDLASS_TEST_REGISTRY_USER
RP=$WINDLASS_TEST_REGISTRY_PASSWORD
registryCheck "basic-auth registry" "$WINDLASS_TEST_REGISTRY_AUTH" "--dest-creds=$RU:$RP" -u "$RU:$RP"
code=$(curl -s -o /dev/null -w '%{http_code}' \
  "http://$WINDLASS_TEST_REGISTRY_AUTH/v2/smoke/app-$RUN/tags/list")
if [[ $code == 401 ]]; then
  pass "basic-auth registry: anonymous tag list gets 401"
else
  fail "basic-auth registry: anonymous tag list got HTTP $code"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' -u "$RU:wrong-$RP" \
  "http://$WINDLASS_TEST_REGISTRY_AUTH/v2/smoke/app-$RUN/tags/list")
if [[ $code == 401 ]]; then
  pass "basic-auth registry: a wrong password gets 401"
else
  fail "basic-auth registry: a wrong password got HTTP $code"
fi

finish
