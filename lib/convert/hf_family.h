// One converter family per llama.cpp architecture: how a Hugging Face
// checkpoint's tensors are renamed / reshaped for GGUF and which
// hyperparameter and tokenizer keys are written, in llama.cpp's order.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/tensor_names.h"
#include "tf/tensor.h"

namespace tf::gguf {
class Writer;
}

namespace tf::convert {

// How a tensor's data changes on the way into the GGUF file.
enum class Transform {
  None,
  PermuteHeads,  // LLaMA q/k: HF's rotate-half row order -> GGML's interleaved pairs
  Transpose,     // GPT-2 Conv1D weights are stored [in, out]
  // Fused q/k/v rows grouped per kv head, [groups][q_per_group q heads, k, v][head_dim]
  // (GPT-NeoX: groups = heads, q_per_group = 1; Falcon) -> [all q | all k | all v],
  // the layout llama.cpp's graphs slice.
  QkvGroups,
};

struct PlannedTensor {
  std::string gguf_name;
  std::string hf_name;  // source tensor (or "" for generated tensors)
  Shape shape;          // PyTorch order, after the transform
  Transform transform = Transform::None;
  int64_t heads = 0;    // PermuteHeads; QkvGroups: the number of groups
  int64_t q_per_group = 0;       // QkvGroups
  float add = 0;                 // added to every value (Gemma's RMSNorm scale is 1 + w)
  std::vector<float> generated;  // data of a generated tensor (rope_freqs)
  bool keep_f32 = false;         // family rule: never half-precision
};

struct ConvertContext {
  std::string dir;
  nlohmann::json config;
  uint32_t file_type = 1;  // llama.cpp's LlamaFileType: 0 f32, 1 f16, 32 bf16
};

using models::NameTable;

class HfFamily {
 public:
  virtual ~HfFamily() = default;
  virtual std::string arch() const = 0;
  virtual const NameTable& names() const = 0;
  // Tensors made from nothing in the checkpoint, written first (llama3 rope_freqs).
  virtual std::vector<PlannedTensor> extra_tensors(const ConvertContext&) const { return {}; }
  // Zero or more GGUF tensors for one checkpoint tensor, in write order.
  virtual std::vector<PlannedTensor> map_tensor(const ConvertContext& ctx, const std::string& hf_name,
                                                const Shape& shape) const = 0;
  // {arch}.* hyperparameters incl. general.file_type, then the tokenizer keys.
  virtual void write_parameters(const ConvertContext& ctx, gguf::Writer& w) const = 0;
  virtual void write_tokenizer(const ConvertContext& ctx, gguf::Writer& w) const = 0;

 protected:
  // The checkpoint tensor under its GGUF name from names(), unchanged;
  // tf::Error naming the tensor and the architecture if the table lacks it.
  PlannedTensor renamed(const ConvertContext& ctx, const std::string& hf_name, const std::string& lookup_name,
                        const Shape& shape) const;
  PlannedTensor renamed(const ConvertContext& ctx, const std::string& hf_name, const Shape& shape) const {
    return renamed(ctx, hf_name, hf_name, shape);
  }
};

// The family for config.json's architectures[0]; tf::Error if unsupported.
std::unique_ptr<HfFamily> family_for(const nlohmann::json& config, const std::string& dir);

// The family for a GGUF general.architecture; tf::Error if unsupported.
std::unique_ptr<HfFamily> family_for_arch(const std::string& arch);

std::unique_ptr<HfFamily> make_llama_family();
std::unique_ptr<HfFamily> make_gpt2_family();
std::unique_ptr<HfFamily> make_bert_family();
std::unique_ptr<HfFamily> make_qwen2_family();
std::unique_ptr<HfFamily> make_phi3_family();
std::unique_ptr<HfFamily> make_gemma_family();
std::unique_ptr<HfFamily> make_stablelm_family();
std::unique_ptr<HfFamily> make_gptneox_family();
std::unique_ptr<HfFamily> make_falcon_family();

// Shared pieces of llama.cpp's base Model.set_gguf_parameters.
void write_base_parameters(const ConvertContext& ctx, const std::string& arch, gguf::Writer& w);
// The first of `keys` present in config (llama.cpp's find_hparam), or nullptr.
const nlohmann::json* find_hparam(const nlohmann::json& config, std::initializer_list<const char*> keys);
uint32_t hparam_u32(const nlohmann::json& value, const std::string& key);
// The first of `keys` present in config.json; a tf::Error naming the first key if none is.
const nlohmann::json& require_hparam(const ConvertContext& ctx, std::initializer_list<const char*> keys);
uint32_t require_u32(const ConvertContext& ctx, std::initializer_list<const char*> keys);
// rope_theta, top level (transformers 4) or in rope_parameters (transformers 5), or nullptr.
const nlohmann::json* rope_theta(const nlohmann::json& config);
// The fraction of each head that is rotated: `keys` at the top level, else
// rope_parameters.partial_rotary_factor (transformers 5), else `fallback`.
double partial_rotary(const nlohmann::json& config, std::initializer_list<const char*> keys, double fallback);
// Writes {arch}.rope.freq_base for the families whose llama.cpp converter
// never writes it (runtime default 10000): only when the model's base differs.
void write_nondefault_freq_base(const ConvertContext& ctx, const std::string& arch, gguf::Writer& w);

// llama.cpp's converter refuses a folder without a tokenizer; tf-convert
// writes the model without tokenizer.* keys and says so on stderr. True when
// tokenizer.model or tokenizer.json exists.
bool has_tokenizer(const ConvertContext& ctx);
// llama.cpp's _set_vocab_gpt2: tokenizer.json BPE, its pre-tokenizer name, merges, special ids.
void write_gpt2_vocab(const ConvertContext& ctx, gguf::Writer& w);
// llama.cpp's _set_vocab_sentencepiece: tokenizer.model, then special ids (no merges).
void write_sentencepiece_vocab(const ConvertContext& ctx, gguf::Writer& w);

// Layer index in an HF tensor name ("model.layers.12.mlp" -> 12), or -1.
int layer_index(const std::string& hf_name);

}  // namespace tf::convert
