// Reverse-mode automatic differentiation on a tape.
//
// A Var is a value (a contiguous f32 tf::Tensor, so a trained parameter is a
// Tensor the rest of the library can read) plus, when it requires a gradient,
// a gradient tensor of the same shape.
//
// Gradients are only recorded inside a training scope: while a Tape object is
// alive on this thread, every op (tf/train_ops.h) whose inputs require a
// gradient appends one node — its backward function — to the tape. Without a
// Tape, ops compute values only: inference pays no bookkeeping. Nodes are
// appended in execution order, so walking the tape backwards is already a
// topological order of the graph.
//
//   tf::train::Var w = tf::train::Var::parameter(tf::Tensor::zeros(tf::DType::F32, {4, 3}));
//   {
//     tf::train::Tape tape;
//     tf::train::Var loss = tf::train::mean(tf::train::square(tf::train::linear(x, w)));
//     tape.backward(loss);   // w.grad() now holds d loss / d w
//   }
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tf/tensor.h"

namespace tf::train {

class Var {
 public:
  Var() = default;
  // A constant (no gradient) holding `value`, which must be f32; it is made
  // contiguous.
  explicit Var(Tensor value, bool requires_grad = false);
  // A trainable leaf: requires a gradient, keeps it across backward passes
  // (accumulating) until zero_grad().
  static Var parameter(Tensor value, std::string name = {});
  static Var zeros(Shape shape, bool requires_grad = false);
  static Var from(Shape shape, const std::vector<float>& values, bool requires_grad = false);
  static Var scalar(float value);

  bool defined() const { return impl_ != nullptr; }
  const Tensor& value() const;
  Tensor& value();  // parameters are updated in place by optimizers
  const Shape& shape() const { return value().shape(); }
  int ndim() const { return value().ndim(); }
  int64_t dim(int i) const { return value().dim(i); }
  int64_t numel() const { return value().numel(); }
  const float* data() const { return value().data_as<float>(); }
  float* mutable_data() { return value().mutable_data_as<float>(); }
  float item() const;  // the value of a one-element Var

  bool requires_grad() const;
  const std::string& name() const;
  // The gradient: undefined (numel 0, no data) until a backward pass reaches it.
  const Tensor& grad() const;
  bool has_grad() const;
  // The gradient storage, allocated as zeros on first use; ops' backward
  // functions accumulate into it.
  float* grad_buffer();
  // Drops the gradient (has_grad() is false until a backward pass reaches
  // this Var again). Its storage is kept and reused, zeroed, for the next
  // gradient, so a shallow copy of grad() taken earlier sees it change:
  // clone() a gradient to keep it across steps.
  void zero_grad();

  // Same underlying variable (not equal values).
  bool same(const Var& other) const { return impl_ == other.impl_; }

 private:
  friend class Tape;
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// A training scope: while one is alive on a thread, ops record onto it. Tapes
// nest (the innermost one records); a NoGrad guard pauses recording.
class Tape {
 public:
  Tape();
  ~Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // d root / d (every Var that requires a gradient), accumulated into their
  // grads. root must have one element (the gradient is seeded with 1).
  // As in PyTorch, the recorded graph is freed afterwards: one backward per
  // tape (a second one is an error).
  void backward(const Var& root);
  // Vector-Jacobian product: seeds root's gradient with `seed` (root's shape).
  void backward(const Var& root, const Tensor& seed);
  // Frees the recorded nodes (and the activations they keep alive).
  void clear();
  size_t size() const { return nodes_.size(); }

  // The tape ops record onto now, or nullptr.
  static Tape* active();

  // For op implementations: whether an op on these inputs must be recorded.
  static bool should_record(std::initializer_list<const Var*> inputs);
  // Makes `output` require a gradient and appends `backward`, which reads
  // output's gradient and accumulates into its inputs' grad buffers.
  void record(Var& output, std::function<void(const Tensor& grad_out)> backward);

 private:
  struct Node {
    Var output;
    std::function<void(const Tensor&)> backward;
  };
  std::vector<Node> nodes_;
  Tape* previous_ = nullptr;
  bool consumed_ = false;
};

// Pauses gradient recording on this thread (e.g. an evaluation pass inside a
// training loop).
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  Tape* saved_;
};

}  // namespace tf::train
