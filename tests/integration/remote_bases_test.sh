#!/usr/bin/env bash
# remote_bases_test.sh: remote bases (issue #12) end to end against the real harness Git
# servers: `windlass sync` renders an environment whose kustomization names a remote base over
# HTTPS at a tag and then at a commit, a remote base that itself names a remote over SSH
# (nested), and a host that is not allowed; the records list every remote with its resolved
# commit and the history chain verifies. `windlass render` fetches a remote over SSH with the
# key and known_hosts from its environment variables, one over git://, and plain HTTPS files
# from a local TLS server (verified against WINDLASS_REMOTE_CA, at most 10 MiB). Needs the harness's exports and the
# windlass binary as $1. Fails, never skips. Ends with "N passed, M failed".
set -uo pipefail
WINDLASS=$(realpath "${1:?usage: remote_bases_test.sh WINDLASS}")
for v in KUBECONFIG WINDLASS_TEST_GIT_ROOT WINDLASS_TEST_GIT_HTTPS_URL WINDLASS_TEST_GIT_TOKEN \
         WINDLASS_TEST_GIT_CA WINDLASS_TEST_GIT_SSH_URL WINDLASS_TEST_GIT_SSH_KEY \
         WINDLASS_TEST_GIT_KNOWN_HOSTS WINDLASS_TEST_GIT_DAEMON_URL WINDLASS_TEST_KUBECTL; do
  [[ -n ${!v:-} ]] || { echo "remote_bases_test: $v is not set: start the harness and source its env file"; echo "0 passed, 1 failed"; exit 1; }
done
K="$WINDLASS_TEST_KUBECTL --kubeconfig $KUBECONFIG"
passed=0 failed=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

W=$(mktemp -d "${TMPDIR:-/tmp}/windlass-remote.XXXXXX")
id=$(basename "$W" | tr 'A-Z.' 'a-z-' | tail -c 7)
NS="wl-rb-$id"
APP="rb-app-$id" BASE="rb-base-$id" INNER="rb-inner-$id"
cleanup() {
  $K delete namespace "$NS" "$NS-deny" --wait=false >/dev/null 2>&1
  rm -rf "$W" "$WINDLASS_TEST_GIT_ROOT/$APP.git" "$WINDLASS_TEST_GIT_ROOT/$BASE.git" \
    "$WINDLASS_TEST_GIT_ROOT/$INNER.git"
}
trap cleanup EXIT

