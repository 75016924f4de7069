// AVX512-VNNI kernels for weights in quant_interleave.h's layout. Include
// only from quant_matmul_avx512.cpp, after quant_matmul_simd.h (whose
// activation quantizers these reuse, so the integers are ggml's).
//
// One zmm holds 4 quantized bytes of each of 16 W rows; vpdpbusd against 4
// broadcast activation bytes leaves each row's partial dot product in its own
// 32-bit lane, so a block's 16 row results come out as one vector and are
// scaled by the 16 rows' scales (one vcvtph2ps) at once. The stored byte u of
// a weight relates to its value through an offset (Q4_0: 8, Q8_0: 128, Q6_K:
// 32) that is taken off exactly by starting the integer sum at −offset·Σx.
// MB rows of x share each unpacked W vector (prompt processing); a decode
// step is MB = 1.
#pragma once

namespace tf::kernels::mm::avx512 {
namespace {

constexpr size_t kIl = kInterleaveRows;

// Activations of the interleaved Q4_0 / Q8_0 kernels: Q8_0's quantization,
// with d widened and the integer sum of the block kept for the offset.
struct BlockQ8S {
  float d;
  int32_t sum;
  int8_t qs[32];
};
// ... of Q4_K / Q6_K: Q8_K plus the sums per 32 elements (Q4_K's mins).
struct BlockQ8KS {
  BlockQ8_K k;
  int16_t s32[8];
};

size_t il_x_row_bytes_q8s(size_t K) { return K / 32 * sizeof(BlockQ8S); }
size_t il_x_row_bytes_q8ks(size_t K) { return K / kQK_K * sizeof(BlockQ8KS); }

void il_prepare_q8s(const float* x, size_t ldx, size_t M, size_t K, void* dst) {
  for (size_t m = 0; m < M; ++m) {
    BlockQ8S* y = reinterpret_cast<BlockQ8S*>(static_cast<uint8_t*>(dst) + m * il_x_row_bytes_q8s(K));
    for (size_t b = 0; b < K / 32; ++b) {
      uint16_t d16;
      quantize_q8_32<false>(x + m * ldx + 32 * b, y[b].qs, &d16, nullptr);
      y[b].d = fp16(d16);
      int s = 0;
      for (int j = 0; j < 32; ++j) s += y[b].qs[j];
      y[b].sum = s;
    }
  }
}

void il_prepare_q8ks(const float* x, size_t ldx, size_t M, size_t K, void* dst) {
  for (size_t m = 0; m < M; ++m) {
    BlockQ8KS* y = reinterpret_cast<BlockQ8KS*>(static_cast<uint8_t*>(dst) + m * il_x_row_bytes_q8ks(K));
    for (size_t b = 0; b < K / kQK_K; ++b) {
      quantize_q8_K_block(x + m * ldx + kQK_K * b, y[b].k);
      for (int j = 0; j < 8; ++j) y[b].s32[j] = int16_t(y[b].k.bsums[2 * j] + y[b].k.bsums[2 * j + 1]);
    }
  }
}

inline __m512i bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}
inline __m512i load64(const uint8_t* p) { return _mm512_loadu_si512(p); }
inline __m512 scales16(const uint8_t* f16s) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(f16s)));
}
inline __m512i dpbusd(__m512i acc, __m512i u, __m512i s) { return _mm512_dpbusd_epi32(acc, u, s); }

// A group's sections are separate streams, one of which jumps to the next
// group when its blocks run out; at decode speed the hardware prefetcher
// falls behind them (measured per core: Q6_K GEMV about 494 -> 385 us, Q4_0
// 293 -> 200 us). So every line read is prefetched as the same line about
// kAheadBytes on in the whole stream of blocks, which for the last blocks
// of a group is in the next group's section, group_bytes further (past the
// last group the prefetch is simply dropped). kBlockBytes: the bytes of one
// block of all kIl rows, all sections.
constexpr size_t kAheadBytes = 6144;
template <size_t kBlockBytes>
struct Ahead {
  static constexpr size_t kBlocks = std::max<size_t>(1, (kAheadBytes + kBlockBytes / 2) / kBlockBytes);
  size_t group_bytes, nb, b;
  // p: a line of block b in a section whose blocks are `stride` bytes apart
  void operator()(const uint8_t* p, size_t stride) const {
    size_t step = kBlocks * stride;
    if (b + kBlocks >= nb) step += group_bytes - nb * stride;
    _mm_prefetch(reinterpret_cast<const char*>(p + step), _MM_HINT_T0);
  }
};

