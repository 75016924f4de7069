// Tensor names per architecture: Hugging Face module names <-> the GGUF
// names llama.cpp uses (llama-arch's tables). Models address weights by GGUF
// name whatever file they come from; the converter maps with the same tables.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "tf/hf_config.h"

namespace tf::models {

// Layer modules sit under `layer_prefix` + index ("model.layers.3."); the
// .weight / .bias suffix carries over unchanged.
struct NameTable {
  std::string layer_prefix;
  std::vector<std::pair<std::string, std::string>> layer;   // "self_attn.q_proj" -> "attn_q"
  std::vector<std::pair<std::string, std::string>> global;  // "model.norm" -> "output_norm"

  std::string to_gguf(const std::string& hf_name) const;  // "" when unknown
  std::string to_hf(const std::string& gguf_name) const;  // "" when unknown
};

// The table of a causal LM or encoder architecture; tf::Error for others.
const NameTable& tensor_names(hf::Arch arch);

}  // namespace tf::models
