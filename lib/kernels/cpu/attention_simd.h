// P·V of attention written once against an ISA traits type S (instantiated
// in attention_avx2.cpp / attention_avx512.cpp; scalar twin in attention.cpp).
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/attention_impl.h"

namespace tf::kernels::simd {

struct KvF32 {
  using T = float;
  template <class S>
  static typename S::V load(const float* p, size_t n) {
    return n == S::W ? S::load(p) : S::load_part(p, n);
  }
};
struct KvF16 {
  using T = uint16_t;
  template <class S>
  static typename S::V load(const uint16_t* p, size_t n) {
    return n == S::W ? S::load_f16(p) : S::load_f16_part(p, n);
  }
};

// R rows of p against NV vectors' worth of v columns starting at d0; each v
// vector is loaded (and widened) once per key and used R times.
template <class S, class KV, int R, int NV>
inline void pv_tile(const float* p, size_t ps, size_t L, const typename KV::T* v, size_t vs, size_t d0, size_t hd,
                    float* out, size_t os) {
  using V = typename S::V;
  V acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NV; ++c) acc[r][c] = S::zero();
  size_t width[NV];
  for (int c = 0; c < NV; ++c) {
    const size_t at = d0 + size_t(c) * S::W;
    width[c] = hd - at < S::W ? hd - at : S::W;
  }
  for (size_t j = 0; j < L; ++j) {
    V vv[NV];
    for (int c = 0; c < NV; ++c) vv[c] = KV::template load<S>(v + j * vs + d0 + size_t(c) * S::W, width[c]);
    for (int r = 0; r < R; ++r) {
      const V pj = S::set1(p[size_t(r) * ps + j]);
      for (int c = 0; c < NV; ++c) acc[r][c] = S::fmadd(pj, vv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NV; ++c) {
      float* o = out + size_t(r) * os + d0 + size_t(c) * S::W;
      if (width[c] == S::W)
        S::store(o, acc[r][c]);
      else
        S::store_part(o, acc[r][c], width[c]);
    }
}

// The register budget: R·NV accumulators + NV values + a broadcast.
template <class S>
constexpr int kMaxRows = S::W == 16 ? 4 : 2;

template <class S, class KV, int R>
inline void pv_rows(const float* p, size_t ps, size_t L, const typename KV::T* v, size_t vs, size_t hd, float* out,
                    size_t os) {
  constexpr size_t chunk = 4 * S::W;
  for (size_t d0 = 0; d0 < hd; d0 += chunk) {
    const size_t nv = (hd - d0 >= chunk) ? 4 : (hd - d0 + S::W - 1) / S::W;
    switch (nv) {
      case 4: pv_tile<S, KV, R, 4>(p, ps, L, v, vs, d0, hd, out, os); break;
      case 3: pv_tile<S, KV, R, 3>(p, ps, L, v, vs, d0, hd, out, os); break;
      case 2: pv_tile<S, KV, R, 2>(p, ps, L, v, vs, d0, hd, out, os); break;
      default: pv_tile<S, KV, R, 1>(p, ps, L, v, vs, d0, hd, out, os); break;
    }
  }
}

template <class S, class KV>
void pv(const float* p, size_t ps, size_t rows, size_t L, const void* vv, size_t vs, size_t hd, float* out, size_t os) {
  const auto* v = static_cast<const typename KV::T*>(vv);
  constexpr int RM = kMaxRows<S>;
  size_t r = 0;
  for (; r + RM <= rows; r += RM) pv_rows<S, KV, RM>(p + r * ps, ps, L, v, vs, hd, out + r * os, os);
  for (; r < rows; ++r) pv_rows<S, KV, 1>(p + r * ps, ps, L, v, vs, hd, out + r * os, os);
}

template <class S>
constexpr attn::AttnTable make_attn_table() {
  return attn::AttnTable{&pv<S, KvF32>, &pv<S, KvF16>};
}

}  // namespace tf::kernels::simd
