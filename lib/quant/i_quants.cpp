// The lattice i-quants: IQ2_XXS IQ2_XS IQ2_S IQ3_XXS IQ3_S IQ1_S IQ1_M.
// Groups of 8 (or 4) magnitudes are snapped to points of a fixed lattice
// codebook (iq_grids.cpp); signs are stored apart, and a sub-block scale is
// searched for that fits the weighted magnitudes best. When the rounded
// magnitudes miss the codebook, the best of the codebook points nearest to
// them is used, from neighbour lists built once per codebook.
//
// Every search reproduces ggml's quantize_row_iq*_impl float for float,
// quirks included (IQ3_S does not advance its qs / signs cursors past an
// all-zero sub-block, for instance): files must match llama.cpp's bytes.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "quant/blocks.h"
#include "quant/codecs.h"
#include "quant/iq_grids.h"
#include "quant/scale_fit.h"
#include "tf/half.h"

namespace tf::quant::detail {

namespace {

// Sub-blocks below these maxima are stored as zeros (ggml's GROUP_MAX_EPS_*).
constexpr float kEpsIQ3XXS = 1e-8f;
constexpr float kEpsIQ2S = 1e-8f;
constexpr float kEpsIQ1M = 1e-7f;
constexpr float kEpsIQ1S = 1e-12f;

// A codebook of odd-valued lattice points (2*level + 1 per coordinate) with
// a map from every packed code (levels of a group) to its point index, or,
// for codes off the codebook, to the list of codebook points nearest to it:
// all points at the `nwant` smallest squared distances, by distance then
// index (ggml's kmap / kneighbors, with the same order).
class Lattice {
 public:
  Lattice(const uint16_t* packed, int size, int dims, int bits, int map_size, int nwant)
      : dims_(dims), bits_(bits), points_(size_t(size) * size_t(dims)), map_(size_t(map_size), -1) {
    const int mask = (1 << bits) - 1;
    for (int k = 0; k < size; ++k) {
      for (int i = 0; i < dims; ++i) points_[size_t(k * dims + i)] = int8_t(2 * ((packed[k] >> (bits * i)) & mask) + 1);
      map_[packed[k]] = k;
    }
    std::vector<int> d2(size_t(size), 0);
    std::vector<int> histogram;
    int8_t pos[8];
    for (int code = 0; code < map_size; ++code) {
      if (map_[size_t(code)] >= 0) continue;
      for (int i = 0; i < dims; ++i) pos[i] = int8_t(2 * ((code >> (bits * i)) & mask) + 1);
      int max_d2 = 0;
      for (int j = 0; j < size; ++j) {
        const int8_t* pg = point(j);
        int d = 0;
        for (int i = 0; i < dims; ++i) d += (pg[i] - pos[i]) * (pg[i] - pos[i]);
        d2[size_t(j)] = d;
        max_d2 = std::max(max_d2, d);
      }
      histogram.assign(size_t(max_d2) + 1, 0);
      for (int j = 0; j < size; ++j) ++histogram[size_t(d2[size_t(j)])];
      map_[size_t(code)] = -int(neighbours_.size()) - 1;
      const size_t count_at = neighbours_.size();
      neighbours_.push_back(0);
      int taken = 0;
      for (int d = 0; d <= max_d2 && taken < nwant; ++d) {
        if (!histogram[size_t(d)]) continue;
        ++taken;
        for (int j = 0; j < size; ++j)
          if (d2[size_t(j)] == d) neighbours_.push_back(uint16_t(j));
      }
      neighbours_[count_at] = uint16_t(neighbours_.size() - count_at - 1);
    }
  }

  int dims() const { return dims_; }
  const int8_t* point(int index) const { return &points_[size_t(index * dims_)]; }
  // Packed code of levels L[0..dims).
  int code(const int8_t* L) const {
    int u = 0;
    for (int i = 0; i < dims_; ++i) u |= L[i] << (bits_ * i);
    return u;
  }
  // Point index of a code on the codebook, or -1.
  int index_of(int code) const { return std::max(-1, map_[size_t(code)]); }
  // [count, indices...] of the points nearest to an off-codebook code.
  const uint16_t* neighbours(int code) const { return &neighbours_[size_t(-map_[size_t(code)] - 1)]; }

