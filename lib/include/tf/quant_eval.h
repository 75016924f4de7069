// How much a quantized model departs from its original on a text: both run
// over the same chunks (llama-perplexity's scheme: chunks of n_ctx tokens
// opened with BOS, the second half of each chunk scored), giving the
// perplexity of each and the KL divergence of the quantized model's
// next-token distribution from the original's. Logits are reduced as they
// come, a few positions at a time, so memory is O(vocab), not O(text x vocab).
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace tf::quant {

// {"ppl_base", "ppl", "kld_mean", "kld_p99", "kld_max", "top1_agreement",
//  "tokens", "chunks", "n_ctx", "weights"} (docs/tf-quantize.md). chunks 0: all.
nlohmann::json evaluate_quantized(const std::string& original, const std::string& quantized,
                                  const std::string& text_file, int64_t n_ctx, int chunks);

}  // namespace tf::quant
