// Text generation and perplexity on top of CausalLM sessions.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tf/model.h"
#include "tf/rng.h"
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
  Rng rng_;
  std::vector<std::pair<float, int32_t>> candidates_;
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

// The end-of-sequence ids generation stops at: the model config's (one id or
// a list) and the tokenizer's, without repeats.
std::vector<int32_t> eos_ids(const CausalLM& model, const Tokenizer* tokenizer);

// ---------------------------------------------------------------- beam search
// Transformers' `generate(num_beams=N, do_sample=False)`; docs/tf-run.md
// ("Beam search") states the rules.

enum class EarlyStopping {
  Heuristic,  // transformers' early_stopping=False
  Immediate,  // early_stopping=True: stop once N sequences are finished
  Never,      // early_stopping="never"
};

struct BeamOptions {
  int32_t num_beams = 4;
  int32_t max_new_tokens = 128;
  float length_penalty = 1.0f;
  EarlyStopping early_stopping = EarlyStopping::Heuristic;
  int32_t num_return_sequences = 1;  // <= num_beams
  std::vector<int32_t> eos;          // empty: never finishes before max_new_tokens
};

struct Beam {
  std::vector<int32_t> ids;  // generated tokens, a final EOS included (as transformers' sequences)
  float score = 0;           // sum of log-probabilities / (ids.size() ** length_penalty)
  bool eos = false;          // ends with an EOS token
};

// What beam search needs from a model, so that the search can run on a
// session pool or on a scripted model in tests.
class BeamModel {
 public:
  virtual ~BeamModel() = default;
  virtual size_t vocab_size() const = 0;
  // Logits [vocab] after the prompt (for the one live beam of the first step).
  virtual const float* start(const std::vector<int32_t>& prompt, int32_t num_beams) = 0;
  // New beam i is old beam parent[i] followed by token[i]; returns logits
  // [n][vocab], row i for new beam i (n = parent.size()).
  virtual const float* step(const std::vector<int32_t>& parent, const std::vector<int32_t>& token) = 0;
};

// The best `num_return_sequences` finished beams, best first.
std::vector<Beam> beam_search(BeamModel& model, const std::vector<int32_t>& prompt, const BeamOptions& options);

// A BeamModel of `num_beams` sessions of `model`. A step hands each parent's
// session to its first child and copies the KV cache (positions < n_past)
// into a free session for every further child: at most N-1 copies of
// n_past · 2 · n_layers · n_kv_heads · head_dim cache entries per step.
class SessionBeamModel : public BeamModel {
 public:
  SessionBeamModel(const CausalLM& model, const SessionOptions& options);
  ~SessionBeamModel() override;
  size_t vocab_size() const override;
  const float* start(const std::vector<int32_t>& prompt, int32_t num_beams) override;
  const float* step(const std::vector<int32_t>& parent, const std::vector<int32_t>& token) override;
  double prompt_ms() const { return prompt_ms_; }
  int64_t tokens_evaluated() const { return tokens_evaluated_; }  // by step(), all beams together
  int64_t n_ctx() const { return sessions_[0]->n_ctx(); }

 private:
  const CausalLM& model_;
  SessionOptions options_;
  std::vector<std::unique_ptr<Session>> sessions_;  // sessions_[slot_[i]] holds beam i
  std::vector<size_t> slot_;
  std::vector<float> logits_;
  double prompt_ms_ = 0;
  int64_t tokens_evaluated_ = 0;
};

struct BeamGeneration {
  int64_t prompt_tokens = 0;
  std::vector<Beam> beams;
  GenerationTimings timings;  // gen_tok_per_s counts every beam's evaluated tokens
};

// Beam search on a causal LM with the session options given (-c, -b,
// --cache-type). max_new_tokens < 0 or beyond the context is cut to what
// fits (a warning on stderr).
BeamGeneration generate_beams(const CausalLM& model, const SessionOptions& session, const std::vector<int32_t>& prompt,
                              BeamOptions options);

struct PerplexityResult {
  double ppl = 0, nll = 0;  // mean negative log-likelihood per scored token
  int64_t n_tokens = 0;     // scored tokens
  int64_t n_windows = 0;
};

// The text as one token stream (no special tokens) in non-overlapping windows
// of n_ctx: with add_bos each window is BOS + (n_ctx - 1) text tokens and
// every text token is scored; otherwise windows of n_ctx tokens whose first
// token is not scored (a last window needs at least 2 tokens).
// The KV cache types are cache's (kv_type, k_type, v_type); its n_ctx and
// n_batch are not used.
PerplexityResult perplexity(const CausalLM& model, const std::vector<int32_t>& tokens, int64_t n_ctx, int32_t bos,
                            const SessionOptions& cache = {});

}  // namespace tf
