// Post-processing of every pipeline on tiny fixtures (tests/pipelines/fixture.h)
// against values worked out independently: the fixture's encoder is simple
// enough to compute by hand (ref_encoder), the heads are applied here with
// plain loops, and the expected offsets are counted in the input strings.
#include <gtest/gtest.h>

#include <cmath>

#include "common/test_paths.h"
#include "pipelines/fixture.h"
#include "tf/pipelines.h"

namespace tf {
namespace {

using test::fixture_id;
using test::HeadWeights;
using test::kFixtureHidden;

constexpr size_t D = size_t(kFixtureHidden);

std::vector<float> zeros(size_t n) { return std::vector<float>(n, 0.0f); }

std::vector<int32_t> ids_of(std::initializer_list<const char*> pieces) {
  std::vector<int32_t> ids;
  for (const char* p : pieces) ids.push_back(fixture_id(p));
  return ids;
}

// ---------------------------------------------------------------- token classification

struct TokenFixture {
  test::TempDir dir;
  std::vector<float> W = zeros(3 * D), b = zeros(3);
  pipelines::TextModel model;
  TokenFixture() {
    // O (a constant 4) for every token but paris / france (B-LOC) and ##ville (I-LOC),
    // whose own dimension of the output row is large
    b[0] = 4.0f;
    W[1 * D + size_t(fixture_id("paris"))] = 4.0f;
    W[1 * D + size_t(fixture_id("france"))] = 4.0f;
    W[2 * D + size_t(fixture_id("##ville"))] = 4.0f;
    HeadWeights h{"BertForTokenClassification",
                  {{"classifier.weight", {{3, int64_t(D)}, W}}, {"classifier.bias", {{3}, b}}},
                  {{0, "O"}, {1, "B-LOC"}, {2, "I-LOC"}},
                  ""};
    test::write_fixture(dir.path().string(), h);
    model = pipelines::TextModel::load(dir.path().string());
  }
  // softmax of the head over the reference encoder's rows
  std::vector<std::vector<double>> probs(const std::vector<int32_t>& ids) const {
    std::vector<std::vector<double>> p;
    for (const auto& row : test::ref_encoder(ids)) p.push_back(test::ref_softmax(test::ref_linear(W, b, row)));
    return p;
  }
};

const char* kNerText = "Hello Parisville, in France!";
// [CLS] hello paris ##ville , in france ! [SEP]
std::vector<int32_t> ner_ids() { return ids_of({"[CLS]", "hello", "paris", "##ville", ",", "in", "france", "!", "[SEP]"}); }

TEST(TokenClassify, NoAggregationGivesEveryNonOTokenWithItsOffsets) {
  TokenFixture f;
  auto p = f.probs(ner_ids());
  auto out = pipelines::token_classify(f.model, {kNerText}, pipelines::Aggregation::None);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].size(), 3u);
  struct Want {
    const char* label;
    int64_t index;
    const char* word;
    size_t start, end;
    int cls;
  };
  Want want[] = {{"B-LOC", 2, "paris", 6, 11, 1}, {"I-LOC", 3, "##ville", 11, 16, 2}, {"B-LOC", 6, "france", 21, 27, 1}};
  for (size_t i = 0; i < 3; ++i) {
    const pipelines::Entity& e = out[0][i];
    EXPECT_EQ(e.entity, want[i].label);
    EXPECT_EQ(e.index, want[i].index);
    EXPECT_EQ(e.word, want[i].word);
    EXPECT_EQ(e.start, want[i].start);
    EXPECT_EQ(e.end, want[i].end);
    EXPECT_NEAR(e.score, p[size_t(want[i].index)][size_t(want[i].cls)], 1e-5);
  }
}

TEST(TokenClassify, SimpleAggregationGroupsBAndIIntoOneEntity) {
  TokenFixture f;
  auto p = f.probs(ner_ids());
  auto out = pipelines::token_classify(f.model, {kNerText}, pipelines::Aggregation::Simple);
  ASSERT_EQ(out[0].size(), 2u);
  EXPECT_EQ(out[0][0].entity, "LOC");
  EXPECT_EQ(out[0][0].word, "parisville");
  EXPECT_EQ(out[0][0].start, 6u);
  EXPECT_EQ(out[0][0].end, 16u);
  EXPECT_NEAR(out[0][0].score, (p[2][1] + p[3][2]) / 2, 1e-5);
  EXPECT_EQ(out[0][1].entity, "LOC");
  EXPECT_EQ(out[0][1].word, "france");
  EXPECT_EQ(out[0][1].start, 21u);
  EXPECT_EQ(out[0][1].end, 27u);
  EXPECT_NEAR(out[0][1].score, p[6][1], 1e-5);
}

