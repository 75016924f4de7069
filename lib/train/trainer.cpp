// The training driver (tf/trainer.h).
#include "tf/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <set>

#include "tf/checkpoint.h"
#include "tf/error.h"
#include "tf/json_file.h"
#include "tf/log.h"
#include "tf/optim.h"
#include "tf/thread_pool.h"
#include "tf/tokenizer.h"
#include "tf/train_data.h"
#include "tf/train_model.h"
#include "tf/train_ops.h"
#include "train/trainer_task.h"

namespace fs = std::filesystem;

namespace tf::train {

// ---------------------------------------------------------------- configuration

namespace {

// Binds every field to its JSON key once, for reading and writing alike.
template <class Visitor>
void visit_fields(TrainConfig& c, Visitor&& v) {
  v("task", c.task);
  v("model_config", c.model_config);
  v("init_from", c.init_from);
  v("resume", c.resume);
  v("tokenizer", c.tokenizer);
  v("data", c.data);
  v("labels", c.labels);
  v("valid_data", c.valid_data);
  v("valid_labels", c.valid_labels);
  v("valid_fraction", c.valid_fraction);
  v("optimizer", c.optimizer);
  v("lr", c.lr);
  v("min_lr", c.min_lr);
  v("weight_decay", c.weight_decay);
  v("beta1", c.beta1);
  v("beta2", c.beta2);
  v("eps", c.eps);
  v("momentum", c.momentum);
  v("warmup", c.warmup);
  v("schedule", c.schedule);
  v("clip", c.clip);
  v("grad_accum", c.grad_accum);
  v("steps", c.steps);
  v("batch", c.batch);
  v("seq", c.seq);
  v("eval_every", c.eval_every);
  v("eval_batches", c.eval_batches);
  v("save_every", c.save_every);
  v("out", c.out);
  v("save_gguf", c.save_gguf);
  v("seed", c.seed);
  v("threads", c.threads);
  v("log_every", c.log_every);
}

template <class T>
void read_field(const nlohmann::json& j, const char* key, T& field) {
  const nlohmann::json& v = j.at(key);
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) fail("train config: '", key, "' must be a string, got ", v.dump());
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) fail("train config: '", key, "' must be a number, got ", v.dump());
  } else if constexpr (std::is_unsigned_v<T>) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0) fail("train config: '", key, "' must be a non-negative integer, got ", v.dump());
  } else {
    if (!v.is_number_integer()) fail("train config: '", key, "' must be an integer, got ", v.dump());
  }
  field = v.get<T>();
}

// Keys that may change when resuming without breaking the exact continuation.
const std::set<std::string> kResumeOverridable = {"steps",     "out",        "eval_every", "eval_batches", "save_every",
                                                  "save_gguf", "threads",    "log_every",  "resume"};

}  // namespace

TrainConfig TrainConfig::from_json(const nlohmann::json& j) {
  if (!j.is_object()) fail("train config: expected a JSON object");
  TrainConfig c;
  std::set<std::string> known;
  visit_fields(c, [&](const char* key, auto& field) {
    known.insert(key);
    if (j.contains(key)) read_field(j, key, field);
  });
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.count(it.key())) fail("train config: unknown key '", it.key(), "'");
  return c;
}

nlohmann::json TrainConfig::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  TrainConfig copy = *this;
  visit_fields(copy, [&](const char* key, auto& field) { j[key] = field; });
  return j;
}

