#!/usr/bin/env bash
# The main job: classify two real dermoscopy images with the reference model
# (models/reference, see models/README.md), or with the model or ensemble
# folder in DERM_MODEL.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/apps
data=${DERM_DATA_DIR:-../shared/data}
model=${DERM_MODEL:-models/reference}
[ -e "$model" ] || { echo "$0: $model: no such model (set DERM_MODEL)" >&2; exit 1; }

images=()
if [ -d "$data/isic-fullres-sample/images" ]; then
  images=("$data"/isic-fullres-sample/images/ISIC_0000000.jpg "$data"/isic-fullres-sample/images/ISIC_0000002.jpg)
else
  echo "NOTE: $data not found; classifying a synthetic image" >&2
  images=(tests/fixtures/synthetic_lesion.png)
fi
"$bin/derm-classify/derm-classify" --model "$model" "${images[@]}"
