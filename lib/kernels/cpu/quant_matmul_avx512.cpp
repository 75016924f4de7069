// AVX512-VNNI instantiation of the block-type kernels (quant_matmul_simd.h):
// vpdpbusd / vpdpwssd on 256-bit vectors (EVEX, so 32 registers: tiles of
// 4 W rows by up to 2 x rows), plus the int8 GEMM of the prompt path below.
// matmul uses this table only on CPUs with AVX512-VNNI; others at level 2
// get the AVX2 kernels.
#include "kernels/cpu/avx512_intrin.h"

#include <cstdint>
#include <cstdlib>
#include <memory>

#define TF_QUANT_ISA avx512
#include "kernels/cpu/quant_matmul_simd.h"
#include "kernels/cpu/quant_interleave.h"
#include "kernels/cpu/quant_interleaved_avx512.h"

namespace tf::kernels::mm::avx512 {
namespace {

// ---------------------------------------------------------------- int8 GEMM (prompt path)
//
// For many rows of x the dot kernels above re-unpack every W block for every
// few x rows. Here a panel of kNR = 32 W rows is unpacked once per call into
// what vpdpbusd multiplies directly — unsigned bytes, 4 consecutive k of one
// row per 32-bit lane, the 32 rows side by side (two zmm) — with one f32
// scale (and min) per group of GS elements and row; then kMR rows of x at a
// time stream over it: each 4 bytes of an x row are broadcast and multiplied
// with both W vectors, so every lane ends a group holding one (row, x row)
// integer dot product, scaled into an f32 accumulator once per group. The
// activations are the same prepared Q8_0 / Q8_1 / Q8_K rows as the dot
// kernels use, so both paths compute ggml's products.
//
// A weight's stored byte u relates to its value as w = scale·(u − offset)
// − min·… per group: the offset is taken off exactly in the integer
// accumulator (initialised to −offset·Σx_q), the min term in f32.

constexpr size_t kNR = 32;
constexpr int kMR = 6;  // 12 int + 12 f32 accumulators, 2 W vectors, a broadcast

template <class T>
struct Gemm;  // GS: group size; kOffset; kMin: f32 min term; XF: x format

template <>
struct Gemm<Q4_0> { static constexpr int GS = 32, kOffset = 8; static constexpr bool kMin = false; static constexpr XFormat XF = XFormat::Q8_0; };
template <>
struct Gemm<Q4_1> { static constexpr int GS = 32, kOffset = 0; static constexpr bool kMin = true; static constexpr XFormat XF = XFormat::Q8_1; };
template <>
struct Gemm<Q5_0> { static constexpr int GS = 32, kOffset = 16; static constexpr bool kMin = false; static constexpr XFormat XF = XFormat::Q8_0; };
template <>
struct Gemm<Q5_1> { static constexpr int GS = 32, kOffset = 0; static constexpr bool kMin = true; static constexpr XFormat XF = XFormat::Q8_1; };
template <>
struct Gemm<Q8_0> { static constexpr int GS = 32, kOffset = 128; static constexpr bool kMin = false; static constexpr XFormat XF = XFormat::Q8_0; };
template <>
struct Gemm<IQ4_NL> { static constexpr int GS = 32, kOffset = 128; static constexpr bool kMin = false; static constexpr XFormat XF = XFormat::Q8_0; };
template <>
struct Gemm<Q2_K> { static constexpr int GS = 16, kOffset = 0; static constexpr bool kMin = true; static constexpr XFormat XF = XFormat::Q8_K; };
template <>
struct Gemm<Q3_K> { static constexpr int GS = 16, kOffset = 4; static constexpr bool kMin = false; static constexpr XFormat XF = XFormat::Q8_K; };
template <>
struct Gemm<Q4_K> { static constexpr int GS = 32, kOffset = 0; static constexpr bool kMin = true; static constexpr XFormat XF = XFormat::Q8_K; };
template <>
struct Gemm<Q5_K> { static constexpr int GS = 32, kOffset = 0; static constexpr bool kMin = true; static constexpr XFormat XF = XFormat::Q8_K; };
template <>
struct Gemm<Q6_K> { static constexpr int GS = 16, kOffset = 32; static constexpr bool kMin = false; static constexpr XFormat XF = XFormat::Q8_K; };
template <>
struct Gemm<IQ4_XS> { static constexpr int GS = 32, kOffset = 128; static constexpr bool kMin = false; static constexpr XFormat XF = XFormat::Q8_K; };

template <class T>
constexpr size_t group_bytes() {  // bytes, then f32 scales, then f32 mins
  return size_t(Gemm<T>::GS) * kNR + kNR * 4 * (Gemm<T>::kMin ? 2 : 1);
}

struct AlignedBuffer {
  std::unique_ptr<uint8_t, decltype(&std::free)> p{nullptr, &std::free};
  size_t cap = 0;
  uint8_t* get(size_t n) {
    if (n > cap) {
      p.reset(static_cast<uint8_t*>(std::aligned_alloc(64, (n + 63) / 64 * 64)));
      if (!p) throw std::bad_alloc();
      cap = n;
    }
    return p.get();
  }
};

// Writes 32 bytes of row j, elements e0 .. e0+31 of the row, into the panel.
template <class T>
inline void put32(uint8_t* panel, size_t j, size_t e0, __m256i u) {
  constexpr int GS = Gemm<T>::GS;
  alignas(32) uint8_t b[32];
  _mm256_store_si256(reinterpret_cast<__m256i*>(b), u);
  for (int t = 0; t < 8; ++t) {
    const size_t e = e0 + size_t(4 * t), g = e / GS, in = e % GS;
    std::memcpy(panel + g * group_bytes<T>() + (in / 4) * kNR * 4 + j * 4, b + 4 * t, 4);
  }
}
template <class T>
inline float* scale_of(uint8_t* panel, size_t g) {
  return reinterpret_cast<float*>(panel + g * group_bytes<T>() + size_t(Gemm<T>::GS) * kNR);
}

// Unpacks rows [0, rows) of W (K elements) into the panel; rows past are 0.
template <class T>
void pack_panel(const uint8_t* w, size_t ws, size_t rows, size_t K, uint8_t* panel) {
  constexpr int GS = Gemm<T>::GS;
  const size_t groups = K / GS;
  std::memset(panel, 0, groups * group_bytes<T>());
  for (size_t j = 0; j < rows; ++j) {
    const uint8_t* row = w + j * ws;
    if constexpr (!kSuper<T>) {
      using W = typename T::W;
      const W* blk = reinterpret_cast<const W*>(row);
      for (size_t b = 0; b < K / 32; ++b) {
        __m256i u = T::weights(blk[b]);
        if constexpr (T::kSigned) u = _mm256_xor_si256(u, _mm256_set1_epi8(int8_t(0x80)));
        put32<T>(panel, j, 32 * b, u);
        scale_of<T>(panel, b)[j] = fp16(blk[b].d);
        if constexpr (Gemm<T>::kMin) scale_of<T>(panel, b)[kNR + j] = min_of<T>(blk[b]);
      }
    } else {
      using W = typename T::W;
      const W* blk = reinterpret_cast<const W*>(row);
      for (size_t b = 0; b < K / kQK_K; ++b) {
        KRow kr;
        T::begin(blk[b], kr);
        alignas(32) int16_t corr[16];
        _mm256_store_si256(reinterpret_cast<__m256i*>(corr), kr.corr);
        for (int c = 0; c < 8; ++c) {
          __m256i u = T::group(blk[b], c);
          if constexpr (T::kSigned) u = _mm256_xor_si256(u, _mm256_set1_epi8(int8_t(0x80)));
          put32<T>(panel, j, kQK_K * b + 32 * size_t(c), u);
        }
        for (int h = 0; h < 16; h += 16 / (kQK_K / GS)) {  // each group's first 16-element slot
          const size_t g = (kQK_K * b + 16 * size_t(h)) / GS;
          scale_of<T>(panel, g)[j] = kr.d * float(kr.sc[h]);
          if constexpr (Gemm<T>::kMin) scale_of<T>(panel, g)[kNR + j] = -kr.dc * float(corr[h]);
        }
      }
    }
  }
}

// Per x row and group: the scale of x, the integer offset correction and
// (for kMin types) Σx in f32. Rows are prepare_x's; laid out [m][g].
struct XGroups {
  std::vector<float> d, sum;
  std::vector<int32_t> neg_off;
  std::vector<uint32_t> qs_at;  // byte offset of group g's quants in a row
};

template <class T>
void x_groups(const uint8_t* x, size_t xs, size_t M, size_t K, XGroups& xg) {
  constexpr int GS = Gemm<T>::GS;
  const size_t G = K / GS;
  xg.d.resize(M * G);
  xg.sum.resize(M * G);
  xg.neg_off.resize(M * G);
  xg.qs_at.resize(G);
  constexpr XFormat F = Gemm<T>::XF;
  for (size_t g = 0; g < G; ++g) {
    const size_t e = g * GS;
    if constexpr (F == XFormat::Q8_K)
      xg.qs_at[g] = uint32_t(e / kQK_K * sizeof(BlockQ8_K) + offsetof(BlockQ8_K, qs) + e % kQK_K);
    else if constexpr (F == XFormat::Q8_1)
      xg.qs_at[g] = uint32_t(e / 32 * sizeof(BlockQ8_1) + offsetof(BlockQ8_1, qs));
    else
      xg.qs_at[g] = uint32_t(e / 32 * sizeof(BlockQ8_0) + offsetof(BlockQ8_0, qs));
  }
  for (size_t m = 0; m < M; ++m) {
    const uint8_t* row = x + m * xs;
    for (size_t g = 0; g < G; ++g) {
      const size_t e = g * GS;
      float d, sf = 0;
      int sum;
      if constexpr (F == XFormat::Q8_K) {
        const BlockQ8_K& b = reinterpret_cast<const BlockQ8_K*>(row)[e / kQK_K];
        d = b.d;
        sum = b.bsums[e % kQK_K / 16];
        if constexpr (GS == 32) sum += b.bsums[e % kQK_K / 16 + 1];
        sf = d * float(sum);
      } else if constexpr (F == XFormat::Q8_1) {
        const BlockQ8_1& b = reinterpret_cast<const BlockQ8_1*>(row)[e / 32];
        d = fp16(b.d);
        sum = 0;  // Q4_1 / Q5_1 have no offset
        sf = fp16(b.s);
      } else {
        const BlockQ8_0& b = reinterpret_cast<const BlockQ8_0*>(row)[e / 32];
        d = fp16(b.d);
        sum = hsum_i32(dot_u8s8(_mm256_setzero_si256(), _mm256_set1_epi8(1), loadu(b.qs)));
      }
      xg.d[m * G + g] = d;
      xg.sum[m * G + g] = sf;
      xg.neg_off[m * G + g] = -Gemm<T>::kOffset * sum;
    }
  }
}

template <class T, int MR>
void gemm_tile(const uint8_t* panel, size_t G, const uint8_t* x, size_t xs, const XGroups& xg, size_t m0,
               const float* bias, float* y, size_t ldy, size_t n_valid) {
  constexpr int GS = Gemm<T>::GS;
  __m512 fa[MR][2];
  for (int m = 0; m < MR; ++m) fa[m][0] = fa[m][1] = _mm512_setzero_ps();
  for (size_t g = 0; g < G; ++g) {
    const uint8_t* wg = panel + g * group_bytes<T>();
    __m512i ia[MR][2];
    const uint8_t* xr[MR];
    for (int m = 0; m < MR; ++m) {
      ia[m][0] = ia[m][1] = _mm512_set1_epi32(xg.neg_off[(m0 + size_t(m)) * G + g]);
      xr[m] = x + size_t(m) * xs + xg.qs_at[g];
    }
    for (int t = 0; t < GS / 4; ++t) {
      const __m512i w0 = _mm512_load_si512(wg + t * 128), w1 = _mm512_load_si512(wg + t * 128 + 64);
      for (int m = 0; m < MR; ++m) {
        int32_t q4;
        std::memcpy(&q4, xr[m] + 4 * t, 4);
        const __m512i bx = _mm512_set1_epi32(q4);
        ia[m][0] = _mm512_dpbusd_epi32(ia[m][0], w0, bx);
        ia[m][1] = _mm512_dpbusd_epi32(ia[m][1], w1, bx);
      }
    }
    const float* sc = reinterpret_cast<const float*>(wg + GS * kNR);
    const __m512 s0 = _mm512_load_ps(sc), s1 = _mm512_load_ps(sc + 16);
    for (int m = 0; m < MR; ++m) {
      const __m512 dx = _mm512_set1_ps(xg.d[(m0 + size_t(m)) * G + g]);
      fa[m][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[m][0]), _mm512_mul_ps(s0, dx), fa[m][0]);
      fa[m][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[m][1]), _mm512_mul_ps(s1, dx), fa[m][1]);
    }
    if constexpr (Gemm<T>::kMin) {
      const __m512 n0 = _mm512_load_ps(sc + kNR), n1 = _mm512_load_ps(sc + kNR + 16);
      for (int m = 0; m < MR; ++m) {
        const __m512 sx = _mm512_set1_ps(xg.sum[(m0 + size_t(m)) * G + g]);
        fa[m][0] = _mm512_fmadd_ps(n0, sx, fa[m][0]);
        fa[m][1] = _mm512_fmadd_ps(n1, sx, fa[m][1]);
      }
    }
  }
  const __mmask16 k0 = n_valid >= 16 ? __mmask16(0xffff) : __mmask16((1u << n_valid) - 1);
  const __mmask16 k1 = n_valid <= 16 ? __mmask16(0) : n_valid >= 32 ? __mmask16(0xffff) : __mmask16((1u << (n_valid - 16)) - 1);
  const __m512 b0 = bias ? _mm512_maskz_loadu_ps(k0, bias) : _mm512_setzero_ps();
  const __m512 b1 = bias ? _mm512_maskz_loadu_ps(k1, bias + 16) : _mm512_setzero_ps();
  for (int m = 0; m < MR; ++m) {
    _mm512_mask_storeu_ps(y + size_t(m) * ldy, k0, _mm512_add_ps(fa[m][0], b0));
    _mm512_mask_storeu_ps(y + size_t(m) * ldy + 16, k1, _mm512_add_ps(fa[m][1], b1));
  }
}

