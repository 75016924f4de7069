#include "tf/autograd.h"

#include <malloc.h>

#include <cstring>
#include <mutex>

#include "tf/error.h"

namespace tf::train {

struct Var::Impl {
  Tensor value;
  Tensor grad;
  Tensor spare_grad;  // the storage zero_grad() released, reused by the next grad_buffer()
  bool requires_grad = false;
  std::string name;
};

namespace {
thread_local Tape* active_tape = nullptr;

const std::string& empty_name() {
  static const std::string empty;
  return empty;
}

// A training step allocates and frees the same activations and gradients
// (megabytes each) every step. glibc by default hands freed memory at the top
// of the heap back to the kernel, and serves blocks above its mmap threshold
// with fresh mappings, so each step page-faults all of it in again: a
// quarter of a GPT-2 step's time (tf-bench train). Once a process starts
// training, freed memory stays in the process instead, as PyTorch's caching
// allocators do. Inference-only processes never get here.
void keep_freed_memory() {
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest allowed value
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  });
}
}  // namespace

Var::Var(Tensor value, bool requires_grad) : impl_(std::make_shared<Impl>()) {
  if (value.dtype() != DType::F32) fail("autograd: Var values are f32, got ", dtype_name(value.dtype()));
  // A borrowed or strided tensor is copied so that data() is always a
  // writable, contiguous f32 array.
  impl_->value = value.is_contiguous() && value.is_writable() ? std::move(value) : value.clone();
  impl_->requires_grad = requires_grad;
}

Var Var::parameter(Tensor value, std::string name) {
  Var v(std::move(value), true);
  v.impl_->name = std::move(name);
  return v;
}

Var Var::zeros(Shape shape, bool requires_grad) { return Var(Tensor::zeros(DType::F32, std::move(shape)), requires_grad); }

Var Var::from(Shape shape, const std::vector<float>& values, bool requires_grad) {
  Var v = zeros(std::move(shape), requires_grad);
  if (int64_t(values.size()) != v.numel())
    fail("autograd: ", values.size(), " values for shape ", shape_string(v.shape()));
  std::memcpy(v.mutable_data(), values.data(), values.size() * sizeof(float));
  return v;
}

Var Var::scalar(float value) { return from({}, {value}); }

const Tensor& Var::value() const {
  if (!impl_) fail("autograd: use of an undefined Var");
  return impl_->value;
}

Tensor& Var::value() {
  if (!impl_) fail("autograd: use of an undefined Var");
  return impl_->value;
}

float Var::item() const {
  if (numel() != 1) fail("autograd: item() of a Var of shape ", shape_string(shape()));
  return data()[0];
}

bool Var::requires_grad() const { return impl_ && impl_->requires_grad; }
const std::string& Var::name() const { return impl_ ? impl_->name : empty_name(); }

const Tensor& Var::grad() const {
  if (!impl_) fail("autograd: use of an undefined Var");
  return impl_->grad;
}

bool Var::has_grad() const { return impl_ && impl_->grad.numel() > 0 && impl_->grad.data(); }

float* Var::grad_buffer() {
  if (!impl_) fail("autograd: use of an undefined Var");
  if (!impl_->grad.data() || impl_->grad.shape() != impl_->value.shape()) {
    if (impl_->spare_grad.data() && impl_->spare_grad.shape() == impl_->value.shape()) {
      // Warm pages: far cheaper than a fresh (page-faulting) allocation of a
      // large gradient every step.
      impl_->grad = std::move(impl_->spare_grad);
      impl_->spare_grad = Tensor();
      std::memset(impl_->grad.mutable_data(), 0, size_t(impl_->grad.nbytes()));
    } else {
      impl_->grad = Tensor::zeros(DType::F32, impl_->value.shape());
    }
  }
  return impl_->grad.mutable_data_as<float>();
}

void Var::zero_grad() {
  if (!impl_) return;
  if (impl_->grad.data()) impl_->spare_grad = std::move(impl_->grad);
  impl_->grad = Tensor();
}

Tape::Tape() : previous_(active_tape) {
  keep_freed_memory();
  active_tape = this;
}

Tape::~Tape() { active_tape = previous_; }

Tape* Tape::active() { return active_tape; }

bool Tape::should_record(std::initializer_list<const Var*> inputs) {
  if (!active_tape) return false;
  for (const Var* v : inputs)
    if (v->requires_grad()) return true;
  return false;
}

void Tape::record(Var& output, std::function<void(const Tensor&)> backward) {
  if (consumed_) fail("autograd: recording onto a tape whose backward() already ran");
  output.impl_->requires_grad = true;
  nodes_.push_back(Node{output, std::move(backward)});
}

void Tape::backward(const Var& root) {
  if (root.numel() != 1) fail("autograd: backward() needs a one-element root, got ", shape_string(root.shape()));
  Tensor seed = Tensor::zeros(DType::F32, root.shape());
  seed.mutable_data_as<float>()[0] = 1.0f;
  backward(root, seed);
}

void Tape::backward(const Var& root, const Tensor& seed) {
  if (consumed_) fail("autograd: backward() twice on one tape (its graph was freed by the first)");
  if (!root.requires_grad()) fail("autograd: backward() from a Var that does not require a gradient");
  if (seed.shape() != root.shape() || seed.dtype() != DType::F32)
    fail("autograd: seed ", seed.shape_string(), " for a root of shape ", shape_string(root.shape()));
  Var r = root;
  float* g = r.grad_buffer();
  const Tensor s = seed.contiguous();
  const float* sd = s.data_as<float>();
  for (int64_t i = 0; i < r.numel(); ++i) g[i] += sd[i];
  // Recording during backward would append to the vector being walked.
  NoGrad pause;
  for (size_t i = nodes_.size(); i-- > 0;) {
    Node& node = nodes_[i];
    if (!node.output.has_grad()) continue;  // not on a path to root
    node.backward(node.output.grad());
  }
  clear();
  consumed_ = true;
}

void Tape::clear() { nodes_.clear(); }

NoGrad::NoGrad() : saved_(active_tape) { active_tape = nullptr; }
NoGrad::~NoGrad() { active_tape = saved_; }

}  // namespace tf::train
