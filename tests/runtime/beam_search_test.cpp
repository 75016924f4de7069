// Beam search: a scripted model whose beams can be worked out by hand, and
// the zoo's models against a deliberately naive transcription of
// transformers' `_beam_search` (every candidate re-forwarded from scratch in
// a fresh session, full sorts, the -1e9 placeholders kept as they are).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/test_paths.h"
#include "tf/error.h"
#include "tf/generate.h"
#include "tf/model.h"
#include "tf/safetensors.h"

namespace tf {
namespace {

// ---------------------------------------------------------------- scripted model

// Vocabulary {0, 1, 2, 3 = EOS}; the next-token distribution depends only on
// the last token:
//   after 0: 1 .5   2 .3   EOS .15  0 .05
//   after 1: EOS .6  2 .2   1 .1     0 .1
//   after 2: 1 .7   0 .1   2 .1     EOS .1
//   after 3: uniform (never reached: EOS ends a beam)
class ToyModel : public BeamModel {
 public:
  size_t vocab_size() const override { return 4; }
  const float* start(const std::vector<int32_t>& prompt, int32_t) override {
    fill({prompt.back()});
    return logits_.data();
  }
  const float* step(const std::vector<int32_t>& parent, const std::vector<int32_t>& token) override {
    ++steps;
    parents.push_back(parent);
    fill(token);
    return logits_.data();
  }
  int steps = 0;
  std::vector<std::vector<int32_t>> parents;