TEST(TokenClassify, WordAggregationsScoreWholeWords) {
  TokenFixture f;
  auto p = f.probs(ner_ids());
  // "parisville" is paris + ##ville
  auto first = pipelines::token_classify(f.model, {kNerText}, pipelines::Aggregation::First);
  ASSERT_EQ(first[0].size(), 2u);
  EXPECT_EQ(first[0][0].entity, "LOC");
  EXPECT_EQ(first[0][0].word, "parisville");
  EXPECT_EQ(first[0][0].start, 6u);
  EXPECT_EQ(first[0][0].end, 16u);
  EXPECT_NEAR(first[0][0].score, p[2][1], 1e-5);  // the first token's best class

  auto max = pipelines::token_classify(f.model, {kNerText}, pipelines::Aggregation::Max);
  double best = std::max(*std::max_element(p[2].begin(), p[2].end()), *std::max_element(p[3].begin(), p[3].end()));
  EXPECT_NEAR(max[0][0].score, best, 1e-5);

  auto avg = pipelines::token_classify(f.model, {kNerText}, pipelines::Aggregation::Average);
  std::vector<double> mean(3);
  for (size_t k = 0; k < 3; ++k) mean[k] = (p[2][k] + p[3][k]) / 2;
  size_t k = size_t(std::max_element(mean.begin(), mean.end()) - mean.begin());
  ASSERT_NE(k, 0u);
  EXPECT_EQ(avg[0][0].entity, "LOC");
  EXPECT_EQ(avg[0][0].start, 6u);
  EXPECT_EQ(avg[0][0].end, 16u);
  EXPECT_NEAR(avg[0][0].score, mean[k], 1e-5);
}

TEST(TokenClassify, OffsetsCountCharactersOfTheOriginalText) {
  TokenFixture f;
  // "Café" lowercases and loses its accent (cafe), "à" too; offsets count the input's characters
  auto out = pipelines::token_classify(f.model, {"Café à Paris"}, pipelines::Aggregation::None);
  ASSERT_EQ(out[0].size(), 1u);
  EXPECT_EQ(out[0][0].word, "paris");
  EXPECT_EQ(out[0][0].start, 7u);
  EXPECT_EQ(out[0][0].end, 12u);
}

// ---------------------------------------------------------------- sequence classification

struct ClassifyFixture {
  test::TempDir dir;
  std::vector<float> Wp, bp = zeros(D), Wc = zeros(3 * D), bc = {0.1f, -0.2f, 0.3f};
  pipelines::TextModel model;
  explicit ClassifyFixture(std::map<int64_t, std::string> labels, std::string problem = "") {
    Wp = zeros(D * D);
    for (size_t i = 0; i < D; ++i) Wp[i * D + i] = 1.0f;  // pooler = tanh(first row)
    Wc[0 * D + size_t(fixture_id("cooking"))] = 2.0f;
    Wc[1 * D + size_t(fixture_id("hello"))] = 1.5f;
    Wc[2 * D + size_t(fixture_id("travel"))] = 2.0f;
    Wc[2 * D + size_t(fixture_id("paris"))] = 1.0f;
    HeadWeights h{"BertForSequenceClassification",
                  {{"bert.pooler.dense.weight", {{int64_t(D), int64_t(D)}, Wp}},
                   {"bert.pooler.dense.bias", {{int64_t(D)}, bp}},
                   {"classifier.weight", {{3, int64_t(D)}, Wc}},
                   {"classifier.bias", {{3}, bc}}},
                  std::move(labels),
                  std::move(problem)};
    test::write_fixture(dir.path().string(), h);
    model = pipelines::TextModel::load(dir.path().string());
  }
  std::vector<float> logits(const std::vector<int32_t>& ids) const {
    std::vector<float> cls = test::ref_encoder(ids)[0];
    for (float& v : cls) v = std::tanh(v);
    return test::ref_linear(Wc, bc, cls);
  }
};

TEST(Classify, SoftmaxOverLabelsBestFirst) {
  ClassifyFixture f({{0, "negative"}, {1, "neutral"}, {2, "positive"}});
  auto p = test::ref_softmax(f.logits(ids_of({"[CLS]", "hello", "paris", "[SEP]"})));
  auto out = pipelines::classify(f.model, {{"Hello Paris", std::nullopt}}, 0);
  ASSERT_EQ(out[0].size(), 3u);
  std::vector<std::pair<double, std::string>> want = {{p[0], "negative"}, {p[1], "neutral"}, {p[2], "positive"}};
  std::sort(want.rbegin(), want.rend());
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out[0][i].label, want[i].second);
    EXPECT_NEAR(out[0][i].score, want[i].first, 1e-6);
  }
  auto top1 = pipelines::classify(f.model, {{"Hello Paris", std::nullopt}}, 1);
  ASSERT_EQ(top1[0].size(), 1u);
  EXPECT_EQ(top1[0][0].label, want[0].second);
}

