// Beam search with transformers' rules (the vectorised `_beam_search` of
// transformers >= 4.50 and 5.x); docs/tf-run.md "Beam search" states them.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "tf/error.h"
#include "tf/generate.h"
#include "tf/log.h"

namespace tf {
namespace {

// transformers' stand-in score for "no beam here" (dead beams, empty slots).
constexpr float kNoScore = -1.0e9f;

struct Candidate {
  float score;     // accumulated log-probability
  uint32_t beam;   // running beam it extends
  int32_t token;
};

// Candidate order: higher score first; ties go to the lower position in the
// flattened [beam][vocab] grid, the order torch.topk reports them in.
bool better(const Candidate& a, const Candidate& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.beam != b.beam) return a.beam < b.beam;
  return a.token < b.token;
}

// Adds row `beam`'s best k continuations to `top` (kept sorted, at most k
// long). Only a row's own top k can reach the global top k, so no
// [beams × vocab] array is built.
void collect_top(const float* logits, size_t V, float beam_score, uint32_t beam, size_t k,
                 std::vector<Candidate>& top) {
  // log_softmax in float32 like torch, with the normaliser summed in double
  float mx = *std::max_element(logits, logits + V);
  double sum = 0;
  for (size_t v = 0; v < V; ++v) sum += std::exp(double(logits[v]) - double(mx));
  float log_z = float(double(mx) + std::log(sum));
  for (size_t v = 0; v < V; ++v) {
    Candidate c{beam_score + (logits[v] - log_z), beam, int32_t(v)};
    if (top.size() == k && !better(c, top.back())) continue;
    auto at = std::upper_bound(top.begin(), top.end(), c, better);
    top.insert(at, c);
    if (top.size() > k) top.pop_back();
  }
}

}  // namespace

std::vector<Beam> beam_search(BeamModel& model, const std::vector<int32_t>& prompt, const BeamOptions& o) {
  if (prompt.empty()) fail("beam search: the prompt has no tokens");
  if (o.num_beams < 1) fail("beam search: the number of beams must be at least 1");
  if (o.max_new_tokens < 1) fail("beam search: the number of new tokens must be at least 1");
  if (o.num_return_sequences < 1 || o.num_return_sequences > o.num_beams)
    fail("beam search: --num-return-sequences must be between 1 and the number of beams (", o.num_beams, ")");
  const size_t N = size_t(o.num_beams), V = model.vocab_size();
  std::vector<int32_t> eos = o.eos;
  std::sort(eos.begin(), eos.end());
  eos.erase(std::unique(eos.begin(), eos.end()), eos.end());
  auto is_eos = [&](int32_t t) { return std::binary_search(eos.begin(), eos.end(), t); };
  // transformers keeps max(2, 1 + #eos)·N candidates so that N of them can
  // always go on; one beam is greedy search (num_beams=1 is dispatched to it).
  const size_t K = N == 1 ? 1 : std::max<size_t>(2, 1 + eos.size()) * N;
  if (K > V) fail("beam search: ", K, " candidates per step need a vocabulary of at least that size (", V, ")");
  const double lp = double(o.length_penalty);
  // float32 division by a python float, as transformers scores its beams
  auto normalise = [lp](float score, size_t len) { return float(double(score) / std::pow(double(len), lp)); };

  struct Running {
    std::vector<int32_t> ids;
    float score;
  };
  std::vector<Running> running(1, Running{{}, 0.0f});  // the N-1 other beams start dead (-1e9): never chosen
  std::vector<Beam> finished;                           // best first, at most N
  std::vector<Candidate> top;
  std::vector<int32_t> parent, token;
  std::vector<Running> next;
  const float* logits = model.start(prompt, o.num_beams);
  bool improvable = true;
  for (size_t t = 0;; ++t) {
    top.clear();
    for (size_t b = 0; b < running.size(); ++b) collect_top(logits + b * V, V, running[b].score, uint32_t(b), K, top);
    const size_t len = t + 1;  // generated tokens of every candidate, its new token included
    const bool at_max = len >= size_t(o.max_new_tokens);
    next.clear();
    parent.clear();
    token.clear();
    std::vector<Beam> done;
    bool all_hit = true;
    for (size_t r = 0; r < top.size(); ++r) {
      const Candidate& c = top[r];
      bool hit = at_max || is_eos(c.token);
      all_hit = all_hit && hit;
      std::vector<int32_t> ids = running[c.beam].ids;
      ids.push_back(c.token);
      if (hit) {
        // only the top N candidates may finish; the others only back up the running set
        if (r < N) done.push_back(Beam{std::move(ids), normalise(c.score, len), is_eos(c.token)});
      } else if (next.size() < N) {
        next.push_back(Running{std::move(ids), c.score});
        parent.push_back(int32_t(c.beam));
        token.push_back(c.token);
      }
    }
    // Finished beams so far come before new ones of equal score (topk over
    // the concatenation [finished, new]).
    finished.insert(finished.end(), done.begin(), done.end());
    std::stable_sort(finished.begin(), finished.end(), [](const Beam& a, const Beam& b) { return a.score > b.score; });
    if (finished.size() > N) finished.resize(N);
    if (all_hit || next.empty()) break;
    running.swap(next);

    // Can a running beam still beat the worst of N finished ones? The best
    // running beam, scored at the current length (or, for "never" with a
    // positive penalty, at the longest possible one), is the estimate.
    size_t best_len = o.early_stopping == EarlyStopping::Never && lp > 0 ? size_t(o.max_new_tokens) : len;
    float best_possible = normalise(running[0].score, best_len);
    float worst_finished = finished.size() == N ? finished.back().score : kNoScore;
    improvable = improvable && best_possible > worst_finished;
    if (!improvable) break;
    if (o.early_stopping == EarlyStopping::Immediate && finished.size() == N) break;
    logits = model.step(parent, token);
  }
  finished.resize(std::min(finished.size(), size_t(o.num_return_sequences)));
  return finished;
}

