// SIMD kernels of the ggml block types, written once on 256-bit integer
// vectors and compiled twice: in quant_matmul_avx2.cpp (AVX2: vpmaddubsw +
// vpmaddwd) and in quant_matmul_avx512.cpp (AVX512-VNNI: vpdpbusd / vpdpwssd,
// and 32 vector registers for larger tiles). The scalar twins are in
// quant_matmul.cpp. Include only from those two files, after defining
// TF_QUANT_ISA to the ISA's namespace.
//
// Every kernel is an integer dot product per block of 32 (or sub-block of 16
// / 32 inside a 256 super-block) of W against the quantized activations,
// scaled in f32 once per block (super-block for the k-quants):
//  - unsigned weights (nibbles, 5/6-bit values) multiply signed x directly;
//    a constant offset (Q4_0's 8, Q6_K's 32, …) is taken off through the
//    sums of x (ggml's bsums for Q8_K, a dot with the offset for Q8_0);
//  - signed weights (Q8_0, the IQ4 codebook) multiply |w| by x with w's sign.
// A tile is R rows of W against MB rows of x: each W block is unpacked once
// and used MB times, each x block loaded once and used R times.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/quant_matmul_impl.h"

#ifndef TF_QUANT_ISA
#error "define TF_QUANT_ISA before including quant_matmul_simd.h"
#endif

namespace tf::kernels::mm::TF_QUANT_ISA {
namespace {

using namespace tf::quant;

// ---------------------------------------------------------------- primitives

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
// acc + Σ over each group of 4 bytes of u8(u)·s8(s), per 32-bit lane
inline __m256i dot_u8s8(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }
// acc + Σ over each pair of int16 of a·b, per 32-bit lane
inline __m256i madd_i16(__m256i acc, __m256i a, __m256i b) { return _mm256_dpwssd_epi32(acc, a, b); }
#else
// vpmaddubsw saturates pairs at ±32767: every caller keeps u·s pairs below
// (u <= 128 with |s| <= 127).
inline __m256i dot_u8s8(__m256i acc, __m256i u, __m256i s) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}
inline __m256i madd_i16(__m256i acc, __m256i a, __m256i b) { return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b)); }
#endif

inline float fp16(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
  return _mm_cvtsi128_si32(s);
}

inline __m256i loadu(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// 16 bytes of nibbles -> 32 bytes: low nibbles (elements 0..15), then high.
inline __m256i nibbles32(const uint8_t* p) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i b = _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
  return _mm256_and_si256(b, _mm256_set1_epi8(0x0F));
}

// Bit j of the 32-bit word at p -> 0xFF in byte j, else 0.
inline __m256i bits_to_bytes(const uint8_t* p) {
  uint32_t bits;
  std::memcpy(&bits, p, 4);
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(int32_t(bits)),
      _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0x0000000000000000));
  const __m256i sel = _mm256_set1_epi64x(int64_t(0x8040201008040201ull));
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, sel), sel);
}

// Bit `bit` of each of 32 bytes -> that bit moved to position `to`.
inline __m256i bit_of_bytes(__m256i v, int bit, int to) {
  const __m256i b = _mm256_and_si256(_mm256_srli_epi16(v, bit), _mm256_set1_epi8(1));
  return _mm256_slli_epi16(b, to);
}

inline __m256i iq4nl_lookup(__m256i idx) {
  const __m128i lut = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4NLValues));
  return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(lut), idx);
}

// ---------------------------------------------------------------- activations

