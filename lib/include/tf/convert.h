// Model conversion between Hugging Face folders and GGUF (tf-convert).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tf/records.h"

namespace tf {

struct HfToGgufOptions {
  std::string outtype = "f16";  // f32 | f16 | bf16 | auto (f16 if the checkpoint is f16, else bf16)
  std::string name;             // general.name; default: derived from the folder name as llama.cpp does
};

// A Hugging Face folder (config.json + *.safetensors + tokenizer files) to a
// GGUF file with llama.cpp's tensor names, metadata keys and tokenizer
// metadata. Streams one tensor at a time; the output appears atomically.
io::ModelInfo convert_hf_to_gguf(const std::string& dir, const std::string& out, const HfToGgufOptions& options);

}  // namespace tf

namespace tf {

// Hyperparameters of a synthetic model (llama, gpt2 or bert shapes).
struct SynthSpec {
  std::string arch = "llama";
  uint32_t n_layer = 0, n_embd = 0, n_ff = 0, n_head = 0, n_head_kv = 0, n_ctx = 0, n_vocab = 0;
  float norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  uint32_t type_vocab = 2;  // bert
};

// Named presets: tiny-llama, tinyllama-1.1b, llama-7b, llama3-8b, gpt2-124m, bert-base.
SynthSpec synth_preset(const std::string& name);
std::vector<std::string> synth_preset_names();

struct SynthOptions {
  std::string outtype = "f16";  // f32 | f16 | bf16
  std::string vocab;            // a GGUF whose tokenizer.* keys are copied (vocab size follows it)
  uint64_t seed = 0;
  std::string name;             // general.name (default: "synth <preset>")
};

// Random weights of a real model shape, generated in parallel (the same seed
// gives the same bytes whatever the thread count) and streamed to disk. With
// no vocab file, llama models get a built-in byte-fallback SentencePiece
// vocabulary (any text tokenizes) and gpt2 / bert models need --vocab.
io::ModelInfo synth_model(const SynthSpec& spec, const std::string& out, const SynthOptions& options);

}  // namespace tf

namespace tf {

// A GGUF file (llama, gpt2, bert; f32/f16/bf16 tensors) to a Hugging Face
// folder: config.json, model.safetensors and the tokenizer files the GGUF
// holds (tokenizer.model for SentencePiece vocabularies, vocab.json +
// merges.txt + tokenizer.json for GPT-2 BPE, vocab.txt for WordPiece), plus
// tokenizer_config.json. Undoes the converter's q/k permutation and Conv1D
// transposes, so HF -> GGUF -> HF gives the original tensors.
io::ModelInfo convert_gguf_to_hf(const std::string& gguf_path, const std::string& out_dir);

}  // namespace tf
