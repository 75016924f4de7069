// Causal-LM benchmarks as llama-bench runs them: prompt processing (pp N:
// one eval of N random tokens), generation (tg N: N single-token evals from an
// empty cache) and both in one test (pg N,M), each repeated after a warm-up
// and reported as one `bench` record (docs/tf-bench.md).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tf/machine_probe.h"
#include "tf/mapped_file.h"

namespace tf {
class CausalLM;
class Tokenizer;
}  // namespace tf

namespace tf::bench {

struct TestSpec {
  std::string model;
  int n_prompt = 0, n_gen = 0;
  int n_threads = 1;
  int n_batch = 512;
  std::string name() const;  // "pp512", "tg128", "pp512+tg128"
};

struct Sweep {
  std::vector<std::string> models;
  std::vector<int> n_prompt{512}, n_gen{128};
  std::vector<std::pair<int, int>> pg;  // prompt then generation in one test
  std::vector<int> n_threads{1}, n_batch{512};
};

// Every combination, llama-bench's order: per model, batch size and thread
// count, the pp tests, then the tg tests, then the pg tests (0 skips a size).
std::vector<TestSpec> expand(const Sweep& sweep);

struct RunOptions {
  int repetitions = 5;    // timed runs, after one untimed warm-up run
  bool warmup = true;
  double min_time_s = 0;  // keep repeating until the timed runs add up to this
  uint64_t seed = 1234;   // random token ids
  LoadMode load_mode = LoadMode::Mmap;
  bool profile = false;   // add a per-operation time profile to each record
};

// Runs tests, keeping the last model loaded so that a sweep over threads and
// batch sizes loads it once.
class Runner {
 public:
  Runner(RunOptions options, Machine machine);
  ~Runner();
  nlohmann::json run(const TestSpec& spec);  // one `bench` record

 private:
  void load(const std::string& path);
  RunOptions options_;
  Machine machine_;
  std::string loaded_;
  std::unique_ptr<CausalLM> lm_;
  double load_ms_ = 0;
};

// Tokenizer throughput: encodes `text` once to warm up, then `repetitions`
// times timed; a `bench` record with test "tokenize", bytes, n_tokens and
// MB/s (1e6 bytes) statistics.
nlohmann::json tokenizer_bench(const Tokenizer& tokenizer, const std::string& model, const std::string& text,
                               const RunOptions& options, const Machine& machine);

// Encoder throughput (sentences/s): the forward pass of `batch` sequences
// of `seq_len` random token ids, packed into one call as the pipelines batch
// them; a `bench` record with test "embed b<batch> s<seq_len>", n_threads,
// sentences/s and tokens/s statistics.
struct EncoderSpec {
  std::string model;
  int batch = 1, seq_len = 32, n_threads = 1;
};
nlohmann::json encoder_bench(const EncoderSpec& spec, const RunOptions& options, const Machine& machine);

// Training throughput (samples/s): one step — forward, backward, AdamW — of
// the trainable model (tf/train_model.h) built from a config.json with a
// seeded init, on `batch` random sequences of `seq_len` tokens (next-token
// targets); a `bench` record with test "train b<batch> s<seq_len>",
// samples/s and tokens/s statistics.
struct TrainSpec {
  std::string config;  // a config.json, or a model folder holding one
  int batch = 8, seq_len = 128, n_threads = 1;
};
nlohmann::json train_bench(const TrainSpec& spec, const RunOptions& options, const Machine& machine);

// Peak resident set size of this process (VmHWM) in bytes, and its reset
// (/proc/self/clear_refs, Linux >= 4.0; a no-op where that is not writable).
uint64_t peak_rss_bytes();
void reset_peak_rss();

}  // namespace tf::bench
