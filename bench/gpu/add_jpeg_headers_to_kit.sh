#!/usr/bin/env bash
# Adds libjpeg's headers to the device kit (.devkit.tar.xz, made by
# ../shared/device/make-kit.sh, which carries libjpeg.so.62 for OpenCV but not
# its headers): derm decodes JPEGs with libjpeg itself. Run once after make-kit.sh:
#   bench/gpu/add_jpeg_headers_to_kit.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
kit=.devkit.tar.xz
[[ -f $kit ]] || { echo "$0: no $kit here (run ../shared/device/make-kit.sh first)" >&2; exit 1; }
headers=(/usr/include/jpeglib.h /usr/include/jerror.h /usr/include/jmorecfg.h
         "/usr/include/$(gcc -print-multiarch)/jconfig.h")
for header in "${headers[@]}"; do
  [[ -f $header ]] || { echo "$0: $header missing (apt-get install libjpeg-dev)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar xJf "$kit" -C "$work"
[[ -d $work/.devkit/include ]] || { echo "$0: $kit holds no .devkit/include" >&2; exit 1; }
cp "${headers[@]}" "$work/.devkit/include/"
[[ -d .devkit/include ]] && cp "${headers[@]}" .devkit/include/
tar cJf "$work/kit.tar.xz" -C "$work" .devkit
mv "$work/kit.tar.xz" "$kit"
echo "$kit: libjpeg headers added ($(du -h "$kit" | cut -f1))"