// Q4_0 and Q8_0: kChunks 64-byte chunks per block (Q4_0: 4 chunks of
// nibbles, low = elements 4c.., high = 16+4c..; Q8_0: 8 chunks of bytes).
template <bool kNibbles, int MB>
void il_legacy_group(const uint8_t* grp, size_t nb, size_t group_bytes, const BlockQ8S* const* x, __m512 acc[]) {
  constexpr int kChunks = kNibbles ? 4 : 8;
  constexpr int kOffset = kNibbles ? 8 : 128;
  const uint8_t* d = grp;
  const uint8_t* q = grp + nb * kIl * 2;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  for (size_t b = 0; b < nb; ++b) {
    const Ahead<kIl * (2 + 4 * kChunks)> ahead{group_bytes, nb, b};
    if (b % 2 == 0) ahead(d + b * kIl * 2, kIl * 2);
    const __m512 dw = scales16(d + b * kIl * 2);
    const uint8_t* qb = q + b * kIl * 4 * kChunks;
    __m512i w[8];  // w[k]: elements 4k .. 4k+3 of the block
    for (int c = 0; c < kChunks; ++c) {
      ahead(qb + 64 * c, kIl * 4 * kChunks);
      const __m512i v = load64(qb + 64 * c);
      if constexpr (kNibbles) {
        w[c] = _mm512_and_si512(v, low4);
        w[c + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
      } else {
        w[c] = v;
      }
    }
    for (int m = 0; m < MB; ++m) {
      const BlockQ8S& xb = x[m][b];
      __m512i s0 = _mm512_set1_epi32(-kOffset * xb.sum), s1 = _mm512_setzero_si512();
      for (int c = 0; c < 4; ++c) {
        s0 = dpbusd(s0, w[c], bcast4(xb.qs + 4 * c));
        s1 = dpbusd(s1, w[c + 4], bcast4(xb.qs + 16 + 4 * c));
      }
      acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), _mm512_mul_ps(dw, _mm512_set1_ps(xb.d)),
                               acc[m]);
    }
  }
}

// Q4_K: per super-block 8 sub-blocks of 32 with 6-bit scales and mins;
// chunk t = bytes 4t.. of qs: low nibbles are elements 64(t/8) + 4(t%8)..,
// high nibbles the same + 32.
template <int MB>
void il_q4_K_group(const uint8_t* grp, size_t nb, size_t group_bytes, const BlockQ8KS* const* x, __m512 acc[]) {
  const uint8_t* d = grp;
  const uint8_t* dmin = d + nb * kIl * 2;
  const uint8_t* sc = dmin + nb * kIl * 2;
  const uint8_t* mnp = sc + nb * kIl * 8;
  const uint8_t* q = mnp + nb * kIl * 8;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  for (size_t b = 0; b < nb; ++b) {
    const uint8_t* qb = q + b * kIl * 128;
    const Ahead<kIl * (4 + 16 + 128)> ahead{group_bytes, nb, b};
    ahead(d + b * kIl * 2, kIl * 2);
    ahead(dmin + b * kIl * 2, kIl * 2);
    for (size_t at = 0; at < kIl * 8; at += 64) {
      ahead(sc + b * kIl * 8 + at, kIl * 8);
      ahead(mnp + b * kIl * 8 + at, kIl * 8);
    }
    __m512i isum[MB];
    for (int m = 0; m < MB; ++m) isum[m] = _mm512_setzero_si512();
    for (int c = 0; c < 4; ++c) {
      __m512i a0[MB], a1[MB];
      for (int m = 0; m < MB; ++m) a0[m] = a1[m] = _mm512_setzero_si512();
      for (int i = 0; i < 8; ++i) {
        ahead(qb + 64 * (8 * c + i), kIl * 128);
        const __m512i v = load64(qb + 64 * (8 * c + i));
        const __m512i lo = _mm512_and_si512(v, low4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
        for (int m = 0; m < MB; ++m) {
          a0[m] = dpbusd(a0[m], lo, bcast4(x[m][b].k.qs + 64 * c + 4 * i));
          a1[m] = dpbusd(a1[m], hi, bcast4(x[m][b].k.qs + 64 * c + 32 + 4 * i));
        }
      }
      const uint8_t* s = sc + (b * 8 + 2 * c) * kIl;
      const __m512i s_lo = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s)));
      const __m512i s_hi = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + kIl)));
      for (int m = 0; m < MB; ++m)
        isum[m] = _mm512_add_epi32(isum[m], _mm512_add_epi32(_mm512_mullo_epi32(a0[m], s_lo),
                                                             _mm512_mullo_epi32(a1[m], s_hi)));
    }
    __m512i msum[MB];
    for (int m = 0; m < MB; ++m) msum[m] = _mm512_setzero_si512();
    for (int p = 0; p < 4; ++p) {
      // lanes: (min of sub-block 2p, min of 2p+1) of each row, as int16 pairs
      const __m512i mn = _mm512_cvtepu8_epi16(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mnp + (b * 4 + p) * kIl * 2)));
      for (int m = 0; m < MB; ++m) msum[m] = _mm512_dpwssd_epi32(msum[m], mn, bcast4(x[m][b].s32 + 2 * p));
    }
    const __m512 dw = scales16(d + b * kIl * 2), dmw = scales16(dmin + b * kIl * 2);
    for (int m = 0; m < MB; ++m) {
      const __m512 dx = _mm512_set1_ps(x[m][b].k.d);
      acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[m]), _mm512_mul_ps(dw, dx), acc[m]);
      acc[m] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum[m]), _mm512_mul_ps(dmw, dx), acc[m]);
    }
  }
}

