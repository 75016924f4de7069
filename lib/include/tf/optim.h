// Optimizers, learning-rate schedules and gradient utilities for
// tf::train::Var parameters. Update rules follow PyTorch's (torch.optim.SGD,
// Adam, AdamW) so that hyperparameters carry over.
//
// Gradient accumulation needs no special support: gradients add up across
// backward passes until zero_grad(), so run N micro-batches with each loss
// scaled by 1/N (or call scale_gradients), then step() once.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tf/autograd.h"

namespace tf::train {

// Parameters sharing hyperparameters. Unset fields use the optimizer's own.
struct ParamGroup {
  std::vector<Var> params;
  std::optional<float> weight_decay;
  float lr_scale = 1.0f;  // this group's learning rate = optimizer lr · lr_scale
};

// The usual split: matrices (ndim >= 2) decay; biases and norm weights
// (ndim < 2) get weight_decay 0.
std::vector<ParamGroup> decay_groups(const std::vector<Var>& params);

// Everything an optimizer carries from one step to the next, for training
// checkpoints: per parameter (in group order, then parameter order) its step
// count and its buffers under PyTorch's state names ("momentum_buffer";
// "exp_avg", "exp_avg_sq"). A parameter that has not been stepped yet has no
// buffers. Importing it into an optimizer built over the same parameters
// continues exactly where the exporting one stopped.
struct OptimizerState {
  struct Buffer {
    std::string name;
    std::vector<float> data;
  };
  struct Param {
    std::string name;  // the parameter's name, checked on import
    int64_t numel = 0;
    int64_t steps = 0;
    std::vector<Buffer> buffers;
  };
  std::string kind;  // "sgd" or "adam"
  int64_t steps = 0; // step() calls
  float lr = 0.0f;
  std::vector<std::vector<Param>> groups;
};

class Optimizer {
 public:
  explicit Optimizer(std::vector<ParamGroup> groups);
  virtual ~Optimizer() = default;
  // One update from the current gradients; parameters without a gradient are
  // left alone (and their state does not advance).
  virtual void step() = 0;
  void zero_grad();
  void set_lr(float lr) { lr_ = lr; }
  float lr() const { return lr_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  int64_t steps() const { return steps_; }

  virtual OptimizerState export_state() const = 0;
  // Replaces the state; a state of another kind, another number of groups or
  // parameters, other names or sizes is a one-line tf::Error.
  virtual void import_state(const OptimizerState& state) = 0;

 protected:
  // The parts every optimizer shares; import_state checks them first.
  OptimizerState state_skeleton(const std::string& kind) const;
  void check_state(const OptimizerState& state, const std::string& kind) const;
  int64_t steps_ = 0;
  std::vector<ParamGroup> groups_;
  float lr_ = 0.0f;
};

struct SgdOptions {
  float lr = 1e-2f;
  float momentum = 0.0f;
  float dampening = 0.0f;
  bool nesterov = false;
  float weight_decay = 0.0f;  // L2: added to the gradient
};

class Sgd : public Optimizer {
 public:
  Sgd(std::vector<ParamGroup> groups, SgdOptions options);
  Sgd(std::vector<Var> params, SgdOptions options) : Sgd(std::vector<ParamGroup>{{std::move(params), {}, 1.0f}}, options) {}
  void step() override;
  OptimizerState export_state() const override;
  void import_state(const OptimizerState& state) override;

 private:
  SgdOptions opt_;
  std::vector<std::vector<std::vector<float>>> momentum_;  // [group][param] buffers; empty until first step
};

struct AdamOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  // false: Adam (L2, added to the gradient); true: AdamW (decoupled,
  // p ← p·(1 − lr·wd) before the Adam update).
  bool decoupled_weight_decay = false;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, AdamOptions options);
  Adam(std::vector<Var> params, AdamOptions options) : Adam(std::vector<ParamGroup>{{std::move(params), {}, 1.0f}}, options) {}
  void step() override;
  OptimizerState export_state() const override;
  void import_state(const OptimizerState& state) override;

 private:
  struct State {
    std::vector<float> m, v;
    int64_t t = 0;
  };
  AdamOptions opt_;
  std::vector<std::vector<State>> state_;
};

// AdamW: Adam with decoupled weight decay (default 0.01, as PyTorch).
inline AdamOptions adamw_options(float lr = 1e-3f, float weight_decay = 1e-2f) {
  AdamOptions o;
  o.lr = lr;
  o.weight_decay = weight_decay;
  o.decoupled_weight_decay = true;
  return o;
}

// Learning rate as a function of the step (0-based).
struct LrSchedule {
  enum class Decay { Constant, Linear, Cosine };
  float base_lr = 1e-3f;
  float min_lr = 0.0f;
  int64_t warmup_steps = 0;  // linear from base_lr/warmup_steps up to base_lr
  int64_t total_steps = 0;   // decay reaches min_lr here (Linear, Cosine)
  Decay decay = Decay::Constant;

  float at(int64_t step) const;
};

// Scales all gradients so that their global L2 norm is at most max_norm;
// returns the norm before clipping (as torch.nn.utils.clip_grad_norm_).
double clip_grad_norm(const std::vector<Var>& params, double max_norm);
void scale_gradients(const std::vector<Var>& params, float factor);
std::vector<Var> all_params(const std::vector<ParamGroup>& groups);

}  // namespace tf::train
