#include "tf/tensor.h"

#include <gtest/gtest.h>

#include "tf/error.h"

namespace tf {

TEST(Tensor, ZerosIsContiguousAndWritable) {
  Tensor t = Tensor::zeros(DType::F32, {2, 3});
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.nbytes(), 24u);
  EXPECT_EQ(t.strides(), (std::vector<int64_t>{12, 4}));
  EXPECT_TRUE(t.is_contiguous());
  t.mutable_data_as<float>()[5] = 1.5f;
  EXPECT_EQ(t.data_as<float>()[5], 1.5f);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t = Tensor::zeros(DType::F32, {3, 4});
  float* p = t.mutable_data_as<float>();
  for (int i = 0; i < 12; ++i) p[i] = float(i);
  Tensor row = t.select(0, 1);
  EXPECT_EQ(row.shape(), (Shape{4}));
  EXPECT_EQ(row.data_as<float>()[0], 4.0f);
  Tensor cols = t.slice(1, 1, 3);
  EXPECT_FALSE(cols.is_contiguous());
  Tensor c = cols.contiguous();
  EXPECT_EQ(c.shape(), (Shape{3, 2}));
  EXPECT_EQ(c.data_as<float>()[2], 5.0f);
  Tensor tt = t.transpose(0, 1).contiguous();
  EXPECT_EQ(tt.shape(), (Shape{4, 3}));
  EXPECT_EQ(tt.data_as<float>()[1], 4.0f);
  EXPECT_EQ(t.reshape({-1}).shape(), (Shape{12}));
  EXPECT_THROW(t.reshape({5, -1}), Error);
  EXPECT_THROW(cols.reshape({6}), Error);
  EXPECT_THROW(t.slice(0, 2, 4), Error);
}

TEST(Tensor, BlockTypesUseBlockStrides) {
  Tensor q = Tensor::zeros(DType::Q4_0, {2, 64});
  EXPECT_EQ(q.nbytes(), 2u * 2 * 18);
  EXPECT_EQ(q.stride(0), 36);
  EXPECT_THROW(Tensor::zeros(DType::Q4_0, {2, 33}), Error);
  EXPECT_THROW(q.slice(1, 0, 16), Error);
  EXPECT_EQ(q.slice(1, 32, 64).nbytes(), 36u);
}

TEST(Tensor, BorrowedIsReadOnly) {
  static const float data[4] = {1, 2, 3, 4};
  Tensor t = Tensor::borrow(DType::F32, {2, 2}, data, nullptr);
  EXPECT_THROW(t.mutable_data(), Error);
  EXPECT_EQ(t.clone().data_as<float>()[3], 4.0f);
}

TEST(Tensor, ConvertsBetweenFloatTypes) {
  Tensor t = Tensor::zeros(DType::F32, {3});
  float* p = t.mutable_data_as<float>();
  p[0] = 1.0f;
  p[1] = -2.5f;
  p[2] = 0.1f;
  Tensor h = t.to(DType::F16);
  EXPECT_EQ(h.dtype(), DType::F16);
  Tensor back = h.to(DType::F32);
  EXPECT_EQ(back.data_as<float>()[1], -2.5f);
  EXPECT_NEAR(back.data_as<float>()[2], 0.1f, 1e-4f);
  EXPECT_NEAR(t.to(DType::BF16).to(DType::F32).data_as<float>()[2], 0.1f, 1e-3f);
}

TEST(Tensor, RejectsOverflowingShapes) {
  EXPECT_THROW(Tensor::zeros(DType::F32, {int64_t(1) << 40, int64_t(1) << 40}), Error);
  EXPECT_THROW(Tensor::zeros(DType::F32, {-1}), Error);
}

TEST(Tensor, BackendLayoutRefusesViewsAndConversions) {
  Tensor plain = Tensor::zeros(DType::Q8_0, {4, 64});
  Tensor packed = Tensor::backend_layout(DType::Q8_0, {4, 64}, plain.data(), nullptr);
  EXPECT_TRUE(packed.in_backend_layout());
  EXPECT_FALSE(plain.in_backend_layout());
  EXPECT_EQ(packed.dim(0), 4);
  EXPECT_THROW(packed.slice(0, 0, 2), Error);
  EXPECT_THROW(packed.to(DType::F32), Error);
  EXPECT_THROW(packed.clone(), Error);
  EXPECT_THROW(packed.reshape({64, 4}), Error);
}

}  // namespace tf
