// Bit-exactness with llama.cpp's ggml: quantized bytes and dequantized floats
// of every type, with and without importance weights, against hashes that
// ggml itself produced.
//
// How the constants were made: a dev harness (outside this repo) linked
// llama.cpp's prebuilt libggml-base.so (node-llama-cpp 3.22.1 package, same
// quantizers as ggml-quants.c of llama.cpp master), generated
// golden_input(4096) and golden_importance(4096) with the generator of
// quant_test_input.h, called ggml_quantize_chunk(type, x, dst, 0, 5, 4096,
// importance or NULL) (quantize_row_q8_1_ref / quantize_row_q8_K_ref per row
// for Q8_1 / Q8_K, which ggml_quantize_chunk does not route), dequantized
// each row with the type's dequantize_row_*, and printed the 64-bit FNV-1a
// hashes of the quantized bytes and of the dequantized floats (0: ggml has no
// dequantizer for the type). IQ2_XXS, IQ2_XS and IQ1_S have no entry without
// importance: ggml refuses to quantize them without.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "quant/quant_test_input.h"
#include "tf/dtype.h"
#include "tf/quant.h"

namespace tf::quant {
namespace {

using testing::fnv1a;

constexpr int kCols = 4096;

struct Golden {
  DType type;
  bool with_importance;
  uint64_t quantized_hash;
  uint64_t dequantized_hash;
};

constexpr Golden kGolden[] = {
    {DType::F32, false, 0x2967fc1b1e422f23ull, 0x2967fc1b1e422f23ull},
    {DType::F32, true, 0x2967fc1b1e422f23ull, 0x2967fc1b1e422f23ull},
    {DType::F16, false, 0x17db9fd57294e9a1ull, 0x458d3f6f3925129cull},
    {DType::F16, true, 0x17db9fd57294e9a1ull, 0x458d3f6f3925129cull},
    {DType::BF16, false, 0xd1f2cf8fb63911ceull, 0xc56f87a1df3b855eull},
    {DType::BF16, true, 0xd1f2cf8fb63911ceull, 0xc56f87a1df3b855eull},
    {DType::Q4_0, false, 0x84fc4100a9520762ull, 0x088eccaf79388ae7ull},
    {DType::Q4_0, true, 0x0a5a4986a95afaddull, 0x900078422e71fd7cull},
    {DType::Q4_1, false, 0xe8f8d024ef38b778ull, 0x45f402897be13c52ull},
    {DType::Q4_1, true, 0x1f2c6cbcc0f3f4eeull, 0x0229777cae33ca95ull},
    {DType::Q5_0, false, 0xb638bfdfbefa4371ull, 0x761232de1132cb22ull},
    {DType::Q5_0, true, 0x659225db157d801full, 0x03d6cb238b8d4f19ull},
    {DType::Q5_1, false, 0x053a272df68b791cull, 0x5cbdebf003733b3full},
    {DType::Q5_1, true, 0x45bf30d27f792ac5ull, 0x85e25a37164994dfull},
    {DType::Q8_0, false, 0x30962053d7c7f215ull, 0xb4fec1506a0e3147ull},
    {DType::Q8_0, true, 0x30962053d7c7f215ull, 0xb4fec1506a0e3147ull},
    {DType::Q8_1, false, 0x10645283166213baull, 0x0000000000000000ull},
    {DType::Q2_K, false, 0x74183ef4bc3c9803ull, 0x15de268c590d75feull},
    {DType::Q2_K, true, 0xa1d2e4fa5b1da9fcull, 0x677c08d31b969fa4ull},
    {DType::Q3_K, false, 0x4a3168b5425dd5aaull, 0x9c8c97228b99827aull},
    {DType::Q3_K, true, 0xd0c854c00915a15bull, 0x7c381c7325faacb7ull},
    {DType::Q4_K, false, 0x173466861abcdda3ull, 0x6e17d1cfbe7d4b1dull},
    {DType::Q4_K, true, 0x5343328058942e5full, 0x6cfda7b51e01c8bbull},
    {DType::Q5_K, false, 0xcbbcaaad6d26dce0ull, 0x06fe10702cbb9a65ull},
    {DType::Q5_K, true, 0x8ed6c023cd42c7bcull, 0xbc98c1c7423b4854ull},
    {DType::Q6_K, false, 0xb175e374cd24e904ull, 0xa4343d7406b730d6ull},
    {DType::Q6_K, true, 0x749e7965f1ae6cafull, 0x36ff6c31a7d22f75ull},
    {DType::Q8_K, false, 0xf413705ef5c620ccull, 0x1ed043e704c91f28ull},
    {DType::IQ2_XXS, true, 0x70c6c4830dcf45c2ull, 0xa73de1a568ded5e0ull},
    {DType::IQ2_XS, true, 0x1f7645c8a56679c2ull, 0x5decfaedb8c4bffdull},
    {DType::IQ2_S, false, 0x40520118ab4c1d9dull, 0x2acc3baab33970dcull},
    {DType::IQ2_S, true, 0xdedb55d3bd1a02aaull, 0xabdae7c996840d84ull},
    {DType::IQ3_XXS, false, 0xb44ac4475f1b18b9ull, 0xd113e01ba4f9fb4eull},
    {DType::IQ3_XXS, true, 0x507e49170f0a008full, 0x64920afdebc0bfd4ull},
    {DType::IQ3_S, false, 0x49ae01d267b49ef6ull, 0xe4fcd9508db9c102ull},
    {DType::IQ3_S, true, 0xc1b10a7a4763f9ceull, 0xd856bcb86e955d77ull},
    {DType::IQ1_S, true, 0x50af599ddf19ea76ull, 0x9fc3bce311b7cc19ull},
    {DType::IQ1_M, false, 0xe1efd03720a66c53ull, 0xac3e0ca2779dc509ull},
    {DType::IQ1_M, true, 0x5d0605b47774338bull, 0x2e43cc27a0889951ull},
    {DType::IQ4_NL, false, 0x634696822de25904ull, 0xe7297254bbb8d6e2ull},
    {DType::IQ4_NL, true, 0xe04f31cb24533352ull, 0x4dc7e0c39d87e014ull},
    {DType::IQ4_XS, false, 0x6dd6ed0f5cac2149ull, 0x78fc53e90a812c68ull},
    {DType::IQ4_XS, true, 0x45c0ceb3d45916f8ull, 0x767d4494bd6a1550ull},
    {DType::TQ1_0, false, 0x5ed040cbd80a181bull, 0xb42d1c5753243dd9ull},
    {DType::TQ1_0, true, 0x5ed040cbd80a181bull, 0xb42d1c5753243dd9ull},
    {DType::TQ2_0, false, 0x19e42f6cc05114e8ull, 0xb42d1c5753243dd9ull},
    {DType::TQ2_0, true, 0x19e42f6cc05114e8ull, 0xb42d1c5753243dd9ull},
};

std::string golden_name(const ::testing::TestParamInfo<Golden>& info) {
  return std::string(dtype_name(info.param.type)) + (info.param.with_importance ? "_imatrix" : "_plain");
}

class QuantGoldenTest : public ::testing::TestWithParam<Golden> {};

TEST(QuantGoldenInput, MatchesTheHarnessInput) {
  // The harness printed these for its input; a mismatch here means the
  // generator drifted and every other hash would fail for that reason.
  const std::vector<float> x = testing::golden_input(kCols);
  const std::vector<float> w = testing::golden_importance(kCols);
  EXPECT_EQ(fnv1a(x.data(), x.size() * sizeof(float)), 0x2967fc1b1e422f23ull);
  EXPECT_EQ(fnv1a(w.data(), w.size() * sizeof(float)), 0x79e182c0ef934512ull);
}

TEST_P(QuantGoldenTest, BytesAndFloatsMatchGgml) {
  const Golden& g = GetParam();
  if (!can_quantize(g.type)) GTEST_SKIP() << dtype_name(g.type) << " not implemented yet";
  const std::vector<float> x = testing::golden_input(kCols);
  const std::vector<float> w = testing::golden_importance(kCols);
  const size_t row_size = *row_bytes(g.type, kCols);
  std::vector<uint8_t> q(row_size * testing::kGoldenRows);
  const size_t written = quantize_rows(g.type, x.data(), q.data(), testing::kGoldenRows, kCols,
                                       g.with_importance ? w.data() : nullptr);
  ASSERT_EQ(written, q.size());
  EXPECT_EQ(fnv1a(q.data(), q.size()), g.quantized_hash);
  if (g.dequantized_hash == 0) return;
  std::vector<float> y(x.size());
  for (int r = 0; r < testing::kGoldenRows; ++r)
    dequantize_row(g.type, q.data() + r * row_size, y.data() + size_t(r) * kCols, kCols);
  EXPECT_EQ(fnv1a(y.data(), y.size() * sizeof(float)), g.dequantized_hash);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantGoldenTest, ::testing::ValuesIn(kGolden), golden_name);

}  // namespace
}  // namespace tf::quant
