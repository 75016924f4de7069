#!/usr/bin/env bash
# Installs dependencies, builds, and runs the main job on a built-in default
# model (no download): a synthetic llama model with the built-in vocabulary,
# described, tokenized and run through the JSON record pipeline.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh default
bin=build/bin
work="${TMPDIR:-/tmp}/trustformers-quickstart"
mkdir -p "$work"

echo "== tf-convert synth: a 4-layer llama model with the built-in vocabulary" >&2
"$bin/tf-convert" synth --preset tiny-llama --seed 1 -o "$work/tiny-llama.gguf" | tee "$work/model.jsonl"

echo "== tf-convert info (reading the model record from stdin)" >&2
"$bin/tf-convert" info - < "$work/model.jsonl" | cut -c1-400

echo "== tf-run tokenize" >&2
"$bin/tf-run" tokenize -m "$work/tiny-llama.gguf" -p "Hello, trustformers!"

echo "== tf-run generate (random weights: the text is noise, the pipeline is real)" >&2
"$bin/tf-run" generate -m - -p "Hello" -n 16 --seed 1 < "$work/model.jsonl" | tail -1
