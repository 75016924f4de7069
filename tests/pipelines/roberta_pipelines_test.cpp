// The pipelines on a RoBERTa-style fixture (byte-level BPE, RobertaProcessing):
// the pair template <s> A </s></s> B </s>, offsets without the Ġ space, and
// transformers' sub-word heuristic for vocabularies without "##" (a token
// not preceded by a space continues the word).
#include <gtest/gtest.h>

#include "common/test_paths.h"
#include "pipelines/fixture.h"
#include "tf/pipelines.h"

namespace tf {
namespace {

constexpr int64_t kHidden = 128;

const test::FixtureModel& roberta() {
  static const test::FixtureModel fm = test::roberta_fixture(
      {"Hello", "\u0120Paris", "ville", ",", "\u0120in", "\u0120France", "!", "Where", "\u0120is", "\u0120the",
       "\u0120capital", "?", "The", "."},
      kHidden);
  return fm;
}

int32_t id(const std::string& piece) {
  int32_t i = test::piece_id(roberta(), piece);
  EXPECT_GE(i, 0) << piece;
  return i;
}

TEST(RobertaPipelines, TokenClassifyGroupsSubwordsWithoutPrefix) {
  ASSERT_LE(int64_t(roberta().vocab.size()), kHidden);
  test::TempDir dir;
  const size_t D = size_t(kHidden);
  std::vector<float> W(3 * D, 0.0f), b = {15.0f, 0.0f, 0.0f};  // own dimension ~11 at hidden 128
  W[D + size_t(id("\u0120Paris"))] = 4.0f;
  W[D + size_t(id("\u0120France"))] = 4.0f;
  W[2 * D + size_t(id("ville"))] = 4.0f;
  test::HeadWeights h{"RobertaForTokenClassification",
                      {{"classifier.weight", {{3, kHidden}, W}}, {"classifier.bias", {{3}, b}}},
                      {{0, "O"}, {1, "B-LOC"}, {2, "I-LOC"}},
                      ""};
  test::write_fixture(dir.path().string(), h, roberta());
  auto m = pipelines::TextModel::load(dir.path().string());
  const std::string text = "Hello Parisville, in France!";
  std::vector<int32_t> ids = {0, id("Hello"), id("\u0120Paris"), id("ville"), id(","), id("\u0120in"),
                              id("\u0120France"), id("!"), 2};
  EXPECT_EQ(m.tok().encode(text), ids);
  std::vector<std::vector<double>> p;
  for (const auto& row : test::ref_encoder(ids, kHidden)) p.push_back(test::ref_softmax(test::ref_linear(W, b, row)));

  auto none = pipelines::token_classify(m, {text}, pipelines::Aggregation::None);
  ASSERT_EQ(none[0].size(), 3u);
  EXPECT_EQ(none[0][0].word, "\u0120Paris");  // the vocabulary piece, as transformers reports it
  EXPECT_EQ(none[0][0].start, 6u);             // without its space
  EXPECT_EQ(none[0][0].end, 11u);
  EXPECT_EQ(none[0][1].entity, "I-LOC");
  EXPECT_EQ(none[0][1].start, 11u);
  EXPECT_NEAR(none[0][1].score, p[3][2], 1e-5);

  // "ville" follows "s" directly, so it continues the word; so does ","
  // after "ville" and "!" after "France" (transformers' heuristic looks at
  // spaces only, so punctuation joins the word before it)
  auto first = pipelines::token_classify(m, {text}, pipelines::Aggregation::First);
  ASSERT_EQ(first[0].size(), 2u);
  EXPECT_EQ(first[0][0].entity, "LOC");
  EXPECT_EQ(first[0][0].word, " Parisville,");
  EXPECT_EQ(first[0][0].start, 6u);
  EXPECT_EQ(first[0][0].end, 17u);
  EXPECT_NEAR(first[0][0].score, p[2][1], 1e-5);
  EXPECT_EQ(first[0][1].start, 21u);
  EXPECT_EQ(first[0][1].end, 28u);
}

TEST(RobertaPipelines, QuestionAnsweringWithTheRobertaPairTemplate) {
  test::TempDir dir;
  const size_t D = size_t(kHidden);
  std::vector<float> W(2 * D, 0.0f), b = {0.0f, 0.0f};
  W[size_t(id("\u0120Paris"))] = 6.0f;
  W[D + size_t(id("ville"))] = 6.0f;
  test::HeadWeights h{"RobertaForQuestionAnswering", {{"qa_outputs.weight", {{2, kHidden}, W}}, {"qa_outputs.bias", {{2}, b}}}, {}, ""};
  test::write_fixture(dir.path().string(), h, roberta());
  auto m = pipelines::TextModel::load(dir.path().string());
  EXPECT_EQ(m.tok().num_added_tokens(true), 4u);
  const std::string context = "The capital is Parisville, in France.";
  // <s> Where Ġis Ġthe Ġcapital ? </s> </s> The Ġcapital Ġis ĠParis ville , Ġin ĠFrance . </s>
  std::vector<int32_t> ids = {0, id("Where"), id("\u0120is"), id("\u0120the"), id("\u0120capital"), id("?"), 2, 2,
                              id("The"), id("\u0120capital"), id("\u0120is"), id("\u0120Paris"), id("ville"), id(","),
                              id("\u0120in"), id("\u0120France"), id("."), 2};
  auto rows = test::ref_encoder(ids, kHidden);
  std::vector<float> s, e;
  for (size_t t = 0; t < ids.size(); ++t) {
    auto z = test::ref_linear(W, b, rows[t]);
    bool ctx = t >= 8 && t + 1 < ids.size();
    s.push_back(ctx ? z[0] : -10000.0f);
    e.push_back(ctx ? z[1] : -10000.0f);
  }
  auto ps = test::ref_softmax(s), pe = test::ref_softmax(e);
  auto out = pipelines::answer_questions(m, {{"Where is the capital?", context}}, {});
  ASSERT_EQ(out[0].size(), 1u);
  EXPECT_EQ(out[0][0].answer, "Parisville");
  EXPECT_EQ(out[0][0].start, 15u);
  EXPECT_EQ(out[0][0].end, 25u);
  EXPECT_NEAR(out[0][0].score, ps[11] * pe[12], 1e-6);
}

}  // namespace
}  // namespace tf