// Same rounding as the scalar quantize_q8_32 (x · 127/amax, ties to even:
// vcvtps2dq under the default rounding mode).
template <bool kSum>
inline void quantize_q8_32(const float* x, int8_t* qs, uint16_t* d_out, uint16_t* s_out) {
  __m256 v[4];
  __m256 amax = _mm256_setzero_ps();
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm256_loadu_ps(x + 8 * i);
    amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[i]));
  }
  __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(amax, 1), _mm256_castps256_ps128(amax));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float max = _mm_cvtss_f32(m4);
  const float d = max / 127.f;
  const __m256 id = _mm256_set1_ps(max != 0.0f ? 127.f / max : 0.0f);
  __m256i q[4];
  for (int i = 0; i < 4; ++i) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], id));
  *d_out = _cvtss_sh(d, 0);
  if constexpr (kSum) {
    const int sum = hsum_i32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
    *s_out = _cvtss_sh(d * float(sum), 0);
  }
  const __m256i p01 = _mm256_packs_epi32(q[0], q[1]), p23 = _mm256_packs_epi32(q[2], q[3]);
  const __m256i b = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), b);
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

// ggml's quantize_row_q8_K_ref: scale -127/max with max the first value of
// largest magnitude.
inline void quantize_q8_K_block(const float* x, BlockQ8_K& y) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 amax = _mm256_setzero_ps();
  for (int i = 0; i < kQK_K; i += 8) amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
  __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(amax, 1), _mm256_castps256_ps128(amax));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float am = _mm_cvtss_f32(m4);
  if (am == 0.0f) {
    std::memset(&y, 0, sizeof(y));
    return;
  }
  float max = 0;
  const __m256 amv = _mm256_set1_ps(am);
  for (int i = 0; i < kQK_K; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, v), amv, _CMP_EQ_OQ));
    if (hit) {
      max = x[i + __builtin_ctz(unsigned(hit))];
      break;
    }
  }
  const float iscale = -127.f / max;
  const __m256 is = _mm256_set1_ps(iscale);
  const __m256i lim = _mm256_set1_epi32(127);
  for (int i = 0; i < kQK_K; i += 32) {
    __m256i q[4];
    for (int j = 0; j < 4; ++j)
      q[j] = _mm256_min_epi32(lim, _mm256_cvtps_epi32(_mm256_mul_ps(is, _mm256_loadu_ps(x + i + 8 * j))));
    const __m256i p01 = _mm256_packs_epi32(q[0], q[1]), p23 = _mm256_packs_epi32(q[2], q[3]);
    const __m256i b =
        _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y.qs + i), b);
    // sums of 16: bytes -> int16 pairs -> int32 quads
    const __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), b);
    const __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));  // 8 sums of 4
    const __m256i s2 = _mm256_hadd_epi32(s32, s32);                     // lane: sums of 8
    const __m256i s4 = _mm256_hadd_epi32(s2, s2);                       // lane 0: 16 elems
    y.bsums[i / 16] = int16_t(_mm256_extract_epi32(s4, 0));
    y.bsums[i / 16 + 1] = int16_t(_mm256_extract_epi32(s4, 4));
  }
  y.d = 1 / iscale;
}

void prepare_q8_K(const float* x, size_t ldx, size_t M, size_t K, void* dst) {
  for (size_t m = 0; m < M; ++m) {
    BlockQ8_K* y = reinterpret_cast<BlockQ8_K*>(static_cast<uint8_t*>(dst) + m * x_row_bytes_q8_K(K));
    for (size_t b = 0; b < K / kQK_K; ++b) quantize_q8_K_block(x + m * ldx + kQK_K * b, y[b]);
  }
}

// ---------------------------------------------------------------- 32-element blocks

