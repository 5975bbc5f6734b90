#!/usr/bin/env bash
# Trained members' weights into the device tool's return folder, in parts it
# can bring back: at most 8 files of 16 MiB, 64 MiB in all, per call.
#
#   bench/gpu/return_member_weights.sh RUN_DIR K...
#
# RUN_DIR is a train_isic2017.sh output folder whose weights/ holds
# member-K.f16.safetensors (device_session.sh writes them with derm-model
# convert, and their .sha256 into the run's tar). Each member goes whole or not
# at all, as parts member-K.f16.safetensors.part-aa, -ab, ... of 15 MiB, beside
# the files already in $OUT; a member that does not fit is named on stderr with
# the call that brings it back from the still-warm machine (it keeps the build
# folder until it is given back, 30 s after a call):
#   command "bash bench/gpu/return_member_weights.sh RUN_DIR K", no carry.
# Joined (cat, in name order) they are the file the .sha256 names;
# scripts/combine_isic2017_members.sh joins and checks them.
set -uo pipefail

[[ $# -ge 2 ]] || { echo "usage: $0 RUN_DIR K..." >&2; exit 2; }
run=$1
shift
dest=${OUT:?OUT must name the folder the device tool returns}
readonly max_files=8 part_bytes=$((15 * 1024 * 1024)) max_bytes=$((62 * 1024 * 1024))
used_files() { find "$dest" -type f | wc -l; }
used_bytes() { find "$dest" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }

status=0
for k in "$@"; do
  half=$run/weights/member-$k.f16.safetensors
  if [[ ! -f $half ]]; then
    echo "return_member_weights: $half: no such file" >&2
    status=1
    continue
  fi
  size=$(stat -c %s "$half")
  parts=$(((size + part_bytes - 1) / part_bytes))
  if (($(used_files) + parts > max_files || $(used_bytes) + size > max_bytes)); then
    echo "return_member_weights: member $k ($parts parts, $size bytes) does not fit beside $(used_files) file(s)" \
      "of $(used_bytes) bytes; next call: bash bench/gpu/return_member_weights.sh $run $k" >&2
    status=1
    continue
  fi
  split -b "$part_bytes" "$half" "$dest/member-$k.f16.safetensors.part-"
  echo "return_member_weights: member $k in $parts part(s), $size bytes" >&2
done
exit "$status"
