#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "tf/bench.h"
#include "tf/bench_stats.h"
#include "tf/build_info.h"
#include "tf/encoder.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/model.h"
#include "tf/op_profile.h"
#include "tf/rng.h"
#include "tf/thread_pool.h"
#include "tf/json_file.h"
#include "tf/optim.h"
#include "tf/tokenizer.h"
#include "tf/train_model.h"

namespace tf::bench {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double ns_since(Clock::time_point t0) { return std::chrono::duration<double, std::nano>(Clock::now() - t0).count(); }

// llama.cpp's names for general.file_type (llama_model_ftype)
std::string ftype_name(uint64_t t) {
  static const char* names[] = {"F32",    "F16",    "Q4_0",   "Q4_1",    "Q4_1_SOME_F16", "",       "",
                                "Q8_0",   "Q5_0",   "Q5_1",   "Q2_K",    "Q3_K_S",        "Q3_K_M", "Q3_K_L",
                                "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M",  "Q6_K",          "IQ2_XXS", "IQ2_XS",
                                "Q2_K_S", "IQ3_XS", "IQ3_XXS", "IQ1_S",  "IQ4_NL",        "IQ3_S",  "IQ3_M",
                                "IQ2_S",  "IQ2_M",  "IQ4_XS", "IQ1_M",   "BF16",          "",       "",
                                "",       "TQ1_0",  "TQ2_0"};
  if (t < std::size(names) && names[t][0]) return names[t];
  return "ftype" + std::to_string(t);
}

// "llama 1.1B F16", as llama-bench's model_type (arch, size class, file type)
std::string model_type(const CausalLM& lm) {
  char size[32];
  double p = double(lm.parameter_count());
  if (p >= 1e9) std::snprintf(size, sizeof size, "%.1fB", p / 1e9);
  else std::snprintf(size, sizeof size, "%.0fM", p / 1e6);
  std::string type = lm.arch_name() + " " + size;
  if (const gguf::File* f = lm.gguf()) {
    const gguf::Value* ft = f->find("general.file_type");
    if (ft) type += " " + ftype_name(f->get_u64("general.file_type", 0));
  }
  return type;
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json machine_fields(const Machine& m) {
  return {{"build_commit", build_commit()}, {"build_version", build_version()}, {"cpu_info", m.cpu_model},
          {"simd", m.simd},                 {"logical_cpus", m.logical_cpus},   {"mem_total_bytes", m.mem_total_bytes}};
}

// Adds the llama-bench statistics of per-repetition times (ns) for `n_tokens`
// tokens (or bytes, with a different rate key) per repetition.
void add_time_stats(json& r, const std::vector<double>& samples_ns, double units, const std::string& rate) {
  std::vector<double> rates;
  for (double ns : samples_ns) rates.push_back(units * 1e9 / ns);
  Summary t = summarize(samples_ns), s = summarize(rates);
  r["repetitions"] = samples_ns.size();
  r["avg_ns"] = std::llround(t.mean);
  r["stddev_ns"] = std::llround(t.stddev);
  r["median_ns"] = std::llround(t.median);
  r["min_ns"] = std::llround(t.min);
  r["max_ns"] = std::llround(t.max);
  r["avg_" + rate] = s.mean;
  r["stddev_" + rate] = s.stddev;
  r["median_" + rate] = s.median;
  r["min_" + rate] = s.min;
  r["max_" + rate] = s.max;
  json ns = json::array();
  for (double x : samples_ns) ns.push_back(std::llround(x));
  r["samples_ns"] = ns;
  r["samples_" + rate] = rates;
}

// The timed runs' time per backend operation, per repetition, with its share
// of the whole; "other" is what no backend operation accounts for (sampling,
// bookkeeping, waiting on the thread pool between operations).
json profile_field(const std::vector<profile::OpTime>& ops, double total_ns, size_t reps) {
  json out = json::array();
  double total_ms = total_ns / 1e6, accounted = 0;
  for (const auto& op : ops) {
    accounted += op.ms;
    out.push_back({{"op", op.op},
                   {"calls", double(op.calls) / double(reps)},
                   {"ms", op.ms / double(reps)},
                   {"share", total_ms > 0 ? op.ms / total_ms : 0.0}});
  }
  double other = std::max(0.0, total_ms - accounted);
  out.push_back({{"op", "other"}, {"calls", 0}, {"ms", other / double(reps)}, {"share", total_ms > 0 ? other / total_ms : 0.0}});
  return out;
}

bool enough(size_t reps, double total_ns, const RunOptions& o) {
  return reps >= size_t(std::max(1, o.repetitions)) && total_ns >= o.min_time_s * 1e9;
}

}  // namespace

uint64_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) << 10;
  return 0;
}

void reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
}

Runner::Runner(RunOptions options, Machine machine) : options_(options), machine_(std::move(machine)) {}
Runner::~Runner() = default;

void Runner::load(const std::string& path) {
  if (lm_ && loaded_ == path) return;
  lm_.reset();
  loaded_.clear();
  // Each model's peak starts from what is resident without it.
  reset_peak_rss();
  auto t0 = Clock::now();
  lm_ = CausalLM::load(path, options_.load_mode);
  load_ms_ = ns_since(t0) / 1e6;
  loaded_ = path;
}

json Runner::run(const TestSpec& spec) {
  if (spec.n_prompt < 0 || spec.n_gen < 0 || spec.n_prompt + spec.n_gen == 0) fail("a test needs tokens to process");
  if (spec.n_threads < 1) fail("thread count must be >= 1 (got ", spec.n_threads, ")");
  if (spec.n_batch < 1) fail("batch size must be >= 1 (got ", spec.n_batch, ")");
  set_default_threads(spec.n_threads);
  load(spec.model);
  SessionOptions so;
  so.n_ctx = spec.n_prompt + spec.n_gen;
  so.n_batch = spec.n_batch;
  Session session(*lm_, so);

  Rng rng(options_.seed);
  auto random_ids = [&](int n) {
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (auto& id : ids) id = int32_t(rng.below(uint64_t(lm_->vocab_size())));
    return ids;
  };
  std::vector<int32_t> prompt = random_ids(spec.n_prompt), gen = random_ids(spec.n_gen);

  std::vector<double> samples_ns, ttft_ns, prompt_ns, gen_ns, token_ns;
  auto one = [&](bool timed) {
    session.reset();
    std::vector<double> tokens;
    double first = 0, pp = 0;
    auto t0 = Clock::now();
    if (spec.n_prompt > 0) {
      session.eval(prompt);
      first = pp = ns_since(t0);
    }
    for (int i = 0; i < spec.n_gen; ++i) {
      auto t = Clock::now();
      session.eval(&gen[size_t(i)], 1);
      tokens.push_back(ns_since(t));
      if (spec.n_prompt == 0 && i == 0) first = tokens.back();
    }
    double total = ns_since(t0);
    if (!timed) return;
    samples_ns.push_back(total);
    ttft_ns.push_back(first);
    prompt_ns.push_back(pp);
    gen_ns.push_back(total - pp);
    token_ns.insert(token_ns.end(), tokens.begin(), tokens.end());
  };
  if (options_.warmup) one(false);
  profile::enable(options_.profile);
  profile::reset();
  double total_ns = 0;
  while (!enough(samples_ns.size(), total_ns, options_) && samples_ns.size() < 100000) {
    one(true);
    total_ns += samples_ns.back();
  }
  profile::enable(false);

  json r = {{"type", "bench"}};
  r.update(machine_fields(machine_));
  r["model_filename"] = spec.model;
  r["model_type"] = model_type(*lm_);
  r["model_size"] = lm_->weight_bytes();
  r["model_n_params"] = lm_->parameter_count();
  r["bits_per_weight"] = lm_->parameter_count() ? double(lm_->weight_bytes()) * 8 / double(lm_->parameter_count()) : 0.0;
  r["n_batch"] = spec.n_batch;
  r["n_threads"] = spec.n_threads;
  r["n_prompt"] = spec.n_prompt;
  r["n_gen"] = spec.n_gen;
  r["test"] = spec.name();
  r["test_time"] = utc_now();
  r["load_mode"] = options_.load_mode == LoadMode::Mmap ? "mmap" : "read";
  add_time_stats(r, samples_ns, double(spec.n_prompt + spec.n_gen), "ts");
  r["ttft_ms"] = summarize(ttft_ns).mean / 1e6;
  if (spec.n_prompt > 0) r["pp_tok_per_s"] = double(spec.n_prompt) * 1e9 / summarize(prompt_ns).mean;
  if (spec.n_gen > 0) {
    r["tg_tok_per_s"] = double(spec.n_gen) * 1e9 / summarize(gen_ns).mean;
    r["p50_ms"] = percentile(token_ns, 50) / 1e6;
    r["p90_ms"] = percentile(token_ns, 90) / 1e6;
    r["p99_ms"] = percentile(token_ns, 99) / 1e6;
  }
  r["peak_rss_bytes"] = peak_rss_bytes();
  r["load_ms"] = load_ms_;
  if (options_.profile) r["profile"] = profile_field(profile::snapshot(), total_ns, samples_ns.size());
  return r;
}