 private:
  int dims_, bits_;
  std::vector<int8_t> points_;
  std::vector<int> map_;
  std::vector<uint16_t> neighbours_;
};

// Built on first use (C++ guarantees one thread builds each, others wait).
// The 2-bit maps cover every code with levels 0..2 per coordinate (the
// largest, all 2s, is 0xAAAA = 43690), as ggml's kmap_size 43692 does.
const Lattice& iq2xxs_lattice() {
  static const Lattice lattice(kIQ2XXSPoints, 256, 8, 2, 43692, 2);
  return lattice;
}
const Lattice& iq2xs_lattice() {
  static const Lattice lattice(kIQ2XSPoints, 512, 8, 2, 43692, 2);
  return lattice;
}
const Lattice& iq2s_lattice() {
  static const Lattice lattice(kIQ2SPoints, 1024, 8, 2, 43692, 1);
  return lattice;
}
const Lattice& iq1_lattice() {
  static const Lattice lattice(kIQ1SPoints, 2048, 8, 2, 43692, 3);
  return lattice;
}
const Lattice& iq3xxs_lattice() {
  static const Lattice lattice(kIQ3XXSPoints, 256, 4, 3, 4096, 2);
  return lattice;
}
const Lattice& iq3s_lattice() {
  static const Lattice lattice(kIQ3SPoints, 512, 4, 3, 4096, 3);
  return lattice;
}

// The neighbour of an off-codebook group closest to xval at this scale in
// weighted squared distance (first on ties); its levels go to L. ggml asserts
// on a non-finite distance; then the first neighbour is taken.
void snap_to_neighbour(const Lattice& g, int code, const float* xval, const float* weight, float scale, int8_t* L) {
  const uint16_t* nb = g.neighbours(code);
  float best_d2 = FLT_MAX;
  int best = nb[1];
  for (int j = 1; j <= nb[0]; ++j) {
    const int8_t* pg = g.point(nb[j]);
    float d2 = 0;
    for (int i = 0; i < g.dims(); ++i) {
      float q = pg[i];
      float diff = scale * q - xval[i];
      d2 += weight[i] * diff * diff;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      best = nb[j];
    }
  }
  const int8_t* pg = g.point(best);
  for (int i = 0; i < g.dims(); ++i) L[i] = int8_t((pg[i] - 1) / 2);
}

// How a type searches its sub-block scale over the codebook.
struct GridSearch {
  int trials;  // trial scales (2*kmax - 1 + t*step) / trial_max, t in [-trials, trials]
  float step;
  bool start_on_grid;      // IQ3_S starts from "off the grid"
  bool always_refit;       // IQ2_XXS re-derives every group after the trials whenever scale > 0
  bool refit_every_group;  // IQ2_XXS / IQ3_S re-derive all groups, the others only those off the grid
};

// Weighted least-squares sums of the odd levels 2L+1 against xval.
void level_sums(int n, const int8_t* L, const float* xval, const float* weight, float* sumqx, float* sumq2) {
  float sx = 0, s2 = 0;
  for (int i = 0; i < n; ++i) {
    float w = weight[i];
    float q = 2 * L[i] + 1;
    sx += w * xval[i] * q;
    s2 += w * q * q;
  }
  *sumqx = sx;
  *sumq2 = s2;
}

// Searches the scale of n magnitudes xval (weights weight, distance weights
// waux) whose groups must lie on g; levels 0..kmax-1 in L. scale and L come
// in as the starting point and go out as the result.
float search_grid_scale(const Lattice& g, const GridSearch& gs, int n, int kmax, const float* xval, const float* weight,
                        const float* waux, float trial_max, float scale, int8_t* L) {
  const int dims = g.dims();
  const int ngroups = n / dims;
  bool on_grid[8], on_grid_aux[8];
  std::fill(on_grid, on_grid + ngroups, gs.start_on_grid);
  int8_t Laux[32];
  float best = 0;
  for (int is = -gs.trials; is <= gs.trials; ++is) {
    const float id = (2 * kmax - 1 + is * gs.step) / trial_max;
    const float this_scale = 1 / id;
    for (int k = 0; k < ngroups; ++k) {
      for (int i = 0; i < dims; ++i) {
        int l = nearest_int(0.5f * (id * xval[dims * k + i] - 1));
        Laux[dims * k + i] = int8_t(std::max(0, std::min(kmax - 1, l)));
      }
      const int u = g.code(Laux + dims * k);
      on_grid_aux[k] = g.index_of(u) >= 0;
      if (!on_grid_aux[k]) snap_to_neighbour(g, u, xval + dims * k, waux + dims * k, this_scale, Laux + dims * k);
    }
    float sumqx, sumq2;
    level_sums(n, Laux, xval, weight, &sumqx, &sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      scale = sumqx / sumq2;
      best = scale * sumqx;
      std::memcpy(L, Laux, size_t(n));
      std::copy(on_grid_aux, on_grid_aux + ngroups, on_grid);
    }
  }
  const bool any_off = std::count(on_grid, on_grid + ngroups, false) > 0;
  if ((gs.always_refit || any_off) && scale > 0) {
    const float id = 1 / scale;
    for (int k = 0; k < ngroups; ++k) {
      if (!gs.refit_every_group && on_grid[k]) continue;
      for (int i = 0; i < dims; ++i) {
        int l = nearest_int(0.5f * (id * xval[dims * k + i] - 1));
        L[dims * k + i] = int8_t(std::max(0, std::min(kmax - 1, l)));
      }
      const int u = g.code(L + dims * k);
      if (g.index_of(u) < 0) snap_to_neighbour(g, u, xval + dims * k, waux + dims * k, scale, L + dims * k);
    }
    float sumqx, sumq2;
    level_sums(n, L, xval, weight, &sumqx, &sumq2);
    if (sumq2 > 0) scale = sumqx / sumq2;
  }
  return scale;
}

float sum_of_squares(const float* x, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}

// Magnitudes of 8 values and their sign bits, with an even number of minus
// signs: when odd, the element of least weighted energy changes sign (its
// magnitude is negated instead). Returns the low 7 sign bits (the 8th is
// implied by parity).
uint8_t even_sign_split(const float* xb, const float* weight, float* xval) {
  int nflip = 0;
  uint8_t s = 0;
  for (int i = 0; i < 8; ++i) {
    if (xb[i] >= 0) {
      xval[i] = xb[i];
    } else {
      xval[i] = -xb[i];
      ++nflip;
      s = uint8_t(s | (1 << i));
    }
  }
  if (nflip % 2) {
    int imin = 0;
    float min = weight[imin] * xb[imin] * xb[imin];
    for (int i = 1; i < 8; ++i) {
      float ax = weight[i] * xb[i] * xb[i];
      if (ax < min) {
        min = ax;
        imin = i;
      }
    }
    xval[imin] = -xval[imin];
    s = uint8_t(s ^ (1 << imin));
  }
  return s & 127;
}

uint8_t plain_sign_split(const float* xb, float* xval) {
  uint8_t s = 0;
  for (int i = 0; i < 8; ++i) {
    if (xb[i] >= 0) {
      xval[i] = xb[i];
    } else {
      xval[i] = -xb[i];
      s = uint8_t(s | (1 << i));
    }
  }
  return s;
}

float max_of(const float* v, int n) {
  float m = v[0];
  for (int i = 1; i < n; ++i) m = m > v[i] ? m : v[i];
  return m;
}

// Sub-block scale code l (0..lmax) with scale ~ d * (2l + 1) / 2, id = 1/d.
int odd_scale_code(float id, float scale, int lmax) {
  int l = nearest_int(0.5f * (id * scale - 1));
  return std::max(0, std::min(lmax, l));
}

int grid_index_of(const Lattice& g, const int8_t* L) {
  // every group is on the codebook after the search; ggml aborts otherwise
  return std::max(0, g.index_of(g.code(L)));
}

}  // namespace

// ---------------------------------------------------------------- IQ2_XXS
// 32-element sub-blocks: 4 grid bytes + 4x7 sign bits + a 4-bit scale.
void quantize_iq2_xxs(const float* x, void* dst, int64_t n, const float* importance) {
  const Lattice& g = iq2xxs_lattice();
  const GridSearch search{6, 0.1f, true, true, true};
  constexpr int kMax = 3;
  auto* y = static_cast<BlockIQ2_XXS*>(dst);
  float scales[kQK_K / 32], weight[32], waux[32], xval[32];
  int8_t L[32];
  uint8_t signs[4];
  uint32_t q2[2 * (kQK_K / 32)];
  for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl) {
    y[ibl].d = f32_to_f16(0.f);
    std::memset(q2, 0, sizeof q2);
    float max_scale = 0;
    const float* xbl = x + kQK_K * ibl;
    const float sigma2 = sum_of_squares(xbl, kQK_K) / kQK_K;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const float* xb = xbl + 32 * ib;
      const float* qw = importance + kQK_K * ibl + 32 * ib;
      for (int i = 0; i < 32; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
      for (int i = 0; i < 32; ++i) waux[i] = std::sqrt(weight[i]);
      for (int k = 0; k < 4; ++k) signs[k] = even_sign_split(xb + 8 * k, weight + 8 * k, xval + 8 * k);
      if (max_of(xval, 32) < kGroupMaxEps) {
        scales[ib] = 0;
        continue;
      }
      // start from the best plain scale of levels 0..kMax
      float scale = fit_positive(32, kMax + 1, xval, reinterpret_cast<uint8_t*>(L), weight);
      const float eff_max = scale * kMax;
      if (eff_max <= 0) {
        scales[ib] = 0;
        continue;
      }
      scale = search_grid_scale(g, search, 32, kMax, xval, weight, waux, eff_max, scale, L);
      if (scale < 0) {  // cannot happen (ggml guards it the same way)
        scale = -scale;
        for (int k = 0; k < 4; ++k) signs[k] = uint8_t(~signs[k] & 127);
      }
      for (int k = 0; k < 4; ++k) {
        q2[2 * ib + 0] |= uint32_t(grid_index_of(g, L + 8 * k)) << (8 * k);
        q2[2 * ib + 1] |= uint32_t(signs[k]) << (7 * k);
      }
      scales[ib] = scale;
      max_scale = std::max(max_scale, scale);
    }
    if (!max_scale) {
      std::memset(y[ibl].qs, 0, sizeof y[ibl].qs);
      continue;
    }
    const float d = max_scale / 31;
    y[ibl].d = f32_to_f16(d);
    const float id = 1 / d;
    for (int ib = 0; ib < kQK_K / 32; ++ib) q2[2 * ib + 1] |= uint32_t(odd_scale_code(id, scales[ib], 15)) << 28;
    std::memcpy(y[ibl].qs, q2, sizeof q2);
  }
}