TEST(Classify, MultiLabelProblemTypeUsesSigmoid) {
  ClassifyFixture f({{0, "a"}, {1, "b"}, {2, "c"}}, "multi_label_classification");
  auto z = f.logits(ids_of({"[CLS]", "travel", "[SEP]"}));
  auto out = pipelines::classify(f.model, {{"travel", std::nullopt}}, 0);
  for (const auto& ls : out[0]) {
    int k = ls.label[0] - 'a';
    EXPECT_NEAR(ls.score, 1.0 / (1.0 + std::exp(-double(z[size_t(k)]))), 1e-6);
  }
}

TEST(Classify, BatchesGiveTheSameScoresAsSingleInputsInInputOrder) {
  ClassifyFixture f({{0, "negative"}, {1, "neutral"}, {2, "positive"}});
  std::vector<pipelines::TextInput> in = {{"Hello Paris", std::nullopt}, {"cooking", std::nullopt},
                                          {"travel in France, hello!", std::nullopt}};
  f.model.batch_size = 2;
  auto batched = pipelines::classify(f.model, in, 0);
  f.model.batch_size = 1;
  for (size_t i = 0; i < in.size(); ++i) {
    auto one = pipelines::classify(f.model, {in[i]}, 0);
    for (size_t k = 0; k < 3; ++k) {
      EXPECT_EQ(batched[i][k].label, one[0][k].label);
      EXPECT_NEAR(batched[i][k].score, one[0][k].score, 1e-6);
    }
  }
}

TEST(ZeroShot, EntailmentLogitsSoftmaxedOverLabels) {
  ClassifyFixture f({{0, "contradiction"}, {1, "neutral"}, {2, "entailment"}});
  EXPECT_EQ(pipelines::entailment_id(f.model.encoder->config()), 2);
  const std::vector<std::string> labels = {"cooking", "travel"};
  std::vector<std::vector<float>> z;
  for (const std::string& l : labels)
    z.push_back(f.logits(ids_of({"[CLS]", "paris", "is", "the", "capital", "of", "france", ".", "[SEP]", "this",
                                 "example", "is", "about", l.c_str(), ".", "[SEP]"})));
  auto single = pipelines::zero_shot(f.model, {{"Paris is the capital of France.", labels}},
                                     "This example is about {}.", false);
  auto p = test::ref_softmax({z[0][2], z[1][2]});
  ASSERT_EQ(single[0].labels.size(), 2u);
  EXPECT_EQ(single[0].labels[0], "travel");  // Wc puts weight on travel and paris for entailment
  EXPECT_NEAR(single[0].scores[0], p[1], 1e-6);
  EXPECT_NEAR(single[0].scores[1], p[0], 1e-6);

  auto multi = pipelines::zero_shot(f.model, {{"Paris is the capital of France.", labels}},
                                    "This example is about {}.", true);
  for (size_t i = 0; i < 2; ++i) {
    size_t k = multi[0].labels[i] == "cooking" ? 0 : 1;
    EXPECT_NEAR(multi[0].scores[i], test::ref_softmax({z[k][0], z[k][2]})[1], 1e-6);
  }
}

// ---------------------------------------------------------------- question answering

struct QaFixture {
  test::TempDir dir;
  std::vector<float> W = zeros(2 * D), b = zeros(2);
  pipelines::TextModel model;
  QaFixture() {
    W[0 * D + size_t(fixture_id("paris"))] = 6.0f;    // start
    W[1 * D + size_t(fixture_id("##ville"))] = 6.0f;  // end
    W[1 * D + size_t(fixture_id("france"))] = 3.0f;
    HeadWeights h{"BertForQuestionAnswering",
                  {{"qa_outputs.weight", {{2, int64_t(D)}, W}}, {"qa_outputs.bias", {{2}, b}}},
                  {},
                  ""};
    test::write_fixture(dir.path().string(), h);
    model = pipelines::TextModel::load(dir.path().string());
  }
};

TEST(QuestionAnswering, BestSpanScoreAndCharacterOffsets) {
  QaFixture f;
  const std::string context = "The capital is Parisville, in France.";
  auto ids = ids_of({"[CLS]", "where", "is", "the", "capital", "?", "[SEP]", "the", "capital", "is", "paris", "##ville",
                     ",", "in", "france", ".", "[SEP]"});
  auto rows = test::ref_encoder(ids);
  std::vector<float> s, e;
  for (size_t t = 0; t < ids.size(); ++t) {
    auto z = test::ref_linear(f.W, f.b, rows[t]);
    bool ctx = t >= 7 && t + 1 < ids.size();
    s.push_back(ctx ? z[0] : -10000.0f);
    e.push_back(ctx ? z[1] : -10000.0f);
  }
  auto ps = test::ref_softmax(s), pe = test::ref_softmax(e);
  auto out = pipelines::answer_questions(f.model, {{"Where is the capital?", context}}, {});
  ASSERT_EQ(out[0].size(), 1u);
  EXPECT_EQ(out[0][0].answer, "Parisville");
  EXPECT_EQ(out[0][0].start, 15u);
  EXPECT_EQ(out[0][0].end, 25u);
  EXPECT_NEAR(out[0][0].score, ps[10] * pe[11], 1e-6);

  pipelines::QaOptions two;
  two.top_k = 2;
  auto top2 = pipelines::answer_questions(f.model, {{"Where is the capital?", context}}, two);
  ASSERT_EQ(top2[0].size(), 2u);
  EXPECT_EQ(top2[0][1].answer, "Parisville, in France");
  EXPECT_NEAR(top2[0][1].score, ps[10] * pe[14], 1e-6);
}

