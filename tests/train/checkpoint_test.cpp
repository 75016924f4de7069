// Training state: optimizer moments, step counts and the data position
// survive a write / read through training_state.zst so that a resumed run
// continues bit for bit; corrupt or mismatched files fail with one line.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "common/error_of.h"
#include "common/test_paths.h"
#include "tf/checkpoint.h"
#include "tf/error.h"
#include "tf/train_data.h"
#include "tf/train_ops.h"

namespace tf::train {
namespace {

using tf::test::error_of;
using tf::test::TempDir;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

// A small regression problem trained with minibatches drawn by a ShuffledOrder.
struct Problem {
  static constexpr int64_t n = 40, in = 6, hidden = 16;
  std::vector<float> x, y;
  Problem() {
    Rng rng(5);
    for (int64_t i = 0; i < n * in; ++i) x.push_back(rng.normal());
    for (int64_t i = 0; i < n; ++i) y.push_back(std::sin(x[size_t(i * in)]) + 0.5f * x[size_t(i * in + 1)]);
  }
};

struct MlpRun {
  std::vector<NamedParam> params;
  std::unique_ptr<Optimizer> opt;
  ShuffledOrder order{size_t(Problem::n), 11};

  MlpRun(const std::string& kind, uint64_t init_seed) {
    Rng rng(init_seed);
    auto make = [&](const char* name, Shape shape, float std) {
      Tensor t = Tensor::zeros(DType::F32, shape);
      for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data_as<float>()[i] = std * rng.normal();
      params.push_back({name, Var::parameter(t, name)});
    };
    make("w1", {Problem::hidden, Problem::in}, 0.4f);
    make("b1", {Problem::hidden}, 0.1f);
    make("w2", {1, Problem::hidden}, 0.3f);
    std::vector<Var> vars;
    for (auto& p : params) vars.push_back(p.var);
    if (kind == "sgd")
      opt = std::make_unique<Sgd>(decay_groups(vars), SgdOptions{.lr = 0.05f, .momentum = 0.9f, .weight_decay = 0.01f});
    else
      opt = std::make_unique<Adam>(decay_groups(vars), adamw_options(0.01f, 0.1f));
  }

  float step(const Problem& p, int64_t at) {
    std::vector<size_t> idx = order.next(8);
    std::vector<float> xb, yb;
    for (size_t i : idx) {
      xb.insert(xb.end(), p.x.begin() + long(i * Problem::in), p.x.begin() + long((i + 1) * Problem::in));
      yb.push_back(p.y[i]);
    }
    Tape tape;
    Var pred = linear(gelu(linear(Var::from({8, Problem::in}, xb), params[0].var, params[1].var)), params[2].var);
    Var loss = mse_loss(pred, Var::from({8, 1}, yb));
    opt->zero_grad();
    tape.backward(loss);
    clip_grad_norm(all_params(opt->groups()), 1.0);
    opt->set_lr(0.01f * float(at + 1) / 10.0f);
    opt->step();
    return loss.item();
  }