void dequantize_iq2_xxs(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockIQ2_XXS*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    for (int ib32 = 0; ib32 < kQK_K / 32; ++ib32) {
      uint32_t aux32[2];
      std::memcpy(aux32, x[i].qs + 4 * ib32, sizeof aux32);
      const auto* aux8 = reinterpret_cast<const uint8_t*>(aux32);
      const float db = d * (0.5f + (aux32[1] >> 28)) * 0.25f;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint64_t grid = kIQ2XXSGrid[aux8[l]];
        const uint8_t signs = kIQ2EvenSigns[(aux32[1] >> 7 * l) & 127];
        for (int j = 0; j < 8; ++j) y[j] = db * uint8_t(grid >> (8 * j)) * (signs & (1 << j) ? -1.f : 1.f);
      }
    }
  }
}

// ---------------------------------------------------------------- IQ2_XS
// 16-element sub-blocks: 9-bit grid index + 7 sign bits per group of 8.
void quantize_iq2_xs(const float* x, void* dst, int64_t n, const float* importance) {
  const Lattice& g = iq2xs_lattice();
  const GridSearch search{9, 0.1f, true, false, false};
  constexpr int kMax = 3;
  auto* y = static_cast<BlockIQ2_XS*>(dst);
  float scales[kQK_K / 16], weight[16], waux[16], xval[16];
  int8_t L[16];
  uint8_t signs[2];
  uint16_t q2[2 * (kQK_K / 16)];
  for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl) {
    y[ibl].d = f32_to_f16(0.f);
    std::memset(q2, 0, sizeof q2);
    std::memset(y[ibl].scales, 0, sizeof y[ibl].scales);
    float max_scale = 0;
    const float* xbl = x + kQK_K * ibl;
    const float sigma2 = sum_of_squares(xbl, kQK_K) / kQK_K;
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      const float* xb = xbl + 16 * ib;
      const float* qw = importance + kQK_K * ibl + 16 * ib;
      for (int i = 0; i < 16; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
      for (int i = 0; i < 16; ++i) waux[i] = std::sqrt(weight[i]);
      for (int k = 0; k < 2; ++k) signs[k] = even_sign_split(xb + 8 * k, weight + 8 * k, xval + 8 * k);
      const float max = max_of(xval, 16);
      std::memset(L, 0, sizeof L);
      if (max < kGroupMaxEps) {
        scales[ib] = 0;
        continue;
      }
      float scale = search_grid_scale(g, search, 16, kMax, xval, weight, waux, max, max / (2 * kMax - 1), L);
      if (scale < 0) {
        scale = -scale;
        for (int k = 0; k < 2; ++k) signs[k] = uint8_t(~signs[k] & 127);
      }
      for (int k = 0; k < 2; ++k) q2[2 * ib + k] = uint16_t(grid_index_of(g, L + 8 * k) | (signs[k] << 9));
      scales[ib] = scale;
      max_scale = std::max(max_scale, scale);
    }
    if (!max_scale) {
      std::memset(y[ibl].qs, 0, sizeof y[ibl].qs);
      continue;
    }
    const float d = max_scale / 31;
    y[ibl].d = f32_to_f16(d);
    const float id = 1 / d;
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      const int l = odd_scale_code(id, scales[ib], 15);
      if (ib % 2 == 0) {
        y[ibl].scales[ib / 2] = uint8_t(l);
      } else {
        y[ibl].scales[ib / 2] |= uint8_t(l << 4);
      }
    }
    std::memcpy(y[ibl].qs, q2, sizeof q2);
  }
}

