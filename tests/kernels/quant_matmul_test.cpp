// matmul with ggml block-type weights, every ISA level, against references
// written here from ggml's own code (ggml-quants.c dequantize_row_*,
// quantize_row_q8_K_ref, and the x86 quantize_row_q8_0 / _q8_1 that
// llama.cpp's CPU backend runs):
//  - the activation quantizers (prepare_x) must produce ggml's bytes;
//  - the dot kernels must equal Σ dequant(W)·dequant(x_q8) computed in double
//    (they only reorder exact integer sums and a few f32 scalings).
// W blocks are random bytes with sane f16 scales, so every bit pattern of
// the packed values is exercised.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/quant_interleave.h"
#include "kernels/cpu/matmul_impl.h"
#include "kernels/test_util.h"
#include "quant/blocks.h"
#include "tf/half.h"
#include "tf/rng.h"
#include "tf/thread_pool.h"

namespace tf::kernels {
namespace {

using namespace tf::quant;
using test::isa_levels;
using test::level_name;

float h(uint16_t v) { return f16_to_f32(v); }

// ---------------------------------------------------------------- reference activations

int nearest_int(float v) {  // ggml's nearest_int
  float t = v + 12582912.f;
  int i;
  std::memcpy(&i, &t, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// x86 quantize_row_q8_0 / q8_1: d = amax/127, q = rint(x · (127/amax)).
template <class B>
void ref_q8_32(const float* x, B& y, bool with_sum) {
  float amax = 0;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.f, id = amax != 0 ? 127.f / amax : 0.f;
  int sum = 0;
  for (int j = 0; j < 32; ++j) {
    y.qs[j] = int8_t(std::nearbyint(x[j] * id));
    sum += y.qs[j];
  }
  y.d = f32_to_f16(d);
  if constexpr (sizeof(B) == sizeof(BlockQ8_1)) {
    if (with_sum) y.s = f32_to_f16(d * float(sum));
  }
}

void ref_q8_K(const float* x, BlockQ8_K& y) {
  float max = 0, amax = 0;
  for (int j = 0; j < kQK_K; ++j)
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  if (!amax) {
    std::memset(&y, 0, sizeof(y));
    return;
  }
  const float iscale = -127.f / max;
  for (int j = 0; j < kQK_K; ++j) y.qs[j] = int8_t(std::min(127, nearest_int(iscale * x[j])));
  for (int j = 0; j < kQK_K / 16; ++j) {
    int s = 0;
    for (int i = 0; i < 16; ++i) s += y.qs[j * 16 + i];
    y.bsums[j] = int16_t(s);
  }
  y.d = 1 / iscale;
}

enum class XF { Q8_0, Q8_1, Q8_K };

XF x_format(DType t) {
  switch (t) {
    case DType::Q4_1: case DType::Q5_1: return XF::Q8_1;
    case DType::Q4_0: case DType::Q5_0: case DType::Q8_0: case DType::IQ4_NL: return XF::Q8_0;
    default: return XF::Q8_K;
  }
}

size_t x_block_bytes(XF f) { return f == XF::Q8_0 ? 34 : f == XF::Q8_1 ? 36 : 292; }
size_t x_block_elems(XF f) { return f == XF::Q8_K ? 256 : 32; }

// One row of x quantized, as bytes.
std::vector<uint8_t> ref_quantize_x(XF f, const float* x, size_t K) {
  const size_t nb = K / x_block_elems(f);
  std::vector<uint8_t> out(nb * x_block_bytes(f));
  for (size_t b = 0; b < nb; ++b) {
    uint8_t* p = out.data() + b * x_block_bytes(f);
    if (f == XF::Q8_0) ref_q8_32(x + 32 * b, *reinterpret_cast<BlockQ8_0*>(p), false);
    if (f == XF::Q8_1) ref_q8_32(x + 32 * b, *reinterpret_cast<BlockQ8_1*>(p), true);
    if (f == XF::Q8_K) ref_q8_K(x + 256 * b, *reinterpret_cast<BlockQ8_K*>(p));
  }
  return out;
}

// Dequantized x and, per 32-block of Q8_1, the stored s (ggml's Q4_1 / Q5_1
// dot uses the f16-rounded s for the min term).
std::vector<double> deq_x(XF f, const uint8_t* q, size_t K) {
  std::vector<double> v(K);
  for (size_t k = 0; k < K; ++k) {
    if (f == XF::Q8_0) {
      auto& b = reinterpret_cast<const BlockQ8_0*>(q)[k / 32];
      v[k] = double(h(b.d)) * b.qs[k % 32];
    } else if (f == XF::Q8_1) {
      auto& b = reinterpret_cast<const BlockQ8_1*>(q)[k / 32];
      v[k] = double(h(b.d)) * b.qs[k % 32];
    } else {
      auto& b = reinterpret_cast<const BlockQ8_K*>(q)[k / 256];
      v[k] = double(b.d) * b.qs[k % 256];
    }
  }
  return v;
}

// ---------------------------------------------------------------- reference dequantization

const int8_t kNL[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

void k4_scale_min(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {  // get_scale_min_k4
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
  }
}

// Dequantizes one block into y (the "min" part of Q4_1 / Q5_1 left out and
// returned in *min, since the dot product takes it through x's s).
void deq_block(DType t, const uint8_t* p, double* y, double* min) {
  *min = 0;
  switch (t) {
    case DType::Q4_0: {
      auto& b = *reinterpret_cast<const BlockQ4_0*>(p);
      for (int j = 0; j < 16; ++j) {
        y[j] = h(b.d) * ((b.qs[j] & 0xF) - 8);
        y[j + 16] = h(b.d) * ((b.qs[j] >> 4) - 8);
      }
      return;
    }
    case DType::Q4_1: {
      auto& b = *reinterpret_cast<const BlockQ4_1*>(p);
      for (int j = 0; j < 16; ++j) {
        y[j] = h(b.d) * (b.qs[j] & 0xF);
        y[j + 16] = h(b.d) * (b.qs[j] >> 4);
      }
      *min = h(b.m);
      return;
    }
    case DType::Q5_0: case DType::Q5_1: {
      const bool one = t == DType::Q5_1;
      const uint16_t d = one ? reinterpret_cast<const BlockQ5_1*>(p)->d : reinterpret_cast<const BlockQ5_0*>(p)->d;
      const uint8_t* qh = one ? reinterpret_cast<const BlockQ5_1*>(p)->qh : reinterpret_cast<const BlockQ5_0*>(p)->qh;
      const uint8_t* qs = one ? reinterpret_cast<const BlockQ5_1*>(p)->qs : reinterpret_cast<const BlockQ5_0*>(p)->qs;
      uint32_t bits;
      std::memcpy(&bits, qh, 4);
      for (int j = 0; j < 16; ++j) {
        const int x0 = (qs[j] & 0x0F) | int(((bits >> j) << 4) & 0x10);
        const int x1 = (qs[j] >> 4) | int((bits >> (j + 12)) & 0x10);
        y[j] = h(d) * (x0 - (one ? 0 : 16));
        y[j + 16] = h(d) * (x1 - (one ? 0 : 16));
      }
      if (one) *min = h(reinterpret_cast<const BlockQ5_1*>(p)->m);
      return;
    }
    case DType::Q8_0: {
      auto& b = *reinterpret_cast<const BlockQ8_0*>(p);
      for (int j = 0; j < 32; ++j) y[j] = h(b.d) * b.qs[j];
      return;
    }
    case DType::IQ4_NL: {
      auto& b = *reinterpret_cast<const BlockIQ4_NL*>(p);
      for (int j = 0; j < 16; ++j) {
        y[j] = h(b.d) * kNL[b.qs[j] & 0xF];
        y[j + 16] = h(b.d) * kNL[b.qs[j] >> 4];
      }
      return;
    }
    case DType::Q2_K: {
      auto& b = *reinterpret_cast<const BlockQ2_K*>(p);
      const uint8_t* q = b.qs;
      int is = 0;
      for (int n = 0; n < 256; n += 128) {
        int shift = 0;
        for (int j = 0; j < 4; ++j) {
          uint8_t sc = b.scales[is++];
          double dl = h(b.d) * (sc & 0xF), ml = h(b.dmin) * (sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * ((q[l] >> shift) & 3) - ml;
          sc = b.scales[is++];
          dl = h(b.d) * (sc & 0xF);
          ml = h(b.dmin) * (sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * ((q[l + 16] >> shift) & 3) - ml;
          shift += 2;
        }
        q += 32;
      }
      return;
    }
    case DType::Q3_K: {
      auto& b = *reinterpret_cast<const BlockQ3_K*>(p);
      uint32_t aux[4];
      std::memcpy(aux, b.scales, 12);
      const uint32_t tmp = aux[2], k1 = 0x03030303, k2 = 0x0f0f0f0f;
      aux[2] = ((aux[0] >> 4) & k2) | (((tmp >> 4) & k1) << 4);
      aux[3] = ((aux[1] >> 4) & k2) | (((tmp >> 6) & k1) << 4);
      aux[0] = (aux[0] & k2) | (((tmp >> 0) & k1) << 4);
      aux[1] = (aux[1] & k2) | (((tmp >> 2) & k1) << 4);
      const int8_t* scales = reinterpret_cast<const int8_t*>(aux);
      const uint8_t* q = b.qs;
      uint8_t m = 1;
      int is = 0;
      for (int n = 0; n < 256; n += 128) {
        int shift = 0;
        for (int j = 0; j < 4; ++j) {
          double dl = h(b.d) * (scales[is++] - 32);
          for (int l = 0; l < 16; ++l) *y++ = dl * (((q[l] >> shift) & 3) - ((b.hmask[l] & m) ? 0 : 4));
          dl = h(b.d) * (scales[is++] - 32);
          for (int l = 0; l < 16; ++l) *y++ = dl * (((q[l + 16] >> shift) & 3) - ((b.hmask[l + 16] & m) ? 0 : 4));
          shift += 2;
          m = uint8_t(m << 1);
        }
        q += 32;
      }
      return;
    }
    case DType::Q4_K: case DType::Q5_K: {
      const bool five = t == DType::Q5_K;
      const uint16_t d = five ? reinterpret_cast<const BlockQ5_K*>(p)->d : reinterpret_cast<const BlockQ4_K*>(p)->d;
      const uint16_t dm = five ? reinterpret_cast<const BlockQ5_K*>(p)->dmin : reinterpret_cast<const BlockQ4_K*>(p)->dmin;
      const uint8_t* sc = five ? reinterpret_cast<const BlockQ5_K*>(p)->scales : reinterpret_cast<const BlockQ4_K*>(p)->scales;
      const uint8_t* q = five ? reinterpret_cast<const BlockQ5_K*>(p)->qs : reinterpret_cast<const BlockQ4_K*>(p)->qs;
      const uint8_t* qh = five ? reinterpret_cast<const BlockQ5_K*>(p)->qh : nullptr;
      int is = 0;
      uint8_t u1 = 1, u2 = 2;
      for (int j = 0; j < 256; j += 64) {
        uint8_t s, m;
        k4_scale_min(is + 0, sc, &s, &m);
        const double d1 = h(d) * s, m1 = h(dm) * m;
        k4_scale_min(is + 1, sc, &s, &m);
        const double d2 = h(d) * s, m2 = h(dm) * m;
        for (int l = 0; l < 32; ++l) *y++ = d1 * ((q[l] & 0xF) + (qh && (qh[l] & u1) ? 16 : 0)) - m1;
        for (int l = 0; l < 32; ++l) *y++ = d2 * ((q[l] >> 4) + (qh && (qh[l] & u2) ? 16 : 0)) - m2;
        q += 32;
        is += 2;
        u1 = uint8_t(u1 << 2);
        u2 = uint8_t(u2 << 2);
      }
      return;
    }
    case DType::Q6_K: {
      auto& b = *reinterpret_cast<const BlockQ6_K*>(p);
      const uint8_t* ql = b.ql;
      const uint8_t* qh = b.qh;
      const int8_t* sc = b.scales;
      for (int n = 0; n < 256; n += 128) {
        for (int l = 0; l < 32; ++l) {
          const int is = l / 16;
          const int q1 = int8_t((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
          const int q2 = int8_t((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
          const int q3 = int8_t((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
          const int q4 = int8_t((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
          y[l + 0] = double(h(b.d)) * sc[is + 0] * q1;
          y[l + 32] = double(h(b.d)) * sc[is + 2] * q2;
          y[l + 64] = double(h(b.d)) * sc[is + 4] * q3;
          y[l + 96] = double(h(b.d)) * sc[is + 6] * q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
      }
      return;
    }
    case DType::IQ4_XS: {
      auto& b = *reinterpret_cast<const BlockIQ4_XS*>(p);
      const uint8_t* qs = b.qs;
      for (int ib = 0; ib < 8; ++ib) {
        const int ls = ((b.scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((b.scales_h >> 2 * ib) & 3) << 4);
        const double dl = double(h(b.d)) * (ls - 32);
        for (int j = 0; j < 16; ++j) {
          y[j] = dl * kNL[qs[j] & 0xf];
          y[j + 16] = dl * kNL[qs[j] >> 4];
        }
        y += 32;
        qs += 16;
      }
      return;
    }
    default: FAIL() << "no reference for " << dtype_name(t);
  }
}

// ---------------------------------------------------------------- random weights

// Byte offsets of the f16 scale fields of a block (they get sane values;
// everything else stays random).
std::vector<size_t> f16_fields(DType t) {
  switch (t) {
    case DType::Q4_0: case DType::Q5_0: case DType::Q8_0: case DType::IQ4_NL: case DType::IQ4_XS: return {0};
    case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: return {0, 2};
    case DType::Q2_K: return {80, 82};
    case DType::Q3_K: return {108};
    case DType::Q6_K: return {208};
    default: return {};
  }
}

std::vector<uint8_t> random_blocks(DType t, size_t n_blocks, uint64_t seed) {
  Rng rng(seed);
  const size_t bb = traits(t).type_size;
  std::vector<uint8_t> v(n_blocks * bb);
  for (auto& b : v) b = uint8_t(rng.next_u64() >> 56);
  for (size_t i = 0; i < n_blocks; ++i)
    for (size_t off : f16_fields(t)) {
      const uint16_t d = f32_to_f16((0.002f + 0.02f * rng.uniform()) * (rng.uniform() < 0.2 ? -1.f : 1.f));
      std::memcpy(&v[i * bb + off], &d, 2);
    }
  return v;
}

constexpr DType kQuantTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::IQ4_NL,
                                 DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS};

struct Case {
  size_t M, N, K;
};

// path Gemv: the integer kernels (x quantized as ggml does); path Gemm: W
// dequantized into the f32 engine's panels, x used as is.
// interleaved: W repacked by interleave_weights (the load-time layout of the
// decode kernels) instead of read in the file's layout.
void check_dot(DType t, Case c, int level, ThreadPool& pool, bool bias_on, bool strided,
               MatmulPath path = MatmulPath::Gemv, bool interleaved = false) {
  const XF f = x_format(t);
  const size_t bs = traits(t).block_size, bb = traits(t).type_size;
  const size_t row_blocks = c.K / bs + (strided ? 1 : 0);  // a padding block of garbage
  const size_t w_stride = row_blocks * bb;
  auto w = random_blocks(t, c.N * row_blocks, c.M * 7919 + c.N * 31 + c.K + size_t(t));
  const size_t ldx = c.K + (strided ? 5 : 0), ldy = c.N + (strided ? 3 : 0);
  auto x = test::random_floats(c.M * ldx, c.N + 11);
  if (c.M > 2)
    for (size_t k = 0; k < c.K; ++k) x[1 * ldx + k] = 0.0f;  // an all-zero row (scale 0)
  auto bias = test::random_floats(c.N, 5);
  std::vector<float> y(c.M * ldy, -7.0f);

  MatmulArgs a;
  a.M = c.M;
  a.N = c.N;
  a.K = c.K;
  a.x = x.data();
  a.ldx = ldx;
  a.w = w.data();
  a.w_type = t;
  a.w_stride = w_stride;
  a.bias = bias_on ? bias.data() : nullptr;
  a.y = y.data();
  a.ldy = ldy;
  std::vector<uint8_t> packed;
  if (interleaved) {
    packed.resize(interleaved_weight_bytes(t, c.N, c.K));
    interleave_weights(t, w.data(), w_stride, c.N, c.K, packed.data(), pool);
    a.w = packed.data();
    a.w_interleaved = true;
  }
  matmul(a, pool, path, level);

  std::vector<double> wd(c.K);
  for (size_t m = 0; m < c.M; ++m) {
    auto xq = ref_quantize_x(f, x.data() + m * ldx, c.K);
    auto xd = deq_x(f, xq.data(), c.K);
    const bool f32_x = path == MatmulPath::Gemm;
    if (f32_x)
      for (size_t k = 0; k < c.K; ++k) xd[k] = x[m * ldx + k];
    for (size_t n = 0; n < c.N; ++n) {
      double s = bias_on ? bias[n] : 0.0, mag = std::abs(s);
      for (size_t b = 0; b < c.K / bs; ++b) {
        double mn;
        deq_block(t, w.data() + n * w_stride + b * bb, wd.data() + b * bs, &mn);
        if (mn != 0) {  // Q4_1 / Q5_1: m · s of the x block
          double sx = h(reinterpret_cast<const BlockQ8_1*>(xq.data())[b].s);
          if (f32_x) {
            sx = 0;
            for (size_t k = b * bs; k < (b + 1) * bs; ++k) sx += x[m * ldx + k];
          }
          s += mn * sx;
          mag += std::abs(mn * sx);
        }
      }
      for (size_t k = 0; k < c.K; ++k) {
        s += wd[k] * xd[k];
        mag += std::abs(wd[k] * xd[k]);
      }
      ASSERT_NEAR(y[m * ldy + n], s, 2e-6 * mag + 1e-5)
          << dtype_name(t) << " " << level_name(level) << " M=" << c.M << " N=" << c.N << " K=" << c.K
          << " at m=" << m << " n=" << n;
    }
    for (size_t n = c.N; n < ldy; ++n) ASSERT_EQ(y[m * ldy + n], -7.0f) << "wrote past N";
  }
}

TEST(QuantMatmul, ActivationQuantizersMatchGgml) {
  const size_t K = 512;
  auto x = test::random_floats(3 * K, 17, 3.0f);
  for (size_t k = 0; k < K; ++k) x[K + k] = 0.0f;        // row 1: all zero
  for (size_t k = 0; k < 32; ++k) x[2 * K + k] = k % 2 ? 1.0f : -1.0f;  // ties of magnitude
  x[2 * K + 300] = -5.0f;
  x[2 * K + 301] = 5.0f;  // the first of equal magnitudes sets Q8_K's sign
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q4_K})
    for (int level : isa_levels()) {
      const mm::TypeKernels* tk = mm::type_kernels(t, level);
      ASSERT_NE(tk, nullptr);
      ASSERT_NE(tk->prepare_x, nullptr);
      const XF f = x_format(t);
      const size_t rb = tk->x_row_bytes(K);
      ASSERT_EQ(rb, K / x_block_elems(f) * x_block_bytes(f));
      std::vector<uint8_t> got(3 * rb);
      tk->prepare_x(x.data(), K, 3, K, got.data());
      for (size_t m = 0; m < 3; ++m) {
        auto want = ref_quantize_x(f, x.data() + m * K, K);
        ASSERT_EQ(0, std::memcmp(want.data(), got.data() + m * rb, rb))
            << dtype_name(t) << "'s activations at " << level_name(level) << ", row " << m;
      }
    }
}

TEST(QuantMatmul, DotKernelsEveryTypeAndLevel) {
  ThreadPool pool(3);
  for (DType t : kQuantTypes) {
    const size_t bs = traits(t).block_size;
    const Case cases[] = {{1, 1, bs}, {1, 7, 3 * bs}, {2, 5, 2 * bs}, {3, 9, bs}, {5, 17, 2 * bs}, {1, 33, 4 * bs},
                          {70, 6, bs}, {23, 45, 2 * bs}, {17, 64, bs}};
    for (int level : isa_levels())
      for (const Case& c : cases) {
        check_dot(t, c, level, pool, (c.N & 1) != 0, (c.M & 1) != 0);
        if (HasFatalFailure()) return;
      }
  }
}

TEST(QuantMatmul, GemmPathDequantizesIntoPanels) {
  ThreadPool pool(3);
  for (DType t : kQuantTypes) {
    const size_t bs = traits(t).block_size;
    for (int level : isa_levels())
      for (const Case& c : {Case{13, 37, 2 * bs}, Case{3, 5, bs}}) {
        check_dot(t, c, level, pool, true, (c.M & 1) != 0, MatmulPath::Gemm);
        if (HasFatalFailure()) return;
      }
  }
}

TEST(QuantMatmul, InterleavedWeightsGiveTheSameProducts) {
  ThreadPool pool(3);
  size_t tested = 0;
  for (DType t : kQuantTypes) {
    if (!can_interleave(t)) continue;
    ++tested;
    const size_t bs = traits(t).block_size;
    // N: whole groups of 16, groups plus leftover rows, leftover rows only
    const Case cases[] = {{1, 16, bs}, {1, 48, 4 * bs}, {3, 53, 2 * bs}, {5, 21, bs}, {70, 32, 2 * bs}, {2, 7, bs},
                          {4, 80, 3 * bs}};
    for (const Case& c : cases) {
      check_dot(t, c, -1, pool, (c.N & 1) != 0, (c.M & 1) != 0, MatmulPath::Auto, true);
      if (HasFatalFailure()) return;
    }
  }
  if (tested == 0) GTEST_SKIP() << "this CPU has no interleaved kernels (they need AVX512-VNNI)";
  EXPECT_EQ(tested, 4u);
}

TEST(QuantMatmul, DeinterleavingGivesBackTheFileBytes) {
  ThreadPool pool(2);
  for (DType t : {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K}) {
    const size_t N = 48, K = 2 * traits(t).block_size, row = K / traits(t).block_size * traits(t).type_size;
    auto w = random_blocks(t, N * K / traits(t).block_size, 99);
    std::vector<uint8_t> packed(mm::interleaved_bytes(t, N, K)), back(N * row);
    mm::interleave_groups(t, w.data(), row, N, K, 0, mm::interleave_tasks(N), packed.data());
    mm::deinterleave_groups(t, packed.data(), K, 0, N / mm::kInterleaveRows, back.data());
    EXPECT_EQ(w, back) << dtype_name(t);
  }
}

TEST(QuantMatmul, AutoPathAndSupport) {
  ThreadPool pool(2);
  for (DType t : kQuantTypes) {
    EXPECT_TRUE(matmul_supported(t)) << dtype_name(t);
    check_dot(t, {4, 9, 2 * traits(t).block_size}, -1, pool, true, false);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace tf::kernels
