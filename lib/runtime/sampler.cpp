#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "tf/generate.h"
#include "tf/error.h"

namespace tf {

Sampler::Sampler(const SamplerOptions& options) : o_(options), rng_(options.seed) {}

int32_t Sampler::sample(const float* logits, size_t vocab, const std::vector<int32_t>& history) {
  if (vocab == 0) fail("sampler: empty vocabulary");
  candidates_.resize(vocab);
  for (size_t i = 0; i < vocab; ++i) candidates_[i] = {logits[i], int32_t(i)};

  // penalties, as llama.cpp applies them (to logits, before truncation)
  if (o_.repeat_penalty != 1.0f || o_.frequency_penalty != 0.0f || o_.presence_penalty != 0.0f) {
    std::unordered_map<int32_t, int> counts;
    size_t n = o_.repeat_last_n < 0 ? history.size() : std::min(history.size(), size_t(o_.repeat_last_n));
    for (size_t i = history.size() - n; i < history.size(); ++i) counts[history[i]]++;
    for (const auto& [id, count] : counts) {
      if (id < 0 || size_t(id) >= vocab) continue;
      float& l = candidates_[size_t(id)].first;
      l = l <= 0 ? l * o_.repeat_penalty : l / o_.repeat_penalty;
      l -= float(count) * o_.frequency_penalty + o_.presence_penalty;
    }
  }
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  if (o_.temperature <= 0.0f) return std::min_element(candidates_.begin(), candidates_.end(), by_logit)->second;

  size_t n = vocab;
  if (o_.top_k > 0 && size_t(o_.top_k) < n) {
    std::partial_sort(candidates_.begin(), candidates_.begin() + o_.top_k, candidates_.end(), by_logit);
    n = size_t(o_.top_k);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  // probabilities of the (sorted) survivors
  std::vector<double> p(n);
  auto softmax = [&](size_t count) {
    double mx = candidates_[0].first, sum = 0;
    for (size_t i = 0; i < count; ++i) sum += p[i] = std::exp(double(candidates_[i].first) - mx);
    for (size_t i = 0; i < count; ++i) p[i] /= sum;
  };
  softmax(n);
  if (o_.typical_p < 1.0f) {
    double entropy = 0;
    for (size_t i = 0; i < n; ++i) entropy -= p[i] > 0 ? p[i] * std::log(p[i]) : 0;
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return std::fabs(-std::log(p[a]) - entropy) < std::fabs(-std::log(p[b]) - entropy);
    });
    double cum = 0;
    size_t keep = 0;
    for (; keep < n; ++keep) {
      cum += p[order[keep]];
      if (cum >= o_.typical_p) {
        ++keep;
        break;
      }
    }
    keep = std::max<size_t>(1, std::min(keep, n));
    std::vector<std::pair<float, int32_t>> kept;
    for (size_t i = 0; i < keep; ++i) kept.push_back(candidates_[order[i]]);
    std::sort(kept.begin(), kept.end(), by_logit);
    std::copy(kept.begin(), kept.end(), candidates_.begin());
    n = keep;
    softmax(n);
  }
  if (o_.top_p < 1.0f) {
    double cum = 0;
    size_t keep = n;
    for (size_t i = 0; i < n; ++i) {
      cum += p[i];
      if (cum >= o_.top_p) {
        keep = i + 1;
        break;
      }
    }
    n = keep;
  }
  if (o_.min_p > 0.0f) {
    double threshold = p[0] * o_.min_p;
    size_t keep = 1;
    while (keep < n && p[keep] >= threshold) ++keep;
    n = keep;
  }
  // temperature last, on the surviving logits
  for (size_t i = 0; i < n; ++i) candidates_[i].first /= o_.temperature;
  softmax(n);
  double r = rng_.uniform_f64(), cum = 0;
  for (size_t i = 0; i < n; ++i) {
    cum += p[i];
    if (r < cum) return candidates_[i].second;
  }
  return candidates_[n - 1].second;
}

}  // namespace tf