void dequantize_iq2_xs(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockIQ2_XS*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    for (int ib32 = 0; ib32 < kQK_K / 32; ++ib32) {
      const float db[2] = {d * (0.5f + (x[i].scales[ib32] & 0xf)) * 0.25f,
                           d * (0.5f + (x[i].scales[ib32] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint16_t q = x[i].qs[4 * ib32 + l];
        const uint64_t grid = kIQ2XSGrid[q & 511];
        const uint8_t signs = kIQ2EvenSigns[q >> 9];
        for (int j = 0; j < 8; ++j) y[j] = db[l / 2] * uint8_t(grid >> (8 * j)) * (signs & (1 << j) ? -1.f : 1.f);
      }
    }
  }
}

// ---------------------------------------------------------------- IQ2_S
// 16-element sub-blocks: 10-bit grid index (low byte in qs, 2 bits in qh),
// 8 explicit sign bits per group.
void quantize_iq2_s(const float* x, void* dst, int64_t n, const float* importance) {
  const Lattice& g = iq2s_lattice();
  const GridSearch search{9, 0.1f, true, false, false};
  constexpr int kMax = 3;
  auto* y = static_cast<BlockIQ2_S*>(dst);
  float scales[kQK_K / 16], weight[16], waux[16], xval[16];
  int8_t L[16];
  uint8_t signs[2];
  for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl) {
    std::memset(&y[ibl], 0, sizeof(BlockIQ2_S));
    y[ibl].d = f32_to_f16(0.f);
    float max_scale = 0;
    const float* xbl = x + kQK_K * ibl;
    const float sigma2 = 2 * sum_of_squares(xbl, kQK_K) / kQK_K;
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      const float* xb = xbl + 16 * ib;
      if (importance) {
        const float* qw = importance + kQK_K * ibl + 16 * ib;
        for (int i = 0; i < 16; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
      } else {
        for (int i = 0; i < 16; ++i) weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
      }
      for (int i = 0; i < 16; ++i) waux[i] = std::sqrt(weight[i]);
      for (int k = 0; k < 2; ++k) signs[k] = plain_sign_split(xb + 8 * k, xval + 8 * k);
      const float max = max_of(xval, 16);
      std::memset(L, 0, sizeof L);
      if (max < kEpsIQ2S) {
        scales[ib] = 0;
        continue;
      }
      float scale = search_grid_scale(g, search, 16, kMax, xval, weight, waux, max, max / (2 * kMax - 1), L);
      if (scale < 0) {
        scale = -scale;
        for (int k = 0; k < 2; ++k) signs[k] = uint8_t(~signs[k]);
      }
      for (int k = 0; k < 2; ++k) {
        const int gi = grid_index_of(g, L + 8 * k);
        const int i8 = 2 * ib + k;
        y[ibl].qs[i8] = uint8_t(gi & 255);
        y[ibl].qh[i8 / 4] |= uint8_t((gi >> 8) << 2 * (i8 % 4));
        y[ibl].qs[kQK_K / 8 + i8] = signs[k];
      }
      scales[ib] = scale;
      max_scale = std::max(max_scale, scale);
    }
    if (!max_scale) continue;
    const float d = max_scale / 31;
    y[ibl].d = f32_to_f16(d * 0.9875f);  // ggml's empirical correction
    const float id = 1 / d;
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      const int l = odd_scale_code(id, scales[ib], 15);
      if (ib % 2 == 0) {
        y[ibl].scales[ib / 2] = uint8_t(l);
      } else {
        y[ibl].scales[ib / 2] |= uint8_t(l << 4);
      }
    }
  }
}

void dequantize_iq2_s(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockIQ2_S*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    const uint8_t* qs = x[i].qs;
    const uint8_t* qh = x[i].qh;
    const uint8_t* signs = qs + kQK_K / 8;
    for (int ib32 = 0; ib32 < kQK_K / 32; ++ib32, qs += 4, signs += 4) {
      const float db[2] = {d * (0.5f + (x[i].scales[ib32] & 0xf)) * 0.25f,
                           d * (0.5f + (x[i].scales[ib32] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const float dl = db[l / 2];
        const uint64_t grid = kIQ2SGrid[qs[l] | ((qh[ib32] << (8 - 2 * l)) & 0x300)];
        for (int j = 0; j < 8; ++j) y[j] = dl * uint8_t(grid >> (8 * j)) * (signs[l] & (1 << j) ? -1.f : 1.f);
      }
    }
  }
}

// ---------------------------------------------------------------- IQ3_XXS
// 32-element sub-blocks of 8 groups of 4: 8-bit grid indices, then per
// sub-block 4x7 sign bits and a 4-bit scale in one uint32.
void quantize_iq3_xxs(const float* x, void* dst, int64_t n, const float* importance) {
  const Lattice& g = iq3xxs_lattice();
  const GridSearch search{15, 0.2f, true, false, false};
  constexpr int kMax = 8;
  auto* y = static_cast<BlockIQ3_XXS*>(dst);
  float scales[kQK_K / 32], weight[32], waux[32], xval[32];
  int8_t L[32];
  uint8_t signs[4];
  uint8_t q3[3 * (kQK_K / 8)];  // grid indices, then scales_and_signs
  uint32_t scales_and_signs[kQK_K / 32];
  for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl) {
    y[ibl].d = f32_to_f16(0.f);
    std::memset(q3, 0, sizeof q3);
    std::memset(scales_and_signs, 0, sizeof scales_and_signs);
    float max_scale = 0;
    const float* xbl = x + kQK_K * ibl;
    const float sigma2 = 2 * sum_of_squares(xbl, kQK_K) / kQK_K;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const float* xb = xbl + 32 * ib;
      if (importance) {
        const float* qw = importance + kQK_K * ibl + 32 * ib;
        for (int i = 0; i < 32; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
      } else {
        for (int i = 0; i < 32; ++i) weight[i] = xb[i] * xb[i];
      }
      for (int i = 0; i < 32; ++i) waux[i] = std::sqrt(weight[i]);
      for (int k = 0; k < 4; ++k) signs[k] = even_sign_split(xb + 8 * k, weight + 8 * k, xval + 8 * k);
      const float max = max_of(xval, 32);
      std::memset(L, 0, sizeof L);
      if (max < kEpsIQ3XXS) {
        scales[ib] = 0;
        continue;
      }
      float scale = search_grid_scale(g, search, 32, kMax, xval, weight, waux, max, max / (2 * kMax - 1), L);
      if (scale < 0) {
        scale = -scale;
        for (int k = 0; k < 4; ++k) signs[k] = uint8_t(~signs[k] & 127);
      }
      for (int k = 0; k < 8; ++k) q3[8 * ib + k] = uint8_t(grid_index_of(g, L + 4 * k));
      scales_and_signs[ib] = uint32_t(signs[0] | (signs[1] << 7) | (signs[2] << 14) | (signs[3] << 21));
      scales[ib] = scale;
      max_scale = std::max(max_scale, scale);
    }
    if (!max_scale) {
      std::memset(y[ibl].qs, 0, sizeof y[ibl].qs);
      continue;
    }
    const float d = max_scale / 31;
    y[ibl].d = f32_to_f16(d * 1.0125f);  // ggml's empirical correction
    const float id = 1 / d;
    for (int ib = 0; ib < kQK_K / 32; ++ib) scales_and_signs[ib] |= uint32_t(odd_scale_code(id, scales[ib], 15)) << 28;
    std::memcpy(y[ibl].qs, q3, kQK_K / 4);
    std::memcpy(y[ibl].qs + kQK_K / 4, scales_and_signs, sizeof scales_and_signs);
  }
}

