// Tokenizer throughput on tinyshakespeare (1.06 MiB) per vocabulary, in bytes
// of input per second. ../shared/models is found beside the checkout, or at
// $TF_SHARED_MODELS. Run: build/bench/tokenizer_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tf/tokenizer.h"

namespace {

std::filesystem::path models() {
  if (const char* env = std::getenv("TF_SHARED_MODELS")) return env;
  return std::filesystem::path(TF_SOURCE_DIR) / ".." / "shared" / "models";
}

const std::string& corpus() {
  static const std::string text = [] {
    std::ifstream in(models() / "data" / "tinyshakespeare.txt", std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }();
  return text;
}

void encode(benchmark::State& state, const std::string& model) {
  std::filesystem::path path = models() / model;
  if (!std::filesystem::exists(path) || corpus().empty()) {
    state.SkipWithError("needs ../shared/models (set TF_SHARED_MODELS)");
    return;
  }
  tf::Tokenizer tokenizer = tf::Tokenizer::load(path.string());
  tf::EncodeOptions options{false, false};
  size_t tokens = 0;
  for (auto _ : state) {
    auto ids = tokenizer.encode(corpus(), options);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(corpus().size()));
  state.counters["tokens"] = double(tokens);
}

void decode(benchmark::State& state, const std::string& model) {
  std::filesystem::path path = models() / model;
  if (!std::filesystem::exists(path) || corpus().empty()) {
    state.SkipWithError("needs ../shared/models (set TF_SHARED_MODELS)");
    return;
  }
  tf::Tokenizer tokenizer = tf::Tokenizer::load(path.string());
  auto ids = tokenizer.encode(corpus(), {false, false});
  for (auto _ : state) {
    auto text = tokenizer.decode(ids);
    benchmark::DoNotOptimize(text.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(corpus().size()));
}

}  // namespace

BENCHMARK_CAPTURE(encode, gguf_gpt2, std::string("tokenizers/ggml-vocab-gpt-2.gguf"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, gguf_llama_spm, std::string("tokenizers/ggml-vocab-llama-spm.gguf"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, gguf_bert_bge, std::string("tokenizers/ggml-vocab-bert-bge.gguf"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, hf_gpt2, std::string("trained/gpt2-shakespeare"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, hf_llama, std::string("trained/llama-shakespeare"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, hf_bert, std::string("trained/bert-shakespeare"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decode, gguf_gpt2, std::string("tokenizers/ggml-vocab-gpt-2.gguf"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decode, gguf_llama_spm, std::string("tokenizers/ggml-vocab-llama-spm.gguf"))->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
