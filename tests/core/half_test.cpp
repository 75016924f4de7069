#include "tf/half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/cpu/convert.h"
#include "tf/cpu_features.h"
#include "tf/rng.h"

namespace tf {

// Reference: round-to-nearest-even through double arithmetic, independent of
// the bit manipulation in f32_to_f16.
static uint16_t f16_reference(float f) {
  if (std::isnan(f)) return 0x7e00;
  uint16_t best = 0;
  double best_err = INFINITY;
  // search the two candidates around f by scanning the ordered f16 codes
  uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  double a = std::fabs(double(f));
  uint16_t lo = 0, hi = 0x7c00;
  while (lo < hi) {  // first code whose value >= a
    uint16_t mid = uint16_t((lo + hi) / 2);
    if (double(f16_to_f32(mid)) < a) lo = uint16_t(mid + 1); else hi = mid;
  }
  for (int c = int(lo) - 1; c <= int(lo); ++c) {
    if (c < 0) continue;
    double v = f16_to_f32(uint16_t(c));
    double err = std::fabs(v - a);
    if (err < best_err || (err == best_err && (c & 1) == 0)) {
      best_err = err;
      best = uint16_t(c);
    }
  }
  // beyond the largest finite half (65504) by at least half an ulp: infinity
  if (a >= 65520.0) best = 0x7c00;
  return uint16_t(sign | best);
}

TEST(Half, F16DecodeKnownValues) {
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
}

TEST(Half, F16RoundTripsEveryCode) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = f16_to_f32(uint16_t(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), h) << std::hex << h;
  }
}

TEST(Half, F16RoundsToNearestEven) {
  Rng rng(7);
  for (int i = 0; i < 200000; ++i) {
    float f = (rng.uniform() - 0.5f) * std::ldexp(1.0f, int(rng.below(40)) - 24);
    ASSERT_EQ(f32_to_f16(f), f16_reference(f)) << f;
  }
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);
}

TEST(Half, Bf16) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  // 1 + 2^-8 is a tie between 1 and 1 + 2^-7: even (1.0) wins
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

// Every ISA path the CPU has must agree with the scalar conversion bit for bit.
TEST(Half, BulkMatchesScalar) {
  Rng rng(3);
  std::vector<float> src(1037);
  for (auto& v : src) v = rng.normal() * 1000.0f;
  src[5] = 1e-7f;
  src[6] = 70000.0f;
  std::vector<uint16_t> h(src.size()), b(src.size());
  f32_to_f16(src.data(), h.data(), src.size());
  f32_to_bf16(src.data(), b.data(), src.size());
  std::vector<float> back(src.size()), back_b(src.size());
  f16_to_f32(h.data(), back.data(), src.size());
  bf16_to_f32(b.data(), back_b.data(), src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    ASSERT_EQ(h[i], f32_to_f16(src[i])) << i;
    ASSERT_EQ(b[i], f32_to_bf16(src[i])) << i;
    ASSERT_EQ(back[i], f16_to_f32(h[i])) << i;
    ASSERT_EQ(back_b[i], bf16_to_f32(b[i])) << i;
  }
  // and each ISA variant directly, where this CPU can run it
  std::vector<uint16_t> h2(src.size());
  std::vector<float> f2(src.size());
  if (cpu_features().level() >= 1) {
    kernels::avx2::convert_f32_to_f16(src.data(), h2.data(), src.size());
    kernels::avx2::convert_f16_to_f32(h.data(), f2.data(), src.size());
    EXPECT_EQ(h2, h);
    EXPECT_EQ(f2, back);
  }
  if (cpu_features().level() >= 2) {
    kernels::avx512::convert_f32_to_f16(src.data(), h2.data(), src.size());
    kernels::avx512::convert_f16_to_f32(h.data(), f2.data(), src.size());
    EXPECT_EQ(h2, h);
    EXPECT_EQ(f2, back);
    kernels::avx512::convert_bf16_to_f32(b.data(), f2.data(), src.size());
    EXPECT_EQ(f2, back_b);
  }
}

}  // namespace tf
