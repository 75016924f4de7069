// AVX2 + FMA + F16C matmul kernels (scalar twins in matmul.cpp). Same
// structure as the AVX-512 file with 8-wide vectors and 16 registers.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "kernels/cpu/matmul_impl.h"
#include "kernels/cpu/quant_matmul_impl.h"

namespace tf::kernels::mm::avx2 {
namespace {

// Loaders widen 8 elements of W exactly to f32. load_part reads only the n
// (< 8) elements that exist, through a zero-padded copy.
struct F32 {
  using T = float;
  static __m256 load(const float* p) { return _mm256_loadu_ps(p); }
};
struct F16 {
  using T = uint16_t;
  static __m256 load(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
};
struct BF16 {
  using T = uint16_t;
  static __m256 load(const uint16_t* p) {
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
};

template <class L>
inline __m256 load_part(const typename L::T* p, size_t n) {
  typename L::T buf[8] = {};
  std::memcpy(buf, p, n * sizeof(buf[0]));
  return L::load(buf);
}

inline __m256i lane_mask(size_t n) {  // lanes < n set
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(std::min<size_t>(n, 8))), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// ---------------------------------------------------------------- decode

// The 8 horizontal sums of a[0..7] in one vector (lane i = Σ a[i]).
inline __m256 hsum8(const __m256 a[8]) {
  __m256 lo = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
  __m256 hi = _mm256_hadd_ps(_mm256_hadd_ps(a[4], a[5]), _mm256_hadd_ps(a[6], a[7]));
  return _mm256_add_ps(_mm256_permute2f128_ps(lo, hi, 0x20), _mm256_permute2f128_ps(lo, hi, 0x31));
}

template <class L, int MB, int R>
inline void dot_tile(const float* x, size_t ldx, size_t K, const typename L::T* w, size_t ws, const float* bias,
                     float* y, size_t ldy) {
  __m256 acc[MB][R];
  for (int m = 0; m < MB; ++m)
    for (int r = 0; r < R; ++r) acc[m][r] = _mm256_setzero_ps();
  size_t k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = L::load(w + r * ws + k);
    for (int m = 0; m < MB; ++m) {
      __m256 xv = _mm256_loadu_ps(x + m * ldx + k);
      for (int r = 0; r < R; ++r) acc[m][r] = _mm256_fmadd_ps(xv, wv[r], acc[m][r]);
    }
  }
  if (k < K) {
    __m256 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = load_part<L>(w + r * ws + k, K - k);
    for (int m = 0; m < MB; ++m) {
      __m256 xv = load_part<F32>(x + m * ldx + k, K - k);
      for (int r = 0; r < R; ++r) acc[m][r] = _mm256_fmadd_ps(xv, wv[r], acc[m][r]);
    }
  }
  if constexpr (MB * R == 8) {
    alignas(32) float sums[8];
    _mm256_store_ps(sums, hsum8(&acc[0][0]));
    for (int m = 0; m < MB; ++m)
      for (int r = 0; r < R; ++r) y[m * ldy + r] = sums[m * R + r] + (bias ? bias[r] : 0.0f);
  } else {
    for (int m = 0; m < MB; ++m)
      for (int r = 0; r < R; ++r) y[m * ldy + r] = hsum(acc[m][r]) + (bias ? bias[r] : 0.0f);
  }
}

// 16 registers: at most 2 x rows x 4 W rows of accumulators at a time.
template <class L, int R>
inline void dot_block(const float* x, size_t ldx, size_t M, size_t K, const typename L::T* w, size_t ws,
                      const float* bias, float* y, size_t ldy) {
  size_t m = 0;
  for (; m + 2 <= M; m += 2) dot_tile<L, 2, R>(x + m * ldx, ldx, K, w, ws, bias, y + m * ldy, ldy);
  if (m < M) dot_tile<L, 1, R>(x + m * ldx, ldx, K, w, ws, bias, y + m * ldy, ldy);
}

template <class L>
void dot_rows(const void* xv, size_t x_stride, size_t M, size_t K, const void* wv, size_t w_stride,
              const float* bias, size_t n0, size_t n1, float* y, size_t ldy) {
  using T = typename L::T;
  const float* x = static_cast<const float*>(xv);
  const size_t ldx = x_stride / sizeof(float), ws = w_stride / sizeof(T);
  const T* w = static_cast<const T*>(wv);
  constexpr int R = 4;
  size_t n = n0;
  for (; n + R <= n1; n += R) dot_block<L, R>(x, ldx, M, K, w + n * ws, ws, bias ? bias + n : nullptr, y + n, ldy);
  for (; n < n1; ++n) dot_block<L, 1>(x, ldx, M, K, w + n * ws, ws, bias ? bias + n : nullptr, y + n, ldy);
}

// ---------------------------------------------------------------- prompt

constexpr int kNR = 16;
constexpr int kMR = 6;  // 12 accumulators + 2 B vectors + a broadcast: 15 of 16 registers

inline void transpose8(__m256 r[8]) {
  __m256 t[8], s[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    s[4 * i + 0] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0x44);
    s[4 * i + 1] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0xee);
    s[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    s[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xee);
  }
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x20);
    r[4 + j] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x31);
  }
}

