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

#include <ostream>
#include <string>
#include <vector>

#include "quant/iq_grids.h"
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

// Same procedure on special_input(512) (7 rows), golden_importance(512).
constexpr Golden kGoldenSpecial[] = {
    {DType::F32, false, 0x46dc6cdc40f3d91full, 0x46dc6cdc40f3d91full},
    {DType::F32, true, 0x46dc6cdc40f3d91full, 0x46dc6cdc40f3d91full},
    {DType::F16, false, 0x7f71683daae8d9f2ull, 0x3c397df5d737be0cull},
    {DType::F16, true, 0x7f71683daae8d9f2ull, 0x3c397df5d737be0cull},
    {DType::BF16, false, 0x5a5613102cbfa664ull, 0x5c378da3646bc904ull},
    {DType::BF16, true, 0x5a5613102cbfa664ull, 0x5c378da3646bc904ull},
    {DType::Q4_0, false, 0x9f3914dc548af0dfull, 0xf03c1fea81038202ull},
    {DType::Q4_0, true, 0x9db3925d38e8216dull, 0x4098a1be3f9206e6ull},
    {DType::Q4_1, false, 0x068b07adef9600d3ull, 0xf687ea7dcd2bdf05ull},
    {DType::Q4_1, true, 0x838d7d2e535f08fbull, 0x43d35d500aebda30ull},
    {DType::Q5_0, false, 0x5a09494f4ba32a49ull, 0x5628142171a55b84ull},
    {DType::Q5_0, true, 0x63b6f5f81eaaaa1bull, 0x30f1ca03494d2207ull},
    {DType::Q5_1, false, 0xdba19375f7a41475ull, 0xf0a708ac24ee6a60ull},
    {DType::Q5_1, true, 0x89d555d3bd96446bull, 0xe88d18135af40541ull},
    {DType::Q8_0, false, 0x7080f221712848feull, 0xbab64f9874715399ull},
    {DType::Q8_0, true, 0x7080f221712848feull, 0xbab64f9874715399ull},
    {DType::Q8_1, false, 0x255751a832aed7b8ull, 0x0000000000000000ull},
    {DType::Q2_K, false, 0x4fd55ca233d60644ull, 0x0f91154f1f8693f4ull},
    {DType::Q2_K, true, 0xef22b3014f4f9bc7ull, 0x5275645e7286e163ull},
    {DType::Q3_K, false, 0x04e31aff62fb5c73ull, 0xff7963fb796c0533ull},
    {DType::Q3_K, true, 0xd4b0647e5a363a6eull, 0x5e466de9fff22e91ull},
    {DType::Q4_K, false, 0xd74ec457b3b88359ull, 0x759fde7ec2273ce0ull},
    {DType::Q4_K, true, 0x35897e3efada2107ull, 0xf768db339393bca3ull},
    {DType::Q5_K, false, 0xdc9b01dce46258fdull, 0x9fca4b2fcca2f92dull},
    {DType::Q5_K, true, 0xdadfbd08b66cd466ull, 0xdafa0790e6b15190ull},
    {DType::Q6_K, false, 0x2a552c8846d027c6ull, 0x05ba14d02135697dull},
    {DType::Q6_K, true, 0x535d4d051c8c5af8ull, 0xd79ae804797c1697ull},
    {DType::Q8_K, false, 0x6d4ba3fb258dcc3full, 0x7c92fb9628eb5f44ull},
    {DType::IQ2_XXS, true, 0x60f4f29c31be2474ull, 0x96eb1ed69ccc679eull},
    {DType::IQ2_XS, true, 0x723e0e6496f6a4c0ull, 0xd24cb40d902ca56full},
    {DType::IQ2_S, false, 0xab8d33166c6fdd08ull, 0xbd79cfcb47843ea6ull},
    {DType::IQ2_S, true, 0x352b357c5b118232ull, 0x5c5dbb01eabddd7eull},
    {DType::IQ3_XXS, false, 0xbe16ff6ad2d9d06dull, 0x20ccabbb6bf9c083ull},
    {DType::IQ3_XXS, true, 0x5c2578fc2b0c55d1ull, 0x9ab5124a62fdfb76ull},
    {DType::IQ3_S, false, 0x2d98aec095186929ull, 0x0067f36c4e45ebc6ull},
    {DType::IQ3_S, true, 0x40cd137b72d6800cull, 0x29489858f6c1aee7ull},
    {DType::IQ1_S, true, 0xdcb5093f242588e3ull, 0x60eb4de9ad5aed32ull},
    {DType::IQ1_M, false, 0x9fc07252477837fbull, 0xb249913a7fa0fb01ull},
    {DType::IQ1_M, true, 0x40e98a0dd048e24aull, 0x7c2450a3505b4e34ull},
    {DType::IQ4_NL, false, 0xb60aa86e90124ba5ull, 0x6cae3ffc74278f29ull},
    {DType::IQ4_NL, true, 0x3862f8cfab4dd5d4ull, 0x40da35f85e832142ull},
    {DType::IQ4_XS, false, 0x590b8ed4e3e04f63ull, 0x4116f914288627b5ull},
    {DType::IQ4_XS, true, 0xcfe6394c31c82932ull, 0x605358e4a52728eaull},
    {DType::TQ1_0, false, 0x47255b8251152e65ull, 0x0145ef4e0579938dull},
    {DType::TQ1_0, true, 0x47255b8251152e65ull, 0x0145ef4e0579938dull},
    {DType::TQ2_0, false, 0x99af8454ff221fdaull, 0x0145ef4e0579938dull},
    {DType::TQ2_0, true, 0x99af8454ff221fdaull, 0x0145ef4e0579938dull},
};

