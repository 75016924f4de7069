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

OptimizerState Optimizer::state_skeleton(const std::string& kind) const {
  OptimizerState s;
  s.kind = kind;
  s.steps = steps_;
  s.lr = lr_;
  s.groups.resize(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g)
    for (const Var& p : groups_[g].params) s.groups[g].push_back({p.name(), p.numel(), 0, {}});
  return s;
}

void Optimizer::check_state(const OptimizerState& s, const std::string& kind) const {
  if (s.kind != kind) fail("optimizer state: saved by '", s.kind, "', loading into '", kind, "'");
  if (s.steps < 0) fail("optimizer state: negative step count ", s.steps);
  if (s.groups.size() != groups_.size())
    fail("optimizer state: ", s.groups.size(), " parameter groups saved, the optimizer has ", groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) {
    if (s.groups[g].size() != groups_[g].params.size())
      fail("optimizer state: group ", g, " has ", s.groups[g].size(), " parameters saved, the optimizer has ",
           groups_[g].params.size());
    for (size_t i = 0; i < s.groups[g].size(); ++i) {
      const OptimizerState::Param& sp = s.groups[g][i];
      const Var& p = groups_[g].params[i];
      if (sp.name != p.name() || sp.numel != p.numel())
        fail("optimizer state: group ", g, " parameter ", i, " saved as '", sp.name, "' (", sp.numel,
             " elements), the optimizer has '", p.name(), "' (", p.numel(), " elements)");
      if (sp.steps < 0) fail("optimizer state: parameter '", sp.name, "': negative step count");
      for (const OptimizerState::Buffer& b : sp.buffers)
        if (int64_t(b.data.size()) != p.numel())
          fail("optimizer state: parameter '", sp.name, "' buffer '", b.name, "' has ", b.data.size(),
               " elements, the parameter ", p.numel());
    }
  }
}

namespace {
// The buffers of one saved parameter by name: all of `names` or none.
std::vector<const std::vector<float>*> saved_buffers(const OptimizerState::Param& p,
                                                     std::initializer_list<const char*> names) {
  std::vector<const std::vector<float>*> found;
  if (p.buffers.empty()) return found;
  if (p.buffers.size() != names.size())
    fail("optimizer state: parameter '", p.name, "' has ", p.buffers.size(), " buffers, expected ", names.size());
  for (const char* n : names) {
    const OptimizerState::Buffer* b = nullptr;
    for (const OptimizerState::Buffer& x : p.buffers)
      if (x.name == n) b = &x;
    if (!b) fail("optimizer state: parameter '", p.name, "' lacks buffer '", n, "'");
    found.push_back(&b->data);
  }
  return found;
}
}  // namespace

Sgd::Sgd(std::vector<ParamGroup> groups, SgdOptions options) : Optimizer(std::move(groups)), opt_(options) {
  if (opt_.nesterov && (opt_.momentum <= 0.0f || opt_.dampening != 0.0f))
    fail("SGD: Nesterov momentum needs momentum > 0 and dampening 0");
  lr_ = opt_.lr;
  momentum_.resize(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) momentum_[g].resize(groups_[g].params.size());
}

void Sgd::step() {
  ++steps_;
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

OptimizerState Sgd::export_state() const {
  OptimizerState s = state_skeleton("sgd");
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i)
      if (!momentum_[g][i].empty()) s.groups[g][i].buffers.push_back({"momentum_buffer", momentum_[g][i]});
  return s;
}

void Sgd::import_state(const OptimizerState& s) {
  check_state(s, "sgd");
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      auto b = saved_buffers(s.groups[g][i], {"momentum_buffer"});
      if (!b.empty() && opt_.momentum == 0.0f)
        fail("optimizer state: momentum buffers saved, but this SGD has momentum 0");
      momentum_[g][i] = b.empty() ? std::vector<float>{} : *b[0];
    }
  steps_ = s.steps;
  lr_ = s.lr;
}

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions options) : Optimizer(std::move(groups)), opt_(options) {
  lr_ = opt_.lr;
  state_.resize(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) state_[g].resize(groups_[g].params.size());
}

void Adam::step() {
  ++steps_;
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

OptimizerState Adam::export_state() const {
  OptimizerState s = state_skeleton("adam");
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      const State& st = state_[g][i];
      OptimizerState::Param& p = s.groups[g][i];
      p.steps = st.t;
      if (!st.m.empty()) p.buffers = {{"exp_avg", st.m}, {"exp_avg_sq", st.v}};
    }
  return s;
}

void Adam::import_state(const OptimizerState& s) {
  check_state(s, "adam");
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      const OptimizerState::Param& p = s.groups[g][i];
      auto b = saved_buffers(p, {"exp_avg", "exp_avg_sq"});
      if (b.empty() != (p.steps == 0))
        fail("optimizer state: parameter '", p.name, "' has ", p.steps, " steps but ",
             b.empty() ? "no" : "saved", " moments");
      State& st = state_[g][i];
      st.t = p.steps;
      st.m = b.empty() ? std::vector<float>{} : *b[0];
      st.v = b.empty() ? std::vector<float>{} : *b[1];
    }
  steps_ = s.steps;
  lr_ = s.lr;
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