void dequantize_iq3_xxs(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockIQ3_XXS*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    const uint8_t* qs = x[i].qs;
    const uint8_t* scales_and_signs = qs + kQK_K / 4;
    for (int ib32 = 0; ib32 < kQK_K / 32; ++ib32, qs += 8) {
      uint32_t aux32;
      std::memcpy(&aux32, scales_and_signs + 4 * ib32, sizeof aux32);
      const float db = d * (0.5f + (aux32 >> 28)) * 0.5f;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint8_t signs = kIQ2EvenSigns[(aux32 >> 7 * l) & 127];
        const uint32_t grid1 = kIQ3XXSGrid[qs[2 * l + 0]];
        const uint32_t grid2 = kIQ3XXSGrid[qs[2 * l + 1]];
        for (int j = 0; j < 4; ++j) {
          y[j + 0] = db * uint8_t(grid1 >> (8 * j)) * (signs & (1 << j) ? -1.f : 1.f);
          y[j + 4] = db * uint8_t(grid2 >> (8 * j)) * (signs & (1 << (j + 4)) ? -1.f : 1.f);
        }
      }
    }
  }
}

// ---------------------------------------------------------------- IQ3_S
// 32-element sub-blocks of 8 groups of 4: 9-bit grid indices (8 in qs, the
// ninth in qh), 8 sign bits per group of 8, 4-bit scales in pairs.
void quantize_iq3_s(const float* x, void* dst, int64_t n, const float* importance) {
  const Lattice& g = iq3s_lattice();
  const GridSearch search{9, 0.2f, false, false, true};
  constexpr int kMax = 8, kBlock = 32;
  auto* y = static_cast<BlockIQ3_S*>(dst);
  float scales[kQK_K / kBlock], weight[kBlock], waux[kBlock], xval[kBlock];
  int8_t L[kBlock];
  uint8_t signs[kBlock / 8];
  for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl) {
    std::memset(&y[ibl], 0, sizeof(BlockIQ3_S));
    y[ibl].d = f32_to_f16(0.f);
    uint8_t* qs = y[ibl].qs;
    uint8_t* qh = y[ibl].qh;
    uint8_t* sign_out = y[ibl].signs;
    float max_scale = 0;
    const float* xbl = x + kQK_K * ibl;
    const float sigma2 = 2 * sum_of_squares(xbl, kQK_K) / kQK_K;
    for (int ib = 0; ib < kQK_K / kBlock; ++ib) {
      const float* xb = xbl + kBlock * ib;
      if (importance) {
        const float* qw = importance + kQK_K * ibl + kBlock * ib;
        for (int i = 0; i < kBlock; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
      } else {
        for (int i = 0; i < kBlock; ++i) weight[i] = xb[i] * xb[i];
      }
      for (int i = 0; i < kBlock; ++i) waux[i] = std::sqrt(weight[i]);
      for (int k = 0; k < kBlock / 8; ++k) signs[k] = plain_sign_split(xb + 8 * k, xval + 8 * k);
      const float max = max_of(xval, kBlock);
      std::memset(L, 0, sizeof L);
      if (!max) {
        // ggml skips the sub-block without advancing qs / signs, so later
        // sub-blocks land one slot early; kept for byte-identical files.
        scales[ib] = 0;
        continue;
      }
      float scale = search_grid_scale(g, search, kBlock, kMax, xval, weight, waux, max, max / (2 * kMax - 1), L);
      if (scale < 0) {
        scale = -scale;
        for (int k = 0; k < kBlock / 8; ++k) signs[k] = uint8_t(~signs[k]);
      }
      for (int k = 0; k < kBlock / 4; ++k) {
        const int gi = grid_index_of(g, L + 4 * k);
        qs[k] = uint8_t(gi & 255);
        qh[(ib * 8 + k) / 8] |= uint8_t((gi >> 8) << ((ib * 8 + k) % 8));
      }
      qs += kBlock / 4;
      std::memcpy(sign_out, signs, kBlock / 8);
      sign_out += kBlock / 8;
      scales[ib] = scale;
      max_scale = std::max(max_scale, scale);
    }
    if (!max_scale) continue;
    const float d = max_scale / 31;
    y[ibl].d = f32_to_f16(d * 1.033f);  // ggml's empirical correction
    const float id = 1 / d;
    for (int ib = 0; ib < kQK_K / kBlock; ib += 2) {
      const int l1 = odd_scale_code(id, scales[ib + 0], 15);
      const int l2 = odd_scale_code(id, scales[ib + 1], 15);
      y[ibl].scales[ib / 2] = uint8_t(l1 | (l2 << 4));
    }
  }
}

void dequantize_iq3_s(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockIQ3_S*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    const uint8_t* qs = x[i].qs;
    const uint8_t* qh = x[i].qh;
    const uint8_t* signs = x[i].signs;
    for (int ib32 = 0; ib32 < kQK_K / 32; ib32 += 2) {
      const float db[2] = {d * (1 + 2 * (x[i].scales[ib32 / 2] & 0xf)), d * (1 + 2 * (x[i].scales[ib32 / 2] >> 4))};
      for (int half = 0; half < 2; ++half, qs += 8, signs += 4) {
        for (int l = 0; l < 4; ++l, y += 8) {
          const uint32_t grid1 = kIQ3SGrid[qs[2 * l + 0] | ((qh[half] << (8 - 2 * l)) & 256)];
          const uint32_t grid2 = kIQ3SGrid[qs[2 * l + 1] | ((qh[half] << (7 - 2 * l)) & 256)];
          for (int j = 0; j < 4; ++j) {
            y[j + 0] = db[half] * uint8_t(grid1 >> (8 * j)) * (signs[l] & (1 << j) ? -1.f : 1.f);
            y[j + 4] = db[half] * uint8_t(grid2 >> (8 * j)) * (signs[l] & (1 << (j + 4)) ? -1.f : 1.f);
          }
        }
      }
      qh += 2;
    }
  }
}

