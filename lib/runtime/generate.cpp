#include <chrono>
#include <algorithm>
#include <cmath>
#include <optional>

#include "tf/error.h"
#include "tf/generate.h"
#include "tf/log.h"

namespace tf {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Length of the longest suffix of `text` that begins some stop string: that
// much is held back, since the next token may complete the stop string.
size_t held_back(const std::string& text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const auto& s : stops)
    for (size_t k = std::min(s.size() - 1, text.size()); k > hold; --k)
      if (text.compare(text.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
  return hold;
}

}  // namespace

std::vector<int32_t> eos_ids(const CausalLM& model, const Tokenizer* tokenizer) {
  std::vector<int32_t> eos;
  auto add = [&eos](int64_t id) {
    if (id >= 0 && std::find(eos.begin(), eos.end(), int32_t(id)) == eos.end()) eos.push_back(int32_t(id));
  };
  for (int64_t id : model.config().eos_token_ids) add(id);
  if (tokenizer) add(tokenizer->eos());
  return eos;
}

Generation generate(Session& session, const Tokenizer* tokenizer, const std::vector<int32_t>& prompt,
                    const GenerateOptions& options, const std::function<void(int32_t, const std::string&)>& on_token) {
  if (prompt.empty()) fail("generate: the prompt has no tokens");
  for (const auto& s : options.stop)
    if (s.empty()) fail("generate: empty stop string");
  const CausalLM& model = session.model();
  size_t vocab = size_t(model.vocab_size());
  std::vector<int32_t> eos = eos_ids(model, tokenizer);

  Generation g;
  g.prompt_tokens = int64_t(prompt.size());
  auto t0 = std::chrono::steady_clock::now();
  const float* logits = session.eval(prompt);
  g.timings.prompt_ms = ms_since(t0);

  Sampler sampler(options.sampling);
  std::vector<int32_t> history = prompt;
  std::optional<StreamDecoder> stream;
  if (tokenizer) stream.emplace(*tokenizer, DecodeOptions{false});
  std::string pending;  // decoded, not yet passed on
  auto t1 = std::chrono::steady_clock::now();
  g.stop_reason = "length";
  for (int32_t i = 0; options.n_predict < 0 || i < options.n_predict; ++i) {
    int32_t id = sampler.sample(logits, vocab, history);
    bool is_eos = std::find(eos.begin(), eos.end(), id) != eos.end();
    if (is_eos && !options.ignore_eos) {
      g.stop_reason = "eos";
      break;
    }
    g.ids.push_back(id);
    history.push_back(id);
    std::string emit;
    if (stream) {
      pending += stream->push(id);
      size_t cut = std::string::npos;
      for (const auto& s : options.stop) cut = std::min(cut, pending.find(s));
      if (cut != std::string::npos) {
        emit = pending.substr(0, cut);
        g.text += emit;
        pending.clear();
        if (on_token) on_token(id, emit);
        g.stop_reason = "stop";
        break;
      }
      size_t hold = held_back(pending, options.stop);
      emit = pending.substr(0, pending.size() - hold);
      pending.erase(0, pending.size() - hold);
      g.text += emit;
    }
    if (on_token) on_token(id, emit);
    if (options.n_predict >= 0 && i + 1 >= options.n_predict) break;
    if (session.n_past() >= session.n_ctx()) {
      log("warning: the context of ", session.n_ctx(), " tokens is full; stopping (raise -c for longer generations)");
      g.stop_reason = "context_full";
      break;
    }
    logits = session.eval(&id, 1);
  }
  if (stream && g.stop_reason != "stop") g.text += pending + stream->finish();
  g.timings.gen_ms = ms_since(t1);
  g.timings.prompt_tok_per_s = g.timings.prompt_ms > 0 ? double(prompt.size()) * 1000.0 / g.timings.prompt_ms : 0;
  g.timings.gen_tok_per_s = g.timings.gen_ms > 0 ? double(g.ids.size()) * 1000.0 / g.timings.gen_ms : 0;
  return g;
}

PerplexityResult perplexity(const CausalLM& model, const std::vector<int32_t>& tokens, int64_t n_ctx, int32_t bos,
                            const SessionOptions& cache) {
  if (n_ctx < 2) fail("perplexity: the context (-c) must be at least 2 tokens");
  SessionOptions so = cache;
  so.n_ctx = n_ctx;
  so.n_batch = n_ctx;
  Session session(model, so);
  size_t V = size_t(model.vocab_size());
  PerplexityResult r;
  double nll = 0;
  size_t step = bos >= 0 ? size_t(n_ctx - 1) : size_t(n_ctx);
  std::vector<int32_t> window;
  ForwardOutputs out;
  out.want_all_logits = true;
  for (size_t start = 0; start < tokens.size(); start += step) {
    size_t n = std::min(step, tokens.size() - start);
    window.clear();
    if (bos >= 0) window.push_back(bos);
    window.insert(window.end(), tokens.begin() + long(start), tokens.begin() + long(start + n));
    if (window.size() < 2) break;
    session.reset();
    session.eval(window, &out);
    // position i predicts window[i + 1]
    for (size_t i = 0; i + 1 < window.size(); ++i) {
      const float* l = &out.logits[i * V];
      double mx = l[0];
      for (size_t j = 1; j < V; ++j) mx = std::max(mx, double(l[j]));
      double sum = 0;
      for (size_t j = 0; j < V; ++j) sum += std::exp(double(l[j]) - mx);
      nll += mx + std::log(sum) - double(l[window[i + 1]]);
      ++r.n_tokens;
    }
    ++r.n_windows;
  }
  if (r.n_tokens == 0) fail("perplexity: the text has fewer than 2 tokens");
  r.nll = nll / double(r.n_tokens);
  r.ppl = std::exp(r.nll);
  return r;
}

}  // namespace tf