// x rows -> a[k][mr] through 8x8 transposes (mr <= 8).
void pack_a(const float* x, size_t ldx, size_t rows, size_t K, size_t mr, void* dv) {
  float* dst = static_cast<float*>(dv);
  const __m256i lanes = lane_mask(mr);
  for (size_t k = 0; k < K; k += 8) {
    const size_t kn = std::min<size_t>(8, K - k);
    __m256 r[8];
    for (size_t i = 0; i < 8; ++i)
      r[i] = i >= rows ? _mm256_setzero_ps() : kn == 8 ? _mm256_loadu_ps(x + i * ldx + k) : load_part<F32>(x + i * ldx + k, kn);
    transpose8(r);
    for (size_t c = 0; c < kn; ++c) _mm256_maskstore_ps(dst + (k + c) * mr, lanes, r[c]);
  }
}

template <class L>
void pack_w(const void* wv, size_t w_stride, size_t n_rows, size_t k0, size_t kc, void* dv) {
  using T = typename L::T;
  float* dst = static_cast<float*>(dv);
  const T* w = static_cast<const T*>(wv) + k0;
  const size_t ws = w_stride / sizeof(T);
  for (size_t k = 0; k < kc; k += 8) {
    const size_t kn = std::min<size_t>(8, kc - k);
    for (size_t g = 0; g < kNR / 8; ++g) {
      __m256 r[8];
      for (size_t i = 0; i < 8; ++i) {
        size_t row = g * 8 + i;
        if (row >= n_rows)
          r[i] = _mm256_setzero_ps();
        else
          r[i] = kn == 8 ? L::load(w + row * ws + k) : load_part<L>(w + row * ws + k, kn);
      }
      transpose8(r);
      for (size_t c = 0; c < kn; ++c) _mm256_store_ps(dst + (k + c) * kNR + g * 8, r[c]);
    }
  }
}

template <int MR>
void ukernel(size_t kc, const void* av, const void* bv, float* c, size_t ldc, size_t n_valid, const float* bias,
             bool accumulate) {
  const float* a = static_cast<const float*>(av);
  const float* b = static_cast<const float*>(bv);
  __m256 c0[MR], c1[MR];
  for (int i = 0; i < MR; ++i) c0[i] = c1[i] = _mm256_setzero_ps();
  for (size_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
    }
    a += kMR;
    b += kNR;
  }
  const __m256i m0 = lane_mask(n_valid), m1 = lane_mask(n_valid > 8 ? n_valid - 8 : 0);
  __m256 add0 = _mm256_setzero_ps(), add1 = _mm256_setzero_ps();
  if (!accumulate && bias) {
    add0 = _mm256_maskload_ps(bias, m0);
    add1 = _mm256_maskload_ps(bias + 8, m1);
  }
  for (int i = 0; i < MR; ++i) {
    float* ci = c + i * ldc;
    __m256 v0 = c0[i], v1 = c1[i];
    if (accumulate) {
      v0 = _mm256_add_ps(v0, _mm256_maskload_ps(ci, m0));
      v1 = _mm256_add_ps(v1, _mm256_maskload_ps(ci + 8, m1));
    } else {
      v0 = _mm256_add_ps(v0, add0);
      v1 = _mm256_add_ps(v1, add1);
    }
    _mm256_maskstore_ps(ci, m0, v0);
    _mm256_maskstore_ps(ci + 8, m1, v1);
  }
}

template <int... I>
constexpr GemmKernel make_gemm(std::integer_sequence<int, I...>) {
  GemmKernel g;
  g.mr = kMR;
  g.nr = kNR;
  g.kc = 256;
  g.nc = 256;
  g.pack_a = &pack_a;
  ((g.ukernel[I + 1] = &ukernel<I + 1>), ...);
  return g;
}

template <class L>
constexpr TypeKernels make_type() {
  TypeKernels t;
  t.dot_rows = &dot_rows<L>;
  t.pack_w = &pack_w<L>;
  return t;
}

}  // namespace

const IsaTable& table() {
  static const IsaTable t = [] {
    IsaTable t{make_gemm(std::make_integer_sequence<int, kMR>{}), GemmKernel{}, make_type<F32>(), make_type<F16>(),
               make_type<BF16>(), {}};
    add_quant_kernels(t);
    return t;
  }();
  return t;
}

}  // namespace tf::kernels::mm::avx2