// ---------------------------------------------------------------- IQ1_S / IQ1_M
namespace {

// The two value sets of the 1-bit types: grid levels {-1, 0, 1} shifted by
// +delta or -delta (the shift's sign is stored per sub-block).
constexpr float kShiftUp[3] = {-1 + kIQ1Delta, kIQ1Delta, 1 + kIQ1Delta};
constexpr float kShiftDown[3] = {-1 - kIQ1Delta, -kIQ1Delta, 1 - kIQ1Delta};

// Neighbour of an off-codebook group nearest (weighted) to x at this scale,
// with levels valued by xx; levels to L. (ggml's iq1_find_best_neighbour2;
// its fallback scan over the whole grid is never reached for finite input
// and reads out of bounds, so the first neighbour stands in for it.)
int snap_iq1(const Lattice& g, int code, const float* x, const float* weight, float scale, const float* xx, int8_t* L) {
  const uint16_t* nb = g.neighbours(code);
  float best_score = FLT_MAX;
  int best = nb[1];
  for (int j = 1; j <= nb[0]; ++j) {
    const int8_t* pg = g.point(nb[j]);
    float d2 = 0;
    for (int i = 0; i < 8; ++i) {
      float q = xx[(pg[i] - 1) / 2];
      float w = weight[i];
      float diff = scale * q - x[i];
      d2 += w * diff * diff;
    }
    if (d2 < best_score) {
      best_score = d2;
      best = nb[j];
    }
  }
  const int8_t* pg = g.point(best);
  for (int i = 0; i < 8; ++i) L[i] = int8_t((pg[i] - 1) / 2);
  return best;
}

// Element indices of xb in ascending value order, ties in index order (ggml
// sorts (value, index) pairs with glibc's qsort, a stable merge sort here).
void ascending_order(const float* xb, int n, int* order) {
  for (int j = 0; j < n; ++j) order[j] = j;
  std::stable_sort(order, order + n, [xb](int a, int b) { return xb[a] < xb[b]; });
}

// Levels 0/1/2 from the two split points of the sorted order.
void levels_from_split(const int* order, int n, int i1, int i2, int8_t* L) {
  for (int j = 0; j < i1; ++j) L[order[j]] = 0;
  for (int j = i1; j < i2; ++j) L[order[j]] = 1;
  for (int j = i2; j < n; ++j) L[order[j]] = 2;
}

float abs_max(const float* x, int n) {
  float m = std::fabs(x[0]);
  for (int i = 1; i < n; ++i) m = m > std::fabs(x[i]) ? m : std::fabs(x[i]);
  return m;
}

}  // namespace

// 32-element sub-blocks of 4 groups of 8: 11-bit grid indices (8 bits in qs,
// 3 in qh), a 3-bit scale and the shift sign in the top of qh.
void quantize_iq1_s(const float* x, void* dst, int64_t n, const float* importance) {
  const Lattice& g = iq1_lattice();
  constexpr int kBlock = 32;
  auto* y = static_cast<BlockIQ1_S*>(dst);
  float scales[kQK_K / kBlock], weight[kBlock], sumx[kBlock + 1], sumw[kBlock + 1];
  int8_t L[kBlock], shifts[kQK_K / kBlock];
  int order[kBlock];
  uint16_t index[kBlock / 8];
  for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl) {
    y[ibl].d = f32_to_f16(0.f);
    std::memset(y[ibl].qs, 0, sizeof y[ibl].qs);
    std::memset(y[ibl].qh, 0, sizeof y[ibl].qh);
    float max_scale = 0;
    const float* xbl = x + kQK_K * ibl;
    const float sigma2 = 2 * sum_of_squares(xbl, kQK_K) / kQK_K;
    for (int ib = 0; ib < kQK_K / kBlock; ++ib) {
      const float* xb = xbl + kBlock * ib;
      const float* qw = importance + kQK_K * ibl + kBlock * ib;
      for (int i = 0; i < kBlock; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
      const float max = abs_max(xb, kBlock);
      if (max < kEpsIQ1S) {
        scales[ib] = 0;
        shifts[ib] = 1;
        continue;
      }
      // Exhaustive search of the two thresholds splitting the sorted values
      // into levels -1 / 0 / 1, with prefix sums of w*x and w.
      ascending_order(xb, kBlock, order);
      sumx[0] = sumw[0] = 0;
      for (int j = 0; j < kBlock; ++j) {
        const int i = order[j];
        sumx[j + 1] = sumx[j] + weight[i] * xb[i];
        sumw[j + 1] = sumw[j] + weight[i];
      }
      float best_score = -FLT_MAX, scale = max;
      int besti1 = -1, besti2 = -1, best_shift = 0;
      for (int i1 = 0; i1 <= kBlock; ++i1) {
        for (int i2 = i1; i2 <= kBlock; ++i2) {
          for (int shift : {1, -1}) {
            const float* v = shift == 1 ? kShiftUp : kShiftDown;
            float sumqx = (sumx[i1] - sumx[0]) * v[0] + (sumx[i2] - sumx[i1]) * v[1] + (sumx[kBlock] - sumx[i2]) * v[2];
            float sumq2 = (sumw[i1] - sumw[0]) * v[0] * v[0] + (sumw[i2] - sumw[i1]) * v[1] * v[1] +
                          (sumw[kBlock] - sumw[i2]) * v[2] * v[2];
            if (sumq2 > 0 && sumqx * sumqx > best_score * sumq2) {
              scale = sumqx / sumq2;
              best_score = scale * sumqx;
              besti1 = i1;
              besti2 = i2;
              best_shift = shift;
            }
          }
        }
      }
      if (besti1 < 0 || besti2 < 0 || best_shift == 0) {
        scales[ib] = 0;
        shifts[ib] = 1;
        continue;
      }
      levels_from_split(order, kBlock, besti1, besti2, L);
      if (scale < 0) {
        for (int j = 0; j < kBlock; ++j) L[j] = int8_t(2 - L[j]);
        scale = -scale;
        best_shift = -best_shift;
      }
      const float* xx = best_shift == 1 ? kShiftUp : kShiftDown;
      bool all_on_grid = true;
      for (int k = 0; k < kBlock / 8; ++k) {
        const int u = g.code(L + 8 * k);
        int gi = g.index_of(u);
        if (gi < 0) {
          all_on_grid = false;
          gi = snap_iq1(g, u, xb + 8 * k, weight + 8 * k, scale, xx, L + 8 * k);
        }
        index[k] = uint16_t(gi);
      }
      if (!all_on_grid) {
        float sumqx = 0, sumq2 = 0;
        for (int k = 0; k < kBlock / 8; ++k) {
          const int8_t* pg = g.point(index[k]);
          for (int j = 0; j < 8; ++j) {
            float w = weight[8 * k + j];
            float q = xx[(pg[j] - 1) / 2];
            sumqx += w * q * xb[8 * k + j];
            sumq2 += w * q * q;
          }
        }
        if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
      }
      uint16_t h = 0;
      for (int k = 0; k < kBlock / 8; ++k) {
        y[ibl].qs[(kBlock / 8) * ib + k] = uint8_t(index[k] & 255);
        h = uint16_t(h | ((index[k] >> 8) << 3 * k));
      }
      y[ibl].qh[ib] = h;
      scales[ib] = scale;
      shifts[ib] = int8_t(best_shift);
      max_scale = std::max(max_scale, scale);
    }
    if (!max_scale) continue;
    const float d = max_scale / 15;
    y[ibl].d = f32_to_f16(d * 1.125f);  // ggml's empirical correction
    const float id = 1 / d;
    for (int ib = 0; ib < kQK_K / kBlock; ++ib) {
      int l = odd_scale_code(id, scales[ib], 7);
      if (shifts[ib] == -1) l |= 8;
      y[ibl].qh[ib] = uint16_t(y[ibl].qh[ib] | (l << 12));
    }
  }
}

