// tf::quant entry points: argument checks and the per-type codec table.
#include "tf/quant.h"

#include <cstring>

#include "quant/codecs.h"
#include "tf/error.h"
#include "tf/half.h"

namespace tf::quant {

namespace {

using detail::DequantizeRowFn;
using detail::QuantizeRowFn;

void store_f32(const float* src, void* dst, int64_t n, const float*) {
  std::memcpy(dst, src, size_t(n) * sizeof(float));
}
void store_f16(const float* src, void* dst, int64_t n, const float*) {
  f32_to_f16(src, static_cast<uint16_t*>(dst), size_t(n));
}
void store_bf16(const float* src, void* dst, int64_t n, const float*) {
  f32_to_bf16(src, static_cast<uint16_t*>(dst), size_t(n));
}
void load_f32(const void* src, float* dst, int64_t n) { std::memcpy(dst, src, size_t(n) * sizeof(float)); }
void load_f16(const void* src, float* dst, int64_t n) { f16_to_f32(static_cast<const uint16_t*>(src), dst, size_t(n)); }
void load_bf16(const void* src, float* dst, int64_t n) {
  bf16_to_f32(static_cast<const uint16_t*>(src), dst, size_t(n));
}

struct Codec {
  DType type;
  QuantizeRowFn quantize;
  DequantizeRowFn dequantize;  // nullptr: ggml has none either (Q8_1)
};

constexpr Codec kCodecs[] = {
    {DType::F32, store_f32, load_f32},
    {DType::F16, store_f16, load_f16},
    {DType::BF16, store_bf16, load_bf16},
    {DType::Q4_0, detail::quantize_q4_0, detail::dequantize_q4_0},
    {DType::Q4_1, detail::quantize_q4_1, detail::dequantize_q4_1},
    {DType::Q5_0, detail::quantize_q5_0, detail::dequantize_q5_0},
    {DType::Q5_1, detail::quantize_q5_1, detail::dequantize_q5_1},
    {DType::Q8_0, detail::quantize_q8_0, detail::dequantize_q8_0},
    {DType::Q8_1, detail::quantize_q8_1, nullptr},
    {DType::Q2_K, detail::quantize_q2_k, detail::dequantize_q2_k},
    {DType::Q3_K, detail::quantize_q3_k, detail::dequantize_q3_k},
    {DType::Q4_K, detail::quantize_q4_k, detail::dequantize_q4_k},
    {DType::Q5_K, detail::quantize_q5_k, detail::dequantize_q5_k},
    {DType::Q6_K, detail::quantize_q6_k, detail::dequantize_q6_k},
    {DType::Q8_K, detail::quantize_q8_k, detail::dequantize_q8_k},
    {DType::IQ4_NL, detail::quantize_iq4_nl, detail::dequantize_iq4_nl},
    {DType::IQ4_XS, detail::quantize_iq4_xs, detail::dequantize_iq4_xs},
    {DType::TQ1_0, detail::quantize_tq1_0, detail::dequantize_tq1_0},
    {DType::TQ2_0, detail::quantize_tq2_0, detail::dequantize_tq2_0},
    {DType::IQ2_XXS, detail::quantize_iq2_xxs, detail::dequantize_iq2_xxs},
    {DType::IQ2_XS, detail::quantize_iq2_xs, detail::dequantize_iq2_xs},
    {DType::IQ2_S, detail::quantize_iq2_s, detail::dequantize_iq2_s},
    {DType::IQ3_XXS, detail::quantize_iq3_xxs, detail::dequantize_iq3_xxs},
    {DType::IQ3_S, detail::quantize_iq3_s, detail::dequantize_iq3_s},
    {DType::IQ1_S, detail::quantize_iq1_s, detail::dequantize_iq1_s},
    {DType::IQ1_M, detail::quantize_iq1_m, detail::dequantize_iq1_m},
};

const Codec* find_codec(DType t) {
  for (const Codec& c : kCodecs)
    if (c.type == t) return &c;
  return nullptr;
}

const DTypeTraits& checked_traits(DType t) {
  const DTypeTraits* tr = dtype_traits(uint32_t(t));
  if (!tr) fail("quantize: unknown tensor type id ", uint32_t(t));
  return *tr;
}

}  // namespace

bool can_quantize(DType t) { return find_codec(t) != nullptr; }

bool requires_imatrix(DType t) { return t == DType::IQ2_XXS || t == DType::IQ2_XS || t == DType::IQ1_S; }

size_t quantize_rows(DType t, const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* importance) {
  const DTypeTraits& tr = checked_traits(t);
  const Codec* codec = find_codec(t);
  if (!codec) fail("quantize: no quantizer for type ", tr.name);
  if (nrows < 0 || n_per_row <= 0) fail("quantize: bad shape ", nrows, " x ", n_per_row);
  const std::optional<uint64_t> row_size = row_bytes(t, uint64_t(n_per_row));
  if (!row_size) fail("quantize: ", tr.name, " rows need a multiple of ", tr.block_size, " elements, got ", n_per_row);
  if (!importance && requires_imatrix(t)) fail("quantize: ", tr.name, " needs an importance matrix");
  auto* out = static_cast<char*>(dst);
  for (int64_t r = 0; r < nrows; ++r) {
    codec->quantize(src + r * n_per_row, out + r * *row_size, n_per_row, importance);
  }
  return size_t(nrows) * *row_size;
}

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  const DTypeTraits& tr = checked_traits(t);
  const Codec* codec = find_codec(t);
  if (!codec || !codec->dequantize) fail("dequantize: no dequantizer for type ", tr.name);
  if (n < 0 || n % tr.block_size != 0)
    fail("dequantize: ", tr.name, " needs a multiple of ", tr.block_size, " elements, got ", n);
  codec->dequantize(src, dst, n);
}

}  // namespace tf::quant
