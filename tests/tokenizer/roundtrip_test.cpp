// Properties over random input: nothing crashes on arbitrary bytes, output
// text is valid UTF-8, and the lossless tokenizers give back their input.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "tokenizer/helpers.h"
#include "tokenizer/unicode.h"

namespace tf {
namespace {

std::string random_bytes(std::mt19937& rng, size_t max_len) {
  std::uniform_int_distribution<size_t> len(0, max_len);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string s(len(rng), '\0');
  for (char& c : s) c = char(byte(rng));
  return s;
}

std::string random_text(std::mt19937& rng, size_t max_len) {
  // Code points from every plane that has characters, ASCII-heavy.
  std::uniform_int_distribution<size_t> len(0, max_len);
  std::uniform_int_distribution<uint32_t> ascii(0x20, 0x7E), bmp(0xA0, 0xFFFD), astral(0x10000, 0x1FAFF);
  std::uniform_int_distribution<int> kind(0, 9);
  std::string s;
  for (size_t n = len(rng); n > 0; --n) {
    int k = kind(rng);
    uint32_t cp = k < 6 ? ascii(rng) : k < 8 ? bmp(rng) : k < 9 ? astral(rng) : uint32_t(" \n\t"[n % 3]);
    // Surrogates are not characters; U+2581 is SentencePiece's space and
    // decodes as one, so it cannot round-trip there.
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0x2581) cp = 'x';
    unicode::append_utf8(s, cp);
  }
  return s;
}

std::vector<std::string> all_sources() {
  auto m = test::shared_models();
  return {(m / "tokenizers" / "ggml-vocab-gpt-2.gguf").string(), (m / "tokenizers" / "ggml-vocab-llama-spm.gguf").string(),
          (m / "tokenizers" / "ggml-vocab-bert-bge.gguf").string(), (m / "trained" / "gpt2-shakespeare").string(),
          (m / "trained" / "llama-shakespeare").string(), (m / "trained" / "bert-shakespeare").string()};
}

TEST(RoundTrip, ArbitraryBytesNeverFail) {
  TF_REQUIRE_SHARED_MODELS();
  std::mt19937 rng(2026);
  for (const std::string& src : all_sources()) {
    SCOPED_TRACE(src);
    const Tokenizer& t = test::cached_tokenizer(src);
    for (int i = 0; i < 500; ++i) {
      std::string s = i % 2 ? random_bytes(rng, 40) : random_text(rng, 40);
      for (bool parse : {false, true}) {
        std::vector<TokenId> ids;
        ASSERT_NO_THROW(ids = t.encode(s, {true, parse}));
        for (TokenId id : ids) ASSERT_LT(size_t(id), t.vocab_size());
        EXPECT_TRUE(unicode::is_valid_utf8(t.decode(ids)));
      }
    }
  }
}

TEST(RoundTrip, LosslessTokenizersGiveBackTheText) {
  TF_REQUIRE_SHARED_MODELS();
  std::mt19937 rng(7);
  auto m = test::shared_models();
  // Byte-level BPE keeps every byte; SentencePiece with byte fallback keeps
  // every character and its dummy-prefix space is stripped again on decode.
  for (std::string src : {(m / "tokenizers" / "ggml-vocab-gpt-2.gguf").string(), (m / "trained" / "gpt2-shakespeare").string(),
                          (m / "tokenizers" / "ggml-vocab-llama-spm.gguf").string()}) {
    SCOPED_TRACE(src);
    const Tokenizer& t = test::cached_tokenizer(src);
    for (int i = 0; i < 1000; ++i) {
      std::string s = random_text(rng, 30);
      ASSERT_EQ(t.decode(t.encode(s, {false, false})), s);
    }
    std::string corpus = test::read_file(m / "data" / "tinyshakespeare.txt");
    EXPECT_EQ(t.decode(t.encode(corpus, {false, false})), corpus);
  }
}

TEST(RoundTrip, ConcurrentEncodesAgree) {
  TF_REQUIRE_SHARED_MODELS();
  // One Tokenizer shared by threads: scratch buffers are per thread.
  std::string corpus = test::read_file(test::shared_models() / "data" / "tinyshakespeare.txt").substr(0, 200000);
  for (const std::string& src : all_sources()) {
    const Tokenizer& t = test::cached_tokenizer(src);
    auto expected = t.encode(corpus);
    std::vector<std::vector<TokenId>> got(4);
    std::vector<std::thread> threads;
    for (size_t k = 0; k < got.size(); ++k) threads.emplace_back([&, k] { got[k] = t.encode(corpus); });
    for (auto& th : threads) th.join();
    for (const auto& g : got) EXPECT_EQ(g, expected) << src;
  }
}

}  // namespace
}  // namespace tf
