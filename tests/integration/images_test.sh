#!/usr/bin/env bash
# Image policies against the harness registries (anonymous, basic auth, token auth):
# 257 tags pushed through the registry API, listed by `windlass images` in pages of 100,
# every policy kind picks the right tag, digests match what was pushed, wrong credentials
# give a clear error that names the registry and never the password.
#
#   tests/integration/images_test.sh WINDLASS_BINARY      (after `source ENVFILE` of tests/harness/up)
# Fails (never skips) when the harness registries are missing.
set -uo pipefail

WINDLASS=${1:?usage: images_test.sh WINDLASS_BINARY}
for v in WINDLASS_TEST_REGISTRY WINDLASS_TEST_REGISTRY_AUTH WINDLASS_TEST_REGISTRY_TOKEN \
  WINDLASS_TEST_REGISTRY_TOKEN_REALM WINDLASS_TEST_REGISTRY_USER WINDLASS_TEST_REGISTRY_PASSWORD; do
  if [[ -z ${!v:-} ]]; then
    echo "FAIL: $v is not set: start the harness (tests/harness/up ENVFILE; source ENVFILE)"
    exit 1
  fi
done

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
passed=0
failed=0
pass() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() {  # check LABEL COMMAND...
  local label=$1; shift
  if "$@"; then pass "$label"; else fail "$label"; fi
}

RU=$WINDLASS_TEST_REGISTRY_USER
RP=$WINDLASS_TEST_REGISTRY_PASSWORD
RUN=$(date +%s%N | tail -c 9)
# The token server grants a user the repositories under "<user>/" only.
REPO=$RU/img-$RUN

# auth REGISTRY-KIND: the curl arguments that authorise a push to $REPO.
auth() {
  case $1 in
    anon) ;;
    basic) printf '%s\n' -u "$RU:$RP" ;;
    token)
      local t
      t=$(curl -sf --max-time 10 -u "$RU:$RP" \
        "$WINDLASS_TEST_REGISTRY_TOKEN_REALM?service=windlass-registry&scope=repository:$REPO:pull,push" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])') || return 1
      printf '%s\n' -H "Authorization: Bearer $t"
      ;;
  esac
}

# shellcheck source=oci_push.sh
source "$(dirname "${BASH_SOURCE[0]}")/oci_push.sh"
ociImage "$T"

# The 257 tags: 100 releases 1.0.0-1.9.9, 2 prereleases of 2.0.0, v0.9.0; 100 builds
# main-<sha>-<ts> whose timestamps cross from 9 to 10 digits (so numerical and
# alphabetical order differ); 50 build numbers 1-50; latest, stable, edge, dev-e6c52a4.
TAGS=()
for i in $(seq 0 99); do TAGS+=("1.$((i / 10)).$((i % 10))"); done
TAGS+=(2.0.0-rc.1 2.0.0-rc.2 v0.9.0)
for i in $(seq 0 99); do
  TAGS+=("main-$(printf '%07x' $((i * 7919 + 4096)))-$((999999000 + i * 20))")
done
for i in $(seq 1 50); do TAGS+=("$i"); done
TAGS+=(latest stable edge dev-e6c52a4)
check "257 distinct tags to push" test "$(printf '%s\n' "${TAGS[@]}" | sort -u | wc -l)" -eq 257
BUILD_MAX_NUM=main-$(printf '%07x' $((99 * 7919 + 4096)))-$((999999000 + 99 * 20))
BUILD_MAX_ALPHA=main-$(printf '%07x' $((49 * 7919 + 4096)))-$((999999000 + 49 * 20))

# config REGISTRY CREDENTIALS-YAML: a windlass.yaml with one policy of each kind.
config() {
  local image=$1/$REPO creds=$2
  cat <<EOF
apiVersion: windlass.dev/v1alpha1
kind: Agent
repository: {url: $T/unused.git}
stateDir: $T/state
environments:
- name: dev
  images: [{policy: semver, update: render}]
imagePolicies:
- {name: semver, image: $image, insecure: true, ${creds:+$creds,} policy: {semver: {range: ">=1.0.0 <2.0.0"}}, digest: true}
- {name: prerelease, image: $image, insecure: true, ${creds:+$creds,} policy: {semver: {range: ">=2.0.0-0"}}}
- {name: tilde, image: $image, insecure: true, ${creds:+$creds,} policy: {semver: {range: "~1.4"}}}
- name: builds-num
  image: $image
  insecure: true
  $creds
  policy: {numerical: {order: asc}}
  filterTags: {pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)\$', extract: '\$ts'}
- name: builds-alpha
  image: $image
  insecure: true
  $creds
  policy: {alphabetical: {order: asc}}
  filterTags: {pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)\$', extract: '\$ts'}
- {name: number-high, image: $image, insecure: true, ${creds:+$creds,} policy: {numerical: {}}, filterTags: {pattern: '^[0-9]+\$'}}
- {name: number-low, image: $image, insecure: true, ${creds:+$creds,} policy: {numerical: {order: desc}}, filterTags: {pattern: '^[0-9]+\$'}}
- {name: alpha-first, image: $image, insecure: true, ${creds:+$creds,} policy: {alphabetical: {order: desc}}}
- {name: alpha-last, image: $image, insecure: true, ${creds:+$creds,} policy: {alphabetical: {order: asc}}}
EOF
}

# expectChoice LABEL JSON POLICY TAG
expectChoice() {
  local got
  got=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(next(p["latest"] for p in d["policies"] if p["name"] == sys.argv[2]))' "$2" "$3")
  if [[ $got == "$4" ]]; then pass "$1: $3 picks $4"; else fail "$1: $3 picked '$got', want '$4'"; fi
}

