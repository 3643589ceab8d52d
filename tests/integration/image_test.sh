#!/usr/bin/env bash
# image_test.sh WINDLASS: packaging/build-image against real tools. Builds the image twice and
# compares the digests (reproducible), reads it with `skopeo inspect oci:`, runs its binary from
# the unpacked layer as uid 65532 (chroot, or an unprivileged user namespace when not root) and
# syncs an environment with it on a read-only root filesystem (a mount namespace; root),
# pushes it to the harness registry with `skopeo copy` and checks the manifest the registry
# serves. Needs the harness's exports (registry, Git, cluster). Ends with "N passed, M failed".
set -uo pipefail
WINDLASS=$(realpath "${1:?usage: image_test.sh WINDLASS}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[[ -n ${WINDLASS_TEST_REGISTRY:-} && -n ${WINDLASS_TEST_GIT_ROOT:-} && -n ${WINDLASS_TEST_KUBECTL:-} ]] || {
  echo "image_test: the harness's variables are not set: start the harness (tests/harness/up) and source its env file"
  echo "0 passed, 1 failed"; exit 1; }
for tool in skopeo python3 curl tar; do
  command -v "$tool" >/dev/null || { echo "image_test: $tool missing (packaging/install-deps)"; echo "0 passed, 1 failed"; exit 1; }
done
passed=0 failed=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

W=$(mktemp -d "${TMPDIR:-/tmp}/windlass-image.XXXXXX")
trap 'rm -rf "$W"' EXIT
VERSION=$(sed -n "s/^  version: '\([^']*\)',$/\1/p" "$ROOT/meson.build" | head -n 1)
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# 1. Built twice from the same binary: the same bytes, hence the same digest.
t0=$SECONDS
WINDLASS_BIN=$WINDLASS "$ROOT/packaging/build-image" "$W/a" >"$W/build-a.log" 2>&1; rc_a=$?
WINDLASS_BIN=$WINDLASS "$ROOT/packaging/build-image" "$W/b" >"$W/build-b.log" 2>&1; rc_b=$?
cat "$W/build-a.log"
echo "  two builds: $((SECONDS - t0)) s"
check "build-image writes an OCI layout (twice)" \
  bash -c "[[ $rc_a == 0 && $rc_b == 0 && -f '$W/a/oci-layout' && -f '$W/a/index.json' ]]"
digest=$(json 'd["manifests"][0]["digest"]' <"$W/a/index.json" 2>/dev/null)
check "the image is reproducible: two builds give the same digest ($digest)" \
  bash -c "[[ -n '$digest' ]] && cmp -s '$W/a/index.json' '$W/b/index.json' && diff -r '$W/a' '$W/b' >/dev/null"

# 2. skopeo reads the layout; the config is what the brief asks for.
skopeo inspect "oci:$W/a:$VERSION" >"$W/inspect.json" 2>"$W/inspect.err"; rc=$?
check "skopeo inspect reads oci:OUTDIR:$VERSION" \
  bash -c "[[ $rc == 0 ]] && grep -q '\"Digest\": \"$digest\"' '$W/inspect.json'"
skopeo inspect --config "oci:$W/a:$VERSION" >"$W/config.json" 2>>"$W/inspect.err"
cfg() { json "$1" <"$W/config.json" 2>/dev/null; }
check "runs as uid 65532, not root" test "$(cfg 'd["config"]["User"]')" = "65532:65532"
check "entrypoint: windlass run --config /etc/windlass/windlass.yaml" \
  test "$(cfg '" ".join(d["config"]["Entrypoint"] + d["config"]["Cmd"])')" = \
  "/usr/bin/windlass run --config /etc/windlass/windlass.yaml"
check "the state folder /var/lib/windlass is a volume" \
  test "$(cfg 'list(d["config"]["Volumes"])')" = "['/var/lib/windlass']"

# 3. The layer: runs as 65532 with nothing from the host (chroot), writes nothing outside the
# volume and /tmp (both writable by 65532, the rest owned by root), and carries copyrights.
layer=$(python3 -c "import json; m=json.load(open('$W/a/blobs/sha256/${digest#sha256:}')); print(m['layers'][0]['digest'][7:])")
mkdir "$W/rootfs"
if [[ $(id -u) == 0 ]]; then
  tar -xzf "$W/a/blobs/sha256/$layer" -C "$W/rootfs" --same-owner
  run_in() { chroot --userspec=65532:65532 "$W/rootfs" "$@"; }
else
  tar -xzf "$W/a/blobs/sha256/$layer" -C "$W/rootfs" --no-same-owner
  run_in() { unshare --map-root-user chroot "$W/rootfs" "$@"; }
fi
out=$(run_in /usr/bin/windlass version 2>&1)
check "the image's binary runs inside it as 65532 with only the image's libraries ($out)" \
  test "$out" = "windlass $VERSION"
mkdir -p "$W/rootfs/tmp/app"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {tz: ok}\n' >"$W/rootfs/tmp/app/c.yaml"
printf 'resources: [c.yaml]\nnamespace: demo\n' >"$W/rootfs/tmp/app/kustomization.yaml"
out=$(run_in /usr/bin/windlass render /tmp/app 2>&1)
check "the image's binary renders a kustomization" grep -q 'namespace: demo' <<<"$out"
owners=$(tar -tvzf "$W/a/blobs/sha256/$layer" | awk '$2 != "0/0" {print $2, $6}')
check "only /var/lib/windlass belongs to 65532; everything else to root ($owners)" \
  test "$owners" = "65532/65532 var/lib/windlass/"
