// What the pipelines share: encodings -> encoder sequences, batched forward
// passes, softmax / sigmoid as transformers' pipelines compute them.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "tf/pipelines.h"

namespace tf::pipelines::detail {

// Hugging Face tokenizers split special tokens written in the text ("[SEP]",
// "<mask>") out as those tokens; so do the pipelines.
inline constexpr EncodeOptions kRaw{false, true};          // no template: pieces of a pair / window
inline constexpr EncodeOptions kWithSpecials{true, true};  // with the single-text template

// Segment ids only for models that have segment embeddings (RoBERTa's
// tokenizer does not return token_type_ids).
EncoderSequence to_sequence(const Encoding& e, const hf::Config& c);

// Drops text tokens from the end of a single-text encoding until it fits
// max_tokens, keeping the post-processor's tokens (truncation=True).
Encoding truncate(const Tokenizer& tok, const Encoding& raw, size_t max_tokens);

// Runs the sequences through the encoder m.batch_size at a time and calls
// each(index, output, index within the output) for every sequence, in order.
template <class F>
void run_batches(const TextModel& m, const std::vector<EncoderSequence>& seqs, F each) {
  const size_t bs = std::max<size_t>(1, m.batch_size);
  for (size_t b = 0; b < seqs.size(); b += bs) {
    std::vector<EncoderSequence> chunk(seqs.begin() + ptrdiff_t(b),
                                       seqs.begin() + ptrdiff_t(std::min(seqs.size(), b + bs)));
    EncoderOutput out = m.encoder->forward(chunk);
    for (size_t i = 0; i < chunk.size(); ++i) each(b + i, out, i);
  }
}

// numpy's softmax in the pipelines: exp(x - max) / sum, float32.
inline std::vector<float> softmax(const float* x, size_t n) {
  std::vector<float> y(x, x + n);
  float mx = *std::max_element(y.begin(), y.end());
  float sum = 0;
  for (float& v : y) sum += v = std::exp(v - mx);
  for (float& v : y) v /= sum;
  return y;
}

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace tf::pipelines::detail
