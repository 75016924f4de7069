// Scalar kernels of the ggml block types (the twins of quant_matmul_simd.h):
// the activation quantizers with ggml's exact rounding, one integer dot
// product per weight block, and the table entries of every ISA level's
// fallbacks.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/quant_matmul_impl.h"
#include "tf/half.h"

namespace tf::kernels::mm {

using namespace tf::quant;

size_t x_row_bytes_q8_0(size_t K) { return K / kQK8_0 * sizeof(BlockQ8_0); }
size_t x_row_bytes_q8_1(size_t K) { return K / kQK8_1 * sizeof(BlockQ8_1); }
size_t x_row_bytes_q8_K(size_t K) { return K / kQK_K * sizeof(BlockQ8_K); }

namespace scalar {
namespace {

// ---------------------------------------------------------------- activations

// ggml's x86 quantize_row_q8_0 / _q8_1 (what llama.cpp's CPU backend runs):
// d = amax/127 stored as f16, q = round-to-even(x · 127/amax). The _ref
// versions multiply by 1/d and round half away from zero instead; on
// ties and at the last ulp the two differ, and we follow the former.
template <bool kSum>
void quantize_q8_32(const float* x, int8_t* qs, uint16_t* d_out, uint16_t* s_out) {
  float amax = 0;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.f;
  const float id = amax != 0.0f ? 127.f / amax : 0.0f;
  int sum = 0;
  for (int j = 0; j < 32; ++j) {
    qs[j] = int8_t(round_even(x[j] * id));
    sum += qs[j];
  }
  *d_out = f32_to_f16(d);
  if constexpr (kSum) *s_out = f32_to_f16(d * float(sum));
}

void prepare_q8_0(const float* x, size_t ldx, size_t M, size_t K, void* dst) {
  for (size_t m = 0; m < M; ++m) {
    BlockQ8_0* y = reinterpret_cast<BlockQ8_0*>(static_cast<uint8_t*>(dst) + m * x_row_bytes_q8_0(K));
    for (size_t b = 0; b < K / 32; ++b) quantize_q8_32<false>(x + m * ldx + 32 * b, y[b].qs, &y[b].d, nullptr);
  }
}

void prepare_q8_1(const float* x, size_t ldx, size_t M, size_t K, void* dst) {
  for (size_t m = 0; m < M; ++m) {
    BlockQ8_1* y = reinterpret_cast<BlockQ8_1*>(static_cast<uint8_t*>(dst) + m * x_row_bytes_q8_1(K));
    for (size_t b = 0; b < K / 32; ++b) quantize_q8_32<true>(x + m * ldx + 32 * b, y[b].qs, &y[b].d, &y[b].s);
  }
}

// ggml's quantize_row_q8_K_ref (the x86 build uses it as is): scaled by
// -127/max where max is the first value of largest magnitude, so that value
// becomes -127 (never -128); d = 1/iscale is kept in f32.
void quantize_q8_K_block(const float* x, BlockQ8_K& y) {
  float amax = 0, max = 0;
  for (int j = 0; j < kQK_K; ++j) {
    const float ax = std::fabs(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }
  if (amax == 0.0f) {
    std::memset(&y, 0, sizeof(y));
    return;
  }
  const float iscale = -127.f / max;
  for (int j = 0; j < kQK_K; ++j) y.qs[j] = int8_t(std::min(127, round_even(iscale * x[j])));
  for (int g = 0; g < kQK_K / 16; ++g) {
    int sum = 0;
    for (int i = 0; i < 16; ++i) sum += y.qs[16 * g + i];
    y.bsums[g] = int16_t(sum);
  }
  y.d = 1 / iscale;
}

void prepare_q8_K(const float* x, size_t ldx, size_t M, size_t K, void* dst) {
  for (size_t m = 0; m < M; ++m) {
    BlockQ8_K* y = reinterpret_cast<BlockQ8_K*>(static_cast<uint8_t*>(dst) + m * x_row_bytes_q8_K(K));
    for (size_t b = 0; b < K / kQK_K; ++b) quantize_q8_K_block(x + m * ldx + kQK_K * b, y[b]);
  }
}

// ---------------------------------------------------------------- block dot products

inline float h(uint16_t v) { return f16_to_f32(v); }

// Legacy 32-element blocks: unpack to integers, one integer dot product.
inline void nibbles(const uint8_t* qs, int q[32]) {
  for (int j = 0; j < 16; ++j) {
    q[j] = qs[j] & 0xF;
    q[j + 16] = qs[j] >> 4;
  }
}
inline void add_high_bits(const uint8_t qh[4], int q[32]) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  for (int j = 0; j < 32; ++j) q[j] |= int((bits >> j) & 1) << 4;
}
inline int idot32(const int q[32], const int8_t* x, int offset) {
  int s = 0;
  for (int j = 0; j < 32; ++j) s += (q[j] - offset) * x[j];
  return s;
}

struct Q4_0 {
  using W = BlockQ4_0;
  using X = BlockQ8_0;
  static float dot(const W& w, const X& x) {
    int q[32];
    nibbles(w.qs, q);
    return float(idot32(q, x.qs, 8)) * (h(w.d) * h(x.d));
  }
};
struct Q4_1 {
  using W = BlockQ4_1;
  using X = BlockQ8_1;
  static float dot(const W& w, const X& x) {
    int q[32];
    nibbles(w.qs, q);
    return float(idot32(q, x.qs, 0)) * (h(w.d) * h(x.d)) + h(w.m) * h(x.s);
  }
};
struct Q5_0 {
  using W = BlockQ5_0;
  using X = BlockQ8_0;
  static float dot(const W& w, const X& x) {
    int q[32];
    nibbles(w.qs, q);
    add_high_bits(w.qh, q);
    return float(idot32(q, x.qs, 16)) * (h(w.d) * h(x.d));
  }
};
struct Q5_1 {
  using W = BlockQ5_1;
  using X = BlockQ8_1;
  static float dot(const W& w, const X& x) {
    int q[32];
    nibbles(w.qs, q);
    add_high_bits(w.qh, q);
    return float(idot32(q, x.qs, 0)) * (h(w.d) * h(x.d)) + h(w.m) * h(x.s);
  }
};
struct Q8_0 {
  using W = BlockQ8_0;
  using X = BlockQ8_0;
  static float dot(const W& w, const X& x) {
    int s = 0;
    for (int j = 0; j < 32; ++j) s += w.qs[j] * x.qs[j];
    return float(s) * (h(w.d) * h(x.d));
  }
};
struct IQ4_NL {
  using W = BlockIQ4_NL;
  using X = BlockQ8_0;
  static float dot(const W& w, const X& x) {
    int s = 0;
    for (int j = 0; j < 16; ++j)
      s += kIQ4NLValues[w.qs[j] & 0xF] * x.qs[j] + kIQ4NLValues[w.qs[j] >> 4] * x.qs[j + 16];
    return float(s) * (h(w.d) * h(x.d));
  }
};

// Super-blocks: the 256 integer weights, one integer scale per `sub`
// elements, and an integer "min" per sub-block (Q2_K, Q4_K, Q5_K) that
// multiplies the sum of the activations (ggml keeps those sums as bsums).
// value = d·scale·q − dmin·min.
struct KDecoded {
  int8_t q[kQK_K];
  int scale[16], min[16];
  int sub = 16;
  float d = 0, dmin = 0;
};

inline float kdot(const KDecoded& k, const BlockQ8_K& x) {
  int isum = 0, msum = 0;
  const int n_sub = kQK_K / k.sub;
  for (int s = 0; s < n_sub; ++s) {
    int part = 0, xsum = 0;
    for (int i = s * k.sub; i < (s + 1) * k.sub; ++i) part += k.q[i] * x.qs[i];
    for (int g = s * k.sub / 16; g < (s + 1) * k.sub / 16; ++g) xsum += x.bsums[g];
    isum += k.scale[s] * part;
    msum += k.min[s] * xsum;
  }
  return x.d * (k.d * float(isum) - k.dmin * float(msum));
}

struct Q2_K {
  using W = BlockQ2_K;
  using X = BlockQ8_K;
  static float dot(const W& w, const X& x) {
    KDecoded k;
    k.d = h(w.d);
    k.dmin = h(w.dmin);
    for (int g = 0; g < 16; ++g) {
      k.scale[g] = w.scales[g] & 0xF;
      k.min[g] = w.scales[g] >> 4;
    }
    for (int half = 0; half < 2; ++half)
      for (int j = 0; j < 4; ++j)
        for (int l = 0; l < 32; ++l) k.q[128 * half + 32 * j + l] = int8_t((w.qs[32 * half + l] >> (2 * j)) & 3);
    return kdot(k, x);
  }
};
struct Q3_K {
  using W = BlockQ3_K;
  using X = BlockQ8_K;
  static float dot(const W& w, const X& x) {
    KDecoded k;
    k.d = h(w.d);
    int8_t sc[16];
    unpack_q3k_scales(w.scales, sc);
    for (int g = 0; g < 16; ++g) {
      k.scale[g] = sc[g];
      k.min[g] = 0;
    }
    for (int half = 0; half < 2; ++half)
      for (int j = 0; j < 4; ++j) {
        const int bit = 4 * half + j;
        for (int l = 0; l < 32; ++l) {
          const int q2 = (w.qs[32 * half + l] >> (2 * j)) & 3;
          k.q[128 * half + 32 * j + l] = int8_t(q2 - ((w.hmask[l] >> bit) & 1 ? 0 : 4));
        }
      }
    return kdot(k, x);
  }
};
struct Q4_K {
  using W = BlockQ4_K;
  using X = BlockQ8_K;
  static float dot(const W& w, const X& x) {
    KDecoded k;
    k.sub = 32;
    k.d = h(w.d);
    k.dmin = h(w.dmin);
    uint8_t sc[8], mn[8];
    unpack_k4_scales(w.scales, sc, mn);
    for (int s = 0; s < 8; ++s) {
      k.scale[s] = sc[s];
      k.min[s] = mn[s];
    }
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) {
        k.q[64 * c + l] = int8_t(w.qs[32 * c + l] & 0xF);
        k.q[64 * c + 32 + l] = int8_t(w.qs[32 * c + l] >> 4);
      }
    return kdot(k, x);
  }
};
struct Q5_K {
  using W = BlockQ5_K;
  using X = BlockQ8_K;
  static float dot(const W& w, const X& x) {
    KDecoded k;
    k.sub = 32;
    k.d = h(w.d);
    k.dmin = h(w.dmin);
    uint8_t sc[8], mn[8];
    unpack_k4_scales(w.scales, sc, mn);
    for (int s = 0; s < 8; ++s) {
      k.scale[s] = sc[s];
      k.min[s] = mn[s];
    }
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) {
        k.q[64 * c + l] = int8_t((w.qs[32 * c + l] & 0xF) | (((w.qh[l] >> (2 * c)) & 1) << 4));
        k.q[64 * c + 32 + l] = int8_t((w.qs[32 * c + l] >> 4) | (((w.qh[l] >> (2 * c + 1)) & 1) << 4));
      }
    return kdot(k, x);
  }
};
struct Q6_K {
  using W = BlockQ6_K;
  using X = BlockQ8_K;
  static float dot(const W& w, const X& x) {
    KDecoded k;
    k.d = h(w.d);
    for (int g = 0; g < 16; ++g) {
      k.scale[g] = w.scales[g];
      k.min[g] = 0;
    }
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = w.ql + 64 * half;
      const uint8_t* qh = w.qh + 32 * half;
      int8_t* q = k.q + 128 * half;
      for (int l = 0; l < 32; ++l) {
        q[l] = int8_t(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
        q[l + 32] = int8_t(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        q[l + 64] = int8_t(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        q[l + 96] = int8_t(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
    return kdot(k, x);
  }
};
struct IQ4_XS {
  using W = BlockIQ4_XS;
  using X = BlockQ8_K;
  static float dot(const W& w, const X& x) {
    KDecoded k;
    k.sub = 32;
    k.d = h(w.d);
    for (int ib = 0; ib < 8; ++ib) {
      k.scale[ib] = iq4xs_scale(w, ib);
      k.min[ib] = 0;
      for (int j = 0; j < 16; ++j) {
        k.q[32 * ib + j] = kIQ4NLValues[w.qs[16 * ib + j] & 0xF];
        k.q[32 * ib + j + 16] = kIQ4NLValues[w.qs[16 * ib + j] >> 4];
      }
    }
    return kdot(k, x);
  }
};

template <class T>
void dot_rows(const void* xv, size_t x_stride, size_t M, size_t K, const void* wv, size_t w_stride, const float* bias,
              size_t n0, size_t n1, float* y, size_t ldy) {
  const size_t nb = K / (sizeof(typename T::X) == sizeof(BlockQ8_K) ? kQK_K : 32);
  for (size_t n = n0; n < n1; ++n) {
    const auto* w = reinterpret_cast<const typename T::W*>(static_cast<const uint8_t*>(wv) + n * w_stride);
    for (size_t m = 0; m < M; ++m) {
      const auto* x = reinterpret_cast<const typename T::X*>(static_cast<const uint8_t*>(xv) + m * x_stride);
      float s = 0;
      for (size_t b = 0; b < nb; ++b) s += T::dot(w[b], x[b]);
      y[m * ldy + n] = s + (bias ? bias[n] : 0.0f);
    }
  }
}

template <class T, DType D, XFormat F>
void add(IsaTable& t) {
  TypeKernels& k = t.quant[size_t(D)];
  k.dot_rows = &dot_rows<T>;
  k.x_row_bytes = F == XFormat::Q8_0 ? &x_row_bytes_q8_0 : F == XFormat::Q8_1 ? &x_row_bytes_q8_1 : &x_row_bytes_q8_K;
  k.prepare_x = F == XFormat::Q8_0 ? &prepare_q8_0 : F == XFormat::Q8_1 ? &prepare_q8_1 : &prepare_q8_K;
  k.pack_w = &pack_w_dequant<D, 8>;
}

template <DType D>
void add_dequant(IsaTable& t) {
  TypeKernels& k = t.quant[size_t(D)];
  k.dot_rows = &dot_rows_dequant<D>;
  k.pack_w = &pack_w_dequant<D, 8>;
}

}  // namespace

void add_quant_kernels(IsaTable& t) {
  add<Q4_0, DType::Q4_0, XFormat::Q8_0>(t);
  add<Q4_1, DType::Q4_1, XFormat::Q8_1>(t);
  add<Q5_0, DType::Q5_0, XFormat::Q8_0>(t);
  add<Q5_1, DType::Q5_1, XFormat::Q8_1>(t);
  add<Q8_0, DType::Q8_0, XFormat::Q8_0>(t);
  add<IQ4_NL, DType::IQ4_NL, XFormat::Q8_0>(t);
  add<Q2_K, DType::Q2_K, XFormat::Q8_K>(t);
  add<Q3_K, DType::Q3_K, XFormat::Q8_K>(t);
  add<Q4_K, DType::Q4_K, XFormat::Q8_K>(t);
  add<Q5_K, DType::Q5_K, XFormat::Q8_K>(t);
  add<Q6_K, DType::Q6_K, XFormat::Q8_K>(t);
  add<IQ4_XS, DType::IQ4_XS, XFormat::Q8_K>(t);
  add_dequant<DType::IQ2_XXS>(t);
  add_dequant<DType::IQ2_XS>(t);
  add_dequant<DType::IQ2_S>(t);
  add_dequant<DType::IQ3_XXS>(t);
  add_dequant<DType::IQ3_S>(t);
  add_dequant<DType::IQ1_S>(t);
  add_dequant<DType::IQ1_M>(t);
  add_dequant<DType::TQ1_0>(t);
  add_dequant<DType::TQ2_0>(t);
}

}  // namespace scalar
}  // namespace tf::kernels::mm