// special_input(512) again, importance_with_zeros(512) as the importance.
constexpr Golden kGoldenZeroImportance[] = {
    {DType::F32, false, 0x46dc6cdc40f3d91full, 0x46dc6cdc40f3d91full},
    {DType::F32, true, 0x46dc6cdc40f3d91full, 0x46dc6cdc40f3d91full},
    {DType::F16, false, 0x7f71683daae8d9f2ull, 0x3c397df5d737be0cull},
    {DType::F16, true, 0x7f71683daae8d9f2ull, 0x3c397df5d737be0cull},
    {DType::BF16, false, 0x5a5613102cbfa664ull, 0x5c378da3646bc904ull},
    {DType::BF16, true, 0x5a5613102cbfa664ull, 0x5c378da3646bc904ull},
    {DType::Q4_0, false, 0x9f3914dc548af0dfull, 0xf03c1fea81038202ull},
    {DType::Q4_0, true, 0x42852ea0a40aed32ull, 0xa4d385a187b4350full},
    {DType::Q4_1, false, 0x068b07adef9600d3ull, 0xf687ea7dcd2bdf05ull},
    {DType::Q4_1, true, 0x636ef60c4d307d24ull, 0x7dd1dc5a1f19a6d7ull},
    {DType::Q5_0, false, 0x5a09494f4ba32a49ull, 0x5628142171a55b84ull},
    {DType::Q5_0, true, 0x85dc6a2d05d11693ull, 0x3b28716869f6089bull},
    {DType::Q5_1, false, 0xdba19375f7a41475ull, 0xf0a708ac24ee6a60ull},
    {DType::Q5_1, true, 0xaaa5988ad5a9d76bull, 0xf10633d226ef1174ull},
    {DType::Q8_0, false, 0x7080f221712848feull, 0xbab64f9874715399ull},
    {DType::Q8_0, true, 0x7080f221712848feull, 0xbab64f9874715399ull},
    {DType::Q8_1, false, 0x255751a832aed7b8ull, 0x0000000000000000ull},
    {DType::Q2_K, false, 0x4fd55ca233d60644ull, 0x0f91154f1f8693f4ull},
    {DType::Q2_K, true, 0x3fbfc6a92489fd00ull, 0x692634e8de1229caull},
    {DType::Q3_K, false, 0x04e31aff62fb5c73ull, 0xff7963fb796c0533ull},
    {DType::Q3_K, true, 0xe0793d55bebfccafull, 0xcc129aa65d7896ccull},
    {DType::Q4_K, false, 0xd74ec457b3b88359ull, 0x759fde7ec2273ce0ull},
    {DType::Q4_K, true, 0x914df103481d9ef1ull, 0xcc2a1dad73684fedull},
    {DType::Q5_K, false, 0xdc9b01dce46258fdull, 0x9fca4b2fcca2f92dull},
    {DType::Q5_K, true, 0x2fcb05580e049f6full, 0x45e087abb0e044cbull},
    {DType::Q6_K, false, 0x2a552c8846d027c6ull, 0x05ba14d02135697dull},
    {DType::Q6_K, true, 0xe05f4b4f90d047caull, 0x784fb6ccf6a015cdull},
    {DType::Q8_K, false, 0x6d4ba3fb258dcc3full, 0x7c92fb9628eb5f44ull},
    {DType::IQ2_XXS, true, 0x57a2a9822961f0d0ull, 0x932ccde77d49df64ull},
    {DType::IQ2_XS, true, 0xc51cce2358faa09dull, 0xbf2d56970b9392efull},
    {DType::IQ2_S, false, 0xab8d33166c6fdd08ull, 0xbd79cfcb47843ea6ull},
    {DType::IQ2_S, true, 0x51113ba30308a51dull, 0x5d50f6612e0e959aull},
    {DType::IQ3_XXS, false, 0xbe16ff6ad2d9d06dull, 0x20ccabbb6bf9c083ull},
    {DType::IQ3_XXS, true, 0xe176a1b6d1264b98ull, 0x693aaad105d29d9cull},
    {DType::IQ3_S, false, 0x2d98aec095186929ull, 0x0067f36c4e45ebc6ull},
    {DType::IQ3_S, true, 0xd75a5b319870bc98ull, 0x4dd761db21035af4ull},
    {DType::IQ1_S, true, 0x9048e2dc11e9dfb4ull, 0x13face09e77eee1aull},
    {DType::IQ1_M, false, 0x9fc07252477837fbull, 0xb249913a7fa0fb01ull},
    {DType::IQ1_M, true, 0xc5121463358c870cull, 0x06f220e716bdc319ull},
    {DType::IQ4_NL, false, 0xb60aa86e90124ba5ull, 0x6cae3ffc74278f29ull},
    {DType::IQ4_NL, true, 0xfa10433b8fa5aac2ull, 0xadcfcf4112d7849eull},
    {DType::IQ4_XS, false, 0x590b8ed4e3e04f63ull, 0x4116f914288627b5ull},
    {DType::IQ4_XS, true, 0xebf918b7ad90aec3ull, 0x99b3265196ed2effull},
    {DType::TQ1_0, false, 0x47255b8251152e65ull, 0x0145ef4e0579938dull},
    {DType::TQ1_0, true, 0x47255b8251152e65ull, 0x0145ef4e0579938dull},
    {DType::TQ2_0, false, 0x99af8454ff221fdaull, 0x0145ef4e0579938dull},
    {DType::TQ2_0, true, 0x99af8454ff221fdaull, 0x0145ef4e0579938dull},
};

