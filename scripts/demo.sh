#!/usr/bin/env bash
# The main job: classify a real dermoscopy image with the model in models/.
# Until a trained ensemble ships, an UNTRAINED model is made here and every
# output says so; models/README.md says how to get a trained one.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/apps
data=${DERM_DATA_DIR:-../shared/data}

model=models/ensemble
if [ ! -f "$model/ensemble.json" ]; then
  model=models/untrained-demo.safetensors
  if [ ! -f "$model" ]; then
    "$bin/derm-model/derm-model" create "$model" --input-size 700 --classes melanoma,seborrheic_keratosis,nevus
  fi
  echo "NOTE: no trained ensemble in models/ensemble; using $model, which is UNTRAINED (meaningless output)" >&2
fi

images=()
if [ -d "$data/isic-fullres-sample/images" ]; then
  images=("$data"/isic-fullres-sample/images/ISIC_0000000.jpg "$data"/isic-fullres-sample/images/ISIC_0000002.jpg)
else
  echo "NOTE: $data not found; classifying a synthetic image" >&2
  images=(tests/fixtures/synthetic_lesion.png)
fi
"$bin/derm-classify/derm-classify" --model "$model" "${images[@]}"