template <class T>
void gemm_rows(const void* xv, size_t x_stride, size_t M, size_t K, const void* wv, size_t w_stride, const float* bias,
               size_t n0, size_t n1, float* y, size_t ldy) {
  const uint8_t* x = static_cast<const uint8_t*>(xv);
  const uint8_t* w = static_cast<const uint8_t*>(wv);
  const size_t G = K / Gemm<T>::GS;
  thread_local XGroups xg;
  thread_local AlignedBuffer panel_buf;
  x_groups<T>(x, x_stride, M, K, xg);
  uint8_t* panel = panel_buf.get(G * group_bytes<T>());
  for (size_t n = n0; n < n1; n += kNR) {
    const size_t rows = std::min(kNR, n1 - n);
    pack_panel<T>(w + n * w_stride, w_stride, rows, K, panel);
    const float* bn = bias ? bias + n : nullptr;
    size_t m = 0;
    for (; m + kMR <= M; m += kMR)
      gemm_tile<T, kMR>(panel, G, x + m * x_stride, x_stride, xg, m, bn, y + m * ldy + n, ldy, rows);
    switch (M - m) {
      case 5: gemm_tile<T, 5>(panel, G, x + m * x_stride, x_stride, xg, m, bn, y + m * ldy + n, ldy, rows); break;
      case 4: gemm_tile<T, 4>(panel, G, x + m * x_stride, x_stride, xg, m, bn, y + m * ldy + n, ldy, rows); break;
      case 3: gemm_tile<T, 3>(panel, G, x + m * x_stride, x_stride, xg, m, bn, y + m * ldy + n, ldy, rows); break;
      case 2: gemm_tile<T, 2>(panel, G, x + m * x_stride, x_stride, xg, m, bn, y + m * ldy + n, ldy, rows); break;
      case 1: gemm_tile<T, 1>(panel, G, x + m * x_stride, x_stride, xg, m, bn, y + m * ldy + n, ldy, rows); break;
      default: break;
    }
  }
}