void TrainConfig::validate() const {
  if (task != "lm" && task != "classify-image" && task != "classify-text")
    fail("train config: task '", task, "' is not supported (lm | classify-image | classify-text)");
  if (task == "classify-text") {
    if (!labels.empty() || !valid_labels.empty())
      fail("train config: classify-text reads labels from its JSONL lines ('labels', 'valid_labels' are for images)");
    if (!save_gguf.empty()) fail("train config: save_gguf is for language models");
  } else if (task == "classify-image") {
    if (labels.empty()) fail("train config: classify-image needs 'labels' (the IDX labels of 'data')");
    if (valid_data.empty() != valid_labels.empty())
      fail("train config: give both valid_data and valid_labels, or neither");
    if (!save_gguf.empty()) fail("train config: save_gguf is for language models");
    if (!tokenizer.empty()) fail("train config: an image task has no tokenizer");
  } else if (!labels.empty() || !valid_data.empty() || !valid_labels.empty()) {
    fail("train config: labels, valid_data and valid_labels are for classify-image");
  }
  const int sources = int(!model_config.empty()) + int(!init_from.empty()) + int(!resume.empty());
  if (sources != 1 && !(sources == 2 && !resume.empty()))
    fail("train config: give exactly one of model_config (a new model) and init_from (weights to fine-tune)");
  if (data.empty()) fail("train config: 'data' is required");
  if (!(valid_fraction >= 0 && valid_fraction < 1)) fail("train config: valid_fraction must be in [0, 1)");
  if (optimizer != "adamw" && optimizer != "adam" && optimizer != "sgd")
    fail("train config: optimizer '", optimizer, "' (adamw | adam | sgd)");
  if (schedule != "constant" && schedule != "linear" && schedule != "cosine")
    fail("train config: schedule '", schedule, "' (constant | linear | cosine)");
  if (!(lr > 0)) fail("train config: lr must be positive");
  if (min_lr < 0 || min_lr > lr) fail("train config: min_lr must be in [0, lr]");
  if (weight_decay < 0) fail("train config: weight_decay must be non-negative");
  if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1)) fail("train config: beta1 and beta2 must be in [0, 1)");
  if (!(eps > 0)) fail("train config: eps must be positive");
  if (momentum < 0 || momentum >= 1) fail("train config: momentum must be in [0, 1)");
  if (warmup < 0) fail("train config: warmup must be non-negative");
  if (clip < 0) fail("train config: clip must be non-negative (0: off)");
  if (grad_accum < 1) fail("train config: grad_accum must be at least 1");
  if (steps < 1) fail("train config: steps must be at least 1");
  if (batch < 1) fail("train config: batch must be at least 1");
  if (seq < 2) fail("train config: seq must be at least 2");
  if (eval_every < 0 || eval_batches < 0 || save_every < 0) fail("train config: eval_every, eval_batches and save_every must be non-negative");
  if (log_every < 1) fail("train config: log_every must be at least 1");
  if (!save_gguf.empty() && save_gguf != "f32" && save_gguf != "f16" && save_gguf != "bf16")
    fail("train config: save_gguf '", save_gguf, "' (f32 | f16 | bf16)");
  if (threads < 0) fail("train config: threads must be non-negative");
  if (out.empty()) fail("train config: 'out' (the output folder) is required");
}

TrainConfig resolve_train_config(const nlohmann::json& given) {
  if (!given.is_object()) fail("train config: expected a JSON object");
  if (!given.contains("resume")) {
    TrainConfig c = TrainConfig::from_json(given);
    c.validate();
    return c;
  }
  TrainConfig probe = TrainConfig::from_json(given);
  const std::string state_path = (fs::path(probe.resume) / kTrainingStateFile).string();
  const TrainingState state = read_training_state(state_path);
  nlohmann::json merged = TrainConfig::from_json(state.config).to_json();
  const nlohmann::json saved = merged;
  // compared as the config stores them (3e-3 given equals the float saved)
  const nlohmann::json normalised = probe.to_json();
  for (auto it = given.begin(); it != given.end(); ++it) {
    if (!kResumeOverridable.count(it.key()) && saved[it.key()] != normalised[it.key()])
      fail("train config: '", it.key(), "' cannot change when resuming (saved ", saved[it.key()].dump(), ", given ",
           it.value().dump(), ")");
    merged[it.key()] = it.value();
  }
  TrainConfig c = TrainConfig::from_json(merged);
  c.validate();
  return c;
}

// ---------------------------------------------------------------- the loop

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::unique_ptr<Optimizer> make_optimizer(const TrainConfig& c, std::vector<ParamGroup> groups) {
  if (c.optimizer == "sgd") {
    SgdOptions o;
    o.lr = c.lr;
    o.momentum = c.momentum;
    o.weight_decay = c.weight_decay;
    return std::make_unique<Sgd>(std::move(groups), o);
  }
  AdamOptions o;
  o.lr = c.lr;
  o.beta1 = c.beta1;
  o.beta2 = c.beta2;
  o.eps = c.eps;
  o.weight_decay = c.weight_decay;
  o.decoupled_weight_decay = c.optimizer == "adamw";
  return std::make_unique<Adam>(std::move(groups), o);
}

LrSchedule make_schedule(const TrainConfig& c) {
  LrSchedule s;
  s.base_lr = c.lr;
  s.min_lr = c.min_lr;
  s.warmup_steps = c.warmup;
  s.total_steps = c.steps;
  s.decay = c.schedule == "linear"   ? LrSchedule::Decay::Linear
            : c.schedule == "cosine" ? LrSchedule::Decay::Cosine
                                     : LrSchedule::Decay::Constant;
  return s;
}

class Progress {
 public:
  Progress(int64_t total, const char* rate_key)
      : total_(total), unit_(std::string(rate_key) == "tok_per_s" ? "tok/s" : "samples/s"), on_(stderr_is_terminal()) {}
  ~Progress() { finish(); }
  void update(int64_t step, double loss, double rate) {
    if (!on_) return;
    const int width = 30;
    const int filled = int(double(width) * double(step) / double(total_));
    std::fprintf(stderr, "\r[%.*s%*s] %lld/%lld loss %.4f %.0f %s ", filled, "##############################",
                 width - filled, "", static_cast<long long>(step), static_cast<long long>(total_), loss, rate,
                 unit_.c_str());
    std::fflush(stderr);
    shown_ = true;
  }
  void finish() {
    if (shown_) std::fputc('\n', stderr);
    shown_ = false;
  }