TEST(QuestionAnswering, LongContextsAreSplitWithDocStride) {
  QaFixture f;
  // 15 context tokens; windows of 12 - 5 (question + specials) = 7 tokens, every 4
  std::string context = "hello hello hello hello hello hello, the capital is Parisville in France.";
  pipelines::QaOptions o;
  o.max_seq_len = 12;
  o.doc_stride = 3;
  auto out = pipelines::answer_questions(f.model, {{"where?", context}}, o);
  ASSERT_EQ(out[0].size(), 1u);
  EXPECT_EQ(out[0][0].answer, "Parisville");
  EXPECT_EQ(context.substr(out[0][0].start, out[0][0].end - out[0][0].start), "Parisville");
}

// ---------------------------------------------------------------- embed

TEST(Embed, MeanAndClsPoolingWithL2Normalisation) {
  QaFixture f;  // any head: embed reads the last hidden state
  auto rows = test::ref_encoder(ids_of({"[CLS]", "hello", "paris", "[SEP]"}));
  std::vector<double> mean(D, 0.0);
  for (const auto& r : rows)
    for (size_t j = 0; j < D; ++j) mean[j] += r[j] / 4.0;
  double norm = 0;
  for (double v : mean) norm += v * v;
  norm = std::sqrt(norm);
  auto m = pipelines::embed(f.model, {"hello paris"}, pipelines::Pooling::Mean, true);
  ASSERT_EQ(m[0].values.size(), D);
  for (size_t j = 0; j < D; ++j) EXPECT_NEAR(m[0].values[j], mean[j] / norm, 1e-5);
  auto c = pipelines::embed(f.model, {"hello paris"}, pipelines::Pooling::Cls, false);
  for (size_t j = 0; j < D; ++j) EXPECT_NEAR(c[0].values[j], rows[0][j], 1e-5);
  auto none = pipelines::embed(f.model, {"hello paris"}, pipelines::Pooling::None, false);
  EXPECT_EQ(none[0].n_tokens, 4u);
  EXPECT_EQ(none[0].values.size(), 4 * D);
}

// ---------------------------------------------------------------- fill-mask (the trained BERT)

TEST(FillMask, BertShakespeareTop5MatchesTransformers) {
  TF_REQUIRE_SHARED_MODELS();
  auto m = pipelines::TextModel::load((test::shared_models() / "trained/bert-shakespeare").string());
  auto out = pipelines::fill_mask(m, {"To be, or not to [MASK], that is the question."}, 5);
  ASSERT_EQ(out[0].size(), 1u);
  EXPECT_EQ(out[0][0].position, 7u);
  // golden.json fill_mask.top5
  struct Want {
    int32_t id;
    const char* token;
    float score;
    const char* sequence;
  };
  Want want[] = {{1010, ",", 0.0628976821899414f, "to be, or not to,, that is the question."},
                 {1996, "the", 0.05956823378801346f, "to be, or not to the, that is the question."},
                 {1997, "of", 0.038213349878787994f, "to be, or not to of, that is the question."},
                 {1998, "and", 0.037028297781944275f, "to be, or not to and, that is the question."},
                 {1024, ":", 0.030182695016264915f, "to be, or not to :, that is the question."}};
  ASSERT_EQ(out[0][0].candidates.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    const auto& c = out[0][0].candidates[i];
    EXPECT_EQ(c.token, want[i].id);
    EXPECT_EQ(c.token_str, want[i].token);
    EXPECT_NEAR(c.score, want[i].score, 1e-5);
    EXPECT_EQ(c.sequence, want[i].sequence);
  }
  // two masks: one prediction each; sequences keep the special tokens then (as transformers)
  auto two = pipelines::fill_mask(m, {"To [MASK], or not to [MASK]."}, 3);
  ASSERT_EQ(two[0].size(), 2u);
  EXPECT_EQ(two[0][0].candidates.size(), 3u);
  EXPECT_EQ(two[0][0].candidates[0].sequence.rfind("[CLS]", 0), 0u);
}

}  // namespace
}  // namespace tf