// Q6_K: 16 sub-blocks of 16 with int8 scales; 6-bit values stored + 32.
// For half h and l = 4i..4i+3: ql chunk 16h+i holds elements 128h+l (low
// nibble) and 128h+64+l (high); chunk 16h+8+i: 128h+32+l and 128h+96+l;
// qh chunk 8h+i holds their top two bits (bits 0-1, 2-3, 4-5, 6-7 for
// +0, +32, +64, +96).
template <int MB>
void il_q6_K_group(const uint8_t* grp, size_t nb, size_t group_bytes, const BlockQ8KS* const* x, __m512 acc[]) {
  const uint8_t* d = grp;
  const uint8_t* sc = d + nb * kIl * 2;
  const uint8_t* ql = sc + nb * kIl * 16;
  const uint8_t* qh = ql + nb * kIl * 128;
  const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
  for (size_t b = 0; b < nb; ++b) {
    const uint8_t* qlb = ql + b * kIl * 128;
    const uint8_t* qhb = qh + b * kIl * 64;
    const Ahead<kIl * (2 + 16 + 128 + 64)> ahead{group_bytes, nb, b};
    ahead(d + b * kIl * 2, kIl * 2);
    for (size_t at = 0; at < kIl * 16; at += 64) ahead(sc + b * kIl * 16 + at, kIl * 16);
    __m512i isum[MB];
    for (int m = 0; m < MB; ++m) isum[m] = _mm512_setzero_si512();
    for (int h = 0; h < 2; ++h)
      for (int ih = 0; ih < 2; ++ih) {
        __m512i a[MB][4];
        for (int m = 0; m < MB; ++m)
          for (int qq = 0; qq < 4; ++qq) a[m][qq] = _mm512_set1_epi32(-32 * x[m][b].k.bsums[8 * h + 2 * qq + ih]);
        for (int i = 4 * ih; i < 4 * ih + 4; ++i) {
          ahead(qlb + 64 * (16 * h + i), kIl * 128);
          ahead(qlb + 64 * (16 * h + 8 + i), kIl * 128);
          ahead(qhb + 64 * (8 * h + i), kIl * 64);
          const __m512i qa = load64(qlb + 64 * (16 * h + i)), qb = load64(qlb + 64 * (16 * h + 8 + i));
          const __m512i hh = load64(qhb + 64 * (8 * h + i));
          const __m512i e[4] = {
              _mm512_or_si512(_mm512_and_si512(qa, low4), _mm512_and_si512(_mm512_slli_epi16(hh, 4), bits45)),
              _mm512_or_si512(_mm512_and_si512(qb, low4), _mm512_and_si512(_mm512_slli_epi16(hh, 2), bits45)),
              _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(qa, 4), low4), _mm512_and_si512(hh, bits45)),
              _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(qb, 4), low4),
                              _mm512_and_si512(_mm512_srli_epi16(hh, 2), bits45))};
          for (int m = 0; m < MB; ++m)
            for (int qq = 0; qq < 4; ++qq)
              a[m][qq] = dpbusd(a[m][qq], e[qq], bcast4(x[m][b].k.qs + 128 * h + 32 * qq + 4 * i));
        }
        for (int qq = 0; qq < 4; ++qq) {
          const __m512i s = _mm512_cvtepi8_epi32(
              _mm_loadu_si128(reinterpret_cast<const __m128i*>(sc + (b * 16 + 8 * h + 2 * qq + ih) * kIl)));
          for (int m = 0; m < MB; ++m) isum[m] = _mm512_add_epi32(isum[m], _mm512_mullo_epi32(a[m][qq], s));
        }
      }
    const __m512 dw = scales16(d + b * kIl * 2);
    for (int m = 0; m < MB; ++m)
      acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[m]), _mm512_mul_ps(dw, _mm512_set1_ps(x[m][b].k.d)), acc[m]);
  }
}

