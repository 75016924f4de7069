#include "tf/tensor.h"

#include <cstdlib>
#include <cstring>
#include <numeric>

#include "tf/error.h"
#include "tf/half.h"

namespace tf {
namespace {

std::vector<int64_t> contiguous_strides(DType dtype, const Shape& shape) {
  const DTypeTraits& tr = traits(dtype);
  std::vector<int64_t> strides(shape.size());
  int64_t s = tr.type_size;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    int64_t n = shape[i];
    if (i + 1 == shape.size()) n /= tr.block_size;
    s *= n;
  }
  return strides;
}

void check_shape(DType dtype, const Shape& shape) {
  const DTypeTraits& tr = traits(dtype);
  uint64_t total = 1;
  for (int64_t d : shape) {
    if (d < 0) fail("negative dimension in shape ", shape_string(shape));
    if (d != 0 && total > UINT64_MAX / uint64_t(d)) fail("shape ", shape_string(shape), " overflows");
    total *= uint64_t(d);
  }
  if (!shape.empty() && shape.back() % tr.block_size != 0)
    fail("innermost dimension ", shape.back(), " is not a multiple of the ", tr.name, " block size ", tr.block_size);
}

}  // namespace

std::string shape_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string Tensor::shape_string() const { return tf::shape_string(shape_); }

Tensor Tensor::zeros(DType dtype, Shape shape) {
  check_shape(dtype, shape);
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.strides_ = contiguous_strides(dtype, t.shape_);
  uint64_t bytes = t.nbytes();
  // 64-byte alignment for AVX-512 loads
  void* p = std::aligned_alloc(64, size_t((bytes + 63) / 64 * 64 + (bytes == 0 ? 64 : 0)));
  if (!p) fail("out of memory allocating ", bytes, " bytes for a tensor ", t.shape_string());
  std::memset(p, 0, size_t(bytes));
  t.owner_ = std::shared_ptr<const void>(p, [](const void* q) { std::free(const_cast<void*>(q)); });
  t.data_ = p;
  t.writable_ = true;
  return t;
}

Tensor Tensor::borrow(DType dtype, Shape shape, const void* data, std::shared_ptr<const void> owner) {
  check_shape(dtype, shape);
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.strides_ = contiguous_strides(dtype, t.shape_);
  t.data_ = data;
  t.owner_ = std::move(owner);
  return t;
}

Tensor Tensor::backend_layout(DType dtype, Shape shape, const void* data, std::shared_ptr<const void> owner) {
  Tensor t = borrow(dtype, std::move(shape), data, std::move(owner));
  t.backend_layout_ = true;
  return t;
}

void Tensor::check_plain_layout(const char* op) const {
  if (backend_layout_) fail(op, ": tensor ", shape_string(), " is in a backend's own layout");
}

int64_t Tensor::numel() const {
  return std::accumulate(shape_.begin(), shape_.end(), int64_t(1), std::multiplies<int64_t>());
}

uint64_t Tensor::nbytes() const {
  const DTypeTraits& tr = traits(dtype_);
  return uint64_t(numel()) / tr.block_size * tr.type_size;
}

bool Tensor::is_contiguous() const { return strides_ == contiguous_strides(dtype_, shape_); }

void* Tensor::mutable_data() {
  if (!writable_) fail("tensor ", shape_string(), " is read-only (borrowed from a file)");
  return const_cast<void*>(data_);
}

Tensor Tensor::slice(int d, int64_t begin, int64_t end) const {
  check_plain_layout("slice");
  if (d < 0) d += ndim();
  if (d < 0 || d >= ndim()) fail("slice: dimension ", d, " out of range for ", shape_string());
  if (begin < 0 || end < begin || end > shape_[size_t(d)])
    fail("slice: range [", begin, ", ", end, ") out of bounds for dimension ", d, " of ", shape_string());
  const DTypeTraits& tr = traits(dtype_);
  if (d == ndim() - 1 && tr.block_size > 1 && (begin % tr.block_size || end % tr.block_size))
    fail("slice: block type ", tr.name, " can only be sliced at block boundaries");
  Tensor t = *this;
  t.shape_[size_t(d)] = end - begin;
  int64_t offset = d == ndim() - 1 ? begin / tr.block_size * strides_[size_t(d)] : begin * strides_[size_t(d)];
  t.data_ = static_cast<const uint8_t*>(data_) + offset;
  return t;
}