void PrintTo(const Golden& g, std::ostream* os) {
  *os << dtype_name(g.type) << (g.with_importance ? " with importance" : " without importance");
}

std::string golden_name(const ::testing::TestParamInfo<Golden>& info) {
  return std::string(dtype_name(info.param.type)) + (info.param.with_importance ? "_imatrix" : "_plain");
}

class QuantGoldenTest : public ::testing::TestWithParam<Golden> {};

TEST(QuantGoldenInput, MatchesTheHarnessInput) {
  const std::vector<float> special = testing::special_input(512);
  const std::vector<float> zero_imp = testing::importance_with_zeros(512);
  EXPECT_EQ(fnv1a(zero_imp.data(), zero_imp.size() * sizeof(float)), 0x60ccddf61780e71bull);
  EXPECT_EQ(fnv1a(special.data(), special.size() * sizeof(float)), 0x46dc6cdc40f3d91full);
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
  const size_t written =
      quantize_rows(g.type, x.data(), q.data(), testing::kGoldenRows, kCols, g.with_importance ? w.data() : nullptr);
  ASSERT_EQ(written, q.size());
  EXPECT_EQ(fnv1a(q.data(), q.size()), g.quantized_hash);
  if (g.dequantized_hash == 0) return;
  std::vector<float> y(x.size());
  for (int r = 0; r < testing::kGoldenRows; ++r)
    dequantize_row(g.type, q.data() + r * row_size, y.data() + size_t(r) * kCols, kCols);
  EXPECT_EQ(fnv1a(y.data(), y.size() * sizeof(float)), g.dequantized_hash);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantGoldenTest, ::testing::ValuesIn(kGolden), golden_name);