// weights(): the block's 32 values in element order, as unsigned bytes
// (kSigned false; the true value is byte − kOffset) or signed bytes.
struct Q4_0 {
  using W = BlockQ4_0;
  using X = BlockQ8_0;
  static constexpr int kOffset = 8;
  static constexpr bool kSigned = false, kMin = false;
  static __m256i weights(const W& b) { return nibbles32(b.qs); }
};
struct Q4_1 {
  using W = BlockQ4_1;
  using X = BlockQ8_1;
  static constexpr int kOffset = 0;
  static constexpr bool kSigned = false, kMin = true;
  static __m256i weights(const W& b) { return nibbles32(b.qs); }
};
struct Q5_0 {
  using W = BlockQ5_0;
  using X = BlockQ8_0;
  static constexpr int kOffset = 16;
  static constexpr bool kSigned = false, kMin = false;
  static __m256i weights(const W& b) {
    return _mm256_or_si256(nibbles32(b.qs), _mm256_and_si256(bits_to_bytes(b.qh), _mm256_set1_epi8(0x10)));
  }
};
struct Q5_1 {
  using W = BlockQ5_1;
  using X = BlockQ8_1;
  static constexpr int kOffset = 0;
  static constexpr bool kSigned = false, kMin = true;
  static __m256i weights(const W& b) {
    return _mm256_or_si256(nibbles32(b.qs), _mm256_and_si256(bits_to_bytes(b.qh), _mm256_set1_epi8(0x10)));
  }
};
struct Q8_0 {
  using W = BlockQ8_0;
  using X = BlockQ8_0;
  static constexpr int kOffset = 0;
  static constexpr bool kSigned = true, kMin = false;
  static __m256i weights(const W& b) { return loadu(b.qs); }
};
struct IQ4_NL {
  using W = BlockIQ4_NL;
  using X = BlockQ8_0;
  static constexpr int kOffset = 0;
  static constexpr bool kSigned = true, kMin = false;
  static __m256i weights(const W& b) { return iq4nl_lookup(nibbles32(b.qs)); }
};

template <class T>
inline float min_of(const typename T::W& b) {
  if constexpr (T::kMin)
    return fp16(b.m);
  else
    return 0.0f;
}
template <class T>
inline float xsum_of(const typename T::X& b) {
  if constexpr (T::kMin)
    return fp16(b.s);
  else
    return 0.0f;
}

// How far ahead of the block being read each W row is prefetched: the rows
// of a tile are separate streams, too many for the hardware prefetcher to
// run far enough ahead at decode (M = 1), where nothing else hides latency.
constexpr size_t kPrefetchBytes = 1024;

template <class T, int MB, int R>
void tile32(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, size_t nb, const float* bias, float* y,
            size_t ldy) {
  using W = typename T::W;
  using X = typename T::X;
  __m256 acc[MB][R];
  float extra[MB][R] = {};
  for (int m = 0; m < MB; ++m)
    for (int r = 0; r < R; ++r) acc[m][r] = _mm256_setzero_ps();
  for (size_t b = 0; b < nb; ++b) {
    __m256i wq[R], aw[R];
    float dw[R], mw[R];
    for (int r = 0; r < R; ++r) {
      const W& wb = reinterpret_cast<const W*>(w + size_t(r) * ws)[b];
      _mm_prefetch(reinterpret_cast<const char*>(&wb) + kPrefetchBytes, _MM_HINT_T0);
      wq[r] = T::weights(wb);
      if constexpr (T::kSigned) aw[r] = _mm256_sign_epi8(wq[r], wq[r]);
      dw[r] = fp16(wb.d);
      mw[r] = min_of<T>(wb);
    }
    for (int m = 0; m < MB; ++m) {
      const X& xb = reinterpret_cast<const X*>(x + size_t(m) * xs)[b];
      const __m256i xq = loadu(xb.qs);
      const float dx = fp16(xb.d), sx = xsum_of<T>(xb);
      __m256i base = _mm256_setzero_si256();
      if constexpr (T::kOffset != 0)
        base = _mm256_sub_epi32(base, dot_u8s8(_mm256_setzero_si256(), _mm256_set1_epi8(T::kOffset), xq));
      for (int r = 0; r < R; ++r) {
        __m256i i;
        if constexpr (T::kSigned)
          i = dot_u8s8(_mm256_setzero_si256(), aw[r], _mm256_sign_epi8(xq, wq[r]));
        else
          i = dot_u8s8(base, wq[r], xq);
        acc[m][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), _mm256_set1_ps(dw[r] * dx), acc[m][r]);
        if constexpr (T::kMin) extra[m][r] += mw[r] * sx;
      }
    }
  }
  for (int m = 0; m < MB; ++m)
    for (int r = 0; r < R; ++r) y[size_t(m) * ldy + size_t(r)] = hsum(acc[m][r]) + extra[m][r] + (bias ? bias[r] : 0.0f);
}