Tensor Tensor::select(int d, int64_t index) const {
  if (d < 0) d += ndim();
  Tensor t = slice(d, index, index + 1);
  t.shape_.erase(t.shape_.begin() + d);
  t.strides_.erase(t.strides_.begin() + d);
  return t;
}

Tensor Tensor::transpose(int d0, int d1) const {
  check_plain_layout("transpose");
  if (d0 < 0) d0 += ndim();
  if (d1 < 0) d1 += ndim();
  if (d0 < 0 || d1 < 0 || d0 >= ndim() || d1 >= ndim()) fail("transpose: dimension out of range for ", shape_string());
  if (traits(dtype_).block_size > 1) fail("transpose: not defined for block type ", dtype_name(dtype_));
  Tensor t = *this;
  std::swap(t.shape_[size_t(d0)], t.shape_[size_t(d1)]);
  std::swap(t.strides_[size_t(d0)], t.strides_[size_t(d1)]);
  return t;
}

Tensor Tensor::reshape(Shape shape) const {
  check_plain_layout("reshape");
  if (!is_contiguous()) fail("reshape: tensor ", shape_string(), " is not contiguous");
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) fail("reshape: more than one -1 in ", tf::shape_string(shape));
      infer = int(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0 && known != 0) shape[size_t(infer)] = numel() / known;
  Tensor t = *this;
  t.shape_ = std::move(shape);
  if (t.numel() != numel()) fail("reshape: ", tf::shape_string(t.shape_), " does not match ", shape_string());
  check_shape(dtype_, t.shape_);
  t.strides_ = contiguous_strides(dtype_, t.shape_);
  return t;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::clone() const {
  check_plain_layout("clone");
  Tensor out = zeros(dtype_, shape_);
  if (is_contiguous()) {
    std::memcpy(out.mutable_data(), data_, size_t(nbytes()));
    return out;
  }
  // strided copy, element by element in row-major order
  size_t esize = element_size(dtype_);
  std::vector<int64_t> idx(shape_.size(), 0);
  uint8_t* dst = static_cast<uint8_t*>(out.mutable_data());
  for (int64_t n = 0; n < numel(); ++n) {
    int64_t off = 0;
    for (size_t i = 0; i < idx.size(); ++i) off += idx[i] * strides_[i];
    std::memcpy(dst + size_t(n) * esize, static_cast<const uint8_t*>(data_) + off, esize);
    for (size_t i = idx.size(); i-- > 0;) {
      if (++idx[i] < shape_[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

Tensor Tensor::to(DType dtype) const {
  check_plain_layout("to");
  if (dtype == dtype_) return *this;
  Tensor src = contiguous();
  Tensor out = zeros(dtype, shape_);
  size_t n = size_t(numel());
  auto as_f32 = [&](float* dst) {
    switch (dtype_) {
      case DType::F32: std::memcpy(dst, src.data(), n * 4); break;
      case DType::F16: f16_to_f32(src.data_as<uint16_t>(), dst, n); break;
      case DType::BF16: bf16_to_f32(src.data_as<uint16_t>(), dst, n); break;
      default: fail("conversion from ", dtype_name(dtype_), " is not supported yet");
    }
  };
  switch (dtype) {
    case DType::F32: as_f32(out.mutable_data_as<float>()); break;
    case DType::F16:
    case DType::BF16: {
      Tensor tmp = dtype_ == DType::F32 ? src : src.to(DType::F32);
      if (dtype == DType::F16)
        f32_to_f16(tmp.data_as<float>(), out.mutable_data_as<uint16_t>(), n);
      else
        f32_to_bf16(tmp.data_as<float>(), out.mutable_data_as<uint16_t>(), n);
      break;
    }
    default: fail("conversion to ", dtype_name(dtype), " is not supported yet");
  }
  return out;
}

}  // namespace tf
