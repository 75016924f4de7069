// Causal language models (llama, mistral, qwen2, phi3, gemma, stablelm, gpt2,
// gpt_neox, falcon) from a GGUF file or a Hugging Face folder, and sessions
// that run them with a KV cache.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tf/dtype.h"
#include "tf/hf_config.h"
#include "tf/mapped_file.h"
#include "tf/tensor.h"

namespace tf {

namespace gguf {
class File;
}
namespace models {
class Weights;
struct DecoderModel;
}  // namespace models

class CausalLM {
 public:
  static std::unique_ptr<CausalLM> load(const std::string& path, LoadMode mode = LoadMode::Mmap);
  ~CausalLM();

  const hf::Config& config() const;
  const std::string& path() const;
  const gguf::File* gguf() const;  // the GGUF file (for its tokenizer), or nullptr for HF folders
  int64_t vocab_size() const;
  int64_t n_layers() const;
  int64_t hidden_size() const;
  int64_t max_positions() const;  // the model's trained context
  uint64_t parameter_count() const;
  uint64_t weight_bytes() const;
  std::string arch_name() const;

  const models::DecoderModel& impl() const { return *impl_; }

 private:
  CausalLM() = default;
  std::unique_ptr<models::Weights> weights_;
  std::unique_ptr<models::DecoderModel> impl_;
};

// Sees the input of every product with a weight matrix: activation
// statistics for importance matrices and GPTQ calibration. Sessions without
// one pay a null check per matrix product.
class MatmulObserver {
 public:
  virtual ~MatmulObserver() = default;
  // x: `rows` contiguous rows of weight.dim(1) floats, about to be multiplied by weightᵀ.
  virtual void observe(const Tensor& weight, const float* x, size_t rows) = 0;
};

struct SessionOptions {
  int64_t n_ctx = 0;             // KV cache positions; 0: min(model context, 4096)
  int64_t n_batch = 512;         // tokens per forward pass while processing a prompt
  DType kv_type = DType::F16;    // KV cache: F16, F32, or Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 / IQ4_NL
  std::optional<DType> k_type, v_type;  // K's / V's cache type when it differs from kv_type
  MatmulObserver* observer = nullptr;
};

// What a forward pass returns besides the last token's logits.
struct ForwardOutputs {
  bool want_all_logits = false;     // logits [n, vocab]
  bool want_last_hidden = false;    // last_hidden_state [n, hidden] (after the final norm)
  bool want_hidden_states = false;  // hidden_states [n_layers + 1, n, hidden] (HF's output_hidden_states)
  std::vector<float> logits, last_hidden, hidden_states;
};

// One sequence's context: the KV cache and scratch memory, allocated once.
class Session {
 public:
  Session(const CausalLM& model, const SessionOptions& options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Appends tokens at positions n_past() .. n_past()+n-1, processing them in
  // batches, and returns the logits of the last one ([vocab], valid until the
  // next call). tf::Error if the context would overflow.
  const float* eval(const int32_t* tokens, size_t n, ForwardOutputs* outputs = nullptr);
  const float* eval(const std::vector<int32_t>& tokens, ForwardOutputs* outputs = nullptr) {
    return eval(tokens.data(), tokens.size(), outputs);
  }

  // Makes this session continue `other`'s sequence: copies its first
  // n_past() KV positions (the rest of the cache is never read). Both must run
  // the same model with the same context size and cache type. Beam search
  // uses it to hand a beam's history to its children.
  void copy_from(const Session& other);

  void reset() { n_past_ = 0; }
  // Forgets positions from n on (n <= n_past()).
  void truncate(int64_t n);
  int64_t n_past() const { return n_past_; }
  int64_t n_ctx() const { return n_ctx_; }
  const CausalLM& model() const { return model_; }

 private:
  struct State;
  const CausalLM& model_;
  std::unique_ptr<State> state_;
  int64_t n_past_ = 0, n_ctx_ = 0;
};

}  // namespace tf