// ---------------------------------------------------------------- 256-element super-blocks

// Per super-block and W row, begin() unpacks the scales; group(g) gives the
// 32 weights of elements 32g .. 32g+31 (unsigned, or signed if kSigned) and
// scales(g) the int16 scale of each of its 16 byte pairs. The block's value
// is x.d · (d · Σ scale·q·x − dc · Σ corr·bsums): corr (per 16 elements) is
// the min (Q2_K, Q4_K, Q5_K; dc = dmin) or the offset times the scale
// (Q3_K, Q6_K; dc = d).
struct KRow {
  float d = 0, dc = 0;
  alignas(32) int16_t sc[16];  // per 16 elements (types with 32-element scales repeat each)
  __m256i corr;                // int16 per 16 elements
};

inline __m256i pair_scales(const KRow& row, int g) {
  return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(row.sc[2 * g])), _mm_set1_epi16(row.sc[2 * g + 1]),
                                 1);
}

struct Q2_K {
  using W = BlockQ2_K;
  static constexpr bool kSigned = false, kCorr = true;
  static void begin(const W& b, KRow& row) {
    row.d = fp16(b.d);
    row.dc = fp16(b.dmin);
    alignas(32) int16_t mn[16];
    for (int g = 0; g < 16; ++g) {
      row.sc[g] = int16_t(b.scales[g] & 0xF);
      mn[g] = int16_t(b.scales[g] >> 4);
    }
    row.corr = _mm256_load_si256(reinterpret_cast<const __m256i*>(mn));
  }
  static __m256i group(const W& b, int g) { return bit_pair(loadu(b.qs + 32 * (g / 4)), 2 * (g % 4)); }
  static __m256i bit_pair(__m256i v, int shift) {
    return _mm256_and_si256(_mm256_srli_epi16(v, shift), _mm256_set1_epi8(3));
  }
  static __m256i scales(const KRow& row, int g) { return pair_scales(row, g); }
};

struct Q3_K {
  using W = BlockQ3_K;
  static constexpr bool kSigned = false, kCorr = true;
  static void begin(const W& b, KRow& row) {
    row.d = row.dc = fp16(b.d);
    int8_t sc[16];
    unpack_q3k_scales(b.scales, sc);
    alignas(32) int16_t c[16];
    for (int g = 0; g < 16; ++g) {
      row.sc[g] = sc[g];
      c[g] = int16_t(4 * sc[g]);  // stored q = true q + 4
    }
    row.corr = _mm256_load_si256(reinterpret_cast<const __m256i*>(c));
  }
  static __m256i group(const W& b, int g) {
    const __m256i lo = Q2_K::bit_pair(loadu(b.qs + 32 * (g / 4)), 2 * (g % 4));
    return _mm256_or_si256(lo, bit_of_bytes(loadu(b.hmask), g, 2));
  }
  static __m256i scales(const KRow& row, int g) { return pair_scales(row, g); }
};

// Q4_K and Q5_K: 8 scales and 8 mins, one each per 32 elements.
inline void begin_k4(uint16_t d, uint16_t dmin, const uint8_t* scales, KRow& row) {
  row.d = fp16(d);
  row.dc = fp16(dmin);
  uint8_t sc[8], mn[8];
  unpack_k4_scales(scales, sc, mn);
  alignas(32) int16_t c[16];
  for (int j = 0; j < 8; ++j) {
    row.sc[2 * j] = row.sc[2 * j + 1] = sc[j];
    c[2 * j] = c[2 * j + 1] = mn[j];
  }
  row.corr = _mm256_load_si256(reinterpret_cast<const __m256i*>(c));
}

