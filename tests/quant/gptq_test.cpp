#include "quant/gptq.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "tf/quant.h"
#include "tf/thread_pool.h"

namespace tf::quant {
namespace {

// ||X Wᵀ - X Qᵀ||² over calibration rows X: what GPTQ minimises.
double output_error(const std::vector<float>& X, int64_t n, const std::vector<float>& W, const std::vector<float>& Q,
                    int64_t rows, int64_t cols) {
  double e = 0;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double a = 0;
      for (int64_t c = 0; c < cols; ++c) a += double(X[size_t(t * cols + c)]) * (W[size_t(r * cols + c)] - Q[size_t(r * cols + c)]);
      e += a * a;
    }
  return e;
}

std::vector<float> dequantized(DType t, const std::vector<uint8_t>& q, int64_t rows, int64_t cols) {
  std::vector<float> out(size_t(rows * cols));
  const uint64_t rb = *row_bytes(t, uint64_t(cols));
  for (int64_t r = 0; r < rows; ++r) dequantize_row(t, q.data() + uint64_t(r) * rb, out.data() + r * cols, cols);
  return out;
}

class Gptq : public ::testing::TestWithParam<DType> {};

TEST_P(Gptq, BeatsRoundingOnTheLayerOutput) {
  const DType type = GetParam();
  const int64_t cols = 512, rows = 24, n = 2048;
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.0f, 1.0f);
  // correlated inputs with uneven scales, as activations are
  std::vector<float> X(size_t(n * cols));
  for (int64_t t = 0; t < n; ++t) {
    float common = g(rng);
    for (int64_t c = 0; c < cols; ++c)
      X[size_t(t * cols + c)] = (0.5f + float(c % 7)) * (0.6f * common + 0.4f * g(rng));
  }
  std::vector<float> W(size_t(rows * cols));
  for (float& w : W) w = 0.02f * g(rng);
  Hessian h;
  h.dim = cols;
  h.rows = n;
  h.sum_xxt.assign(size_t(cols * cols), 0.0f);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = i; j < cols; ++j) h.sum_xxt[size_t(i * cols + j)] += X[size_t(t * cols + i)] * X[size_t(t * cols + j)];

  const uint64_t bytes = *row_bytes(type, uint64_t(cols)) * uint64_t(rows);
  std::vector<uint8_t> rtn(bytes), gq(bytes);
  quantize_rows(type, W.data(), rtn.data(), rows, cols, nullptr);
  std::vector<float> work = W;
  ThreadPool pool(2);
  gptq_quantize(type, work.data(), gq.data(), rows, cols, h, nullptr, pool);
  double e_rtn = output_error(X, 256, W, dequantized(type, rtn, rows, cols), rows, cols);
  double e_gptq = output_error(X, 256, W, dequantized(type, gq, rows, cols), rows, cols);
  EXPECT_LT(e_gptq, 0.8 * e_rtn) << dtype_name(type) << ": gptq " << e_gptq << " vs rounding " << e_rtn;
}

INSTANTIATE_TEST_SUITE_P(Types, Gptq, ::testing::Values(DType::Q4_0, DType::Q4_1, DType::IQ4_NL, DType::Q4_K, DType::Q3_K),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(GptqSupport, Types) {
  EXPECT_TRUE(gptq_supports(DType::Q4_K));
  EXPECT_TRUE(gptq_supports(DType::Q3_K));
  EXPECT_FALSE(gptq_supports(DType::Q8_0));
  EXPECT_FALSE(gptq_supports(DType::F16));
}

}  // namespace
}  // namespace tf::quant
