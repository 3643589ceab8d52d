# Sourced by the image tests: pushes a tiny OCI image (one layer, one config, one manifest)
# under many tags through the registry API with curl.
#   ociImage DIR                         writes DIR/{config.json,layer.tar.gz,manifest.json};
#                                        sets MANIFEST_DIGEST
#   ociPush REGISTRY REPO DIR TAG...     pushes the blobs and the manifest under every TAG,
#                                        with the curl auth arguments in the array OCI_AUTH
ociHex() { sha256sum "$1" | cut -d' ' -f1; }

ociImage() {
  local dir=$1
  printf 'windlass image test %s\n' "$RANDOM$RANDOM" >"$dir/payload.txt"
  tar -C "$dir" -cf "$dir/layer.tar" payload.txt
  gzip -n -c "$dir/layer.tar" >"$dir/layer.tar.gz"
  printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$(ociHex "$dir/layer.tar")" >"$dir/config.json"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
    "$(ociHex "$dir/config.json")" "$(stat -c %s "$dir/config.json")" \
    "$(ociHex "$dir/layer.tar.gz")" "$(stat -c %s "$dir/layer.tar.gz")" >"$dir/manifest.json"
  MANIFEST_DIGEST=sha256:$(ociHex "$dir/manifest.json")
}

# ociBlob REGISTRY REPO FILE: POST an upload, PUT the content with its digest.
ociBlob() {
  local registry=$1 repo=$2 file=$3 location sep='?'
  location=$(curl -sf --max-time 10 "${OCI_AUTH[@]}" -X POST -D - -o /dev/null \
    "http://$registry/v2/$repo/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: *//p')
  [[ -n $location ]] || return 1
  [[ $location == http* ]] || location=http://$registry$location
  [[ $location == *'?'* ]] && sep='&'
  curl -sf --max-time 30 "${OCI_AUTH[@]}" -X PUT -H 'Content-Type: application/octet-stream' \
    --data-binary "@$file" -o /dev/null "$location${sep}digest=sha256:$(ociHex "$file")"
}

ociPush() {
  local registry=$1 repo=$2 dir=$3; shift 3
  ociBlob "$registry" "$repo" "$dir/config.json" && ociBlob "$registry" "$repo" "$dir/layer.tar.gz" ||
    return 1
  local args=() tag
  for tag in "$@"; do args+=(-T "$dir/manifest.json" "http://$registry/v2/$repo/manifests/$tag"); done
  curl -sf --max-time 300 "${OCI_AUTH[@]}" \
    -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' -o /dev/null "${args[@]}"
}
