#!/bin/sh
# Issue 25's 16-core figures in one prepared run on the lent machine (../shared/REMOTE-BENCH.md):
#   here:  npm ci && npm run build && ../shared/tools/device-pack.sh
#   there: sh scripts/device-bench.sh [targets|gpu|all]     (with carry: [".device"])
# `targets` prints the warm and cold targets, the unchanged re-run and the model-feed figure;
# `gpu` the GPU benchmark (its stand-in model without --model); `all` (the default) both. Not
# timed on 16 cores yet (bench-targets takes about 7 minutes on 2): give the first call 600 s and
# run `gpu` apart if `targets` alone is long. The figures are copied into $OUT when there is one.
set -eu
. .device/unpack.sh
part=${1:-all}
out=${OUT:-.}
if [ "$part" = targets ] || [ "$part" = all ]; then
  node dist/scripts/bench-targets.js warm rerun feed 2>&1 | tee "$out/bench-targets.txt"
  [ "$out" = . ] || cp bench-results.json "$out/"
fi
if [ "$part" = gpu ] || [ "$part" = all ]; then
  node dist/scripts/bench-gpu.js --photos 48 2>&1 | tee "$out/bench-gpu.txt"
fi
