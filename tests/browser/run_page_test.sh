#!/usr/bin/env bash
# The page test (serve_page_test.mjs) against a derm-serve it starts: an
# untrained model (so the UNTRAINED banner must show), a real ISIC image.
# Run twice: open, and with an API key the page must ask for.
# Usage: run_page_test.sh BUILD_DIR SOURCE_DIR; exit 77 (skipped) without the
# ISIC data or a Chromium that starts.
set -euo pipefail
build=$1 source=$2
data=${DERM_DATA_DIR:-$source/../shared/data}
image=$data/isic2017/images/ISIC_0000002.jpg
if [[ ! -f $image ]]; then
  echo "SKIP: real ISIC data not found: set DERM_DATA_DIR or place it at ../shared/data"
  exit 77
fi
work=$(mktemp -d)
server=
cleanup() {
  [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$build/apps/derm-model/derm-model" create "$work/model.safetensors" --input-size 299 --backbone-size 299 2>/dev/null
# serve EXTRA_ARGS...: starts derm-serve, sets $url once it is ready.
serve() {
  rm -f "$work/address"  # else the wait below can read the previous server's address as it is truncated
  "$build/apps/derm-serve/derm-serve" --model "$work/model.safetensors" --port 0 --device cpu "$@" \
    >"$work/address" 2>"$work/serve.log" &
  server=$!
  for _ in $(seq 600); do [[ -s $work/address ]] && break; sleep 0.1; done
  url=$(sed -n 1p "$work/address" | sed 's/.*"url":"\([^"]*\)".*/\1/')
  [[ $url == http* ]] || { echo "derm-serve printed no address:"; cat "$work/serve.log"; exit 1; }
  for _ in $(seq 600); do curl -s -o /dev/null "${url}readyz" -w '%{http_code}' | grep -q 200 && break; sleep 0.1; done
}
stop() { kill "$server"; wait "$server" || true; server=; }

serve
node "$source/tests/browser/serve_page_test.mjs" "$url" "$image" "${DERM_SCREENSHOT:-$work/page.png}" --expect-untrained
stop
echo "s3cret key" >"$work/key"
serve --api-key-file "$work/key"
node "$source/tests/browser/serve_page_test.mjs" "$url" "$image" "$work/keyed.png" --expect-untrained \
  --api-key "s3cret key"
