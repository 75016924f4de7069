// Special and added tokens: BOS/EOS/CLS/SEP as the model says, special tokens
// parsed from text only on request, non-special added tokens always matched
// before the model, lstrip/rstrip/single_word as tokenizer.json defines them.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenizer/helpers.h"

namespace tf {
namespace {

using json = nlohmann::json;

// A small byte-level BPE with extra added tokens appended to its vocabulary.
Tokenizer small_bpe_with(const std::vector<json>& added) {
  static const std::string base = train_tokenizer(
      std::string(200, ' ') + "the cat sat on the mat. the dog sat on the log. hello world, hello there.\n", {});
  json j = json::parse(base);
  int id = int(j["model"]["vocab"].size());
  for (json a : added) {
    a["id"] = id++;
    for (const char* k : {"single_word", "lstrip", "rstrip", "normalized", "special"})
      if (!a.contains(k)) a[k] = false;
    j["added_tokens"].push_back(a);
  }
  return Tokenizer::from_hf_json(j.dump(), "", "test tokenizer.json");
}

TEST(SpecialTokens, ParsedOnlyWhenAsked) {
  Tokenizer t = small_bpe_with({{{"content", "<|im_start|>"}, {"special", true}}});
  TokenId special = TokenId(t.vocab_size() - 1);
  auto plain = t.encode("a<|im_start|>b", {false, false});
  EXPECT_EQ(std::count(plain.begin(), plain.end(), special), 0);
  EXPECT_EQ(t.decode(plain), "a<|im_start|>b");
  auto parsed = t.encode("a<|im_start|>b", {false, true});
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[1], special);
  EXPECT_TRUE(t.is_special(special));
  EXPECT_EQ(t.decode(parsed), "a<|im_start|>b");
  EXPECT_EQ(t.decode(parsed, {true}), "ab");
}

TEST(SpecialTokens, NonSpecialAddedTokensAlwaysMatchFirst) {
  Tokenizer t = small_bpe_with({{{"content", "cat sat"}}, {{"content", "cat"}}});
  TokenId longest = TokenId(t.vocab_size() - 2);
  // Leftmost-longest: "cat sat" beats "cat", with or without --parse-special.
  for (bool parse : {false, true}) {
    auto ids = t.encode("the cat sat", {false, parse});
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids.back(), longest);
    EXPECT_FALSE(t.is_special(longest));
  }
}

TEST(SpecialTokens, LstripRstripAndSingleWord) {
  Tokenizer t = small_bpe_with({{{"content", "<mask>"}, {"special", true}, {"lstrip", true}, {"rstrip", true}},
                                {{"content", "og"}, {"single_word", true}}});
  TokenId mask = TokenId(t.vocab_size() - 2), og = TokenId(t.vocab_size() - 1);
  auto stripped = t.encode("the  <mask>  dog", {false, true});
  auto tight = t.encode("the<mask>dog", {false, true});
  EXPECT_EQ(stripped, tight);  // the spaces around <mask> belong to it
  EXPECT_NE(std::find(tight.begin(), tight.end(), mask), tight.end());
  // single_word: "og" inside "dog" is not the added token, "og" alone is.
  auto inside = t.encode("dog", {false, false});
  EXPECT_EQ(std::count(inside.begin(), inside.end(), og), 0);
  auto alone = t.encode("an og here", {false, false});
  EXPECT_EQ(std::count(alone.begin(), alone.end(), og), 1);
}

TEST(SpecialTokens, GgufControlTokensAndBos) {
  TF_REQUIRE_SHARED_MODELS();
  const Tokenizer& llama =
      test::cached_tokenizer((test::shared_models() / "tokenizers" / "ggml-vocab-llama-spm.gguf").string());
  EXPECT_EQ(llama.bos(), 1);
  EXPECT_EQ(llama.eos(), 2);
  EXPECT_EQ(llama.unk(), 0);
  // "<s>" in the text is text unless parse_special; after a parsed special
  // token llama.cpp adds the dummy-prefix space again.
  auto as_text = llama.encode("<s>Hello", {false, false});
  EXPECT_NE(as_text.front(), 1);
  auto parsed = llama.encode("<s>Hello", {false, true});
  EXPECT_EQ(parsed, (std::vector<TokenId>{1, 15043}));
  EXPECT_EQ(llama.encode("Hello</s>", {true, true}), (std::vector<TokenId>{1, 15043, 2}));
  EXPECT_EQ(llama.encode("", {true, false}), (std::vector<TokenId>{1}));
  EXPECT_TRUE(llama.encode("", {false, false}).empty());
  const Tokenizer& bert =
      test::cached_tokenizer((test::shared_models() / "tokenizers" / "ggml-vocab-bert-bge.gguf").string());
  EXPECT_EQ(bert.encode("", {true, false}), (std::vector<TokenId>{101, 102}));
  EXPECT_EQ(bert.encode("a [MASK] b", {false, true}), (std::vector<TokenId>{1037, 103, 1038}));
  EXPECT_EQ(bert.decode(std::vector<TokenId>{101, 7592, 2088, 102}, {true}), "hello world");
}

}  // namespace
}  // namespace tf