  TrainingState state(int64_t at) const {
    TrainingState s;
    s.step = at;
    s.config = {{"note", "test"}};
    s.data = order.state();
    s.optimizer = opt->export_state();
    for (const auto& p : params) s.params.push_back({p.name, p.var.shape()});
    return s;
  }
};

bool same_bits(const Var& a, const Var& b) {
  return a.numel() == b.numel() && std::memcmp(a.data(), b.data(), size_t(a.numel()) * 4) == 0;
}

void check_exact_resume(const std::string& kind) {
  TempDir dir;
  Problem p;
  MlpRun full(kind, 1);
  std::vector<float> losses;
  for (int64_t s = 0; s < 10; ++s) losses.push_back(full.step(p, s));

  MlpRun first(kind, 1);
  for (int64_t s = 0; s < 4; ++s) ASSERT_EQ(first.step(p, s), losses[size_t(s)]);
  write_training_state(dir / "state.zst", first.state(4));

  // A new process's view: fresh objects, weights copied in, state read back.
  MlpRun resumed(kind, 99);
  for (size_t i = 0; i < resumed.params.size(); ++i)
    std::memcpy(resumed.params[i].var.mutable_data(), first.params[i].var.data(), size_t(first.params[i].var.numel()) * 4);
  TrainingState s = read_training_state(dir / "state.zst");
  EXPECT_EQ(s.step, 4);
  EXPECT_EQ(s.config["note"], "test");
  check_state_params(s, resumed.params, "state");
  resumed.opt->import_state(s.optimizer);
  resumed.order.restore(s.data);
  EXPECT_EQ(resumed.opt->steps(), 4);
  for (int64_t st = 4; st < 10; ++st) EXPECT_EQ(resumed.step(p, st), losses[size_t(st)]) << "step " << st;
  for (size_t i = 0; i < full.params.size(); ++i) EXPECT_TRUE(same_bits(full.params[i].var, resumed.params[i].var));
}

TEST(Checkpoint, AdamWResumesBitExactly) { check_exact_resume("adamw"); }
TEST(Checkpoint, SgdMomentumResumesBitExactly) { check_exact_resume("sgd"); }

TEST(Checkpoint, StateRoundTripKeepsEveryField) {
  TempDir dir;
  Problem p;
  MlpRun r("adamw", 3);
  for (int64_t s = 0; s < 3; ++s) r.step(p, s);
  TrainingState s = r.state(3);
  s.extra = {{"best_eval", 1.5}};
  write_training_state(dir / "s.zst", s);
  TrainingState back = read_training_state(dir / "s.zst");
  EXPECT_EQ(back.data, s.data);
  EXPECT_EQ(back.extra, s.extra);
  EXPECT_EQ(back.optimizer.kind, "adam");
  EXPECT_EQ(back.optimizer.steps, 3);
  EXPECT_EQ(back.optimizer.lr, s.optimizer.lr);
  ASSERT_EQ(back.optimizer.groups.size(), 2u);  // decay / no decay
  for (size_t g = 0; g < 2; ++g)
    for (size_t i = 0; i < s.optimizer.groups[g].size(); ++i) {
      const auto &a = s.optimizer.groups[g][i], &b = back.optimizer.groups[g][i];
      EXPECT_EQ(a.name, b.name);
      EXPECT_EQ(a.steps, b.steps);
      ASSERT_EQ(b.buffers.size(), 2u);
      EXPECT_EQ(b.buffers[0].name, "exp_avg");
      EXPECT_EQ(a.buffers[0].data, b.buffers[0].data);
      EXPECT_EQ(a.buffers[1].data, b.buffers[1].data);
    }
  ASSERT_EQ(back.params.size(), 3u);
  EXPECT_EQ(back.params[0].shape, (Shape{Problem::hidden, Problem::in}));
}

TEST(Checkpoint, CorruptStateFilesFailWithOneLine) {
  TempDir dir;
  Problem p;
  MlpRun r("adamw", 3);
  r.step(p, 0);
  write_training_state(dir / "s.zst", r.state(1));
  const std::string good = read_file(dir / "s.zst");
  auto err = [&](const std::string& bytes) {
    write_file(dir / "bad.zst", bytes);
    std::string e = error_of([&] { read_training_state(dir / "bad.zst"); });
    EXPECT_EQ(e.find('\n'), std::string::npos);
    return e;
  };
  EXPECT_NE(err(good.substr(0, good.size() - 5)).find("truncated or padded"), std::string::npos);
  EXPECT_NE(err(good + "x").find("truncated or padded"), std::string::npos);
  EXPECT_NE(err(good.substr(0, 10)).find("not a trustformers training state"), std::string::npos);
  EXPECT_NE(err("GGUF" + good.substr(4)).find("not a trustformers training state"), std::string::npos);
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x20;  // inside the compressed frame: zstd's checksum or decoder notices
  EXPECT_NE(err(flipped).find("corrupt"), std::string::npos);
  std::string size_lie = good;
  size_lie[8] ^= 0x01;  // payload size
  EXPECT_NE(err(size_lie).find("corrupt"), std::string::npos);
  std::string huge = good;
  huge[13] = 0x10;  // a payload of terabytes claimed by a small file: refused before allocating
  EXPECT_NE(err(huge).find("implausible payload size"), std::string::npos);
  EXPECT_NE(error_of([&] { read_training_state(dir / "missing.zst"); }).find("missing.zst"), std::string::npos);
}

TEST(Checkpoint, MismatchedStatesAreRefused) {
  TempDir dir;
  Problem p;
  MlpRun adam("adamw", 3), sgd("sgd", 3);
  adam.step(p, 0);
  sgd.step(p, 0);
  EXPECT_NE(error_of([&] { sgd.opt->import_state(adam.opt->export_state()); }).find("saved by 'adam'"),
            std::string::npos);
  OptimizerState s = adam.opt->export_state();
  s.groups[0][0].buffers[0].data.pop_back();
  EXPECT_NE(error_of([&] { adam.opt->import_state(s); }).find("buffer 'exp_avg' has"), std::string::npos);
  s = adam.opt->export_state();
  s.groups[0][0].name = "other";
  EXPECT_NE(error_of([&] { adam.opt->import_state(s); }).find("saved as 'other'"), std::string::npos);
  s = adam.opt->export_state();
  s.groups.pop_back();
  EXPECT_NE(error_of([&] { adam.opt->import_state(s); }).find("parameter groups saved"), std::string::npos);

  TrainingState st = adam.state(1);
  std::vector<NamedParam> fewer(adam.params.begin(), adam.params.end() - 1);
  EXPECT_NE(error_of([&] { check_state_params(st, fewer, "ck"); }).find("ck: saved for a model with 3 parameters"),
            std::string::npos);
  st.params[1].shape = {5};
  EXPECT_NE(error_of([&] { check_state_params(st, adam.params, "ck"); }).find("parameter 1 saved as 'b1' [5]"),
            std::string::npos);
}

}  // namespace
}  // namespace tf::train
