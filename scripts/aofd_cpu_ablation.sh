#!/usr/bin/env bash
# AOFD vs. its ablations on the CPU (docs/results.md): one shared Faster R-CNN "pretrain" stage,
# then the rest of the staged schedule (adversarial, sfs, wider_sfs, sfs_final) for each of
#   aofd   aofd_mnet025_facemask.yaml        AOFD (generator + masks + segmentation)
#   frcnn  aofd_mnet025_facemask_frcnn.yaml  plain Faster R-CNN
#   nogen  aofd_mnet025_facemask_nogen.yaml  AOFD without the mask generator
#   noseg  aofd_mnet025_facemask_noseg.yaml  AOFD without the segmentation branch
# each started from the same pretrain checkpoint (a single stage run alone, then the later stages
# alone), evaluated on facemask_val (AP all / masked); then every variant on synthetic_faces_val
# (the SFS stand-in: WIDER-protocol AP and occluded-pixel IoU) and AOFD's stage checkpoints on
# facemask_val. Needs ../shared (face-mask set, MobileNet weights, converted here to
# weights/mnet025_imagenet_d2_plain.pth) and the venv. ~1 h on 2 cores.
#   VARIANTS="aofd frcnn"  run only these;  SEED=7 OUT=output/aofd_cpu_ablation  another seed of the
#   continuation (runs named <variant>_s7; the pretrain checkpoint of OUT is reused)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export FACELIB_DATASETS=${FACELIB_DATASETS:-../shared/data}
OUT=${OUT:-output/aofd_cpu_ablation}
VARIANTS=${VARIANTS:-aofd frcnn nogen noseg}
SEED=${SEED:-}
mkdir -p "$OUT"
[ -f weights/mnet025_imagenet_d2_plain.pth ] || $PY tools/convert_weights.py --source mobilenet_v1 \
    --prefix backbone. --input ../shared/weights/mobilenet_v1_0.25_imagenet.pth.tar \
    --output weights/mnet025_imagenet_d2_plain.pth

declare -A CONFIG=([aofd]=aofd_mnet025_facemask [frcnn]=aofd_mnet025_facemask_frcnn
                   [nogen]=aofd_mnet025_facemask_nogen [noseg]=aofd_mnet025_facemask_noseg)

run() {  # name config opts...
    local name=$1 cfg=$2; shift 2
    local start=$(date +%s)
    $PY tools/train_net.py --config-file "$cfg" OUTPUT_DIR "$OUT/$name" "$@" > "$OUT/$name.log" 2>&1
    echo "$name: $(( $(date +%s) - start )) s" | tee -a "$OUT/times.txt"
    grep -A3 "copypaste: Task" "$OUT/$name.log" | tail -3 || true
}

evaluate() {  # name config weights opts...
    local name=$1 cfg=$2 weights=$3; shift 3
    $PY tools/train_net.py --config-file "$cfg" --eval-only OUTPUT_DIR "$OUT/$name" \
        MODEL.WEIGHTS "$weights" "$@" > "$OUT/$name.log" 2>&1
    echo "$name:"; grep -A2 "copypaste: Task" "$OUT/$name.log" | grep -v Task || true
}

if [ ! -f "$OUT/pretrain/model_stage_pretrain.pth" ]; then
    run pretrain configs/aofd_mnet025_facemask.yaml AOFD_SCHEDULE.STAGES "['pretrain']"
fi
REST="['adversarial', 'sfs', 'wider_sfs', 'sfs_final']"
for v in $VARIANTS; do
    name=$v${SEED:+_s$SEED}
    if [ ! -f "$OUT/$name/model_final.pth" ]; then  # a finished run is kept (delete it to redo)
        run "$name" "configs/${CONFIG[$v]}.yaml" AOFD_SCHEDULE.STAGES "$REST" SOLVER.WARMUP_ITERS 0 \
            MODEL.WEIGHTS "$OUT/pretrain/model_stage_pretrain.pth" ${SEED:+SEED $SEED}
    fi
    evaluate "eval_synthetic_$name" "configs/${CONFIG[$v]}.yaml" "$OUT/$name/model_final.pth" \
        DATASETS.TEST "('synthetic_faces_val',)"
done
if [[ " $VARIANTS " == *" aofd "* && -z "$SEED" ]]; then
    for s in adversarial sfs wider_sfs; do
        evaluate "eval_aofd_stage_$s" configs/aofd_mnet025_facemask.yaml \
            "$OUT/aofd/model_stage_$s.pth"
    done
fi