struct Q4_K {
  using W = BlockQ4_K;
  static constexpr bool kSigned = false, kCorr = true;
  static void begin(const W& b, KRow& row) { begin_k4(b.d, b.dmin, b.scales, row); }
  static __m256i group(const W& b, int g) {
    const __m256i q = loadu(b.qs + 32 * (g / 2));
    return _mm256_and_si256(g % 2 ? _mm256_srli_epi16(q, 4) : q, _mm256_set1_epi8(0x0F));
  }
  static __m256i scales(const KRow& row, int g) { return _mm256_set1_epi16(row.sc[2 * g]); }
};

struct Q5_K {
  using W = BlockQ5_K;
  static constexpr bool kSigned = false, kCorr = true;
  static void begin(const W& b, KRow& row) { begin_k4(b.d, b.dmin, b.scales, row); }
  static __m256i group(const W& b, int g) {
    const __m256i q = loadu(b.qs + 32 * (g / 2));
    const __m256i lo = _mm256_and_si256(g % 2 ? _mm256_srli_epi16(q, 4) : q, _mm256_set1_epi8(0x0F));
    return _mm256_or_si256(lo, bit_of_bytes(loadu(b.qh), g, 4));
  }
  static __m256i scales(const KRow& row, int g) { return _mm256_set1_epi16(row.sc[2 * g]); }
};

struct Q6_K {
  using W = BlockQ6_K;
  static constexpr bool kSigned = false, kCorr = true;
  static void begin(const W& b, KRow& row) {
    row.d = row.dc = fp16(b.d);
    alignas(32) int16_t c[16];
    for (int g = 0; g < 16; ++g) {
      row.sc[g] = b.scales[g];
      c[g] = int16_t(32 * b.scales[g]);  // stored q = true q + 32
    }
    row.corr = _mm256_load_si256(reinterpret_cast<const __m256i*>(c));
  }
  static __m256i group(const W& b, int g) {
    const int half = g / 4, c = g % 4;
    const __m256i ql = loadu(b.ql + 64 * half + 32 * (c & 1));
    const __m256i lo = _mm256_and_si256(c >= 2 ? _mm256_srli_epi16(ql, 4) : ql, _mm256_set1_epi8(0x0F));
    const __m256i hi =
        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(loadu(b.qh + 32 * half), 2 * c), _mm256_set1_epi8(3)), 4);
    return _mm256_or_si256(lo, hi);
  }
  static __m256i scales(const KRow& row, int g) { return pair_scales(row, g); }
};

struct IQ4_XS {
  using W = BlockIQ4_XS;
  static constexpr bool kSigned = true, kCorr = false;
  static void begin(const W& b, KRow& row) {
    row.d = fp16(b.d);
    for (int ib = 0; ib < 8; ++ib) row.sc[2 * ib] = row.sc[2 * ib + 1] = int16_t(iq4xs_scale(b, ib));
  }
  static __m256i group(const W& b, int g) { return iq4nl_lookup(nibbles32(b.qs + 16 * g)); }
  static __m256i scales(const KRow& row, int g) { return _mm256_set1_epi16(row.sc[2 * g]); }
};

