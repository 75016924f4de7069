#include "tf/dtype.h"

#include <gtest/gtest.h>

namespace tf {

TEST(DType, GgmlSizes) {
  EXPECT_EQ(traits(DType::Q4_0).block_size, 32u);
  EXPECT_EQ(traits(DType::Q4_0).type_size, 18u);
  EXPECT_EQ(traits(DType::Q4_K).type_size, 144u);
  EXPECT_EQ(traits(DType::Q6_K).type_size, 210u);
  EXPECT_EQ(traits(DType::Q8_K).type_size, 292u);
  EXPECT_EQ(traits(DType::IQ4_XS).type_size, 136u);
  EXPECT_EQ(traits(DType::TQ1_0).type_size, 54u);
  EXPECT_EQ(traits(DType::BF16).type_size, 2u);
}

TEST(DType, UnknownIdsHaveNoTraits) {
  EXPECT_EQ(dtype_traits(4), nullptr);   // removed Q4_2
  EXPECT_EQ(dtype_traits(31), nullptr);  // removed Q4_0_4_4
  EXPECT_EQ(dtype_traits(39), nullptr);
  EXPECT_EQ(dtype_traits(1u << 30), nullptr);
}

TEST(DType, NamesRoundTrip) {
  for (uint32_t id = 0; id < 64; ++id) {
    const DTypeTraits* tr = dtype_traits(id);
    if (!tr) continue;
    auto back = dtype_from_name(tr->name);
    ASSERT_TRUE(back.has_value()) << tr->name;
    EXPECT_EQ(uint32_t(*back), id);
  }
  EXPECT_EQ(dtype_from_name("Q4_K"), DType::Q4_K);
  EXPECT_FALSE(dtype_from_name("q9_9").has_value());
}

TEST(DType, RowBytes) {
  EXPECT_EQ(row_bytes(DType::F16, 10), 20u);
  EXPECT_EQ(row_bytes(DType::Q4_K, 512), 288u);
  EXPECT_FALSE(row_bytes(DType::Q4_K, 100).has_value());
  EXPECT_FALSE(row_bytes(DType::F32, UINT64_MAX / 2).has_value());
}

}  // namespace tf
