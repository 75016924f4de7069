#include "tf/optim.h"

#include <cmath>
#include <numbers>

#include "tf/error.h"
#include "tf/thread_pool.h"

namespace tf::train {

namespace {
// Update loops over large parameters are split across the default pool.
template <class Fn>
void for_elements(int64_t n, Fn&& fn) {
  constexpr size_t grain = size_t(1) << 15;
  if (n < int64_t(2 * grain)) {
    fn(int64_t(0), n);
    return;
  }
  default_pool().parallel_for(size_t(n), grain, [&](size_t lo, size_t hi, int) { fn(int64_t(lo), int64_t(hi)); });
}
}  // namespace

std::vector<ParamGroup> decay_groups(const std::vector<Var>& params) {
  ParamGroup decay, no_decay;
  no_decay.weight_decay = 0.0f;
  for (const Var& p : params) (p.ndim() >= 2 ? decay : no_decay).params.push_back(p);
  return {decay, no_decay};
}

std::vector<Var> all_params(const std::vector<ParamGroup>& groups) {
  std::vector<Var> all;
  for (const ParamGroup& g : groups) all.insert(all.end(), g.params.begin(), g.params.end());
  return all;
}

Optimizer::Optimizer(std::vector<ParamGroup> groups) : groups_(std::move(groups)) {
  for (const ParamGroup& g : groups_)
    for (const Var& p : g.params)
      if (!p.requires_grad()) fail("optimizer: parameter '", p.name(), "' does not require a gradient");
}

void Optimizer::zero_grad() {
  for (ParamGroup& g : groups_)
    for (Var& p : g.params) p.zero_grad();
}

Sgd::Sgd(std::vector<ParamGroup> groups, SgdOptions options) : Optimizer(std::move(groups)), opt_(options) {
  if (opt_.nesterov && (opt_.momentum <= 0.0f || opt_.dampening != 0.0f))
    fail("SGD: Nesterov momentum needs momentum > 0 and dampening 0");
  lr_ = opt_.lr;
  momentum_.resize(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) momentum_[g].resize(groups_[g].params.size());
}

void Sgd::step() {
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    ParamGroup& group = groups_[gi];
    const float lr = lr_ * group.lr_scale, wd = group.weight_decay.value_or(opt_.weight_decay);
    for (size_t pi = 0; pi < group.params.size(); ++pi) {
      Var& p = group.params[pi];
      if (!p.has_grad()) continue;
      float* w = p.mutable_data();
      const float* grad = p.grad().data_as<float>();
      std::vector<float>& buf = momentum_[gi][pi];
      const bool first = buf.empty();
      if (opt_.momentum != 0.0f && first) buf.resize(size_t(p.numel()));
      for_elements(p.numel(), [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) {
          float d = grad[i] + wd * w[i];
          if (opt_.momentum != 0.0f) {
            float& b = buf[size_t(i)];
            b = first ? d : opt_.momentum * b + (1.0f - opt_.dampening) * d;
            d = opt_.nesterov ? d + opt_.momentum * b : b;
          }
          w[i] -= lr * d;
        }
      });
    }
  }
}

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions options) : Optimizer(std::move(groups)), opt_(options) {
  lr_ = opt_.lr;
  state_.resize(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) state_[g].resize(groups_[g].params.size());
}

void Adam::step() {
  ++t_;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    ParamGroup& group = groups_[gi];
    const float lr = lr_ * group.lr_scale, wd = group.weight_decay.value_or(opt_.weight_decay);
    for (size_t pi = 0; pi < group.params.size(); ++pi) {
      Var& p = group.params[pi];
      if (!p.has_grad()) continue;
      State& s = state_[gi][pi];
      if (s.m.empty()) {
        s.m.assign(size_t(p.numel()), 0.0f);
        s.v.assign(size_t(p.numel()), 0.0f);
      }
      ++s.t;  // per parameter: one that skipped steps keeps an honest bias correction
      const double bc1 = 1.0 - std::pow(double(opt_.beta1), double(s.t));
      const double bc2 = 1.0 - std::pow(double(opt_.beta2), double(s.t));
      const float step_size = float(lr / bc1), inv_sqrt_bc2 = float(1.0 / std::sqrt(bc2));
      float* w = p.mutable_data();
      const float* grad = p.grad().data_as<float>();
      const float decay = opt_.decoupled_weight_decay ? 1.0f - lr * wd : 1.0f;
      const float l2 = opt_.decoupled_weight_decay ? 0.0f : wd;
      for_elements(p.numel(), [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) {
          const float g = grad[i] + l2 * w[i];
          float& m = s.m[size_t(i)];
          float& v = s.v[size_t(i)];
          m = opt_.beta1 * m + (1.0f - opt_.beta1) * g;
          v = opt_.beta2 * v + (1.0f - opt_.beta2) * g * g;
          w[i] = w[i] * decay - step_size * m / (std::sqrt(v) * inv_sqrt_bc2 + opt_.eps);
        }
      });
    }
  }
}

float LrSchedule::at(int64_t step) const {
  if (step < 0) fail("lr schedule: negative step ", step);
  if (warmup_steps > 0 && step < warmup_steps) return base_lr * float(step + 1) / float(warmup_steps);
  if (decay == Decay::Constant) return base_lr;
  const int64_t span = total_steps - warmup_steps;
  if (span <= 0) return base_lr;
  const double progress = std::min(1.0, double(step - warmup_steps) / double(span));
  const double f = decay == Decay::Linear ? 1.0 - progress : 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  return min_lr + float(f) * (base_lr - min_lr);
}

double clip_grad_norm(const std::vector<Var>& params, double max_norm) {
  double ss = 0;
  for (const Var& p : params) {
    if (!p.has_grad()) continue;
    const float* g = p.grad().data_as<float>();
    for (int64_t i = 0; i < p.numel(); ++i) ss += double(g[i]) * g[i];
  }
  const double norm = std::sqrt(ss);
  // PyTorch's 1e-6 keeps the factor finite and just under 1 at the boundary.
  const double factor = max_norm / (norm + 1e-6);
  if (factor < 1.0) scale_gradients(params, float(factor));
  return norm;
}

void scale_gradients(const std::vector<Var>& params, float factor) {
  for (Var p : params) {
    if (!p.has_grad()) continue;
    float* g = p.grad_buffer();
    for (int64_t i = 0; i < p.numel(); ++i) g[i] *= factor;
  }
}

}  // namespace tf::train