check "every Debian package taken from has its copyright file" \
  bash -c "ls '$W/rootfs/usr/share/doc' | wc -l | grep -qx '[1-9][0-9]*' &&
           for d in '$W/rootfs'/usr/share/doc/*; do [[ -s \$d/copyright ]] || exit 1; done &&
           [[ -s '$W/rootfs/usr/share/doc/libgit2-1.5/copyright' && -s '$W/rootfs/usr/share/doc/libc6/copyright' ]]"

# 3b. The agent from the image syncs an environment as 65532 with the root filesystem mounted
# read-only: only the state volume (a host folder owned by 65532) and a tmpfs on /tmp are
# writable, as in the Deployment of packaging/kubernetes. Needs a mount namespace (root).
if [[ $(id -u) == 0 ]]; then
  NS=wl-image-$(basename "$W" | tr 'A-Z.' 'a-z-' | tail -c 7)
  REPO=image-${NS#wl-image-}
  git init -q --bare -b main "$WINDLASS_TEST_GIT_ROOT/$REPO.git"
  git -C "$WINDLASS_TEST_GIT_ROOT/$REPO.git" config http.receivepack true
  mkdir -p "$W/src" "$W/etc" "$W/state"
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-image}\ndata: {ran: read-only}\n' >"$W/src/c.yaml"
  printf 'resources: [c.yaml]\n' >"$W/src/kustomization.yaml"
  (cd "$W/src" && git init -q -b main && git add -A &&
   git -c user.name=Img -c user.email=img@example.com commit -qm c &&
   git push -q "$WINDLASS_TEST_GIT_ROOT/$REPO.git" HEAD:main) >/dev/null 2>&1
  printf '%s\n' "${WINDLASS_TEST_GIT_USER:-git}" >"$W/etc/git-user"
  printf '%s\n' "$WINDLASS_TEST_GIT_TOKEN" >"$W/etc/git-token"
  cp "$WINDLASS_TEST_GIT_CA" "$W/etc/git-ca.crt"
  "$WINDLASS_TEST_KUBECTL" --kubeconfig "$KUBECONFIG" config view --raw --flatten >"$W/etc/kubeconfig"
  cat >"$W/etc/windlass.yaml" <<YAML
apiVersion: windlass.dev/v1alpha1
kind: Agent
repository:
  url: $WINDLASS_TEST_GIT_HTTPS_URL/$REPO.git
  credentials: {usernameFile: /etc/windlass/git-user, passwordFile: /etc/windlass/git-token, caFile: /etc/windlass/git-ca.crt}
cluster: {kubeconfig: /etc/windlass/kubeconfig}
stateDir: /var/lib/windlass
environments:
- {name: image, branch: main, namespace: $NS}
YAML
  chmod 644 "$W/etc"/*
  chown 65532:65532 "$W/state"
  R=$W/rootfs
  unshare --mount bash -c "mount --bind '$R' '$R' && mount -o remount,bind,ro '$R' &&
    mount --bind '$W/state' '$R/var/lib/windlass' && mount -t tmpfs tmpfs '$R/tmp' &&
    mount --bind -o ro '$W/etc' '$R/etc/windlass' &&
    chroot --userspec=65532:65532 '$R' /usr/bin/windlass sync --config /etc/windlass/windlass.yaml --env image" \
    >"$W/ro-sync.log" 2>&1
  rc=$?
  tail -n 3 "$W/ro-sync.log"
  got=$("$WINDLASS_TEST_KUBECTL" --kubeconfig "$KUBECONFIG" -n "$NS" get configmap from-image -o jsonpath='{.data.ran}' 2>/dev/null)
  check "the image's agent syncs as 65532 on a read-only root filesystem (exit $rc, ConfigMap: $got)" \
    bash -c "[[ $rc == 0 && '$got' == read-only ]]"
  check "its state (Git mirror, history) is in the volume, owned by 65532" \
    bash -c "[[ -n \$(find '$W/state' -mindepth 1 -user 65532 | head -n 1) && -z \$(find '$W/state' ! -user 65532 | head -n 1) ]]"
  "$WINDLASS_TEST_KUBECTL" --kubeconfig "$KUBECONFIG" delete namespace "$NS" --wait=false >/dev/null 2>&1
  rm -rf "$WINDLASS_TEST_GIT_ROOT/$REPO.git"
else
  bad "the read-only root filesystem check needs root (a mount namespace); CI runs as root"
fi

# 4. Pushed to the harness registry: the registry serves the same manifest.
ref=$WINDLASS_TEST_REGISTRY/windlass:$VERSION
skopeo copy --quiet --dest-tls-verify=false "oci:$W/a:$VERSION" "docker://$ref" >"$W/copy.log" 2>&1; rc=$?
cat "$W/copy.log"
check "skopeo copy pushes the image to the harness registry" test "$rc" = 0
served=$(curl -fsS -D "$W/headers" -o "$W/served.json" \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$WINDLASS_TEST_REGISTRY/v2/windlass/manifests/$VERSION" &&
  tr -d '\r' <"$W/headers" | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
check "the registry serves the manifest with the same digest ($served)" test "$served" = "$digest"
check "the served manifest is the local one, byte for byte" \
  cmp -s "$W/served.json" "$W/a/blobs/sha256/${digest#sha256:}"
remote=$(skopeo inspect --tls-verify=false "docker://$ref" 2>/dev/null | json 'd["Digest"]')
check "skopeo inspect docker://$ref agrees" test "$remote" = "$digest"

echo "$passed passed, $failed failed"
((failed == 0))
