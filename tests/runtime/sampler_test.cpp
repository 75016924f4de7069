#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "tf/generate.h"

namespace tf {

namespace {
SamplerOptions plain(float temp) {
  SamplerOptions o;
  o.temperature = temp;
  o.top_k = 0;
  o.top_p = 1.0f;
  o.min_p = 0.0f;
  return o;
}
}  // namespace

TEST(Sampler, GreedyTakesTheLowestIdOnTies) {
  std::vector<float> logits = {0.5f, 2.0f, 2.0f, -1.0f};
  Sampler s(plain(0.0f));
  EXPECT_EQ(s.sample(logits.data(), logits.size(), {}), 1);
}

TEST(Sampler, SameSeedSameDraws) {
  std::vector<float> logits(50);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(float(i));
  SamplerOptions o = plain(1.0f);
  o.seed = 42;
  Sampler a(o), b(o);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.sample(logits.data(), logits.size(), {}), b.sample(logits.data(), logits.size(), {}));
}

TEST(Sampler, DrawsFollowTheSoftmax) {
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  SamplerOptions o = plain(1.0f);
  o.seed = 7;
  Sampler s(o);
  std::map<int, int> counts;
  const int n = 20000;
  for (int i = 0; i < n; ++i) counts[s.sample(logits.data(), 3, {})]++;
  EXPECT_NEAR(counts[0] / double(n), 0.5, 0.02);
  EXPECT_NEAR(counts[1] / double(n), 0.3, 0.02);
  EXPECT_NEAR(counts[2] / double(n), 0.2, 0.02);
}

TEST(Sampler, TruncationsKeepOnlyTheHead) {
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  for (int variant = 0; variant < 3; ++variant) {
    SamplerOptions o = plain(1.0f);
    if (variant == 0) o.top_k = 2;
    if (variant == 1) o.top_p = 0.75f;   // 0.5 + 0.3 reaches it
    if (variant == 2) o.min_p = 0.5f;    // keeps p >= 0.25
    Sampler s(o);
    for (int i = 0; i < 2000; ++i) EXPECT_LT(s.sample(logits.data(), 4, {}), 2) << variant;
  }
}

TEST(Sampler, RepetitionPenaltyDividesPositiveLogits) {
  std::vector<float> logits = {1.0f, 1.5f};
  SamplerOptions o = plain(0.0f);
  o.repeat_penalty = 2.0f;  // 1.5 / 2 = 0.75 < 1.0
  Sampler s(o);
  EXPECT_EQ(s.sample(logits.data(), 2, {1}), 0);
  EXPECT_EQ(s.sample(logits.data(), 2, {}), 1);
}

}  // namespace tf