template <class T, DType D>
void add_gemm(IsaTable& t) {
  TypeKernels& k = t.quant[size_t(D)];
  k.gemm_rows = &gemm_rows<T>;
  k.gemm_rows_unit = kNR;
  k.gemv_max_m = SIZE_MAX;  // the int8 GEMM beats dequantizing into the f32 GEMM at every M
}

}  // namespace

void add_quant_kernels(IsaTable& t) {
  add_all</*R=*/4, /*MB=*/2, /*NR=*/32>(t);
  add_gemm<Q4_0, DType::Q4_0>(t);
  add_gemm<Q4_1, DType::Q4_1>(t);
  add_gemm<Q5_0, DType::Q5_0>(t);
  add_gemm<Q5_1, DType::Q5_1>(t);
  add_gemm<Q8_0, DType::Q8_0>(t);
  add_gemm<IQ4_NL, DType::IQ4_NL>(t);
  add_gemm<Q2_K, DType::Q2_K>(t);
  add_gemm<Q3_K, DType::Q3_K>(t);
  add_gemm<Q4_K, DType::Q4_K>(t);
  add_gemm<Q5_K, DType::Q5_K>(t);
  add_gemm<Q6_K, DType::Q6_K>(t);
  add_gemm<IQ4_XS, DType::IQ4_XS>(t);
  add_interleaved<IlQ4_0, DType::Q4_0>(t);
  add_interleaved<IlQ8_0, DType::Q8_0>(t);
  add_interleaved<IlQ4_K, DType::Q4_K>(t);
  add_interleaved<IlQ6_K, DType::Q6_K>(t);
}

}  // namespace tf::kernels::mm::avx512
