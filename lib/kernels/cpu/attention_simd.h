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
// vector is loaded (and widened) once per key and used R times. Only the
// last vector may be partial (PART lanes, 0: full); keeping that a template
// argument keeps the loop branch-free, so the accumulators stay in registers.
template <class S, class KV, int R, int NV, size_t PART>
inline void pv_tile(const float* p, size_t ps, size_t L, const typename KV::T* v, size_t vs, float* out, size_t os) {
  using V = typename S::V;
  constexpr size_t last = PART ? PART : S::W;
  V acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NV; ++c) acc[r][c] = S::zero();
  for (size_t j = 0; j < L; ++j) {
    V vv[NV];
    for (int c = 0; c + 1 < NV; ++c) vv[c] = KV::template load<S>(v + j * vs + size_t(c) * S::W, S::W);
    vv[NV - 1] = KV::template load<S>(v + j * vs + size_t(NV - 1) * S::W, last);
    for (int r = 0; r < R; ++r) {
      const V pj = S::set1(p[size_t(r) * ps + j]);
      for (int c = 0; c < NV; ++c) acc[r][c] = S::fmadd(pj, vv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r) {
    float* o = out + size_t(r) * os;
    for (int c = 0; c + 1 < NV; ++c) S::store(o + size_t(c) * S::W, acc[r][c]);
    if (PART)
      S::store_part(o + size_t(NV - 1) * S::W, acc[r][NV - 1], last);
    else
      S::store(o + size_t(NV - 1) * S::W, acc[r][NV - 1]);
  }
}

// A partial vector of any width: the rare head sizes that are not a multiple
// of the vector width (tests use them; real models do not).
template <class S, class KV, int R>
inline void pv_part(const float* p, size_t ps, size_t L, const typename KV::T* v, size_t vs, size_t n, float* out,
                    size_t os) {
  using V = typename S::V;
  V acc[R];
  for (int r = 0; r < R; ++r) acc[r] = S::zero();
  for (size_t j = 0; j < L; ++j) {
    const V vv = KV::template load<S>(v + j * vs, n);
    for (int r = 0; r < R; ++r) acc[r] = S::fmadd(S::set1(p[size_t(r) * ps + j]), vv, acc[r]);
  }
  for (int r = 0; r < R; ++r) S::store_part(out + size_t(r) * os, acc[r], n);
}

// The register budget: R·NV accumulators + NV values + a broadcast.
template <class S>
constexpr int kMaxRows = S::W == 16 ? 4 : 2;

template <class S, class KV, int R>
inline void pv_rows(const float* p, size_t ps, size_t L, const typename KV::T* v, size_t vs, size_t hd, float* out,
                    size_t os) {
  size_t d0 = 0;
  for (; d0 + 4 * S::W <= hd; d0 += 4 * S::W) pv_tile<S, KV, R, 4, 0>(p, ps, L, v + d0, vs, out + d0, os);
  switch ((hd - d0) / S::W) {
    case 3: pv_tile<S, KV, R, 3, 0>(p, ps, L, v + d0, vs, out + d0, os); break;
    case 2: pv_tile<S, KV, R, 2, 0>(p, ps, L, v + d0, vs, out + d0, os); break;
    case 1: pv_tile<S, KV, R, 1, 0>(p, ps, L, v + d0, vs, out + d0, os); break;
    default: break;
  }
  d0 += (hd - d0) / S::W * S::W;
  if (d0 < hd) pv_part<S, KV, R>(p, ps, L, v + d0, vs, hd - d0, out + d0, os);
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
