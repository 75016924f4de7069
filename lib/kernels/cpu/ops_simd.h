// The row / element-wise kernels of ops.h written once against an ISA traits
// type S; ops_avx2.cpp and ops_avx512.cpp instantiate them. Their scalar
// twins are in ops.cpp. Formulas follow the order of operations of the HF /
// torch code they stand in for, so results differ from torch only by the
// summation order of reductions and ulp-level differences of exp/tanh.
#pragma once
#include <cmath>
#include <cstddef>
#include <limits>

#include "kernels/cpu/ops_impl.h"
#include "kernels/cpu/simd_math.h"

namespace tf::kernels::simd {

template <class S, class F>
inline void map(const float* x, float* y, size_t n, F f) {
  size_t i = 0;
  for (; i + S::W <= n; i += S::W) S::store(y + i, f(S::load(x + i)));
  if (i < n) S::store_part(y + i, f(S::load_part(x + i, n - i)), n - i);
}

template <class S, class F>
inline void map2(const float* a, const float* b, float* y, size_t n, F f) {
  size_t i = 0;
  for (; i + S::W <= n; i += S::W) S::store(y + i, f(S::load(a + i), S::load(b + i)));
  if (i < n) S::store_part(y + i, f(S::load_part(a + i, n - i), S::load_part(b + i, n - i)), n - i);
}

// The first n lanes of v, the others zero.
template <class S>
inline typename S::V keep_first(typename S::V v, size_t n) {
  alignas(64) float buf[S::W] = {};
  S::store_part(buf, v, n);
  return S::load(buf);
}

// Σ f(x[i]) with four accumulators.
template <class S, class F>
inline float reduce_sum(const float* x, size_t n, F f) {
  using V = typename S::V;
  V a0 = S::zero(), a1 = S::zero(), a2 = S::zero(), a3 = S::zero();
  size_t i = 0;
  for (; i + 4 * S::W <= n; i += 4 * S::W) {
    a0 = S::add(a0, f(S::load(x + i)));
    a1 = S::add(a1, f(S::load(x + i + S::W)));
    a2 = S::add(a2, f(S::load(x + i + 2 * S::W)));
    a3 = S::add(a3, f(S::load(x + i + 3 * S::W)));
  }
  for (; i + S::W <= n; i += S::W) a0 = S::add(a0, f(S::load(x + i)));
  if (i < n) a1 = S::add(a1, keep_first<S>(f(S::load_part(x + i, n - i)), n - i));
  return S::hsum(S::add(S::add(a0, a1), S::add(a2, a3)));
}

template <class S>
inline float reduce_max(const float* x, size_t n) {
  using V = typename S::V;
  const float ninf = -std::numeric_limits<float>::infinity();
  V m = S::set1(ninf);
  size_t i = 0;
  for (; i + S::W <= n; i += S::W) m = S::max(S::load(x + i), m);  // NaN in x: keeps m
  if (i < n) {
    V t = S::load_part(x + i, n - i);
    // padding lanes read as 0; replace them by -inf
    alignas(64) float buf[S::W];
    S::store(buf, t);
    for (size_t j = n - i; j < S::W; ++j) buf[j] = ninf;
    m = S::max(S::load(buf), m);
  }
  return S::hmax(m);
}

template <class S>
void rms_norm(const float* x, const float* w, float* y, size_t rows, size_t dim, float eps, bool one_plus_w) {
  using V = typename S::V;
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    const float ss = reduce_sum<S>(xr, dim, [](V v) { return S::mul(v, v); });
    const V inv = S::set1(1.0f / std::sqrt(ss / float(dim) + eps));
    if (!w) {
      map<S>(xr, yr, dim, [&](V v) { return S::mul(v, inv); });
    } else if (one_plus_w) {
      map2<S>(xr, w, yr, dim, [&](V v, V g) { return S::mul(S::mul(v, inv), S::add(S::set1(1.0f), g)); });
    } else {
      map2<S>(xr, w, yr, dim, [&](V v, V g) { return S::mul(g, S::mul(v, inv)); });
    }
  }
}

