// Text generation and perplexity on top of CausalLM sessions.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tf/model.h"
#include "tf/tokenizer.h"

namespace tf {

// Sampling in llama.cpp's order: penalties over the last `repeat_last_n`
// tokens, then top-k, typical-p, top-p, min-p, temperature, and a seeded draw.
// temperature <= 0 is greedy (argmax, lowest id on ties).
struct SamplerOptions {
  float temperature = 0.8f;
  int32_t top_k = 40;          // <= 0: off
  float top_p = 0.95f;         // >= 1: off
  float min_p = 0.05f;         // <= 0: off
  float typical_p = 1.0f;      // >= 1: off
  float repeat_penalty = 1.0f; // 1: off
  float frequency_penalty = 0.0f, presence_penalty = 0.0f;
  int32_t repeat_last_n = 64;
  uint64_t seed = 0xFFFFFFFF;  // llama.cpp's "random" default is replaced by a fixed seed: runs repeat
};

class Sampler {
 public:
  explicit Sampler(const SamplerOptions& options);
  // Picks the next token from raw logits [vocab] given the tokens so far.
  int32_t sample(const float* logits, size_t vocab, const std::vector<int32_t>& history);

 private:
  SamplerOptions o_;
  uint64_t state_[4];
  std::vector<std::pair<float, int32_t>> candidates_;
  double next_uniform();
};

struct GenerateOptions {
  int32_t n_predict = 128;  // tokens to generate; < 0: until EOS or the context is full
  SamplerOptions sampling;
  std::vector<std::string> stop;  // stop strings (not included in the text)
  bool ignore_eos = false;
};

struct GenerationTimings {
  double load_ms = 0, prompt_ms = 0, gen_ms = 0;
  double prompt_tok_per_s = 0, gen_tok_per_s = 0;
};

struct Generation {
  int64_t prompt_tokens = 0;
  std::vector<int32_t> ids;  // generated
  std::string text;          // generated text (stop string cut off)
  std::string stop_reason;   // "length", "eos", "stop", "context_full"
  GenerationTimings timings;
};

// Generates after `prompt` (already tokenized, BOS included when wanted).
// on_token(id, text) is called for each token as it is produced, text being
// the complete UTF-8 it adds (held back while a stop string may be starting).
Generation generate(Session& session, const Tokenizer* tokenizer, const std::vector<int32_t>& prompt,
                    const GenerateOptions& options,
                    const std::function<void(int32_t, const std::string&)>& on_token = nullptr);

struct PerplexityResult {
  double ppl = 0, nll = 0;  // mean negative log-likelihood per scored token
  int64_t n_tokens = 0;     // scored tokens
  int64_t n_windows = 0;
};

// The text as one token stream (no special tokens) in non-overlapping windows
// of n_ctx: with add_bos each window is BOS + (n_ctx - 1) text tokens and
// every text token is scored; otherwise windows of n_ctx tokens whose first
// token is not scored (a last window needs at least 2 tokens).
PerplexityResult perplexity(const CausalLM& model, const std::vector<int32_t>& tokens, int64_t n_ctx, int32_t bos,
                            DType kv_type = DType::F16);

}  // namespace tf