template <class T, int MB, int R>
void tile256(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, size_t nb, const float* bias, float* y,
             size_t ldy) {
  using W = typename T::W;
  __m256 acc[MB][R];
  float extra[MB][R] = {};
  for (int m = 0; m < MB; ++m)
    for (int r = 0; r < R; ++r) acc[m][r] = _mm256_setzero_ps();
  for (size_t b = 0; b < nb; ++b) {
    const W* wb[R];
    KRow row[R];
    for (int r = 0; r < R; ++r) {
      wb[r] = reinterpret_cast<const W*>(w + size_t(r) * ws) + b;
      for (size_t at = 0; at < sizeof(W); at += 64)
        _mm_prefetch(reinterpret_cast<const char*>(wb[r]) + kPrefetchBytes + at, _MM_HINT_T0);
      T::begin(*wb[r], row[r]);
    }
    const BlockQ8_K* xb[MB];
    for (int m = 0; m < MB; ++m) xb[m] = reinterpret_cast<const BlockQ8_K*>(x + size_t(m) * xs) + b;
    __m256i isum[MB][R];
    for (int m = 0; m < MB; ++m)
      for (int r = 0; r < R; ++r) isum[m][r] = _mm256_setzero_si256();
    for (int g = 0; g < kQK_K / 32; ++g) {
      __m256i wq[R], sc[R], aw[R];
      for (int r = 0; r < R; ++r) {
        wq[r] = T::group(*wb[r], g);
        sc[r] = T::scales(row[r], g);
        if constexpr (T::kSigned) aw[r] = _mm256_sign_epi8(wq[r], wq[r]);
      }
      for (int m = 0; m < MB; ++m) {
        const __m256i xq = loadu(xb[m]->qs + 32 * g);
        for (int r = 0; r < R; ++r) {
          const __m256i p = T::kSigned ? _mm256_maddubs_epi16(aw[r], _mm256_sign_epi8(xq, wq[r]))
                                       : _mm256_maddubs_epi16(wq[r], xq);
          isum[m][r] = madd_i16(isum[m][r], p, sc[r]);
        }
      }
    }
    for (int m = 0; m < MB; ++m) {
      const float dx = xb[m]->d;
      const __m256i bs = loadu(xb[m]->bsums);
      for (int r = 0; r < R; ++r) {
        acc[m][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[m][r]), _mm256_set1_ps(row[r].d * dx), acc[m][r]);
        if constexpr (T::kCorr) extra[m][r] -= row[r].dc * dx * float(hsum_i32(_mm256_madd_epi16(row[r].corr, bs)));
      }
    }
  }
  for (int m = 0; m < MB; ++m)
    for (int r = 0; r < R; ++r) y[size_t(m) * ldy + size_t(r)] = hsum(acc[m][r]) + extra[m][r] + (bias ? bias[r] : 0.0f);
}

// ---------------------------------------------------------------- driver

template <class T>
constexpr bool kSuper = sizeof(typename T::W) > 40;  // the 256-element types

template <class T, int MB, int R>
void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, size_t nb, const float* bias, float* y,
          size_t ldy) {
  if constexpr (kSuper<T>)
    tile256<T, MB, R>(w, ws, x, xs, nb, bias, y, ldy);
  else
    tile32<T, MB, R>(w, ws, x, xs, nb, bias, y, ldy);
}

template <class T, int R>
void tile_rows(size_t mb, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, size_t nb, const float* bias,
               float* y, size_t ldy) {
  switch (mb) {
    case 1: return tile<T, 1, R>(w, ws, x, xs, nb, bias, y, ldy);
    case 2: return tile<T, 2, R>(w, ws, x, xs, nb, bias, y, ldy);
    case 3: return tile<T, 3, R>(w, ws, x, xs, nb, bias, y, ldy);
    default: return tile<T, 4, R>(w, ws, x, xs, nb, bias, y, ldy);
  }
}

// Rows of x are taken kMBlock at a time so that block of quantized x stays
// in L2 while every W row of this call passes over it.
constexpr size_t kMBlock = 64;