json tokenizer_bench(const Tokenizer& tokenizer, const std::string& model, const std::string& text,
                     const RunOptions& options, const Machine& machine) {
  if (text.empty()) fail("tokenize: the input text is empty");
  std::vector<TokenId> ids;
  EncodeOptions enc;
  if (options.warmup) tokenizer.encode_into(text, enc, ids);
  std::vector<double> samples_ns;
  double total_ns = 0;
  while (!enough(samples_ns.size(), total_ns, options) && samples_ns.size() < 100000) {
    ids.clear();
    auto t0 = Clock::now();
    tokenizer.encode_into(text, enc, ids);
    samples_ns.push_back(ns_since(t0));
    total_ns += samples_ns.back();
  }
  json r = {{"type", "bench"}};
  r.update(machine_fields(machine));
  r["model_filename"] = model;
  r["test"] = "tokenize";
  r["test_time"] = utc_now();
  r["n_threads"] = 1;
  r["bytes"] = text.size();
  r["n_tokens"] = ids.size();
  add_time_stats(r, samples_ns, double(text.size()) / 1e6, "mb_per_s");
  r["tokens_per_s"] = double(ids.size()) * 1e9 / summarize(samples_ns).mean;
  r["peak_rss_bytes"] = peak_rss_bytes();
  return r;
}

json encoder_bench(const EncoderSpec& spec, const RunOptions& options, const Machine& machine) {
  if (spec.batch < 1 || spec.seq_len < 1) fail("embed: batch and sequence length must be >= 1");
  if (spec.n_threads < 1) fail("thread count must be >= 1 (got ", spec.n_threads, ")");
  set_default_threads(spec.n_threads);
  reset_peak_rss();
  auto t0 = Clock::now();
  auto enc = Encoder::load(spec.model, options.load_mode);
  const double load_ms = ns_since(t0) / 1e6;
  if (enc->max_tokens() > 0 && spec.seq_len > enc->max_tokens())
    fail("embed: ", spec.seq_len, " tokens exceed the model's ", enc->max_tokens(), " positions");
  Rng rng(options.seed);
  const uint64_t vocab = uint64_t(enc->config().vocab_size);
  std::vector<EncoderSequence> batch(size_t(spec.batch));
  for (auto& s : batch)
    for (int i = 0; i < spec.seq_len; ++i) s.ids.push_back(int32_t(rng.below(vocab)));
  if (options.warmup) enc->forward(batch);
  std::vector<double> samples_ns;
  double total_ns = 0;
  while (!enough(samples_ns.size(), total_ns, options) && samples_ns.size() < 100000) {
    auto t = Clock::now();
    enc->forward(batch);
    samples_ns.push_back(ns_since(t));
    total_ns += samples_ns.back();
  }
  json r = {{"type", "bench"}};
  r.update(machine_fields(machine));
  r["model_filename"] = spec.model;
  r["model_type"] = enc->arch_name();
  r["model_size"] = enc->weight_bytes();
  r["model_n_params"] = enc->parameter_count();
  r["test"] = "embed b" + std::to_string(spec.batch) + " s" + std::to_string(spec.seq_len);
  r["test_time"] = utc_now();
  r["n_threads"] = spec.n_threads;
  r["n_batch"] = spec.batch;
  r["seq_len"] = spec.seq_len;
  r["load_mode"] = options.load_mode == LoadMode::Mmap ? "mmap" : "read";
  add_time_stats(r, samples_ns, double(spec.batch) * spec.seq_len, "ts");  // tokens/s, the tables' t/s
  add_time_stats(r, samples_ns, double(spec.batch), "sentences_per_s");
  r["tokens_per_s"] = double(spec.batch) * spec.seq_len * 1e9 / summarize(samples_ns).mean;
  r["peak_rss_bytes"] = peak_rss_bytes();
  r["load_ms"] = load_ms;
  return r;
}

