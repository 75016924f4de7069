// Quantization mixes: llama.cpp's file types (Q4_K_M, IQ2_XS, ...) and the
// rules that pick each tensor's type for one. The rules reproduce llama.cpp's
// llama_tensor_get_type (src/llama-quant.cpp) exactly, so a mix names the same
// type per tensor as llama-quantize does for the same file and flags; every
// choice carries a human-readable reason. Differences from llama.cpp are
// deliberate and confined to user overrides (docs/tf-quantize.md).
#pragma once
#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "tf/dtype.h"

namespace tf::gguf {
class File;
}

namespace tf::quant {

// GGUF's general.file_type (llama_ftype); the numbers are the file format's.
enum class FileType : uint32_t {
  ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_Q4_0 = 2, MOSTLY_Q4_1 = 3, MOSTLY_Q8_0 = 7, MOSTLY_Q5_0 = 8,
  MOSTLY_Q5_1 = 9, MOSTLY_Q2_K = 10, MOSTLY_Q3_K_S = 11, MOSTLY_Q3_K_M = 12, MOSTLY_Q3_K_L = 13,
  MOSTLY_Q4_K_S = 14, MOSTLY_Q4_K_M = 15, MOSTLY_Q5_K_S = 16, MOSTLY_Q5_K_M = 17, MOSTLY_Q6_K = 18,
  MOSTLY_IQ2_XXS = 19, MOSTLY_IQ2_XS = 20, MOSTLY_Q2_K_S = 21, MOSTLY_IQ3_XS = 22, MOSTLY_IQ3_XXS = 23,
  MOSTLY_IQ1_S = 24, MOSTLY_IQ4_NL = 25, MOSTLY_IQ3_S = 26, MOSTLY_IQ3_M = 27, MOSTLY_IQ2_S = 28,
  MOSTLY_IQ2_M = 29, MOSTLY_IQ4_XS = 30, MOSTLY_IQ1_M = 31, MOSTLY_BF16 = 32, MOSTLY_TQ1_0 = 36,
  MOSTLY_TQ2_0 = 37,
};

// llama.cpp's version of the block formats (GGML_QNT_VERSION), written as
// general.quantization_version.
constexpr uint32_t kQuantizationVersion = 2;

struct FileTypeSpec {
  FileType type;
  std::string_view name;  // llama-quantize's spelling: "Q4_K_M"
  DType base;             // the type most tensors get
  bool copy_only = false; // "COPY": every tensor as it is
};

// A mix by llama-quantize's name (case-insensitive; aliases Q3_K, Q4_K, Q5_K
// and COPY) or by its general.file_type number. nullopt when unknown.
std::optional<FileTypeSpec> parse_file_type(std::string_view name);
const std::vector<FileTypeSpec>& file_types();  // the names llama-quantize lists
std::string_view file_type_name(FileType t);    // "Q4_K_M"; "" when unknown

// What the rules need to know about the model (llama.cpp's hparams).
struct ModelShape {
  std::string arch;      // general.architecture
  int n_layer = 0;       // {arch}.block_count
  int n_head = 0;        // {arch}.attention.head_count (first layer's if per layer)
  int n_head_kv = 0;     // {arch}.attention.head_count_kv, default n_head
  int n_expert = 0;      // {arch}.expert_count
  bool is_70b = false;   // llama.cpp's LLM_TYPE_70B (only the attn_v rule uses it)

  int n_gqa() const { return n_head_kv == 0 ? 0 : n_head / n_head_kv; }
  static ModelShape from_gguf(const gguf::File& file);
};

struct TensorOverride {
  std::string pattern;  // ECMAScript regex searched in the tensor name
  DType type;
  std::regex re;        // compiled pattern
};
// "REGEX=TYPE" as llama-quantize's --tensor-type takes it (the name part is
// lower-cased; TYPE is a ggml type name such as q6_K). tf::Error when malformed.
TensorOverride parse_tensor_override(std::string_view arg);

struct MixOptions {
  FileTypeSpec file_type{};
  bool pure = false;                     // --pure: the base type everywhere (fallbacks still apply)
  bool quantize_output = true;           // false: --leave-output-tensor
  bool has_imatrix = false;              // an importance matrix is given (changes a few rules)
  std::optional<DType> output_tensor_type;    // --output-tensor-type
  std::optional<DType> token_embedding_type;  // --token-embedding-type
  std::vector<TensorOverride> overrides;      // --tensor-type / --rules; first match wins, always
};

// Reads a rules file (docs/tf-quantize.md):
//   {"type": "Q4_K_M", "pure": false, "output_tensor_type": "q6_K",
//    "token_embedding_type": "q4_K", "tensor_types": [{"pattern": "ffn_down", "type": "q5_K"}]}
// Every field is optional; fields present replace options' values and the
// file's tensor_types are appended after options' overrides.
void apply_rules_file(const std::string& path, MixOptions& options);

struct TensorDesc {
  std::string name;
  std::vector<uint64_t> ne;  // GGUF order: ne[0] is the row length
  DType type = DType::F32;
};

struct TensorChoice {
  DType type = DType::F32;
  std::string reason;            // which rule chose the type
  bool quantizable = false;      // llama.cpp would quantize this tensor at all (2-D+, a weight, not a norm, ...)
  bool requires_imatrix = false; // the chosen type is garbage without an importance matrix
  bool fallback = false;         // the row length forced a different type than the rules chose
};

// llama.cpp processes (and writes) tensors in this order: tensors outside
// blocks first, then block by block, each group sorted by name. The rules'
// layer counters depend on it. Returns indices into names.
std::vector<size_t> llama_tensor_order(const std::vector<std::string>& names);
// A GGUF file's tensors, in that order.
std::vector<TensorDesc> ordered_tensors(const gguf::File& file);

// One choice per tensor, in the order given (which must be llama_tensor_order's
// for the counters to match llama.cpp).
std::vector<TensorChoice> choose_types(const ModelShape& model, const std::vector<TensorDesc>& tensors,
                                       const MixOptions& options);

}  // namespace tf::quant
