// Vectorised exp / tanh / erf and the activations built on them, written once
// against an ISA traits type S (simd_avx2.h, simd_avx512.h). The scalar
// twins are the std:: functions, used by ops.cpp's reference kernels; tests
// hold these to a few ulp of them.
#pragma once

namespace tf::kernels::simd {

// e^x, about 1 ulp: Cody-Waite reduction x = n·ln2 + r, |r| <= ln2/2, and
// Cephes' expf polynomial for e^r. exp(x) is 0 below -104 and inf above 88.8.
template <class S>
typename S::V exp(typename S::V x) {
  using V = typename S::V;
  x = S::max(S::min(x, S::set1(88.8f)), S::set1(-104.0f));
  const V n = S::round(S::mul(x, S::set1(1.44269504088896341f)));
  V r = S::fnmadd(n, S::set1(0.693359375f), x);
  r = S::fnmadd(n, S::set1(-2.12194440e-4f), r);
  V p = S::set1(1.9875691500e-4f);
  p = S::fmadd(p, r, S::set1(1.3981999507e-3f));
  p = S::fmadd(p, r, S::set1(8.3334519073e-3f));
  p = S::fmadd(p, r, S::set1(4.1665795894e-2f));
  p = S::fmadd(p, r, S::set1(1.6666665459e-1f));
  p = S::fmadd(p, r, S::set1(5.0000001201e-1f));
  const V y = S::add(S::fmadd(S::mul(p, r), r, r), S::set1(1.0f));
  return S::scale2(y, n);
}

// tanh: Cephes' odd polynomial below |x| = 0.625 (where 1 - 2/(e^2x + 1)
// would cancel), the exp form above. About 2 ulp.
template <class S>
typename S::V tanh(typename S::V x) {
  using V = typename S::V;
  const V ax = S::abs(x);
  const V z = S::mul(x, x);
  V p = S::set1(-5.70498872745e-3f);
  p = S::fmadd(p, z, S::set1(2.06390887954e-2f));
  p = S::fmadd(p, z, S::set1(-5.37397155531e-2f));
  p = S::fmadd(p, z, S::set1(1.33314422036e-1f));
  p = S::fmadd(p, z, S::set1(-3.33332819422e-1f));
  const V small = S::fmadd(S::mul(p, z), x, x);
  const V e = exp<S>(S::add(ax, ax));
  const V large = S::sub(S::set1(1.0f), S::div(S::set1(2.0f), S::add(e, S::set1(1.0f))));
  return S::select(S::lt(ax, S::set1(0.625f)), small, S::copysign(large, x));
}

// erf as PyTorch's vectorised CPU kernels compute it (Abramowitz & Stegun
// 7.1.26, |error| < 1.5e-7): matching torch's GELU beats being closer to the
// true erf here, since golden outputs come from torch.
template <class S>
typename S::V erf(typename S::V x) {
  using V = typename S::V;
  const V one = S::set1(1.0f);
  const V ax = S::abs(x);
  const V t = S::div(one, S::fmadd(S::set1(0.3275911f), ax, one));
  V r = S::fmadd(S::set1(1.061405429f), t, S::set1(-1.453152027f));
  r = S::fmadd(r, t, S::set1(1.421413741f));
  r = S::fmadd(r, t, S::set1(-0.284496736f));
  r = S::fmadd(r, t, S::set1(0.254829592f));
  const V e = exp<S>(S::sub(S::zero(), S::mul(x, x)));
  const V y = S::fnmadd(S::mul(e, t), r, one);  // 1 - r·t·e^(-x²)
  return S::copysign(y, x);
}

template <class S>
typename S::V silu(typename S::V x) {
  return S::div(x, S::add(S::set1(1.0f), exp<S>(S::sub(S::zero(), x))));
}

// 0.5·x·(1 + erf(x/√2)), in torch's order of operations.
template <class S>
typename S::V gelu(typename S::V x) {
  const auto half_x = S::mul(x, S::set1(0.5f));
  return S::mul(half_x, S::add(S::set1(1.0f), erf<S>(S::mul(x, S::set1(0.70710678118654752f)))));
}

// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), in torch's order of operations.
template <class S>
typename S::V gelu_tanh(typename S::V x) {
  const auto x3 = S::mul(S::mul(x, x), x);
  const auto inner = S::mul(S::set1(0.79788456080286536f), S::add(x, S::mul(S::set1(0.044715f), x3)));
  return S::mul(S::mul(S::set1(0.5f), x), S::add(S::set1(1.0f), tanh<S>(inner)));
}

template <class S>
typename S::V relu(typename S::V x) {
  return S::max(x, S::zero());
}

}  // namespace tf::kernels::simd