template <class T, int R, int MB>
void dot_rows(const void* xv, size_t x_stride, size_t M, size_t K, const void* wv, size_t w_stride, const float* bias,
              size_t n0, size_t n1, float* y, size_t ldy) {
  const size_t nb = K / (kSuper<T> ? kQK_K : 32);
  const uint8_t* x = static_cast<const uint8_t*>(xv);
  const uint8_t* w = static_cast<const uint8_t*>(wv);
  for (size_t m0 = 0; m0 < M; m0 += kMBlock) {
    const size_t m1 = std::min(M, m0 + kMBlock);
    size_t n = n0;
    for (; n + R <= n1; n += R)
      for (size_t m = m0; m < m1; m += MB)
        tile_rows<T, R>(std::min<size_t>(MB, m1 - m), w + n * w_stride, w_stride, x + m * x_stride, x_stride, nb,
                        bias ? bias + n : nullptr, y + m * ldy + n, ldy);
    for (; n < n1; ++n)
      for (size_t m = m0; m < m1; m += MB)
        tile_rows<T, 1>(std::min<size_t>(MB, m1 - m), w + n * w_stride, w_stride, x + m * x_stride, x_stride, nb,
                        bias ? bias + n : nullptr, y + m * ldy + n, ldy);
  }
}

template <class T, DType D, XFormat F, int R, int MB, size_t NR>
void add(IsaTable& t) {
  static_assert(MB <= 4);
  TypeKernels& k = t.quant[size_t(D)];
  k.dot_rows = &dot_rows<T, R, MB>;
  k.x_row_bytes = F == XFormat::Q8_0 ? &x_row_bytes_q8_0 : F == XFormat::Q8_1 ? &x_row_bytes_q8_1 : &x_row_bytes_q8_K;
  k.prepare_x = F == XFormat::Q8_0 ? &prepare_q8_0 : F == XFormat::Q8_1 ? &prepare_q8_1 : &prepare_q8_K;
  k.pack_w = &pack_w_dequant<D, NR>;
}

template <DType D, size_t NR>
void add_dequant(IsaTable& t, const IsaTable& scalar_table) {
  TypeKernels& k = t.quant[size_t(D)];
  k = scalar_table.quant[size_t(D)];
  k.pack_w = &pack_w_dequant<D, NR>;
}

// Registers every block type at this level. R rows of W by up to MB rows of
// x per tile; NR: the f32 GEMM engine's panel width (for pack_w).
template <int R, int MB, size_t NR>
void add_all(IsaTable& t) {
  add<Q4_0, DType::Q4_0, XFormat::Q8_0, R, MB, NR>(t);
  add<Q4_1, DType::Q4_1, XFormat::Q8_1, R, MB, NR>(t);
  add<Q5_0, DType::Q5_0, XFormat::Q8_0, R, MB, NR>(t);
  add<Q5_1, DType::Q5_1, XFormat::Q8_1, R, MB, NR>(t);
  add<Q8_0, DType::Q8_0, XFormat::Q8_0, R, MB, NR>(t);
  add<IQ4_NL, DType::IQ4_NL, XFormat::Q8_0, R, MB, NR>(t);
  add<Q2_K, DType::Q2_K, XFormat::Q8_K, R, MB, NR>(t);
  add<Q3_K, DType::Q3_K, XFormat::Q8_K, R, MB, NR>(t);
  add<Q4_K, DType::Q4_K, XFormat::Q8_K, R, MB, NR>(t);
  add<Q5_K, DType::Q5_K, XFormat::Q8_K, R, MB, NR>(t);
  add<Q6_K, DType::Q6_K, XFormat::Q8_K, R, MB, NR>(t);
  add<IQ4_XS, DType::IQ4_XS, XFormat::Q8_K, R, MB, NR>(t);
  const IsaTable& s = scalar::table();
  add_dequant<DType::IQ2_XXS, NR>(t, s);
  add_dequant<DType::IQ2_XS, NR>(t, s);
  add_dequant<DType::IQ2_S, NR>(t, s);
  add_dequant<DType::IQ3_XXS, NR>(t, s);
  add_dequant<DType::IQ3_S, NR>(t, s);
  add_dequant<DType::IQ1_S, NR>(t, s);
  add_dequant<DType::IQ1_M, NR>(t, s);
  add_dequant<DType::TQ1_0, NR>(t, s);
  add_dequant<DType::TQ2_0, NR>(t, s);
}

}  // namespace
}  // namespace tf::kernels::mm::TF_QUANT_ISA
