// A tensor: element type, shape, byte strides and a pointer into storage that
// it owns or borrows (from a memory-mapped model file). Shapes are written
// outermost first, as in PyTorch: a [rows, cols] matrix has cols contiguous.
// (GGUF stores dims innermost first; formats/gguf converts at the boundary.)
//
// For block-quantized types the innermost dimension counts elements and must
// be a multiple of the block size; strides are in bytes, so a row of a Q4_K
// matrix is stride(0) bytes long.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "tf/dtype.h"

namespace tf {

using Shape = std::vector<int64_t>;

class Tensor {
 public:
  Tensor() = default;

  // New zero-filled, contiguous, owned tensor.
  static Tensor zeros(DType dtype, Shape shape);
  // A contiguous view of memory kept alive by `owner` (e.g. a MappedFile).
  static Tensor borrow(DType dtype, Shape shape, const void* data, std::shared_ptr<const void> owner);
  // A weight matrix in a backend's own layout (Backend::prepare_linear_weight):
  // same dtype and shape, but the bytes are not the dtype's rows, so only that
  // backend's linear() reads it; views, copies and conversions refuse it.
  static Tensor backend_layout(DType dtype, Shape shape, const void* data, std::shared_ptr<const void> owner);
  bool in_backend_layout() const { return backend_layout_; }

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  const std::vector<int64_t>& strides() const { return strides_; }  // bytes
  int ndim() const { return int(shape_.size()); }
  int64_t dim(int i) const { return shape_[size_t(i < 0 ? i + ndim() : i)]; }
  int64_t stride(int i) const { return strides_[size_t(i < 0 ? i + ndim() : i)]; }
  int64_t numel() const;
  uint64_t nbytes() const;  // of the viewed elements if contiguous
  bool defined() const { return data_ != nullptr || numel() == 0; }
  bool is_contiguous() const;
  bool is_writable() const { return writable_; }

  const void* data() const { return data_; }
  void* mutable_data();  // throws for borrowed read-only tensors
  template <class T> const T* data_as() const { return static_cast<const T*>(data_); }
  template <class T> T* mutable_data_as() { return static_cast<T*>(mutable_data()); }

  // Views (no copy; share storage)
  Tensor slice(int dim, int64_t begin, int64_t end) const;  // [begin, end) of one dimension
  Tensor select(int dim, int64_t index) const;              // drops the dimension
  Tensor transpose(int d0, int d1) const;
  Tensor reshape(Shape shape) const;                         // contiguous only; one -1 allowed

  Tensor contiguous() const;          // copy if not contiguous
  Tensor to(DType dtype) const;       // f32 / f16 / bf16 conversions (dequantizes block types later)
  Tensor clone() const;

  std::string shape_string() const;   // "[2, 3]"

 private:
  DType dtype_ = DType::F32;
  Shape shape_;
  std::vector<int64_t> strides_;
  const void* data_ = nullptr;
  std::shared_ptr<const void> owner_;
  bool writable_ = false;
  bool backend_layout_ = false;

  void check_plain_layout(const char* op) const;
};

std::string shape_string(const Shape& shape);

}  // namespace tf
