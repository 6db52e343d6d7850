#!/usr/bin/env bash
# The generative figures of docs/generative.md, in three chunks of at most 15 minutes (one
# thread each, through the session's heavy queue). Usage: study.sh HOME PART
#   vae  : the FID feature classifier (the image-cnn template, smaller: channels 16/32/64,
#          2 epochs on a 20,000-image stratified subsample), the VAE (3 minutes), the GAN
#          (4 minutes); FID / precision / recall of the VAE and its grid
#   ddpm1: the DDPM (5.5 minutes)
#   eval : FID / precision / recall of the DDPM (500 images, 10 DDIM steps) and of the GAN
#          (1,000 images), their grids, the sampling-time benchmark
# Every evaluation uses 1,000 generated images against half of the test set (5,000).
set -euo pipefail
HOME_DIR=$1; PART=$2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NP="$ROOT/.venv/bin/neuroplast"
OUT="$ROOT/docs/evidence/generative"
CFG="$HOME_DIR/configs"
mkdir -p "$CFG" "$OUT"
tpl() { "$NP" init --template "$1" > "$CFG/$2.yaml"; }
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
    "$NP" evaluate fm-vae --home "$HOME_DIR" --json > "$OUT/fid-fm-vae.json"
    "$NP" generate fm-vae --home "$HOME_DIR" --n 100 --seed 0 -o "$OUT/fm-vae.png"
    ;;
  ddpm1)
    tpl image-ddpm ddpm
    "$NP" train "$CFG/ddpm.yaml" "${common[@]}" --set model.width=16 --set train.batch_size=64 \
      --set train.epochs=50 --set train.scheduler.name=none \
      --set train.early_stopping.enabled=false --set image_generation.steps=25 \
      --set image_generation.max_minutes=5.5
    ;;
  eval)
    # the DDPM's scoring did not fit in its chunk at 1,000 images x 25 steps: 500 x 10 here
    "$ROOT/.venv/bin/python" "$ROOT/benchmarks/generative/score.py" --home "$HOME_DIR" \
      --model fm-ddpm --samples 500 --steps 10 --out "$OUT/fid-fm-ddpm.json"
    "$NP" evaluate fm-gan --home "$HOME_DIR" --json > "$OUT/fid-fm-gan.json"
    "$NP" generate fm-gan --home "$HOME_DIR" --n 100 --seed 0 -o "$OUT/fm-gan.png"
    "$NP" generate fm-ddpm --home "$HOME_DIR" --n 36 --seed 0 --steps 50 -o "$OUT/fm-ddpm.png"
    "$ROOT/.venv/bin/python" "$ROOT/benchmarks/generative/bench_sampling.py" \
      --home "$HOME_DIR" --repeats 1 > "$OUT/sampling-time.txt"
    ;;
  *) echo "unknown part $PART" >&2; exit 2 ;;
esac