template <class S>
void layer_norm(const float* x, const float* w, const float* b, float* y, size_t rows, size_t dim, float eps) {
  using V = typename S::V;
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    const float mean = reduce_sum<S>(xr, dim, [](V v) { return v; }) / float(dim);
    const V vm = S::set1(mean);
    const float var = reduce_sum<S>(xr, dim, [&](V v) { V d = S::sub(v, vm); return S::mul(d, d); }) / float(dim);
    const V rstd = S::set1(1.0f / std::sqrt(var + eps));
    size_t i = 0;
    auto one = [&](V v, size_t at, size_t n) {
      V t = S::mul(S::sub(v, vm), rstd);
      if (w) t = S::mul(t, n == S::W ? S::load(w + at) : S::load_part(w + at, n));
      if (b) t = S::add(t, n == S::W ? S::load(b + at) : S::load_part(b + at, n));
      return t;
    };
    for (; i + S::W <= dim; i += S::W) S::store(yr + i, one(S::load(xr + i), i, S::W));
    if (i < dim) S::store_part(yr + i, one(S::load_part(xr + i, dim - i), i, dim - i), dim - i);
  }
}

template <class S>
void add(const float* a, const float* b, float* y, size_t n) {
  map2<S>(a, b, y, n, [](auto u, auto v) { return S::add(u, v); });
}
template <class S>
void mul(const float* a, const float* b, float* y, size_t n) {
  map2<S>(a, b, y, n, [](auto u, auto v) { return S::mul(u, v); });
}
template <class S>
void scale(const float* x, float s, float* y, size_t n) {
  const auto vs = S::set1(s);
  map<S>(x, y, n, [&](auto v) { return S::mul(v, vs); });
}

template <class S, class F>
inline void with_act(Activation act, F body) {
  switch (act) {
    case Activation::Silu: return body([](typename S::V v) { return silu<S>(v); });
    case Activation::Gelu: return body([](typename S::V v) { return gelu<S>(v); });
    case Activation::GeluTanh: return body([](typename S::V v) { return gelu_tanh<S>(v); });
    case Activation::Relu: return body([](typename S::V v) { return relu<S>(v); });
  }
}

template <class S>
void activation(Activation act, const float* x, float* y, size_t n) {
  with_act<S>(act, [&](auto f) { map<S>(x, y, n, f); });
}

template <class S>
void glu(Activation act, const float* gate, const float* up, float* y, size_t n) {
  with_act<S>(act, [&](auto f) { map2<S>(gate, up, y, n, [&](auto g, auto u) { return S::mul(f(g), u); }); });
}

template <class S>
void soft_cap(const float* x, float* y, size_t n, float cap) {
  const auto c = S::set1(cap);
  map<S>(x, y, n, [&](auto v) { return S::mul(tanh<S>(S::div(v, c)), c); });
}

template <class S>
void softmax(const float* x, float* y, size_t rows, size_t cols, float scale, float cap) {
  using V = typename S::V;
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    if (scale != 1.0f || cap > 0.0f) {
      const V vs = S::set1(scale), vc = S::set1(cap);
      if (cap > 0.0f)
        map<S>(xr, yr, cols, [&](V v) { return S::mul(tanh<S>(S::div(S::mul(v, vs), vc)), vc); });
      else
        map<S>(xr, yr, cols, [&](V v) { return S::mul(v, vs); });
      xr = yr;
    }
    const float mx = reduce_max<S>(xr, cols);
    if (mx == -std::numeric_limits<float>::infinity()) {
      map<S>(xr, yr, cols, [](V) { return S::zero(); });
      continue;
    }
    const V vmx = S::set1(mx);
    V acc = S::zero();
    size_t i = 0;
    for (; i + S::W <= cols; i += S::W) {
      V e = exp<S>(S::sub(S::load(xr + i), vmx));
      S::store(yr + i, e);
      acc = S::add(acc, e);
    }
    if (i < cols) {
      V e = exp<S>(S::sub(S::load_part(xr + i, cols - i), vmx));
      S::store_part(yr + i, e, cols - i);
      acc = S::add(acc, keep_first<S>(e, cols - i));
    }
    const V inv = S::set1(1.0f / S::hsum(acc));
    map<S>(yr, yr, cols, [&](V v) { return S::mul(v, inv); });
  }
}

template <class S>
size_t argmax(const float* x, size_t n) {
  const float mx = reduce_max<S>(x, n);
  for (size_t i = 0; i < n; ++i)
    if (x[i] == mx) return i;
  return 0;  // only NaNs
}

template <class S>
constexpr ops::OpsTable make_ops_table() {
  return ops::OpsTable{&rms_norm<S>, &layer_norm<S>, &add<S>,      &mul<S>,     &scale<S>,
                       &activation<S>, &glu<S>,      &soft_cap<S>, &softmax<S>, &argmax<S>};
}

}  // namespace tf::kernels::simd