void dequantize_iq1_s(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockIQ1_S*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    const uint8_t* qs = x[i].qs;
    const uint16_t* qh = x[i].qh;
    for (int ib = 0; ib < kQK_K / 32; ++ib, qs += 4) {
      const float dl = d * (2 * ((qh[ib] >> 12) & 7) + 1);
      const float delta = qh[ib] & 0x8000 ? -kIQ1Delta : kIQ1Delta;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint64_t grid = kIQ1SGrid[qs[l] | (((qh[ib] >> 3 * l) & 7) << 8)];
        for (int j = 0; j < 8; ++j) y[j] = dl * (int8_t(uint8_t(grid >> (8 * j))) + delta);
      }
    }
  }
}

// 16-element sub-blocks of 2 groups of 8, each group with its own shift
// sign; 3-bit scales, and the f16 super-scale spread over the top nibbles
// of the four 16-bit scale words.
void quantize_iq1_m(const float* x, void* dst, int64_t n, const float* importance) {
  const Lattice& g = iq1_lattice();
  constexpr int kBlock = 16;
  constexpr uint8_t kShiftMasks[4] = {0x00, 0x80, 0x08, 0x88};
  auto* y = static_cast<BlockIQ1_M*>(dst);
  float scales[kQK_K / kBlock], weight[kBlock];
  int8_t L[kBlock], shifts[kQK_K / kBlock];
  int order[kBlock];
  uint16_t index[kBlock / 8];
  // group k of a sub-block uses kShiftUp or kShiftDown: shift code bit 1 for
  // the first group, bit 0 for the second (0: +,+  1: +,-  2: -,+  3: -,-)
  auto group_values = [](int shift, int k) {
    if (k == 0) return shift < 2 ? kShiftUp : kShiftDown;
    return shift % 2 == 0 ? kShiftUp : kShiftDown;
  };
  auto fill_weights = [&](const float* xb, const float* qw, float sigma2) {
    if (qw) {
      for (int i = 0; i < kBlock; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
    } else {
      for (int i = 0; i < kBlock; ++i) weight[i] = xb[i] * xb[i];
    }
  };
  for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl) {
    std::memset(y[ibl].qs, 0, sizeof y[ibl].qs);
    std::memset(y[ibl].qh, 0, sizeof y[ibl].qh);
    std::memset(y[ibl].scales, 0, sizeof y[ibl].scales);
    float max_scale = 0;
    const float* xbl = x + kQK_K * ibl;
    const float sigma2 = 2 * sum_of_squares(xbl, kQK_K) / kQK_K;
    for (int ib = 0; ib < kQK_K / kBlock; ++ib) {
      const float* xb = xbl + kBlock * ib;
      fill_weights(xb, importance ? importance + kQK_K * ibl + kBlock * ib : nullptr, sigma2);
      const float max = abs_max(xb, kBlock);
      if (max < kEpsIQ1M) {
        scales[ib] = 0;
        shifts[ib] = 0;
        continue;
      }
      ascending_order(xb, kBlock, order);
      float best_score = -FLT_MAX, scale = max;
      int besti1 = -1, besti2 = -1, best_k = -1;
      {
        // Prefix sums per half, since each half (group) has its own shift;
        // with level spacing 1 the 3-level sums reduce to T*v[2] - px[i1] - px[i2].
        float px[2][kBlock + 1], pw[2][kBlock + 1];
        px[0][0] = px[1][0] = 0;
        pw[0][0] = pw[1][0] = 0;
        for (int j = 0; j < kBlock; ++j) {
          const int i = order[j];
          const int h = i < kBlock / 2 ? 0 : 1;
          px[h][j + 1] = px[h][j] + weight[i] * xb[i];
          px[1 - h][j + 1] = px[1 - h][j];
          pw[h][j + 1] = pw[h][j] + weight[i];
          pw[1 - h][j + 1] = pw[1 - h][j];
        }
        const float txs[2] = {px[0][kBlock], px[1][kBlock]};
        const float tws[2] = {pw[0][kBlock], pw[1][kBlock]};
        const float p2 = kShiftUp[2], m2 = kShiftDown[2];
        const float cp1 = kShiftUp[0] * kShiftUp[0] - kShiftUp[1] * kShiftUp[1];
        const float cp2 = kShiftUp[1] * kShiftUp[1] - kShiftUp[2] * kShiftUp[2];
        const float cm1 = kShiftDown[0] * kShiftDown[0] - kShiftDown[1] * kShiftDown[1];
        const float cm2 = kShiftDown[1] * kShiftDown[1] - kShiftDown[2] * kShiftDown[2];
        for (int i1 = 0; i1 <= kBlock; ++i1) {
          for (int i2 = i1; i2 <= kBlock; ++i2) {
            float qx_p[2], qx_m[2], q2_p[2], q2_m[2];
            for (int h = 0; h < 2; ++h) {
              const float sx = px[h][i1] + px[h][i2];
              qx_p[h] = txs[h] * p2 - sx;
              qx_m[h] = txs[h] * m2 - sx;
              q2_p[h] = tws[h] * p2 * p2 + pw[h][i1] * cp1 + pw[h][i2] * cp2;
              q2_m[h] = tws[h] * m2 * m2 + pw[h][i1] * cm1 + pw[h][i2] * cm2;
            }
            const float sumqx[4] = {qx_p[0] + qx_p[1], qx_p[0] + qx_m[1], qx_m[0] + qx_p[1], qx_m[0] + qx_m[1]};
            const float sumq2[4] = {q2_p[0] + q2_p[1], q2_p[0] + q2_m[1], q2_m[0] + q2_p[1], q2_m[0] + q2_m[1]};
            for (int k = 0; k < 4; ++k) {
              if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > best_score * sumq2[k]) {
                scale = sumqx[k] / sumq2[k];
                best_score = scale * sumqx[k];
                besti1 = i1;
                besti2 = i2;
                best_k = k;
              }
            }
          }
        }
      }
      if (besti1 < 0 || besti2 < 0 || best_k < 0) {
        scales[ib] = 0;
        shifts[ib] = 0;
        continue;
      }
      levels_from_split(order, kBlock, besti1, besti2, L);
      if (scale < 0) {
        for (int j = 0; j < kBlock; ++j) L[j] = int8_t(2 - L[j]);
        scale = -scale;
        best_k = 3 - best_k;
      }
      bool all_on_grid = true;
      for (int k = 0; k < kBlock / 8; ++k) {
        const float* xx = group_values(best_k, k);
        const int u = g.code(L + 8 * k);
        int gi = g.index_of(u);
        if (gi < 0) {
          all_on_grid = false;
          gi = snap_iq1(g, u, xb + 8 * k, weight + 8 * k, scale, xx, L + 8 * k);
        }
        index[k] = uint16_t(gi);
      }
      if (!all_on_grid) {
        float sumqx_f = 0, sumq2_f = 0;
        for (int k = 0; k < kBlock / 8; ++k) {
          const float* xx = group_values(best_k, k);
          const int8_t* pg = g.point(index[k]);
          for (int j = 0; j < 8; ++j) {
            float w = weight[8 * k + j];
            float q = xx[(pg[j] - 1) / 2];
            sumqx_f += w * q * xb[8 * k + j];
            sumq2_f += w * q * q;
          }
        }
        if (sumqx_f > 0 && sumq2_f > 0) scale = sumqx_f / sumq2_f;
      }
      y[ibl].qs[2 * ib + 0] = uint8_t(index[0] & 255);
      y[ibl].qs[2 * ib + 1] = uint8_t(index[1] & 255);
      y[ibl].qh[ib] = uint8_t((index[0] >> 8) | ((index[1] >> 8) << 4));
      scales[ib] = scale;
      shifts[ib] = int8_t(best_k);
      max_scale = std::max(max_scale, scale);
    }
    if (!max_scale) continue;
    // Scales relative to max/15; then the super-scale is refitted to the
    // final codes over the whole super-block.
    uint16_t sc[4] = {0, 0, 0, 0};
    float d = max_scale / 15;
    const float id = 1 / d;
    float sumqx_f = 0, sumq2_f = 0;
    for (int ib = 0; ib < kQK_K / kBlock; ++ib) {
      const int l = odd_scale_code(id, scales[ib], 7);
      sc[ib / 4] = uint16_t(sc[ib / 4] | (l << 3 * (ib % 4)));
      y[ibl].qh[ib] |= kShiftMasks[shifts[ib]];
      const float* xb = xbl + kBlock * ib;
      fill_weights(xb, importance ? importance + kQK_K * ibl + kBlock * ib : nullptr, sigma2);
      for (int k = 0; k < kBlock / 8; ++k) {
        const float* xx = group_values(shifts[ib], k);
        const int8_t* pg = g.point(y[ibl].qs[2 * ib + k] + ((y[ibl].qh[ib] << (8 - 4 * k)) & 0x700));
        for (int j = 0; j < 8; ++j) {
          float w = weight[8 * k + j];
          float q = xx[(pg[j] - 1) / 2] * (2 * l + 1);
          sumqx_f += w * q * xb[8 * k + j];
          sumq2_f += w * q * q;
        }
      }
    }
    if (sumq2_f > 0) d = sumqx_f / sumq2_f;
    const uint16_t s = f32_to_f16(d * 1.1125f);  // ggml's empirical correction
    sc[0] = uint16_t(sc[0] | ((s & 0x000f) << 12));
    sc[1] = uint16_t(sc[1] | ((s & 0x00f0) << 8));
    sc[2] = uint16_t(sc[2] | ((s & 0x0f00) << 4));
    sc[3] = uint16_t(sc[3] | ((s & 0xf000) << 0));
    std::memcpy(y[ibl].scales, sc, sizeof sc);
  }
}

