// The trained models' tokenizers (tokenizer.json written by transformers 5.17)
// against the ids and texts recorded in their golden.json, loaded both from
// the folder and from the tokenizer.json file alone.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenizer/helpers.h"

namespace tf {
namespace {

using json = nlohmann::json;

json golden(const std::string& model) {
  return json::parse(test::read_file(test::shared_models() / "trained" / model / "golden.json"));
}

std::vector<std::string> sources(const std::string& model) {
  auto dir = test::shared_models() / "trained" / model;
  return {dir.string(), (dir / "tokenizer.json").string()};
}

class CausalGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(CausalGolden, PromptsAndGeneratedText) {
  TF_REQUIRE_SHARED_MODELS();
  json g = golden(GetParam());
  for (const std::string& src : sources(GetParam())) {
    SCOPED_TRACE(src);
    const Tokenizer& t = test::cached_tokenizer(src);
    const json& seqs = g["results"]["sequences"];
    ASSERT_EQ(g["prompts"].size(), seqs.size());
    for (size_t i = 0; i < seqs.size(); ++i) {
      std::string prompt = g["prompts"][i];
      // golden: tokenizer(prompt) with the default add_special_tokens=True
      EXPECT_EQ(t.encode(prompt), seqs[i]["input_ids"].get<std::vector<TokenId>>()) << prompt;
      auto new_ids = seqs[i]["greedy_new_ids"].get<std::vector<TokenId>>();
      EXPECT_EQ(t.decode(new_ids), seqs[i]["greedy_new_text"].get<std::string>());
      auto all = seqs[i]["input_ids"].get<std::vector<TokenId>>();
      all.insert(all.end(), new_ids.begin(), new_ids.end());
      EXPECT_EQ(t.decode(all), seqs[i]["full_text"].get<std::string>());
      EXPECT_EQ(t.decode(seqs[i]["input_ids"].get<std::vector<TokenId>>()), seqs[i]["prompt_text_decoded"].get<std::string>());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Trained, CausalGolden, ::testing::Values("gpt2-shakespeare", "llama-shakespeare"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

TEST(BertGolden, SentenceIdsAndPieces) {
  TF_REQUIRE_SHARED_MODELS();
  json g = golden("bert-shakespeare");
  for (const std::string& src : sources("bert-shakespeare")) {
    SCOPED_TRACE(src);
    const Tokenizer& t = test::cached_tokenizer(src);
    auto ids = t.encode(g["sentence"].get<std::string>());
    EXPECT_EQ(ids, g["input_ids"].get<std::vector<TokenId>>());
    std::vector<std::string> pieces;
    for (TokenId id : ids) pieces.push_back(t.piece(id));
    EXPECT_EQ(pieces, g["tokens"].get<std::vector<std::string>>());
  }
}

TEST(BertGolden, FillMaskNeedsParseSpecial) {
  TF_REQUIRE_SHARED_MODELS();
  json g = golden("bert-shakespeare");
  const json& fm = g["fill_mask"];
  for (const std::string& src : sources("bert-shakespeare")) {
    SCOPED_TRACE(src);
    const Tokenizer& t = test::cached_tokenizer(src);
    std::string text = fm["text"];
    EXPECT_EQ(t.encode(text, {true, true}), fm["input_ids"].get<std::vector<TokenId>>());
    // Not parsed, "[MASK]" is plain text: [ mask ]
    auto plain = t.encode(text, {true, false});
    EXPECT_EQ(std::count(plain.begin(), plain.end(), 103), 0);
    for (const json& top : fm["top5"]) {
      auto ids = fm["input_ids"].get<std::vector<TokenId>>();
      ids[fm["mask_position"].get<size_t>()] = top["token_id"].get<TokenId>();
      EXPECT_EQ(t.decode(ids, {true}), top["sequence"].get<std::string>());
    }
  }
}

TEST(HfGolden, ReadmeExamplesMatchGgufTwins) {
  TF_REQUIRE_SHARED_MODELS();
  // The trained tokenizers were rebuilt from the llama.cpp vocabularies.
  const Tokenizer& gpt2 = test::cached_tokenizer(sources("gpt2-shakespeare")[0]);
  EXPECT_EQ(gpt2.encode("Hello world, this is a test."), (std::vector<TokenId>{15496, 995, 11, 428, 318, 257, 1332, 13}));
  const Tokenizer& llama = test::cached_tokenizer(sources("llama-shakespeare")[0]);
  EXPECT_EQ(llama.encode("Hello world, this is a test."),
            (std::vector<TokenId>{1, 15043, 3186, 29892, 445, 338, 263, 1243, 29889}));
  // README deviation 1: HF adds no dummy prefix when the text starts with a space.
  EXPECT_EQ(llama.encode(" ", {false, false}), (std::vector<TokenId>{29871}));
  EXPECT_EQ(llama.encode("  ", {false, false}), (std::vector<TokenId>{259}));
  EXPECT_EQ(llama.encode(" Hello world", {false, false}), (std::vector<TokenId>{15043, 3186}));
}

TEST(HfGolden, CorpusTokenCountsMatchTheReadme) {
  TF_REQUIRE_SHARED_MODELS();
  // README section 4: each split tokenized as one stream, no special tokens.
  std::string text = test::read_file(test::shared_models() / "data" / "tinyshakespeare.txt");
  size_t cut = size_t(double(text.size()) * 0.9);
  std::string train = text.substr(0, cut), valid = text.substr(cut);
  const Tokenizer& gpt2 = test::cached_tokenizer(sources("gpt2-shakespeare")[0]);
  EXPECT_EQ(gpt2.encode(train, {false, false}).size(), 301966u);
  EXPECT_EQ(gpt2.encode(valid, {false, false}).size(), 36059u);
  const Tokenizer& hf = test::cached_tokenizer(sources("llama-shakespeare")[0]);
  const Tokenizer& spm =
      test::cached_tokenizer((test::shared_models() / "tokenizers" / "ggml-vocab-llama-spm.gguf").string());
  EXPECT_EQ(hf.encode(valid, {false, false}).size(), 38579u);
  EXPECT_EQ(hf.encode(valid, {false, false}), spm.encode(valid, {false, false}));
  // README deviation 2: HF ranks the merge "▁ ▁" first, SentencePiece merges
  // white space last: 330056 vs 330054 tokens on the training split.
  EXPECT_EQ(hf.encode(train, {false, false}).size(), 330056u);
  EXPECT_EQ(spm.encode(train, {false, false}).size(), 330054u);
}

}  // namespace
}  // namespace tf

namespace tf {
namespace {

TEST(HfGolden, NamedSpecialTokensFromTheConfig) {
  TF_REQUIRE_SHARED_MODELS();
  auto dir = test::shared_models() / "trained";
  const Tokenizer& gpt2 = test::cached_tokenizer((dir / "gpt2-shakespeare").string());
  EXPECT_EQ(gpt2.bos(), 50256);
  EXPECT_EQ(gpt2.eos(), 50256);
  const Tokenizer& llama = test::cached_tokenizer((dir / "llama-shakespeare").string());
  EXPECT_EQ(llama.bos(), 1);
  EXPECT_EQ(llama.eos(), 2);
  EXPECT_EQ(llama.unk(), 0);
  const Tokenizer& bert = test::cached_tokenizer((dir / "bert-shakespeare").string());
  EXPECT_EQ(bert.bos(), 101);  // CLS
  EXPECT_EQ(bert.eos(), 102);  // SEP
  EXPECT_EQ(bert.unk(), 100);
  EXPECT_TRUE(bert.is_special(103));
  EXPECT_FALSE(bert.is_special(2000));
}

}  // namespace
}  // namespace tf