HTTPS=$WINDLASS_TEST_GIT_HTTPS_URL
SSH=$WINDLASS_TEST_GIT_SSH_URL
hostport=${HTTPS#https://}; hostport=${hostport%%/*}
host=${hostport%%:*}
cm() {  # NAME LEVEL
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {level: %s}\n' "$1" "$2"
}
newrepo() {  # NAME → a clone in $W/NAME
  git init -q --bare -b main "$WINDLASS_TEST_GIT_ROOT/$1.git"
  git clone -q "$WINDLASS_TEST_GIT_ROOT/$1.git" "$W/$1" 2>/dev/null
  git -C "$W/$1" config user.name test; git -C "$W/$1" config user.email test@example.com
}
push() {  # NAME MESSAGE
  git -C "$W/$1" add -A && git -C "$W/$1" commit -qm "$2" && git -C "$W/$1" push -q origin HEAD:main 2>/dev/null
}

# The nested remote (over SSH), then the base (over HTTPS), which names it.
newrepo "$INNER"
mkdir -p "$W/$INNER/inner"
printf 'resources: [cm.yaml]\n' > "$W/$INNER/inner/kustomization.yaml"
cm inner in1 > "$W/$INNER/inner/cm.yaml"
push "$INNER" inner
INNER_COMMIT=$(git -C "$W/$INNER" rev-parse HEAD)
INNER_REF="$SSH/$INNER.git//inner?ref=main"

newrepo "$BASE"
mkdir -p "$W/$BASE/base"
printf 'resources:\n- cm.yaml\n- %s\n' "$INNER_REF" > "$W/$BASE/base/kustomization.yaml"
cm base v1 > "$W/$BASE/base/cm.yaml"
push "$BASE" v1
git -C "$W/$BASE" tag v1.0.0 && git -C "$W/$BASE" push -q origin v1.0.0 2>/dev/null
V1=$(git -C "$W/$BASE" rev-parse HEAD)
cm base v2 > "$W/$BASE/base/cm.yaml"
push "$BASE" v2
V2=$(git -C "$W/$BASE" rev-parse HEAD)

newrepo "$APP"
mkdir -p "$W/$APP/app" "$W/$APP/deny"
app() {  # REF
  printf 'resources:\n- %s\n' "$HTTPS/$BASE.git//base?ref=$1" > "$W/$APP/app/kustomization.yaml"
  push "$APP" "base at $1"
}
printf 'resources:\n- https://localhost:%s/git/%s.git//base?ref=v1.0.0\n' "${hostport#*:}" "$BASE" \
  > "$W/$APP/deny/kustomization.yaml"
app v1.0.0

printf '%s\n' "$WINDLASS_TEST_GIT_TOKEN" > "$W/token"
printf '%s\n' "${WINDLASS_TEST_GIT_USER:-git}" > "$W/user"
cat > "$W/windlass.yaml" <<YAML
apiVersion: windlass.dev/v1alpha1
kind: Agent
repositories:
- name: apps
  url: $HTTPS/$APP.git
  credentials: {usernameFile: $W/user, passwordFile: $W/token, caFile: $WINDLASS_TEST_GIT_CA}
- name: inner
  url: $SSH/$INNER.git
  credentials: {sshKeyFile: $WINDLASS_TEST_GIT_SSH_KEY, knownHostsFile: $WINDLASS_TEST_GIT_KNOWN_HOSTS}
cluster: {kubeconfig: $KUBECONFIG}
stateDir: $W/state
environments:
- {name: dev, repository: apps, branch: main, path: app, namespace: $NS, healthTimeout: 30s,
   remoteBases: {allow: [$host]}}
- {name: deny, repository: apps, branch: main, path: deny, namespace: $NS-deny, healthTimeout: 30s,
   remoteBases: {allow: [example.com]}}
- {name: closed, repository: apps, branch: main, path: app, namespace: $NS-deny, healthTimeout: 30s}
YAML
sync() { "$WINDLASS" sync --config "$W/windlass.yaml" --env "$1" > "$W/sync.out" 2>&1; }
level() { $K -n "$1" get configmap "$2" -o jsonpath='{.data.level}' 2>/dev/null; }
last() { "$WINDLASS" history --config "$W/windlass.yaml" --env "$1" -o json | tail -n 1; }
field() { python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

sync dev; rc=$?
rec=$(last dev)
check "a remote base over HTTPS at a tag is applied (rc $rc), with the remote inside it (SSH)" \
  bash -c "[[ $rc == 0 && '$(level "$NS" base)' == v1 && '$(level "$NS" inner)' == in1 ]]" \
  || cat "$W/sync.out"
check "the record lists both remotes with their commits" \
  bash -c "[[ '$(field "$rec" '"|".join(r.get("remotes", []))')' == \
             '$V1 $HTTPS/$BASE.git//base?ref=v1.0.0|$INNER_COMMIT $INNER_REF' ]]"
mirrors=$(find "$W/state/git" -mindepth 1 -maxdepth 1 -type d | wc -l)
check "the remotes' mirrors are in the agent's Git cache (3 mirrors: app, base, inner; got $mirrors)" \
  bash -c "[[ $mirrors == 3 ]]"

app "$V2"
sync dev; rc=$?
rec=$(last dev)
check "a remote base at a commit is applied (rc $rc)" \
  bash -c "[[ $rc == 0 && '$(level "$NS" base)' == v2 ]] &&
           grep -qF '$V2 $HTTPS/$BASE.git//base?ref=$V2' <<< '$(field "$rec" '"\n".join(r["remotes"])')'"

sync deny; rc=$?
rec=$(last deny)
reason=$(field "$rec" 'r["reason"]')
message=$(field "$rec" 'r["message"]')
check "a host that is not allowed fails the render (rc $rc, $reason), naming the host" \
  bash -c "[[ $rc != 0 && $reason == RenderFailed ]]" &&
  check "... the message says which host and why" \
    grep -qF "resources: 'https://localhost:${hostport#*:}/git/$BASE.git//base?ref=v1.0.0': host 'localhost:${hostport#*:}' is not allowed for remote bases (remoteBases.allow)" <<< "$message"
sync closed; rc=$?
rec=$(last closed)
check "without remoteBases every remote is refused (rc $rc)" \
  bash -c "[[ $rc != 0 ]] && grep -qF 'is not allowed for remote bases (remoteBases.allow is empty)' <<< '$(field "$rec" 'r["message"]')'"
check "the history chains verify" "$WINDLASS" history verify --config "$W/windlass.yaml"

# windlass render: remote bases on, as in Kustomize; SSH key and known_hosts from the environment.
mkdir -p "$W/local"
printf 'resources:\n- %s\nnamePrefix: r-\n' "$INNER_REF" > "$W/local/kustomization.yaml"
out=$(XDG_CACHE_HOME="$W/cache" WINDLASS_REMOTE_SSH_KEY=$WINDLASS_TEST_GIT_SSH_KEY \
      WINDLASS_REMOTE_KNOWN_HOSTS=$WINDLASS_TEST_GIT_KNOWN_HOSTS "$WINDLASS" render "$W/local" 2>&1)
check "windlass render fetches a remote base over SSH into \$XDG_CACHE_HOME/windlass" \
  bash -c "grep -qx '  name: r-inner' <<< '$out' && [[ -d '$W/cache/windlass/git' ]]" || echo "$out"

printf 'resources:\n- %s\n' "$WINDLASS_TEST_GIT_DAEMON_URL/$INNER.git//inner" > "$W/local/kustomization.yaml"
out=$(XDG_CACHE_HOME="$W/cache" "$WINDLASS" render "$W/local" 2>&1)
check "windlass render fetches a remote base over git:// at the default branch" \
  bash -c "grep -qx '  level: in1' <<< '$out'" || echo "$out"

# Plain HTTPS files: TLS verified against WINDLASS_REMOTE_CA, size-limited to 10 MiB.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=remote-test-ca -keyout "$W/ca.key" \
  -out "$W/ca.pem" -addext basicConstraints=critical,CA:TRUE >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$W/srv.key" -out "$W/srv.csr" \
  >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1\n' > "$W/san.ext"
openssl x509 -req -in "$W/srv.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 1 \
  -extfile "$W/san.ext" -out "$W/srv.pem" >/dev/null 2>&1
mkdir -p "$W/www"
cm web f1 > "$W/www/cm.yaml"
head -c $((10 * 1024 * 1024 + 1)) /dev/zero | tr '\0' 'a' > "$W/www/big.yaml"
python3 - "$W/www" "$W/srv.pem" "$W/srv.key" "$W/port" 2>"$W/web.log" <<'PY' &
import http.server, ssl, sys, functools
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
open(sys.argv[4], "w").write(str(srv.server_address[1]))
srv.serve_forever()
PY
web_pid=$!
for _ in $(seq 50); do [[ -s $W/port ]] && break; sleep 0.1; done
WEB="https://127.0.0.1:$(cat "$W/port")"
mkdir -p "$W/files" "$W/bigfile"
printf 'resources:\n- %s/cm.yaml\n' "$WEB" > "$W/files/kustomization.yaml"
printf 'resources:\n- %s/big.yaml\n' "$WEB" > "$W/bigfile/kustomization.yaml"
render() { XDG_CACHE_HOME="$W/cache" "$WINDLASS" render "$@" 2>&1; }
out=$(WINDLASS_REMOTE_CA="$W/ca.pem" render "$W/files")
check "windlass render fetches a plain HTTPS file, TLS verified with WINDLASS_REMOTE_CA" \
  bash -c "grep -qx '  level: f1' <<< '$out'" || echo "$out"
out=$(render "$W/files")
check "without the CA the file's server is not trusted" \
  bash -c "grep -qF 'GET $WEB/cm.yaml' <<< '$out' && ! grep -q 'level: f1' <<< '$out'" || echo "$out"
out=$(WINDLASS_REMOTE_CA="$W/ca.pem" render "$W/bigfile")
check "a file larger than 10 MiB is refused" \
  bash -c "grep -qF 'GET $WEB/big.yaml: larger than 10485760 bytes' <<< '$out'" || echo "$out"
kill "$web_pid" 2>/dev/null; wait "$web_pid" 2>/dev/null

echo "$passed passed, $failed failed"
((failed == 0))
