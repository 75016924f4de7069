// llama.cpp's tokenizer tests (test-tokenizer-0): 46 inputs per vocabulary,
// ids expected without BOS/EOS, special tokens not parsed. One test per input
// so that a report names the cases that fail.
#include <gtest/gtest.h>

#include "tokenizer/helpers.h"

namespace tf {
namespace {

struct Param {
  std::string vocab;
  size_t index;
};

void PrintTo(const Param& p, std::ostream* os) { *os << p.vocab << " case " << p.index; }

class LlamaCppVocab : public ::testing::TestWithParam<Param> {};

TEST_P(LlamaCppVocab, SameIdsAsLlamaCpp) {
  TF_REQUIRE_SHARED_MODELS();
  const Param& p = GetParam();
  auto cases = test::llama_cpp_cases(p.vocab);
  ASSERT_EQ(cases.size(), 46u);
  const auto& c = cases[p.index];
  const Tokenizer& t =
      test::cached_tokenizer((test::shared_models() / "tokenizers" / ("ggml-vocab-" + p.vocab + ".gguf")).string());
  EXPECT_EQ(t.encode(c.text, {false, false}), c.ids) << "input: '" << c.text << "'";
}

std::vector<Param> all_params() {
  std::vector<Param> ps;
  for (const char* v : {"gpt-2", "llama-spm", "bert-bge"})
    for (size_t i = 0; i < 46; ++i) ps.push_back({v, i});
  return ps;
}

INSTANTIATE_TEST_SUITE_P(Vocab, LlamaCppVocab, ::testing::ValuesIn(all_params()), [](const auto& info) {
  std::string name = info.param.vocab + "_" + std::to_string(info.param.index);
  for (char& ch : name)
    if (ch == '-') ch = '_';
  return name;
});

TEST(LlamaCppVocab, LoadsAsTheRightAlgorithm) {
  TF_REQUIRE_SHARED_MODELS();
  auto dir = test::shared_models() / "tokenizers";
  EXPECT_EQ(test::cached_tokenizer((dir / "ggml-vocab-gpt-2.gguf").string()).algorithm(), TokenizerAlgorithm::BytePairEncoding);
  EXPECT_EQ(test::cached_tokenizer((dir / "ggml-vocab-llama-spm.gguf").string()).algorithm(), TokenizerAlgorithm::SentencePieceBpe);
  EXPECT_EQ(test::cached_tokenizer((dir / "ggml-vocab-bert-bge.gguf").string()).algorithm(), TokenizerAlgorithm::WordPiece);
}

TEST(LlamaCppVocab, SpecialTokensAsTheModelSays) {
  TF_REQUIRE_SHARED_MODELS();
  auto dir = test::shared_models() / "tokenizers";
  const Tokenizer& llama = test::cached_tokenizer((dir / "ggml-vocab-llama-spm.gguf").string());
  // README: "Hello world, this is a test." with BOS.
  EXPECT_EQ(llama.encode("Hello world, this is a test."),
            (std::vector<TokenId>{1, 15043, 3186, 29892, 445, 338, 263, 1243, 29889}));
  const Tokenizer& bert = test::cached_tokenizer((dir / "ggml-vocab-bert-bge.gguf").string());
  EXPECT_EQ(bert.encode("Hello world, this is a test."),
            (std::vector<TokenId>{101, 7592, 2088, 1010, 2023, 2003, 1037, 3231, 1012, 102}));
  const Tokenizer& gpt2 = test::cached_tokenizer((dir / "ggml-vocab-gpt-2.gguf").string());
  EXPECT_EQ(gpt2.encode("Hello world, this is a test."), (std::vector<TokenId>{15496, 995, 11, 428, 318, 257, 1332, 13}));
}

}  // namespace
}  // namespace tf
