// The deterministic input the golden hashes in quant_golden_test.cpp were made
// from. The dev harness that ran llama.cpp's ggml on it implements the same
// generator, so neither side may change without the other.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace tf::quant::testing {

// 64-bit LCG (Knuth's MMIX constants); each value uses the top 24 bits for a
// float in [-1, 1) and 6 lower bits to make about one value in 64 an outlier
// (x12), so blocks see both flat and spiky distributions.
class SignalGenerator {
 public:
  explicit SignalGenerator(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
    return state_;
  }
  float signal() {
    uint64_t r = next();
    float x = float(r >> 40) * (1.0f / 8388608.0f) - 1.0f;
    if (((r >> 20) & 63) == 0) x *= 12.0f;
    return x;
  }
  float unit() { return float(next() >> 40) * (1.0f / 16777216.0f); }  // [0, 1)

 private:
  uint64_t state_;
};

constexpr int kGoldenRows = 5;
// Rows at different magnitudes (f16 scales from tiny to large) and one offset
// row whose blocks are all positive (the min of the asymmetric types matters).
constexpr float kRowScale[kGoldenRows] = {1.0f, 0.05f, 37.0f, 3e-4f, 1.0f};
constexpr float kRowOffset[kGoldenRows] = {0.0f, 0.0f, 0.0f, 0.0f, 1.5f};

inline std::vector<float> golden_input(int n_per_row) {
  SignalGenerator gen(0x5eed5eedull);
  std::vector<float> x(size_t(kGoldenRows) * n_per_row);
  for (int r = 0; r < kGoldenRows; ++r)
    for (int c = 0; c < n_per_row; ++c) x[size_t(r) * n_per_row + c] = gen.signal() * kRowScale[r] + kRowOffset[r];
  return x;
}

// Importance weights in [0.05, 4.05), squared so that a few columns dominate.
inline std::vector<float> golden_importance(int n_per_row) {
  SignalGenerator gen(0x1a7e1a7eull);
  std::vector<float> w(static_cast<size_t>(n_per_row));
  for (float& v : w) {
    float u = gen.unit();
    v = 0.05f + 4.0f * u * u;
  }
  return w;
}

// golden_importance with columns of zero importance, as llama-imatrix
// reports columns that no calibration token reached: every 7th column, one
// whole 32-column block (64..95) and the tail from column 448 on.
inline std::vector<float> importance_with_zeros(int n_per_row) {
  std::vector<float> w = golden_importance(n_per_row);
  for (int c = 0; c < n_per_row; ++c)
    if (c % 7 == 3 || (c >= 64 && c < 96) || c >= 448) w[size_t(c)] = 0.0f;
  return w;
}

// Edge cases, 7 rows: zeros; a constant; 32-blocks alternating zero and
// signal; signal * 1e-20 (scales underflow f16); signal * 1e5 (scales of the
// coarse types overflow f16, so ggml itself stores inf); two values with
// many ties (the sorts of IQ1_S / IQ1_M); all negative.
constexpr int kSpecialRows = 7;

inline std::vector<float> special_input(int n_per_row) {
  SignalGenerator gen(0x5bec1a15ull);
  std::vector<float> x(size_t(kSpecialRows) * n_per_row);
  auto at = [&](int r, int c) -> float& { return x[size_t(r) * n_per_row + c]; };
  for (int c = 0; c < n_per_row; ++c) {
    const float s = gen.signal();
    at(0, c) = 0.0f;
    at(1, c) = 0.5f;
    at(2, c) = (c / 32) % 2 ? s : 0.0f;
    at(3, c) = s * 1e-20f;
    at(4, c) = s * 1e5f;
    at(5, c) = (c % 3) ? 0.7f : -0.3f;
    at(6, c) = -std::fabs(s) - 0.2f;
  }
  return x;
}

inline uint64_t fnv1a(const void* data, size_t n) {
  const auto* b = static_cast<const unsigned char*>(data);
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= b[i];
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace tf::quant::testing
