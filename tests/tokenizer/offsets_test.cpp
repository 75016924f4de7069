// Offset mapping, word ids and the pair template (Tokenizer::encode_with_offsets,
// post_process), with spans counted by hand in the input strings.
#include <gtest/gtest.h>

#include "common/test_paths.h"
#include "tf/tokenizer.h"

namespace tf {
using Span = std::pair<uint32_t, uint32_t>;
namespace {

TEST(Offsets, WordPieceThroughTheBertNormalizer) {
  TF_REQUIRE_SHARED_MODELS();
  Tokenizer t = Tokenizer::load((test::shared_models() / "trained/bert-shakespeare").string());
  // "é" is two bytes; lowercasing and accent stripping keep spans on the input
  const std::string text = "Héllo,  WORLD! unbelievable";
  Encoding e = t.encode_with_offsets(text);
  EXPECT_EQ(e.ids, t.encode(text));
  ASSERT_GE(e.size(), 7u);
  EXPECT_EQ(e.sequence_ids.front(), -1);
  EXPECT_EQ(e.offsets.front(), Span(0, 0));  // [CLS]
  EXPECT_EQ(e.offsets[1], Span(0, 6));       // hello
  EXPECT_EQ(e.offsets[2], Span(6, 7));       // ,
  EXPECT_EQ(e.offsets[3], Span(9, 14));      // world
  EXPECT_EQ(e.offsets[4], Span(14, 15));     // !
  EXPECT_EQ(e.word_ids[1], 0);
  EXPECT_EQ(e.word_ids[4], 3);
  // "unbelievable" in pieces: consecutive spans covering the word, one word id
  uint32_t at = 16;
  for (size_t i = 5; i + 1 < e.size(); ++i) {
    EXPECT_EQ(e.offsets[i].first, at) << t.piece(e.ids[i]);
    at = e.offsets[i].second;
    EXPECT_EQ(e.word_ids[i], 4);
  }
  EXPECT_EQ(at, text.size());
  EXPECT_EQ(e.offsets.back(), Span(0, 0));  // [SEP]
}

TEST(Offsets, PairTemplateGivesSegmentsAndSequenceIds) {
  TF_REQUIRE_SHARED_MODELS();
  Tokenizer t = Tokenizer::load((test::shared_models() / "trained/bert-shakespeare").string());
  Encoding a = t.encode_with_offsets("to be", {false, false}), b = t.encode_with_offsets("or not", {false, false});
  Encoding p = t.post_process(a, &b);
  // [CLS] to be [SEP] or not [SEP]
  ASSERT_EQ(p.size(), 7u);
  EXPECT_EQ(p.ids.front(), 101);
  EXPECT_EQ(p.ids[3], 102);
  EXPECT_EQ(p.type_ids, (std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(p.sequence_ids, (std::vector<int8_t>{-1, 0, 0, -1, 1, 1, -1}));
  EXPECT_EQ(p.offsets[4], Span(0, 2));  // "or", in its own text
  EXPECT_EQ(t.num_added_tokens(true), 3u);
  EXPECT_EQ(t.num_added_tokens(false), 2u);
}

TEST(Offsets, ByteLevelBpeTrimsTheLeadingSpace) {
  TF_REQUIRE_SHARED_MODELS();
  Tokenizer t = Tokenizer::load((test::shared_models() / "trained/gpt2-shakespeare").string());
  Encoding e = t.encode_with_offsets("Hello world, héllo", {false, false});
  EXPECT_EQ(e.ids, t.encode("Hello world, héllo", {false, false}));
  ASSERT_GE(e.size(), 4u);
  EXPECT_EQ(e.offsets[0], Span(0, 5));   // Hello
  EXPECT_EQ(e.offsets[1], Span(6, 11));  // Ġworld without its space
  EXPECT_EQ(e.offsets[2], Span(11, 12)); // ,
  EXPECT_EQ(e.offsets.back().second, 19u);
}

}  // namespace
}  // namespace tf

namespace tf {
namespace {

TEST(Offsets, MetaspaceSentencePieceMapsU2581BackToTheSpace) {
  TF_REQUIRE_SHARED_MODELS();
  Tokenizer t = Tokenizer::load((test::shared_models() / "trained/llama-shakespeare").string());
  const std::string text = "Hello world, friend";
  Encoding e = t.encode_with_offsets(text, {false, false});
  EXPECT_EQ(e.ids, t.encode(text, {false, false}));
  ASSERT_GE(e.size(), 4u);
  EXPECT_EQ(e.offsets[0], Span(0, 5));   // ▁Hello: the inserted ▁ has no span
  EXPECT_EQ(e.offsets[1], Span(6, 11));  // ▁world: its ▁ is the space, trimmed
  EXPECT_EQ(e.offsets.back().second, uint32_t(text.size()));
}

}  // namespace
}  // namespace tf