json train_bench(const TrainSpec& spec, const RunOptions& options, const Machine& machine) {
  if (spec.batch < 1 || spec.seq_len < 1) fail("train: batch and sequence length must be >= 1");
  if (spec.n_threads < 1) fail("thread count must be >= 1 (got ", spec.n_threads, ")");
  set_default_threads(spec.n_threads);
  reset_peak_rss();
  const std::string config_path =
      std::filesystem::is_directory(spec.config) ? (std::filesystem::path(spec.config) / "config.json").string() : spec.config;
  auto lm = train::LanguageModel::init(read_json_file(config_path), options.seed);
  Rng rng(options.seed);
  const uint64_t vocab = uint64_t(lm->config().vocab_size);
  const size_t n = size_t(spec.batch) * size_t(spec.seq_len);
  std::vector<int32_t> ids(n), targets(n);
  for (size_t i = 0; i < n; ++i) {
    ids[i] = int32_t(rng.below(vocab));
    targets[i] = int32_t(rng.below(vocab));
  }
  train::Adam opt(train::decay_groups(lm->parameter_vars()), train::adamw_options(1e-4f, 0.1f));
  auto step = [&] {
    train::Tape tape;
    const train::Var loss = lm->loss(ids, targets, spec.batch, spec.seq_len);
    opt.zero_grad();
    tape.backward(loss);
    opt.step();
  };
  if (options.warmup) step();
  std::vector<double> samples_ns;
  double total_ns = 0;
  while (!enough(samples_ns.size(), total_ns, options) && samples_ns.size() < 100000) {
    auto t = Clock::now();
    step();
    samples_ns.push_back(ns_since(t));
    total_ns += samples_ns.back();
  }
  json r = {{"type", "bench"}};
  r.update(machine_fields(machine));
  r["model_filename"] = config_path;
  r["model_type"] = std::string(hf::arch_name(lm->config().arch));
  r["model_n_params"] = lm->parameter_count();
  r["test"] = "train b" + std::to_string(spec.batch) + " s" + std::to_string(spec.seq_len);
  r["test_time"] = utc_now();
  r["n_threads"] = spec.n_threads;
  r["n_batch"] = spec.batch;
  r["seq_len"] = spec.seq_len;
  r["optimizer"] = "adamw";
  add_time_stats(r, samples_ns, double(spec.batch) * spec.seq_len, "ts");  // tokens/s, the tables' t/s
  add_time_stats(r, samples_ns, double(spec.batch), "samples_per_s");
  r["tokens_per_s"] = double(spec.batch) * spec.seq_len * 1e9 / summarize(samples_ns).mean;
  r["peak_rss_bytes"] = peak_rss_bytes();
  return r;
}

}  // namespace tf::bench
