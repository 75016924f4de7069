// matmul against a double-precision reference, for every weight type, ISA
// level, path and awkward shape. Tolerance: f32 accumulation of K products
// (in whatever order a kernel picks) is within a few K·2⁻²⁴ of Σ|x·w|; we
// allow 2e-6·√K·Σ|x·w| + 1e-6, i.e. about 1e-5 relative at K = 32.
// Weights in f16/bf16 are compared against their exact values, so the same
// bound holds for them.
#include "kernels/cpu/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "kernels/test_util.h"
#include "tf/error.h"
#include "tf/thread_pool.h"

namespace tf::kernels {
namespace {

using test::isa_levels;
using test::level_name;

struct Weights {
  DType type;
  size_t N, K, stride;  // stride in elements
  std::vector<uint8_t> bytes;
  std::vector<double> exact;  // [N, K]
};

Weights make_weights(DType type, size_t N, size_t K, size_t pad, uint64_t seed) {
  Weights w{type, N, K, K + pad, {}, {}};
  size_t elt = traits(type).type_size;
  w.bytes.assign(N * w.stride * elt, 0xff);  // padding is garbage (NaN for f16/bf16/f32)
  w.exact.resize(N * K);
  auto v = test::random_floats(N * K, seed, 0.5f);
  for (size_t n = 0; n < N; ++n)
    for (size_t k = 0; k < K; ++k) {
      float f = v[n * K + k];
      uint8_t* dst = w.bytes.data() + (n * w.stride + k) * elt;
      if (type == DType::F32) {
        std::memcpy(dst, &f, 4);
        w.exact[n * K + k] = f;
      } else if (type == DType::F16) {
        uint16_t h = f32_to_f16(f);
        std::memcpy(dst, &h, 2);
        w.exact[n * K + k] = f16_to_f32(h);
      } else {
        uint16_t h = f32_to_bf16(f);
        std::memcpy(dst, &h, 2);
        w.exact[n * K + k] = bf16_to_f32(h);
      }
    }
  return w;
}

struct Case {
  size_t M, N, K;
};

// bf16_x: the path may round x to bf16 (MatmulArgs::fast_bf16): each
// product is then off by up to 2⁻⁸ of itself, so allow 4e-3·Σ|x·w|.
void check(DType type, Case c, MatmulPath path, int level, ThreadPool& pool, bool bias_on, bool strided,
           bool bf16_x = false) {
  const size_t pad = strided ? 3 : 0;
  const size_t ldx = c.K + pad, ldy = c.N + pad;
  Weights w = make_weights(type, c.N, c.K, pad, c.M * 1000 + c.N * 10 + c.K);
  auto x = test::random_floats(c.M * ldx, c.N + 7);
  auto bias = test::random_floats(c.N, 99);
  std::vector<float> y(c.M * ldy, -7.0f);

  MatmulArgs a;
  a.M = c.M;
  a.N = c.N;
  a.K = c.K;
  a.x = x.data();
  a.ldx = strided ? ldx : 0;
  a.w = w.bytes.data();
  a.w_type = type;
  a.w_stride = strided ? w.stride * traits(type).type_size : 0;
  a.bias = bias_on ? bias.data() : nullptr;
  a.y = y.data();
  a.ldy = strided ? ldy : 0;
  a.fast_bf16 = bf16_x;
  matmul(a, pool, path, level);

  const double tol_rel = 2e-6 * std::sqrt(double(c.K)) + (bf16_x ? 4e-3 : 0.0);
  for (size_t m = 0; m < c.M; ++m) {
    for (size_t n = 0; n < c.N; ++n) {
      double s = bias_on ? bias[n] : 0.0, mag = std::abs(s);
      for (size_t k = 0; k < c.K; ++k) {
        double p = double(x[m * ldx + k]) * w.exact[n * c.K + k];
        s += p;
        mag += std::abs(p);
      }
      ASSERT_NEAR(y[m * ldy + n], s, tol_rel * mag + 1e-6)
          << dtype_name(type) << " " << level_name(level) << " path " << int(path) << " M=" << c.M << " N=" << c.N
          << " K=" << c.K << " at m=" << m << " n=" << n;
    }
    for (size_t n = c.N; n < ldy; ++n) ASSERT_EQ(y[m * ldy + n], -7.0f) << "wrote past N";
  }
}

constexpr DType kTypes[] = {DType::F32, DType::F16, DType::BF16};

TEST(Matmul, AllPathsLevelsTypesShapes) {
  ThreadPool pool(3);
  const Case cases[] = {{1, 1, 1},   {1, 7, 17},  {2, 33, 16},  {3, 5, 259},  {4, 100, 31},
                        {7, 33, 15}, {12, 8, 64}, {64, 67, 100}, {130, 300, 515}};
  for (DType t : kTypes)
    for (int level : isa_levels())
      for (MatmulPath path : {MatmulPath::Auto, MatmulPath::Gemv, MatmulPath::Gemm})
        for (const Case& c : cases) {
          check(t, c, path, level, pool, (c.K & 1) != 0, (c.N & 1) != 0);
          if (HasFatalFailure()) return;
        }
}

TEST(Matmul, Bf16DotProductPath) {
  if (!cpu_features().avx512bf16 || cpu_level() < 2) GTEST_SKIP() << "no AVX512-BF16";
  ThreadPool pool(3);
  const Case cases[] = {{5, 7, 17}, {7, 33, 1}, {12, 8, 64}, {13, 33, 2}, {64, 67, 100}, {130, 300, 515}, {3, 40, 1031}};
  for (const Case& c : cases)
    for (MatmulPath path : {MatmulPath::GemmBf16, MatmulPath::Auto}) {
      check(DType::BF16, c, path, 2, pool, (c.K & 1) != 0, (c.N & 1) != 0, true);
      if (HasFatalFailure()) return;
    }
}

TEST(Matmul, BlasPath) {
  ThreadPool pool(2);
  for (DType t : kTypes)
    for (Case c : {Case{1, 7, 17}, Case{7, 33, 15}, Case{130, 67, 259}}) {
      check(t, c, MatmulPath::Blas, -1, pool, true, true);
      if (HasFatalFailure()) return;
    }
}

TEST(Matmul, SingleThreadAndDefaults) {
  ThreadPool pool(1);
  for (DType t : kTypes) {
    check(t, {5, 37, 70}, MatmulPath::Auto, -1, pool, false, false);
    check(t, {1, 37, 70}, MatmulPath::Auto, -1, pool, true, false);
  }
}

TEST(Matmul, ReferenceMatchesDouble) {
  Weights w = make_weights(DType::BF16, 9, 33, 0, 5);
  auto x = test::random_floats(3 * 33, 6);
  std::vector<float> y(3 * 9);
  MatmulArgs a;
  a.M = 3;
  a.N = 9;
  a.K = 33;
  a.x = x.data();
  a.w = w.bytes.data();
  a.w_type = DType::BF16;
  a.y = y.data();
  matmul_ref(a);
  for (size_t m = 0; m < 3; ++m)
    for (size_t n = 0; n < 9; ++n) {
      double s = 0;
      for (size_t k = 0; k < 33; ++k) s += double(x[m * 33 + k]) * w.exact[n * 33 + k];
      EXPECT_NEAR(y[m * 9 + n], s, 1e-5);
    }
}

TEST(Matmul, ZeroKGivesBias) {
  float bias[3] = {1, 2, 3}, y[6] = {};
  float x = 0;
  uint16_t w = 0;
  MatmulArgs a;
  a.M = 2;
  a.N = 3;
  a.K = 0;
  a.x = &x;
  a.w = &w;
  a.w_type = DType::F16;
  a.bias = bias;
  a.y = y;
  matmul(a, default_pool());
  EXPECT_EQ(y[4], 2.0f);
}

TEST(Matmul, RejectsUnsupportedTypeAndLevel) {
  float x[4] = {}, y[4] = {};
  uint8_t w[64] = {};
  MatmulArgs a;
  a.M = 1;
  a.N = 1;
  a.K = 32;
  a.x = x;
  a.w = w;
  a.y = y;
  a.w_type = DType::I32;
  EXPECT_FALSE(matmul_supported(DType::I32));
  EXPECT_THROW(matmul(a, default_pool()), Error);
  a.w_type = DType::F32;
  EXPECT_THROW(matmul(a, default_pool(), MatmulPath::Auto, 3), Error);
}

}  // namespace
}  // namespace tf::kernels