struct IlQ4_0 {
  using X = BlockQ8S;
  static constexpr int kMaxMB = 4;
  template <int MB>
  static void group(const uint8_t* g, size_t nb, size_t group_bytes, const X* const* x, __m512 acc[]) {
    il_legacy_group<true, MB>(g, nb, group_bytes, x, acc);
  }
};
struct IlQ8_0 {
  using X = BlockQ8S;
  static constexpr int kMaxMB = 4;
  template <int MB>
  static void group(const uint8_t* g, size_t nb, size_t group_bytes, const X* const* x, __m512 acc[]) {
    il_legacy_group<false, MB>(g, nb, group_bytes, x, acc);
  }
};
struct IlQ4_K {
  using X = BlockQ8KS;
  static constexpr int kMaxMB = 4;
  template <int MB>
  static void group(const uint8_t* g, size_t nb, size_t group_bytes, const X* const* x, __m512 acc[]) {
    il_q4_K_group<MB>(g, nb, group_bytes, x, acc);
  }
};
struct IlQ6_K {
  using X = BlockQ8KS;
  static constexpr int kMaxMB = 2;  // 4 sub-block sums per x row stay in registers
  template <int MB>
  static void group(const uint8_t* g, size_t nb, size_t group_bytes, const X* const* x, __m512 acc[]) {
    il_q6_K_group<MB>(g, nb, group_bytes, x, acc);
  }
};

template <class T, int MB>
void il_tile(const uint8_t* grp, size_t nb, size_t group_bytes, const uint8_t* x, size_t x_stride, const float* bias, float* y,
             size_t ldy) {
  const typename T::X* xr[MB];
  for (int m = 0; m < MB; ++m) xr[m] = reinterpret_cast<const typename T::X*>(x + size_t(m) * x_stride);
  __m512 acc[MB];
  for (int m = 0; m < MB; ++m) acc[m] = _mm512_setzero_ps();
  T::template group<MB>(grp, nb, group_bytes, xr, acc);
  const __m512 bv = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
  for (int m = 0; m < MB; ++m) _mm512_storeu_ps(y + size_t(m) * ldy, _mm512_add_ps(acc[m], bv));
}

// Groups [g0, g1) of 16 W rows against all M rows of x. Groups are taken
// kGroupChunk at a time (their W stays in L2) while tiles of x rows pass
// over them, so x is read from L1 once per tile and chunk.
constexpr size_t kGroupChunk = 4;

template <class T>
void il_rows(const void* xv, size_t x_stride, size_t M, size_t K, const void* wv, size_t group_bytes, size_t g0,
             size_t g1, const float* bias, float* y, size_t ldy) {
  constexpr size_t bs = sizeof(typename T::X) == sizeof(BlockQ8S) ? 32 : kQK_K;
  const size_t nb = K / bs;
  const uint8_t* x = static_cast<const uint8_t*>(xv);
  const uint8_t* w = static_cast<const uint8_t*>(wv);
  for (size_t c0 = g0; c0 < g1; c0 += kGroupChunk) {
    const size_t c1 = std::min(g1, c0 + kGroupChunk);
    for (size_t m = 0; m < M;) {
      const size_t mb = std::min<size_t>(T::kMaxMB, M - m);
      for (size_t g = c0; g < c1; ++g) {
        const uint8_t* grp = w + g * group_bytes;
        const float* bg = bias ? bias + g * kIl : nullptr;
        float* yg = y + m * ldy + g * kIl;
        const uint8_t* xm = x + m * x_stride;
        switch (mb) {
          case 1: il_tile<T, 1>(grp, nb, group_bytes, xm, x_stride, bg, yg, ldy); break;
          case 2: il_tile<T, 2>(grp, nb, group_bytes, xm, x_stride, bg, yg, ldy); break;
          case 3:
            if constexpr (T::kMaxMB >= 3) il_tile<T, 3>(grp, nb, group_bytes, xm, x_stride, bg, yg, ldy);
            break;
          default:
            if constexpr (T::kMaxMB >= 4) il_tile<T, 4>(grp, nb, group_bytes, xm, x_stride, bg, yg, ldy);
            break;
        }
      }
      m += mb;
    }
  }
}

template <class T, DType D>
void add_interleaved(IsaTable& t) {
  TypeKernels& k = t.quant[size_t(D)];
  const bool q8s = sizeof(typename T::X) == sizeof(BlockQ8S);
  k.il_x_row_bytes = q8s ? &il_x_row_bytes_q8s : &il_x_row_bytes_q8ks;
  k.il_prepare_x = q8s ? &il_prepare_q8s : &il_prepare_q8ks;
  k.il_rows = &il_rows<T>;
}

}  // namespace
}  // namespace tf::kernels::mm::avx512
