#include "kernels/cpu/quant_interleave.h"

#include <cstring>

#include "kernels/cpu/quant_matmul_impl.h"
#include "tf/error.h"

namespace tf::kernels::mm {

using namespace tf::quant;

namespace {

constexpr size_t R = kInterleaveRows;

// Bytes of one interleaved block (all kInterleaveRows rows of it).
size_t packed_block_bytes(DType t) {
  switch (t) {
    case DType::Q4_0: return R * sizeof(BlockQ4_0);
    case DType::Q8_0: return R * sizeof(BlockQ8_0);
    case DType::Q4_K: return R * (4 + 16 + kQK_K / 2);
    case DType::Q6_K: return R * sizeof(BlockQ6_K);
    default: fail("interleave: type ", dtype_name(t), " has no interleaved layout");
  }
}

template <class B>
const B& block(const void* w, size_t w_stride, size_t row, size_t b) {
  return reinterpret_cast<const B*>(static_cast<const uint8_t*>(w) + row * w_stride)[b];
}

// Moves 4-byte chunk c of every row's field (src(r)) to dst[c][r].
template <class Src>
void chunks4(uint8_t* dst, size_t n_chunks, Src src, uint8_t flip = 0) {
  for (size_t c = 0; c < n_chunks; ++c)
    for (size_t r = 0; r < R; ++r)
      for (size_t j = 0; j < 4; ++j) dst[(c * R + r) * 4 + j] = uint8_t(src(r)[4 * c + j] ^ flip);
}

void group_q4_0(const void* w, size_t ws, size_t row0, size_t nb, uint8_t* g) {
  uint8_t* d = g;
  uint8_t* q = d + nb * R * 2;
  for (size_t b = 0; b < nb; ++b) {
    for (size_t r = 0; r < R; ++r) std::memcpy(d + (b * R + r) * 2, &block<BlockQ4_0>(w, ws, row0 + r, b).d, 2);
    chunks4(q + b * R * 16, 4, [&](size_t r) { return block<BlockQ4_0>(w, ws, row0 + r, b).qs; });
  }
}

void group_q8_0(const void* w, size_t ws, size_t row0, size_t nb, uint8_t* g) {
  uint8_t* d = g;
  uint8_t* q = d + nb * R * 2;
  for (size_t b = 0; b < nb; ++b) {
    for (size_t r = 0; r < R; ++r) std::memcpy(d + (b * R + r) * 2, &block<BlockQ8_0>(w, ws, row0 + r, b).d, 2);
    chunks4(
        q + b * R * 32, 8,
        [&](size_t r) { return reinterpret_cast<const uint8_t*>(block<BlockQ8_0>(w, ws, row0 + r, b).qs); }, 0x80);
  }
}

void group_q4_K(const void* w, size_t ws, size_t row0, size_t nb, uint8_t* g) {
  uint8_t* d = g;
  uint8_t* dmin = d + nb * R * 2;
  uint8_t* sc = dmin + nb * R * 2;
  uint8_t* mnp = sc + nb * R * 8;
  uint8_t* q = mnp + nb * R * 8;
  for (size_t b = 0; b < nb; ++b) {
    for (size_t r = 0; r < R; ++r) {
      const BlockQ4_K& k = block<BlockQ4_K>(w, ws, row0 + r, b);
      std::memcpy(d + (b * R + r) * 2, &k.d, 2);
      std::memcpy(dmin + (b * R + r) * 2, &k.dmin, 2);
      uint8_t s[8], m[8];
      unpack_k4_scales(k.scales, s, m);
      for (size_t j = 0; j < 8; ++j) sc[(b * 8 + j) * R + r] = s[j];
      for (size_t p = 0; p < 4; ++p) {
        mnp[((b * 4 + p) * R + r) * 2] = m[2 * p];
        mnp[((b * 4 + p) * R + r) * 2 + 1] = m[2 * p + 1];
      }
    }
    chunks4(q + b * R * 128, 32, [&](size_t r) { return block<BlockQ4_K>(w, ws, row0 + r, b).qs; });
  }
}

void group_q6_K(const void* w, size_t ws, size_t row0, size_t nb, uint8_t* g) {
  uint8_t* d = g;
  uint8_t* sc = d + nb * R * 2;
  uint8_t* ql = sc + nb * R * 16;
  uint8_t* qh = ql + nb * R * 128;
  for (size_t b = 0; b < nb; ++b) {
    for (size_t r = 0; r < R; ++r) {
      const BlockQ6_K& k = block<BlockQ6_K>(w, ws, row0 + r, b);
      std::memcpy(d + (b * R + r) * 2, &k.d, 2);
      for (size_t s = 0; s < 16; ++s) sc[(b * 16 + s) * R + r] = uint8_t(k.scales[s]);
    }
    chunks4(ql + b * R * 128, 32, [&](size_t r) { return block<BlockQ6_K>(w, ws, row0 + r, b).ql; });
    chunks4(qh + b * R * 64, 16, [&](size_t r) { return block<BlockQ6_K>(w, ws, row0 + r, b).qh; });
  }
}

// Inverse of chunks4: dst(r)[4c + j] = src[c][r][j].
template <class Dst>
void unchunk4(const uint8_t* src, size_t n_chunks, Dst dst, uint8_t flip = 0) {
  for (size_t c = 0; c < n_chunks; ++c)
    for (size_t r = 0; r < R; ++r)
      for (size_t j = 0; j < 4; ++j) dst(r)[4 * c + j] = uint8_t(src[(c * R + r) * 4 + j] ^ flip);
}

// The 12-byte packing of Q4_K's 8 6-bit scales and mins (inverse of unpack_k4_scales).
void pack_k4_scales(const uint8_t sc[8], const uint8_t mn[8], uint8_t* q) {
  for (int j = 0; j < 4; ++j) {
    q[j] = uint8_t(sc[j] | ((sc[j + 4] >> 4) << 6));
    q[j + 4] = uint8_t(mn[j] | ((mn[j + 4] >> 4) << 6));
    q[j + 8] = uint8_t((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
  }
}

template <class B>
B* out_block(uint8_t* rows, size_t nb, size_t r, size_t b) {
  return reinterpret_cast<B*>(rows + r * nb * sizeof(B)) + b;
}

void ungroup(DType t, const uint8_t* g, size_t nb, uint8_t* rows) {
  switch (t) {
    case DType::Q4_0: {
      const uint8_t* q = g + nb * R * 2;
      for (size_t b = 0; b < nb; ++b) {
        for (size_t r = 0; r < R; ++r) std::memcpy(&out_block<BlockQ4_0>(rows, nb, r, b)->d, g + (b * R + r) * 2, 2);
        unchunk4(q + b * R * 16, 4, [&](size_t r) { return out_block<BlockQ4_0>(rows, nb, r, b)->qs; });
      }
      return;
    }
    case DType::Q8_0: {
      const uint8_t* q = g + nb * R * 2;
      for (size_t b = 0; b < nb; ++b) {
        for (size_t r = 0; r < R; ++r) std::memcpy(&out_block<BlockQ8_0>(rows, nb, r, b)->d, g + (b * R + r) * 2, 2);
        unchunk4(
            q + b * R * 32, 8,
            [&](size_t r) { return reinterpret_cast<uint8_t*>(out_block<BlockQ8_0>(rows, nb, r, b)->qs); }, 0x80);
      }
      return;
    }
    case DType::Q4_K: {
      const uint8_t* dmin = g + nb * R * 2;
      const uint8_t* sc = dmin + nb * R * 2;
      const uint8_t* mnp = sc + nb * R * 8;
      const uint8_t* q = mnp + nb * R * 8;
      for (size_t b = 0; b < nb; ++b) {
        for (size_t r = 0; r < R; ++r) {
          BlockQ4_K* k = out_block<BlockQ4_K>(rows, nb, r, b);
          std::memcpy(&k->d, g + (b * R + r) * 2, 2);
          std::memcpy(&k->dmin, dmin + (b * R + r) * 2, 2);
          uint8_t s[8], m[8];
          for (size_t j = 0; j < 8; ++j) s[j] = sc[(b * 8 + j) * R + r];
          for (size_t p = 0; p < 4; ++p) {
            m[2 * p] = mnp[((b * 4 + p) * R + r) * 2];
            m[2 * p + 1] = mnp[((b * 4 + p) * R + r) * 2 + 1];
          }
          pack_k4_scales(s, m, k->scales);
        }
        unchunk4(q + b * R * 128, 32, [&](size_t r) { return out_block<BlockQ4_K>(rows, nb, r, b)->qs; });
      }
      return;
    }
    case DType::Q6_K: {
      const uint8_t* sc = g + nb * R * 2;
      const uint8_t* ql = sc + nb * R * 16;
      const uint8_t* qh = ql + nb * R * 128;
      for (size_t b = 0; b < nb; ++b) {
        for (size_t r = 0; r < R; ++r) {
          BlockQ6_K* k = out_block<BlockQ6_K>(rows, nb, r, b);
          std::memcpy(&k->d, g + (b * R + r) * 2, 2);
          for (size_t s = 0; s < 16; ++s) k->scales[s] = int8_t(sc[(b * 16 + s) * R + r]);
        }
        unchunk4(ql + b * R * 128, 32, [&](size_t r) { return out_block<BlockQ6_K>(rows, nb, r, b)->ql; });
        unchunk4(qh + b * R * 64, 16, [&](size_t r) { return out_block<BlockQ6_K>(rows, nb, r, b)->qh; });
      }
      return;
    }
    default: fail("interleave: type ", dtype_name(t), " has no interleaved layout");
  }
}

}  // namespace

void deinterleave_groups(DType t, const void* src, size_t K, size_t g0, size_t g1, void* dst) {
  const size_t nb = K / traits(t).block_size, gb = interleaved_group_bytes(t, K);
  for (size_t g = g0; g < g1; ++g)
    ungroup(t, static_cast<const uint8_t*>(src) + g * gb, nb,
            static_cast<uint8_t*>(dst) + (g - g0) * R * nb * traits(t).type_size);
}

bool interleavable(DType t) {
  return t == DType::Q4_0 || t == DType::Q8_0 || t == DType::Q4_K || t == DType::Q6_K;
}

size_t interleaved_group_bytes(DType t, size_t K) { return K / traits(t).block_size * packed_block_bytes(t); }

size_t interleaved_bytes(DType t, size_t N, size_t K) {
  const size_t row_bytes = K / traits(t).block_size * traits(t).type_size;
  return N / R * interleaved_group_bytes(t, K) + N % R * row_bytes;
}

size_t interleave_tasks(size_t N) { return N / R + (N % R ? 1 : 0); }

void interleave_groups(DType t, const void* w, size_t w_stride, size_t N, size_t K, size_t g0, size_t g1, void* dst) {
  const size_t nb = K / traits(t).block_size, gb = interleaved_group_bytes(t, K);
  uint8_t* out = static_cast<uint8_t*>(dst);
  for (size_t g = g0; g < g1; ++g) {
    if (g == N / R) {  // the leftover rows, as they are
      const size_t row_bytes = nb * traits(t).type_size;
      for (size_t r = g * R; r < N; ++r)
        std::memcpy(out + g * gb + (r - g * R) * row_bytes, static_cast<const uint8_t*>(w) + r * w_stride, row_bytes);
      continue;
    }
    uint8_t* grp = out + g * gb;
    switch (t) {
      case DType::Q4_0: group_q4_0(w, w_stride, g * R, nb, grp); break;
      case DType::Q8_0: group_q8_0(w, w_stride, g * R, nb, grp); break;
      case DType::Q4_K: group_q4_K(w, w_stride, g * R, nb, grp); break;
      case DType::Q6_K: group_q6_K(w, w_stride, g * R, nb, grp); break;
      default: fail("interleave: type ", dtype_name(t), " has no interleaved layout");
    }
  }
}

}  // namespace tf::kernels::mm