printf 'pw-user\n' >"$T/user"
registryCase() {  # registryCase LABEL KIND REGISTRY
  local label=$1 kind=$2 registry=$3
  mapfile -t OCI_AUTH < <(auth "$kind") || { fail "$label: no push credentials"; return; }
  if ociPush "$registry" "$REPO" "$T" "${TAGS[@]}"; then
    pass "$label: 257 tags pushed"
  else
    fail "$label: pushing the image failed"
    return
  fi
  local creds=""
  if [[ $kind != anon ]]; then
    printf '%s\n' "$RU" >"$T/user"
    printf '%s\n' "$RP" >"$T/pass"
    creds="credentials: {usernameFile: $T/user, passwordFile: $T/pass}"
  fi
  config "$registry" "$creds" >"$T/$kind.yaml"
  if WINDLASS_REGISTRY_PAGE_SIZE=100 "$WINDLASS" images --config "$T/$kind.yaml" -o json \
       >"$T/$kind.json" 2>"$T/$kind.err"; then
    pass "$label: windlass images exits 0"
  else
    fail "$label: windlass images failed: $(cat "$T/$kind.err")"
    return
  fi
  local seen requests
  seen=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["policies"][0]["tagsSeen"])' "$T/$kind.json")
  check "$label: all 257 tags seen (got $seen)" test "$seen" -eq 257
  # 3 pages of 100 (+1 HEAD for the digest; + the 401 and the token request when authenticated).
  requests=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["policies"][0]["requests"])' "$T/$kind.json")
  check "$label: paginated: >= 4 requests for tags and digest (got $requests)" test "$requests" -ge 4
  expectChoice "$label" "$T/$kind.json" semver 1.9.9
  expectChoice "$label" "$T/$kind.json" prerelease 2.0.0-rc.2
  expectChoice "$label" "$T/$kind.json" tilde 1.4.9
  expectChoice "$label" "$T/$kind.json" builds-num "$BUILD_MAX_NUM"
  expectChoice "$label" "$T/$kind.json" builds-alpha "$BUILD_MAX_ALPHA"
  expectChoice "$label" "$T/$kind.json" number-high 50
  expectChoice "$label" "$T/$kind.json" number-low 1
  expectChoice "$label" "$T/$kind.json" alpha-first 1
  expectChoice "$label" "$T/$kind.json" alpha-last v0.9.0
  local digest
  digest=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["policies"][0]["digest"])' "$T/$kind.json")
  check "$label: digest of 1.9.9 is the pushed manifest's" test "$digest" = "$MANIFEST_DIGEST"
  grep -q "\"wouldTake\": \"$registry/$REPO@$MANIFEST_DIGEST\"" "$T/$kind.json" &&
    pass "$label: dev would take the pinned digest" || fail "$label: dev's wouldTake is wrong"
  if [[ $kind == anon ]]; then return; fi

  # Wrong credentials: a clear error naming the registry and user, never the password.
  printf 'wrong-%s\n' "$RP" >"$T/pass"
  "$WINDLASS" images --config "$T/$kind.yaml" -o json >"$T/$kind-bad.json" 2>"$T/$kind-bad.err"
  local rc=$?
  check "$label: wrong password exits 1" test "$rc" -eq 1
  local want="registry $registry: credentials for user \"$RU\" refused"
  if grep -qF "$want" "$T/$kind-bad.err"; then
    pass "$label: wrong password says: $(head -n 1 "$T/$kind-bad.err")"
  else
    fail "$label: wrong password message: $(head -n 1 "$T/$kind-bad.err")"
  fi
  if grep -qF "$RP" "$T/$kind-bad.err" "$T/$kind-bad.json"; then
    fail "$label: the password appears in the output"
  else
    pass "$label: the password appears nowhere in the output"
  fi
  python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert all(not p["ok"] and p["latest"] == "" for p in d["policies"])' "$T/$kind-bad.json" &&
    pass "$label: wrong password chooses nothing" || fail "$label: wrong password still chose a tag"
  # No credentials at all.
  sed -e 's/credentials: {[^}]*},//' -e 's/^  credentials: {[^}]*}$//' "$T/$kind.yaml" \
    >"$T/$kind-anon.yaml"
  "$WINDLASS" images --config "$T/$kind-anon.yaml" >/dev/null 2>"$T/$kind-anon.err"
  if grep -qE "registry $registry: .*(no credentials given|credentials needed)" "$T/$kind-anon.err"; then
    pass "$label: no credentials says: $(head -n 1 "$T/$kind-anon.err")"
  else
    fail "$label: no credentials message: $(head -n 1 "$T/$kind-anon.err")"
  fi
}

registryCase "anonymous registry" anon "$WINDLASS_TEST_REGISTRY"
registryCase "basic-auth registry" basic "$WINDLASS_TEST_REGISTRY_AUTH"
registryCase "token-auth registry" token "$WINDLASS_TEST_REGISTRY_TOKEN"

# Credentials from a Docker config.json (token registry).
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$WINDLASS_TEST_REGISTRY_TOKEN" \
  "$(printf '%s:%s' "$RU" "$RP" | base64 -w0)" >"$T/docker-config.json"
sed "s#credentials: {[^}]*}#credentials: {dockerConfigFile: $T/docker-config.json}#" \
  "$T/token.yaml" >"$T/docker.yaml"
printf '%s\n' "$RP" >"$T/pass"
if "$WINDLASS" images --config "$T/docker.yaml" -o json >"$T/docker.json" 2>"$T/docker.err"; then
  expectChoice "docker config.json" "$T/docker.json" semver 1.9.9
else
  fail "docker config.json credentials: $(cat "$T/docker.err")"
fi

echo "$passed passed, $failed failed"
((failed == 0))