// ---------------------------------------------------------------- sessions

SessionBeamModel::SessionBeamModel(const CausalLM& model, const SessionOptions& options)
    : model_(model), options_(options) {
  sessions_.push_back(std::make_unique<Session>(model_, options_));
}

SessionBeamModel::~SessionBeamModel() = default;

size_t SessionBeamModel::vocab_size() const { return size_t(model_.vocab_size()); }

const float* SessionBeamModel::start(const std::vector<int32_t>& prompt, int32_t num_beams) {
  while (sessions_.size() < size_t(num_beams)) sessions_.push_back(std::make_unique<Session>(model_, options_));
  for (auto& s : sessions_) s->reset();
  slot_.assign(1, 0);
  auto t0 = std::chrono::steady_clock::now();
  const float* l = sessions_[0]->eval(prompt);
  prompt_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  logits_.assign(l, l + vocab_size());
  return logits_.data();
}

const float* SessionBeamModel::step(const std::vector<int32_t>& parent, const std::vector<int32_t>& token) {
  const size_t n = parent.size(), V = vocab_size();
  if (n > sessions_.size() || token.size() != n) fail("beam step: ", n, " beams for ", sessions_.size(), " sessions");
  constexpr size_t none = std::numeric_limits<size_t>::max();
  std::vector<size_t> slot(n, none);
  std::vector<bool> kept(sessions_.size(), false);
  for (size_t i = 0; i < n; ++i) {
    size_t s = slot_.at(size_t(parent[i]));
    if (!kept[s]) {
      kept[s] = true;
      slot[i] = s;
    }
  }
  // Sessions no child kept are free. Copy before any eval: the sources are
  // kept sessions, which still hold their parent's history.
  size_t free_slot = 0;
  for (size_t i = 0; i < n; ++i) {
    if (slot[i] != none) continue;
    while (kept[free_slot]) ++free_slot;
    kept[free_slot] = true;
    sessions_[free_slot]->copy_from(*sessions_[slot_[size_t(parent[i])]]);
    slot[i] = free_slot;
  }
  slot_ = std::move(slot);
  logits_.resize(n * V);
  for (size_t i = 0; i < n; ++i) {
    const float* l = sessions_[slot_[i]]->eval(&token[i], 1);
    std::memcpy(&logits_[i * V], l, V * sizeof(float));
  }
  tokens_evaluated_ += int64_t(n);
  return logits_.data();
}

BeamGeneration generate_beams(const CausalLM& model, const SessionOptions& session, const std::vector<int32_t>& prompt,
                              BeamOptions options) {
  SessionBeamModel beams(model, session);
  int64_t n_ctx = beams.n_ctx(), P = int64_t(prompt.size());
  if (P > n_ctx) fail("the prompt has ", P, " tokens, more than the context of ", n_ctx, " (raise -c)");
  // The last step's tokens are scored but never evaluated: one token more than the cache holds fits.
  int64_t room = n_ctx - P + 1;
  if (options.max_new_tokens < 0) {
    options.max_new_tokens = int32_t(room);
  } else if (options.max_new_tokens > room) {
    log("warning: only ", room, " new tokens fit in the context of ", n_ctx, " tokens; beams stop there (raise -c)");
    options.max_new_tokens = int32_t(room);
  }
  BeamGeneration g;
  g.prompt_tokens = P;
  auto t0 = std::chrono::steady_clock::now();
  g.beams = beam_search(beams, prompt, options);
  double total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  g.timings.prompt_ms = beams.prompt_ms();
  g.timings.gen_ms = total_ms - beams.prompt_ms();
  g.timings.prompt_tok_per_s = g.timings.prompt_ms > 0 ? double(P) * 1000.0 / g.timings.prompt_ms : 0;
  g.timings.gen_tok_per_s = g.timings.gen_ms > 0 ? double(beams.tokens_evaluated()) * 1000.0 / g.timings.gen_ms : 0;
  return g;
}

}  // namespace tf
