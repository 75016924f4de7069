// Tokenizer throughput on tinyshakespeare (1.06 MiB) per vocabulary, in bytes
// of input per second. ../shared/models is found beside the checkout, or at
// $TF_SHARED_MODELS. Run: build/bench/tokenizer_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "llama_cpp_style.h"
#include "tf/gguf.h"
#include "tf/tokenizer.h"
#include "tokenizer/impl.h"

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

// llama.cpp-style stand-ins (llama_cpp_style.h) on the same vocabularies.
void baseline_encode(benchmark::State& state, const std::string& model) {
  std::filesystem::path path = models() / model;
  if (!std::filesystem::exists(path) || corpus().empty()) {
    state.SkipWithError("needs ../shared/models (set TF_SHARED_MODELS)");
    return;
  }
  tf::gguf::File file = tf::gguf::File::open(path.string());
  baseline::Vocab vocab(file);
  tf::Tokenizer tokenizer = tf::Tokenizer::load(path.string());
  const auto& impl = tokenizer.impl();
  auto run = [&] {
    std::vector<int> ids;
    const std::string& text = corpus();
    if (impl.algorithm == tf::TokenizerAlgorithm::SentencePieceBpe) {
      std::string escaped = "\xE2\x96\x81";
      for (char c : text) escaped += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
      baseline::spm(vocab, escaped, ids);
      return ids;
    }
    if (impl.algorithm == tf::TokenizerAlgorithm::WordPiece) {
      baseline::wpm(vocab, baseline::wpm_preprocess(text), ids, tokenizer.unk());
      return ids;
    }
    tf::tok::Words words;
    std::string normalized = impl.normalizers.empty() ? text : tf::tok::normalize(impl.normalizers, text, {0, true});
    tf::tok::pre_tokenize(impl.pre_tokenizers, normalized, {0, true}, words);
    std::vector<std::string> list;
    for (auto [b, e] : words.spans) {
      std::string w;
      if (impl.algorithm == tf::TokenizerAlgorithm::BytePairEncoding)
        for (size_t i = b; i < e; ++i) w += tf::tok::byte_to_unicode(static_cast<uint8_t>(words.text[i]));
      else
        w = words.text.substr(b, e - b);
      list.push_back(std::move(w));
    }
    baseline::bpe(vocab, list, ids);
    return ids;
  };
  if (run() != tokenizer.encode(corpus(), {false, false})) {
    state.SkipWithError("the stand-in disagrees with the tokenizer");
    return;
  }
  for (auto _ : state) {
    auto ids = run();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(corpus().size()));
}

}  // namespace

BENCHMARK_CAPTURE(baseline_encode, gguf_gpt2, std::string("tokenizers/ggml-vocab-gpt-2.gguf"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(baseline_encode, gguf_llama_spm, std::string("tokenizers/ggml-vocab-llama-spm.gguf"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(baseline_encode, gguf_bert_bge, std::string("tokenizers/ggml-vocab-bert-bge.gguf"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, gguf_gpt2, std::string("tokenizers/ggml-vocab-gpt-2.gguf"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, gguf_llama_spm, std::string("tokenizers/ggml-vocab-llama-spm.gguf"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, gguf_bert_bge, std::string("tokenizers/ggml-vocab-bert-bge.gguf"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, hf_gpt2, std::string("trained/gpt2-shakespeare"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, hf_llama, std::string("trained/llama-shakespeare"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, hf_bert, std::string("trained/bert-shakespeare"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decode, gguf_gpt2, std::string("tokenizers/ggml-vocab-gpt-2.gguf"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decode, gguf_llama_spm, std::string("tokenizers/ggml-vocab-llama-spm.gguf"))->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
