#!/usr/bin/env bash
# The generative figures of docs/generative.md, in four chunks of at most 15 minutes (one
# thread each, through the session's heavy queue). Usage: study.sh HOME PART
#   vae   : the FID feature classifier (image-cnn template, smaller, 2 epochs) + the VAE
#   ddpm1 : the DDPM, first chunk
#   gan   : the GAN, then FID / precision / recall of the VAE and the GAN, their grids
#   ddpm2 : the DDPM, second chunk (init_from the first), its FID, grid and sampling time
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
      --set 'model.channels=[16,32,64]' --set train.epochs=2 --set data.limit=30000
    tpl image-vae vae
    "$NP" train "$CFG/vae.yaml" "${common[@]}" --set train.epochs=20 \
      --set image_generation.max_minutes=7
    ;;
  ddpm1)
    tpl image-ddpm ddpm
    "$NP" train "$CFG/ddpm.yaml" "${common[@]}" --set model.width=16 --set train.batch_size=64 \
      --set train.epochs=50 --set train.scheduler.name=none --set train.early_stopping.enabled=false \
      --set image_generation.max_minutes=13
    ;;
  gan)
    tpl image-gan gan
    "$NP" train "$CFG/gan.yaml" "${common[@]}" --set model.width=32 --set train.epochs=20 \
      --set image_generation.max_minutes=8
    for m in fm-vae fm-gan; do
      "$NP" evaluate "$m" --home "$HOME_DIR" --json > "$OUT/fid-$m.json"
      "$NP" generate "$m" --home "$HOME_DIR" --n 100 --seed 0 -o "$OUT/$m.png"
    done
    ;;
  ddpm2)
    tpl image-ddpm ddpm
    "$NP" train "$CFG/ddpm.yaml" "${common[@]}" --set model.width=16 --set train.batch_size=64 \
      --set train.epochs=50 --set train.scheduler.name=none --set train.early_stopping.enabled=false \
      --set image_generation.max_minutes=6 --set image_generation.init_from=fm-ddpm:1 \
      --set data.seed=14
    "$NP" evaluate fm-ddpm --home "$HOME_DIR" --json > "$OUT/fid-fm-ddpm.json"
    "$NP" generate fm-ddpm --home "$HOME_DIR" --n 100 --seed 0 -o "$OUT/fm-ddpm.png"
    "$NP" generate fm-ddpm --home "$HOME_DIR" --n 100 --seed 0 --class 7 -o "$OUT/fm-ddpm-class7.png"
    "$ROOT/.venv/bin/python" "$ROOT/benchmarks/generative/bench_sampling.py" --home "$HOME_DIR" \
      > "$OUT/sampling-time.txt"
    ;;
  *) echo "unknown part $PART" >&2; exit 2 ;;
esac
