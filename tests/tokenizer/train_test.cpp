// Training round trip: train on a corpus the test writes, load the
// tokenizer.json, encode and decode.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tf/error.h"
#include "tokenizer/helpers.h"

namespace tf {
namespace {

std::string corpus() {
  std::string text;
  const char* lines[] = {
      "The quick brown fox jumps over the lazy dog.",
      "A journey of a thousand miles begins with a single step.",
      "To be, or not to be: that is the question.",
      "Über café naïve résumé — Ünïcödé text, 日本語のテキスト, emoji 🦙🎉.",
      "Numbers 12345 and 2026-11-22, symbols #$%&*()[]{}<>",
  };
  for (int i = 0; i < 40; ++i)
    for (const char* l : lines) text += std::string(l) + (i % 3 ? " " : "\n");
  return text;
}

TEST(Train, BytePairRoundTripsAnyText) {
  std::string j = train_tokenizer(corpus(), {TokenizerAlgorithm::BytePairEncoding, 400, 2});
  Tokenizer t = Tokenizer::from_hf_json(j, "", "trained.json");
  EXPECT_EQ(t.vocab_size(), 400u);
  EXPECT_EQ(t.algorithm(), TokenizerAlgorithm::BytePairEncoding);
  for (std::string s : {std::string("The quick brown fox"), corpus(), std::string("unseen: Ωμέγα ✓ \t\n  x"), std::string("")}) {
    auto ids = t.encode(s);
    EXPECT_EQ(t.decode(ids), s);
  }
  // Merges were learnt: the corpus takes far fewer tokens than bytes.
  EXPECT_LT(t.encode(corpus()).size(), corpus().size() / 2);
}

TEST(Train, WordPieceRoundTripsNormalizedText) {
  std::string j = train_tokenizer(corpus(), {TokenizerAlgorithm::WordPiece, 300, 2});
  Tokenizer t = Tokenizer::from_hf_json(j, "", "trained.json");
  EXPECT_EQ(t.algorithm(), TokenizerAlgorithm::WordPiece);
  auto ids = t.encode("The quick brown fox jumps.");
  EXPECT_EQ(t.piece(ids.front()), "[CLS]");
  EXPECT_EQ(t.piece(ids.back()), "[SEP]");
  EXPECT_EQ(t.decode(ids, {true}), "the quick brown fox jumps.");  // lower-cased, accents stripped
  EXPECT_EQ(t.decode(t.encode("Über café"), {true}), "uber cafe");
  EXPECT_EQ(t.piece(t.encode("Жук", {false, false}).front()), "[UNK]");  // Cyrillic never seen
}

TEST(Train, UnigramRoundTripsKnownCharacters) {
  std::string j = train_tokenizer(corpus(), {TokenizerAlgorithm::Unigram, 300, 2});
  Tokenizer t = Tokenizer::from_hf_json(j, "", "trained.json");
  EXPECT_EQ(t.algorithm(), TokenizerAlgorithm::Unigram);
  EXPECT_LE(t.vocab_size(), 300u);
  for (std::string s : {std::string("To be, or not to be"), std::string("the lazy dog begins 12345")}) {
    auto ids = t.encode(s);
    EXPECT_EQ(t.decode(ids), s);
    EXPECT_LT(ids.size(), s.size());
  }
  EXPECT_EQ(t.encode("Q", {false, false}).size(), 2u);  // "▁" + unknown 'Q'
}

TEST(Train, OutputIsCompleteTokenizerJson) {
  for (auto algo : {TokenizerAlgorithm::BytePairEncoding, TokenizerAlgorithm::WordPiece, TokenizerAlgorithm::Unigram}) {
    auto j = nlohmann::json::parse(train_tokenizer(corpus(), {algo, 300, 2}));
    for (const char* key : {"version", "added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder", "model"})
      EXPECT_TRUE(j.contains(key)) << key;
  }
}

TEST(Train, RejectsImpossibleSizes) {
  EXPECT_THROW(train_tokenizer(corpus(), {TokenizerAlgorithm::BytePairEncoding, 100, 2}), Error);
  EXPECT_THROW(train_tokenizer(corpus(), {TokenizerAlgorithm::SentencePieceBpe, 1000, 2}), Error);
}

}  // namespace
}  // namespace tf