class QuantGoldenSpecialTest : public ::testing::TestWithParam<Golden> {};

// Zeros, constants, zero sub-blocks, underflowing and overflowing scales and
// ties take the rarely used branches of every quantizer (IQ3_S's cursor
// quirk, the all-zero early exits, the fudge-factor overflows).
void check_special(const Golden& g, const std::vector<float>& w) {
  constexpr int kSpecialCols = 512;
  const std::vector<float> x = testing::special_input(kSpecialCols);
  const size_t row_size = *row_bytes(g.type, kSpecialCols);
  std::vector<uint8_t> q(row_size * testing::kSpecialRows);
  quantize_rows(g.type, x.data(), q.data(), testing::kSpecialRows, kSpecialCols,
                g.with_importance ? w.data() : nullptr);
  EXPECT_EQ(fnv1a(q.data(), q.size()), g.quantized_hash);
  if (g.dequantized_hash == 0) return;
  std::vector<float> y(x.size());
  for (int r = 0; r < testing::kSpecialRows; ++r)
    dequantize_row(g.type, q.data() + r * row_size, y.data() + size_t(r) * kSpecialCols, kSpecialCols);
  EXPECT_EQ(fnv1a(y.data(), y.size() * sizeof(float)), g.dequantized_hash);
}

TEST_P(QuantGoldenSpecialTest, BytesAndFloatsMatchGgml) { check_special(GetParam(), testing::golden_importance(512)); }

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantGoldenSpecialTest, ::testing::ValuesIn(kGoldenSpecial), golden_name);

// Zero weights make the weighted searches meet empty sums and zero
// distances (0/0 guards, ties between equally useless candidates).
class QuantGoldenZeroImportanceTest : public ::testing::TestWithParam<Golden> {};

TEST_P(QuantGoldenZeroImportanceTest, BytesAndFloatsMatchGgml) {
  check_special(GetParam(), testing::importance_with_zeros(512));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantGoldenZeroImportanceTest, ::testing::ValuesIn(kGoldenZeroImportance),
                         golden_name);

// The expanded grids (derived from the packed codebooks at compile time)
// against FNV-1a hashes of ggml-common.h's iq2xxs_grid, iq2xs_grid,
// iq2s_grid, iq1s_grid, iq3xxs_grid, iq3s_grid and ksigns_iq2xs, printed
// by the same harness.
TEST(QuantGrids, ExpandedGridsMatchGgmlTables) {
  auto hash = [](const auto& table) { return fnv1a(table.data(), sizeof(table[0]) * table.size()); };
  EXPECT_EQ(hash(kIQ2XXSGrid), 0x5bd45ef8a547a7e8ull);
  EXPECT_EQ(hash(kIQ2XSGrid), 0xa3e52388268ca2a3ull);
  EXPECT_EQ(hash(kIQ2SGrid), 0xcdb5ae5bcfe7fb32ull);
  EXPECT_EQ(hash(kIQ1SGrid), 0x31aaba1fc89a41d0ull);
  EXPECT_EQ(hash(kIQ3XXSGrid), 0x2748ed45beb63233ull);
  EXPECT_EQ(hash(kIQ3SGrid), 0x5f1781aa06d14fbfull);
  EXPECT_EQ(hash(kIQ2EvenSigns), 0x100b4e510a867c83ull);
}

}  // namespace
}  // namespace tf::quant
