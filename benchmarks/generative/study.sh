#!/usr/bin/env bash
# The generative figures of docs/generative.md, in two chunks of at most 15 minutes (one
# thread each, through the session's heavy queue). Usage: study.sh HOME PART
#   vae  : the FID feature classifier (the image-cnn template, smaller: channels 16/32/64,
#          2 epochs on a 20,000-image stratified subsample), the VAE, the GAN; FID /
#          precision / recall of both; their sample grids
#   ddpm1: the DDPM; its FID / precision / recall, grids and the sampling-time benchmark
# Every evaluation uses 1,000 generated images against half of the test set (5,000).
set -euo pipefail
HOME_DIR=$1; PART=$2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NP="$ROOT/.venv/bin/neuroplast"
OUT="$ROOT/docs/evidence/generative"
CFG="$HOME_DIR/configs"
mkdir -p "$CFG" "$OUT"
tpl() { "$NP" init --template "$1" > "$CFG/$2.yaml"; }
wait_for_features() {  # the DDPM chunk may run beside the first one
  for _ in $(seq 1 120); do
    "$NP" models show fmnist-cnn --home "$HOME_DIR" > /dev/null 2>&1 && return 0
    sleep 10
  done
  echo "fmnist-cnn never appeared in $HOME_DIR" >&2; return 1
}
common=(--home "$HOME_DIR" --set image_generation.eval_samples=1000)
case "$PART" in
  vae)
    tpl image-cnn fcnn
    "$NP" train "$CFG/fcnn.yaml" --home "$HOME_DIR" --set name=fmnist-cnn \
      --set 'model.channels=[16,32,64]' --set train.epochs=2 --set data.limit=20000
    tpl image-vae vae
    "$NP" train "$CFG/vae.yaml" "${common[@]}" --set train.epochs=20 \
      --set image_generation.max_minutes=3
    tpl image-gan gan
    "$NP" train "$CFG/gan.yaml" "${common[@]}" --set model.width=32 --set train.epochs=20 \
      --set image_generation.max_minutes=4
    for m in fm-vae fm-gan; do
      "$NP" evaluate "$m" --home "$HOME_DIR" --json > "$OUT/fid-$m.json"
      "$NP" generate "$m" --home "$HOME_DIR" --n 100 --seed 0 -o "$OUT/$m.png"
    done
    ;;
  ddpm1)
    tpl image-ddpm ddpm
    "$NP" train "$CFG/ddpm.yaml" "${common[@]}" --set model.width=16 --set train.batch_size=64 \
      --set train.epochs=50 --set train.scheduler.name=none \
      --set train.early_stopping.enabled=false --set image_generation.steps=25 \
      --set image_generation.max_minutes=8
    wait_for_features
    "$NP" evaluate fm-ddpm --home "$HOME_DIR" --json > "$OUT/fid-fm-ddpm.json"
    "$NP" generate fm-ddpm --home "$HOME_DIR" --n 100 --seed 0 --steps 50 -o "$OUT/fm-ddpm.png"
    "$NP" generate fm-ddpm --home "$HOME_DIR" --n 100 --seed 0 --steps 50 --class 7 \
      -o "$OUT/fm-ddpm-class7.png"
    "$ROOT/.venv/bin/python" "$ROOT/benchmarks/generative/bench_sampling.py" \
      --home "$HOME_DIR" > "$OUT/sampling-time.txt"
    ;;
  *) echo "unknown part $PART" >&2; exit 2 ;;
esac