void dequantize_iq1_m(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockIQ1_M*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint16_t sc[4];
    std::memcpy(sc, x[i].scales, sizeof sc);
    const uint16_t scale_bits =
        uint16_t((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
    const float d = f16_to_f32(scale_bits);
    const uint8_t* qs = x[i].qs;
    const uint8_t* qh = x[i].qh;
    for (int ib = 0; ib < kQK_K / 32; ++ib, qs += 4, qh += 2) {
      const float dl1 = d * (2 * ((sc[ib / 2] >> (6 * (ib % 2) + 0)) & 0x7) + 1);
      const float dl2 = d * (2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 0x7) + 1);
      const uint16_t idx[4] = {uint16_t(qs[0] | ((qh[0] << 8) & 0x700)), uint16_t(qs[1] | ((qh[0] << 4) & 0x700)),
                               uint16_t(qs[2] | ((qh[1] << 8) & 0x700)), uint16_t(qs[3] | ((qh[1] << 4) & 0x700))};
      const float delta[4] = {qh[0] & 0x08 ? -kIQ1Delta : kIQ1Delta, qh[0] & 0x80 ? -kIQ1Delta : kIQ1Delta,
                              qh[1] & 0x08 ? -kIQ1Delta : kIQ1Delta, qh[1] & 0x80 ? -kIQ1Delta : kIQ1Delta};
      for (int l = 0; l < 4; ++l, y += 8) {
        const float dl = l < 2 ? dl1 : dl2;
        const uint64_t grid = kIQ1SGrid[idx[l]];
        for (int j = 0; j < 8; ++j) y[j] = dl * (int8_t(uint8_t(grid >> (8 * j))) + delta[l]);
      }
    }
  }
}

}  // namespace tf::quant::detail
