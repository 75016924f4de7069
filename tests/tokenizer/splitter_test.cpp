// Fast paths against their references: the hand-written GPT-2 / LLaMA-3 /
// Qwen2 splitters against PCRE2 running the same pattern, and the id-pair
// SentencePiece merge loop against llama.cpp's text-span algorithm.
#include <gtest/gtest.h>

#include <random>

#include "tokenizer/helpers.h"
#include "tokenizer/impl.h"
#include "tokenizer/splitters.h"

namespace tf {
namespace {

// Characters chosen to hit every branch: letters of several scripts, digits
// (ASCII, Arabic-Indic, superscript), every kind of white space including
// U+0085 and U+3000, apostrophes and contractions, punctuation, combining
// marks, emoji.
const std::vector<std::string> kAlphabet = {
    "a", "b", "s", "t", "r", "e", "v", "m", "l", "d", "S", "T", "R", "E", "L", "D", "é", "ß", "中", "ж",
    "0", "1", "7", "٣", "²", "Ⅻ", " ", " ", " ", "\t", "\n", "\r", "\xC2\xA0", "\xE3\x80\x80", "\xC2\x85",
    "'", "'", "\"", ".", ",", "!", "?", "-", "(", ")", "/", "$", "+", "\xCC\x81", "🦙", "…", "\x0B",
};

std::string random_text(std::mt19937& rng, size_t max_len) {
  std::uniform_int_distribution<size_t> len(0, max_len), pick(0, kAlphabet.size() - 1);
  std::string s;
  for (size_t n = len(rng); n > 0; --n) s += kAlphabet[pick(rng)];
  return s;
}

// Pieces as strings; the fast path reports gaps as matches, which Isolated
// splitting treats the same, so compare the pieces only.
std::vector<std::string> pieces(const std::string& s, const std::vector<std::pair<uint32_t, uint32_t>>& spans) {
  std::vector<std::string> out;
  for (auto [b, e] : spans) out.push_back(s.substr(b, e - b));
  return out;
}

class FastSplitter : public ::testing::TestWithParam<std::string> {};

TEST_P(FastSplitter, MatchesPcre2) {
  auto re = tok::compile_regex(GetParam(), "test");
  ASSERT_NE(tok::find_fast_splitter(GetParam()), nullptr);
  std::mt19937 rng(1234);
  std::vector<std::string> fixed = {"", "Hello world", "  Hello", "\n\n\n", "don't we'll I'M 'RE", "a  \t\n b",
                                    "x\r\n\r\n  y", "123456789", " 12 345", "!!! ?", "   ", " \xC2\x85 x", "é\xCC\x81t"};
  for (int i = 0; i < 4000; ++i) fixed.push_back(random_text(rng, 24));
  for (const std::string& s : fixed) {
    std::vector<std::pair<uint32_t, uint32_t>> fast, slow;
    tok::regex_find_all(*re, s, fast);
    tok::regex_find_all_reference(*re, s, slow);
    ASSERT_EQ(pieces(s, fast), pieces(s, slow)) << "input: '" << s << "'";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Patterns, FastSplitter,
    ::testing::Values(
        R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)",
        R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))",
        R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
        R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
        R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
        R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"),
    [](const auto& info) { return "pattern" + std::to_string(info.index); });

TEST(SpmFastPath, MatchesReferenceMerges) {
  TF_REQUIRE_SHARED_MODELS();
  const Tokenizer& t =
      test::cached_tokenizer((test::shared_models() / "tokenizers" / "ggml-vocab-llama-spm.gguf").string());
  auto* spm = dynamic_cast<const tok::SpmModel*>(t.impl().model.get());
  ASSERT_NE(spm, nullptr);
  std::mt19937 rng(99);
  std::string text = test::read_file(test::shared_models() / "data" / "tinyshakespeare.txt").substr(0, 200000);
  std::uniform_int_distribution<size_t> start(0, text.size() - 40), len(1, 30);
  for (int i = 0; i < 5000; ++i) {
    std::string word = "\xE2\x96\x81" + (i % 2 ? text.substr(start(rng), len(rng)) : random_text(rng, 12));
    std::vector<TokenId> fast, slow;
    spm->encode_word(word, fast);
    spm->encode_word_reference(word, slow);
    ASSERT_EQ(fast, slow) << "word: '" << word << "'";
  }
}

}  // namespace
}  // namespace tf
