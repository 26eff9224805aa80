#!/usr/bin/env bash
# AOFD vs. its ablations on the CPU (docs/results.md): one shared Faster R-CNN "pretrain" stage,
# then the rest of the staged schedule (adversarial, sfs, wider_sfs, sfs_final) for each of
#   aofd_mnet025_facemask.yaml        AOFD (generator + masks + segmentation)
#   aofd_mnet025_facemask_frcnn.yaml  plain Faster R-CNN
#   aofd_mnet025_facemask_nogen.yaml  AOFD without the mask generator
#   aofd_mnet025_facemask_noseg.yaml  AOFD without the segmentation branch
# each started from the same pretrain checkpoint (a single stage run alone, then the later stages
# alone), evaluated on facemask_val (AP all / masked). Needs ../shared (face-mask set, MobileNet
# weights, converted here to weights/mnet025_imagenet_d2_plain.pth) and the venv. ~1 h on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export FACELIB_DATASETS=${FACELIB_DATASETS:-../shared/data}
OUT=${OUT:-output/aofd_cpu_ablation}
mkdir -p "$OUT"
[ -f weights/mnet025_imagenet_d2_plain.pth ] || $PY tools/convert_weights.py --source mobilenet_v1 \
    --prefix backbone. --input ../shared/weights/mobilenet_v1_0.25_imagenet.pth.tar \
    --output weights/mnet025_imagenet_d2_plain.pth

run() {  # name config opts...
    local name=$1 cfg=$2; shift 2
    local start=$(date +%s)
    $PY tools/train_net.py --config-file "$cfg" OUTPUT_DIR "$OUT/$name" "$@" > "$OUT/$name.log" 2>&1
    echo "$name: $(( $(date +%s) - start )) s" | tee -a "$OUT/times.txt"
    grep -A3 "copypaste: Task" "$OUT/$name.log" | tail -3 || true
}

if [ ! -f "$OUT/pretrain/model_stage_pretrain.pth" ]; then
    run pretrain configs/aofd_mnet025_facemask.yaml AOFD_SCHEDULE.STAGES "['pretrain']"
fi
REST="['adversarial', 'sfs', 'wider_sfs', 'sfs_final']"
for v in aofd:aofd_mnet025_facemask frcnn:aofd_mnet025_facemask_frcnn \
         nogen:aofd_mnet025_facemask_nogen noseg:aofd_mnet025_facemask_noseg; do
    run "${v%%:*}" "configs/${v#*:}.yaml" AOFD_SCHEDULE.STAGES "$REST" \
        MODEL.WEIGHTS "$OUT/pretrain/model_stage_pretrain.pth" SOLVER.WARMUP_ITERS 0
done