 private:
  void fill(const std::vector<int32_t>& last) {
    static const double p[4][4] = {{.05, .5, .3, .15}, {.1, .1, .2, .6}, {.1, .7, .1, .1}, {.25, .25, .25, .25}};
    logits_.clear();
    for (int32_t t : last)
      for (int v = 0; v < 4; ++v) logits_.push_back(float(std::log(p[t][v])));
  }
  std::vector<float> logits_;
};

BeamOptions toy_options(int beams, int max_new, float lp) {
  BeamOptions o;
  o.num_beams = beams;
  o.max_new_tokens = max_new;
  o.length_penalty = lp;
  o.num_return_sequences = beams;
  o.eos = {3};
  return o;
}

float lg(double p) { return float(std::log(p)); }

// Step 0 (prompt [0], one live beam, 4 candidates): [1] ln.5, [2] ln.3,
// [EOS] ln.15 (rank 2 >= N: dropped, not finished), [0] ln.05.
// Step 1 from [1] (ln.5) and [2] (ln.3): [1,EOS] ln.3 finishes (length 2),
// [2,1] ln.21 and [1,2] ln.1 run on.
// Step 2 (the last for max_new 3): [2,1,EOS] ln.126, [1,2,1] ln.07 finish
// (length 3); [2,1,2] ln.042 and the rest rank >= N.
TEST(BeamSearchToy, HandDerivedBeamsAndScores) {
  ToyModel m;
  auto beams = beam_search(m, {0}, toy_options(2, 3, 1.0f));
  ASSERT_EQ(beams.size(), 2u);
  EXPECT_EQ(beams[0].ids, (std::vector<int32_t>{1, 3}));
  EXPECT_TRUE(beams[0].eos);
  EXPECT_NEAR(beams[0].score, lg(.3) / 2, 1e-5);
  EXPECT_EQ(beams[1].ids, (std::vector<int32_t>{2, 1, 3}));
  EXPECT_NEAR(beams[1].score, lg(.126) / 3, 1e-5);
  EXPECT_EQ(m.steps, 2);
  // both children of the first step come from the one live beam
  EXPECT_EQ(m.parents[0], (std::vector<int32_t>{0, 0}));
  // [2,1] continues old beam 1 ([2]), [1,2] old beam 0 ([1])
  EXPECT_EQ(m.parents[1], (std::vector<int32_t>{1, 0}));
}

TEST(BeamSearchToy, LengthPenaltyReordersFinishedBeams) {
  ToyModel m;
  // lp 2: [1,EOS] ln.3/4 = -.301, [2,1,EOS] ln.126/9 = -.230, [1,2,1] ln.07/9 = -.295
  auto beams = beam_search(m, {0}, toy_options(2, 3, 2.0f));
  ASSERT_EQ(beams.size(), 2u);
  EXPECT_EQ(beams[0].ids, (std::vector<int32_t>{2, 1, 3}));
  EXPECT_NEAR(beams[0].score, lg(.126) / 9, 1e-5);
  EXPECT_EQ(beams[1].ids, (std::vector<int32_t>{1, 2, 1}));
  EXPECT_FALSE(beams[1].eos);
  EXPECT_NEAR(beams[1].score, lg(.07) / 9, 1e-5);
  // lp 0: raw sums. [EOS] alone (ln.15 = -1.90) would beat [2,1,EOS]
  // (ln.126 = -2.07) had it not ranked below N at its step.
  ToyModel m0;
  beams = beam_search(m0, {0}, toy_options(2, 3, 0.0f));
  ASSERT_EQ(beams.size(), 2u);
  EXPECT_EQ(beams[0].ids, (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(beams[1].ids, (std::vector<int32_t>{2, 1, 3}));
  EXPECT_NEAR(beams[1].score, lg(.126), 1e-5);
}

TEST(BeamSearchToy, EarlyStoppingModes) {
  // Step 2 with room to go: [2,1,EOS] finishes, so two beams are finished
  // (-.602, -.690) while [1,2,1] (ln.07) and [2,1,2] run on.
  for (auto mode : {EarlyStopping::Immediate, EarlyStopping::Heuristic, EarlyStopping::Never}) {
    ToyModel m;
    BeamOptions o = toy_options(2, 10, 1.0f);
    o.early_stopping = mode;
    auto beams = beam_search(m, {0}, o);
    ASSERT_EQ(beams.size(), 2u);
    EXPECT_EQ(beams[0].ids, (std::vector<int32_t>{1, 3}));
    EXPECT_EQ(beams[1].ids, (std::vector<int32_t>{2, 1, 3}));
    // true: two finished, stop; false: ln.07 / 3 = -.886 cannot beat -.690;
    // never: ln.07 / 10 (the longest length) = -.266 still could
    if (mode == EarlyStopping::Never) {
      EXPECT_GT(m.steps, 2);
    } else {
      EXPECT_EQ(m.steps, 2);
    }
  }
}

TEST(BeamSearchToy, OneBeamIsGreedyAndReturnCountIsHonoured) {
  ToyModel m;
  auto beams = beam_search(m, {0}, toy_options(1, 10, 1.0f));
  ASSERT_EQ(beams.size(), 1u);
  EXPECT_EQ(beams[0].ids, (std::vector<int32_t>{1, 3}));  // argmax, argmax = EOS
  EXPECT_NEAR(beams[0].score, lg(.3) / 2, 1e-5);
  ToyModel m2;
  BeamOptions o = toy_options(2, 3, 1.0f);
  o.num_return_sequences = 1;
  beams = beam_search(m2, {0}, o);
  ASSERT_EQ(beams.size(), 1u);
  EXPECT_EQ(beams[0].ids, (std::vector<int32_t>{1, 3}));
  // without an EOS every beam runs to the limit
  ToyModel m3;
  o = toy_options(2, 3, 1.0f);
  o.eos.clear();
  beams = beam_search(m3, {0}, o);
  ASSERT_EQ(beams.size(), 2u);
  for (const Beam& b : beams) {
    EXPECT_EQ(b.ids.size(), 3u);
    EXPECT_FALSE(b.eos);
  }
  // [2,1,3] = .126 beats [1,3,x] = .5*.6*.25 = .075 and [1,2,1] = .07
  EXPECT_EQ(beams[0].ids, (std::vector<int32_t>{2, 1, 3}));
  // [1,3,0..3] tie exactly (uniform after token 3): the lowest id wins
  EXPECT_EQ(beams[1].ids, (std::vector<int32_t>{1, 3, 0}));
}

TEST(BeamSearchToy, RejectsBadOptions) {
  ToyModel m;
  BeamOptions o = toy_options(2, 3, 1.0f);
  o.num_return_sequences = 3;
  EXPECT_THROW(beam_search(m, {0}, o), Error);
  o = toy_options(3, 3, 1.0f);  // 6 candidates from a vocabulary of 4
  EXPECT_THROW(beam_search(m, {0}, o), Error);
  EXPECT_THROW(beam_search(m, {}, toy_options(2, 3, 1.0f)), Error);
}

// ---------------------------------------------------------------- zoo models

// transformers' _beam_search for one prompt, written out with plain loops.
std::vector<Beam> naive_beam_search(const CausalLM& lm, const std::vector<int32_t>& prompt, const BeamOptions& o) {
  const size_t N = size_t(o.num_beams), V = size_t(lm.vocab_size()), P = prompt.size();
  const size_t max_length = P + size_t(o.max_new_tokens);
  const size_t K = std::max<size_t>(2, 1 + o.eos.size()) * N;
  const float lp = o.length_penalty;
  auto is_eos = [&](int32_t t) { return std::find(o.eos.begin(), o.eos.end(), t) != o.eos.end(); };
  std::vector<std::vector<int32_t>> running(N, prompt), fin(N, prompt);
  std::vector<float> running_scores(N, -1e9f), fin_scores(N, -1e9f);
  running_scores[0] = 0;
  std::vector<bool> fin_done(N, false);
  bool unsatisfied = true;
  SessionOptions so;
  so.kv_type = DType::F32;
  for (size_t cur_len = P;;) {
    std::vector<float> acc(N * V);
    for (size_t b = 0; b < N; ++b) {
      so.n_ctx = int64_t(cur_len);
      Session s(lm, so);  // no reuse: the whole sequence, every time
      const float* logits = s.eval(running[b]);
      double mx = *std::max_element(logits, logits + V), sum = 0;
      for (size_t v = 0; v < V; ++v) sum += std::exp(double(logits[v]) - mx);
      float log_z = float(mx + std::log(sum));
      for (size_t v = 0; v < V; ++v) acc[b * V + v] = running_scores[b] + (logits[v] - log_z);
    }
    std::vector<size_t> order(N * V);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return acc[a] > acc[b]; });
    std::vector<std::vector<int32_t>> cand(K);
    std::vector<float> cand_score(K);
    std::vector<bool> hit(K);
    for (size_t k = 0; k < K; ++k) {
      cand[k] = running[order[k] / V];
      cand[k].push_back(int32_t(order[k] % V));
      cand_score[k] = acc[order[k]];
      hit[k] = is_eos(cand[k].back()) || cand[k].size() >= max_length;
    }
    // running beams: top N after pushing finished candidates down by 1e9
    std::vector<float> run_score(K);
    for (size_t k = 0; k < K; ++k) run_score[k] = cand_score[k] + (hit[k] ? -1e9f : 0.0f);
    std::vector<size_t> run_order(K);
    std::iota(run_order.begin(), run_order.end(), 0);
    std::stable_sort(run_order.begin(), run_order.end(), [&](size_t a, size_t b) { return run_score[a] > run_score[b]; });
    // finished beams: top N of [finished so far, the K candidates]
    bool all_done = std::all_of(fin_done.begin(), fin_done.end(), [](bool d) { return d; });
    std::vector<std::vector<int32_t>> merged = fin;
    std::vector<float> merged_score = fin_scores;
    std::vector<bool> merged_done = fin_done;
    for (size_t k = 0; k < K; ++k) {
      bool just_finished = hit[k] && k < N;
      float s = float(double(cand_score[k]) / std::pow(double(cur_len + 1 - P), double(lp)));
      if (all_done && o.early_stopping == EarlyStopping::Immediate) s += -1e9f;
      if (!unsatisfied) s += -1e9f;
      if (!just_finished) s += -1e9f;
      merged.push_back(cand[k]);
      merged_score.push_back(s);
      merged_done.push_back(just_finished);
    }
    std::vector<size_t> fin_order(merged.size());
    std::iota(fin_order.begin(), fin_order.end(), 0);
    std::stable_sort(fin_order.begin(), fin_order.end(), [&](size_t a, size_t b) { return merged_score[a] > merged_score[b]; });
    for (size_t j = 0; j < N; ++j) {
      fin[j] = merged[fin_order[j]];
      fin_scores[j] = merged_score[fin_order[j]];
      fin_done[j] = merged_done[fin_order[j]];
    }
    for (size_t j = 0; j < N; ++j) {
      running[j] = cand[run_order[j]];
      running_scores[j] = run_score[run_order[j]];
    }
    cur_len += 1;
    size_t best_len = o.early_stopping == EarlyStopping::Never && lp > 0 ? max_length - P : cur_len - P;
    float best_possible = float(double(running_scores[0]) / std::pow(double(best_len), double(lp)));
    float min_fin = *std::min_element(fin_scores.begin(), fin_scores.end());
    bool any_better = false;
    for (size_t j = 0; j < N; ++j) any_better = any_better || best_possible > (fin_done[j] ? min_fin : -1e9f);
    unsatisfied = unsatisfied && any_better;
    all_done = std::all_of(fin_done.begin(), fin_done.end(), [](bool d) { return d; });
    bool all_hit = std::all_of(hit.begin(), hit.end(), [](bool h) { return h; });
    if (!unsatisfied || (all_done && o.early_stopping == EarlyStopping::Immediate) || all_hit) break;
  }
  std::vector<Beam> out;
  for (size_t j = 0; j < size_t(o.num_return_sequences); ++j) {
    Beam b;
    b.ids.assign(fin[j].begin() + long(P), fin[j].end());
    b.score = fin_scores[j];
    b.eos = !b.ids.empty() && is_eos(b.ids.back());
    out.push_back(b);
  }
  return out;
}

std::vector<int32_t> golden_ids(const std::string& folder, const std::string& key) {
  auto f = safetensors::File::open((test::shared_models() / folder / "golden.safetensors").string());
  Tensor t = f.tensor(key);
  std::vector<int32_t> out;
  for (int64_t i = 0; i < t.numel(); ++i) out.push_back(int32_t(t.data_as<int64_t>()[i]));
  return out;
}

struct ZooCase {
  std::string folder;
  std::vector<int32_t> eos;  // a further EOS besides the model's (empty: greedy's third token)
};

void PrintTo(const ZooCase& c, std::ostream* os) { *os << c.folder; }

class BeamSearchZoo : public ::testing::TestWithParam<ZooCase> {};

TEST_P(BeamSearchZoo, MatchesTheNaiveTransformersTranscription) {
  TF_REQUIRE_SHARED_MODELS();
  const ZooCase& c = GetParam();
  auto lm = CausalLM::load((test::shared_models() / c.folder).string());
  std::vector<int32_t> prompt = golden_ids(c.folder, "input_ids_0");
  // Random parity weights rarely pick their EOS: a token greedy decoding
  // picks early is made a second EOS, so that beams finish at several lengths.
  std::vector<int32_t> eos = eos_ids(*lm, nullptr);
  std::vector<int32_t> extra = c.eos;
  if (extra.empty()) extra.push_back(golden_ids(c.folder, "greedy_new_ids_0")[2]);
  for (int32_t t : extra)
    if (std::find(eos.begin(), eos.end(), t) == eos.end()) eos.push_back(t);
  SessionOptions so;
  so.kv_type = DType::F32;
  int finished_by_eos = 0, compared = 0;
  for (int beams : {2, 3, 4})
    for (float lp : {1.0f, 0.5f})
      for (auto mode : {EarlyStopping::Heuristic, EarlyStopping::Immediate, EarlyStopping::Never}) {
        if (mode == EarlyStopping::Never && beams != 3) continue;  // the slow one: once per model
        BeamOptions o;
        o.num_beams = beams;
        o.max_new_tokens = 10;
        o.length_penalty = lp;
        o.early_stopping = mode;
        o.num_return_sequences = beams;
        o.eos = eos;
        SCOPED_TRACE("beams " + std::to_string(beams) + " lp " + std::to_string(lp) + " mode " +
                     std::to_string(int(mode)));
        SessionBeamModel model(*lm, so);
        auto got = beam_search(model, prompt, o);
        auto want = naive_beam_search(*lm, prompt, o);
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i) {
          EXPECT_EQ(got[i].ids, want[i].ids) << "rank " << i;
          EXPECT_NEAR(got[i].score, want[i].score, 1e-4f * std::max(1.0f, std::fabs(want[i].score))) << "rank " << i;
          EXPECT_EQ(got[i].eos, want[i].eos);
          finished_by_eos += got[i].eos;
          ++compared;
        }
      }
  // the extra EOS must have mattered somewhere, or the EOS paths went untested
  EXPECT_GT(finished_by_eos, 0);
  EXPECT_LT(finished_by_eos, compared);
}

INSTANTIATE_TEST_SUITE_P(Models, BeamSearchZoo,
                         ::testing::Values(ZooCase{"parity/llama", {}}, ZooCase{"parity/gpt2", {}},
                                           ZooCase{"trained/gpt2-shakespeare", {13}}),
                         [](const ::testing::TestParamInfo<ZooCase>& info) {
                           std::string n = info.param.folder;
                           for (char& ch : n)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

TEST(BeamSearchZoo, OneBeamEqualsTheGreedyGolden) {
  TF_REQUIRE_SHARED_MODELS();
  for (std::string folder : {"parity/llama", "parity/gpt2", "trained/gpt2-shakespeare"}) {
    SCOPED_TRACE(folder);
    auto lm = CausalLM::load((test::shared_models() / folder).string());
    for (std::string seq : {"0", "1"}) {
      BeamOptions o;
      o.num_beams = 1;
      o.max_new_tokens = 48;  // the golden ignores EOS
      SessionOptions so;
      so.kv_type = DType::F32;
      auto g = generate_beams(*lm, so, golden_ids(folder, "input_ids_" + seq), o);
      ASSERT_EQ(g.beams.size(), 1u);
      EXPECT_EQ(g.beams[0].ids, golden_ids(folder, "greedy_new_ids_" + seq));
    }
  }
}

TEST(BeamSearchZoo, SessionCopyContinuesTheSameSequence) {
  TF_REQUIRE_SHARED_MODELS();
  auto lm = CausalLM::load((test::shared_models() / "parity/llama").string());
  std::vector<int32_t> prompt = golden_ids("parity/llama", "input_ids_1");
  SessionOptions so;
  so.n_ctx = 32;
  for (DType kv : {DType::F32, DType::F16}) {
    so.kv_type = kv;
    Session a(*lm, so), b(*lm, so);
    a.eval(prompt);
    b.eval(std::vector<int32_t>{5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20});  // stale rows beyond n_past
    b.copy_from(a);
    EXPECT_EQ(b.n_past(), a.n_past());
    int32_t next = 42;
    size_t V = size_t(lm->vocab_size());
    const float* pa = a.eval(&next, 1);
    std::vector<float> la(pa, pa + V);
    const float* pb = b.eval(&next, 1);
    EXPECT_EQ(la, std::vector<float>(pb, pb + V));  // the same cache rows, the same arithmetic
  }
  so.n_ctx = 16;
  Session small(*lm, so);
  so.n_ctx = 32;
  Session big(*lm, so);
  EXPECT_THROW(small.copy_from(big), Error);
}

}  // namespace
}  // namespace tf