 private:
  int64_t total_;
  std::string unit_;
  bool on_, shown_ = false;
};

}  // namespace

TrainSummary run_training(const TrainConfig& c, const RecordSink& emit) {
  c.validate();
  set_default_threads(c.threads);
  std::unique_ptr<detail::TrainTask> task = c.task == "lm"               ? detail::make_lm_task(c)
                                            : c.task == "classify-image" ? detail::make_image_task(c)
                                                                         : detail::make_text_task(c);
  emit(task->data_record());

  // ---- optimizer, schedule, resumed state
  const std::vector<NamedParam> params = task->parameters();
  std::vector<Var> vars;
  for (const NamedParam& p : params) vars.push_back(p.var);
  std::unique_ptr<Optimizer> opt = make_optimizer(c, decay_groups(vars));
  const LrSchedule schedule = make_schedule(c);
  int64_t step = 0;
  if (!c.resume.empty()) {
    const std::string state_path = (fs::path(c.resume) / kTrainingStateFile).string();
    const TrainingState state = read_training_state(state_path);
    check_state_params(state, params, state_path);
    opt->import_state(state.optimizer);
    task->order().restore(state.data);
    step = state.step;
    if (step > c.steps) fail(state_path, ": the checkpoint is at step ", step, ", beyond steps = ", c.steps);
  }

  const std::vector<Var> all = all_params(opt->groups());
  auto save = [&](int64_t at, bool final) {
    TrainingState state;
    state.step = at;
    state.config = c.to_json();
    state.config.erase("resume");
    state.data = task->order().state();
    state.optimizer = opt->export_state();
    for (const NamedParam& p : params) state.params.push_back({p.name, p.var.shape()});
    const std::string dir = (fs::path(c.out) / (final ? std::string("final") : "checkpoint-" + std::to_string(at))).string();
    const SavedCheckpoint saved = task->save(dir, state);
    nlohmann::json r = {{"type", "checkpoint"}, {"step", at},           {"path", saved.dir},
                        {"format", "hf"},       {"bytes", saved.model.bytes}, {"sha256", saved.model.sha256},
                        {"state", (fs::path(saved.dir) / kTrainingStateFile).string()}, {"final", final}};
    if (saved.gguf) r["gguf"] = saved.gguf->path;
    emit(r);
    return saved;
  };
  auto run_eval = [&](int64_t at) -> std::optional<double> {
    const auto t0 = Clock::now();
    std::optional<nlohmann::json> e = task->evaluate(c.batch, c.eval_batches);
    if (!e) return std::nullopt;
    nlohmann::json r = {{"type", "eval"}, {"step", at}};
    r.update(*e);
    r["seconds"] = seconds_since(t0);
    emit(r);
    return (*e)["loss"].get<double>();
  };

  // ---- train
  TrainSummary summary;
  Progress progress(c.steps, task->rate_key());
  const double clip = c.clip > 0 ? c.clip : std::numeric_limits<double>::infinity();
  while (step < c.steps) {
    const auto t0 = Clock::now();
    opt->zero_grad();
    double loss_sum = 0;
    int64_t units = 0;
    for (int64_t micro = 0; micro < c.grad_accum; ++micro) {
      Tape tape;
      int64_t n = 0;
      Var loss = task->next_loss(c.batch, n);
      loss_sum += loss.item();
      units += n;
      tape.backward(c.grad_accum > 1 ? scale(loss, 1.0f / float(c.grad_accum)) : loss);
    }
    const double grad_norm = clip_grad_norm(all, clip);  // with clip off: the norm, nothing scaled
    const float lr = schedule.at(step);
    opt->set_lr(lr);
    opt->step();
    ++step;
    const double seconds = seconds_since(t0);
    summary.last_loss = loss_sum / double(c.grad_accum);
    const double rate = seconds > 0 ? double(units) / seconds : 0.0;
    if (step % c.log_every == 0 || step == c.steps) {
      progress.finish();
      emit({{"type", "train"},
            {"step", step},
            {"loss", summary.last_loss},
            {"lr", lr},
            {"grad_norm", grad_norm},
            {task->rate_key(), rate},
            {task->units_key(), units},
            {"epoch", task->order().epoch()},
            {"seconds", seconds}});
    }
    progress.update(step, summary.last_loss, rate);
    const bool last = step == c.steps;
    if (!last && c.eval_every > 0 && step % c.eval_every == 0) {
      progress.finish();
      summary.last_eval_loss = run_eval(step);
    }
    if (!last && c.save_every > 0 && step % c.save_every == 0) {
      progress.finish();
      save(step, false);
    }
  }
  progress.finish();
  summary.steps = step;
  if (auto e = run_eval(step)) summary.last_eval_loss = e;
  const SavedCheckpoint final_ck = save(step, true);
  summary.final_dir = final_ck.dir;
  emit(io::model_record(final_ck.model));
  if (final_ck.gguf) emit(io::model_record(*final_ck.gguf));
  return summary;
}

}  // namespace tf::train
