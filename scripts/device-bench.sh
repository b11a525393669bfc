#!/bin/sh
# Issue 25's 16-core figures in one prepared run on the lent machine (../shared/REMOTE-BENCH.md):
#   here:  npm ci && npm run build && ../shared/tools/device-pack.sh
#   there: sh scripts/device-bench.sh        (with carry: [".device"]; about 8 minutes on 16 cores)
# Prints the warm and cold targets, the unchanged re-run and the model-feed figure, then the GPU
# benchmark with its stand-in model; copies the figures into $OUT when the machine gives one.
set -eu
. .device/unpack.sh
out=${OUT:-.}
node dist/scripts/bench-targets.js warm rerun feed 2>&1 | tee "$out/bench-targets.txt"
[ "$out" = . ] || cp bench-results.json "$out/"
node dist/scripts/bench-gpu.js --photos 48 2>&1 | tee "$out/bench-gpu.txt" || echo "bench-gpu failed (figures above are kept)"
