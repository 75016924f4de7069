// Text classification (TextClassificationPipeline) and NLI-based zero-shot
// classification (ZeroShotClassificationPipeline) on a sequence-
// classification head.
#include <cctype>
#include <numeric>

#include <nlohmann/json.hpp>

#include "pipelines/batching.h"
#include "tf/error.h"

namespace tf::pipelines {
namespace {

Encoding encode_pair(const TextModel& m, const std::string& a, const std::string* b) {
  const Tokenizer& tok = m.tok();
  Encoding ea = tok.encode_with_offsets(a, detail::kRaw);
  if (!b) return detail::truncate(tok, ea, m.max_tokens());
  Encoding eb = tok.encode_with_offsets(*b, detail::kRaw);
  // truncation="only_first", as the zero-shot pipeline asks
  size_t room = m.max_tokens();
  size_t fixed = eb.size() + tok.num_added_tokens(true);
  if (fixed >= room) fail("the second text alone fills the model's ", room, " tokens");
  if (ea.size() + fixed > room) {
    Encoding cut;
    for (size_t i = 0; i < room - fixed; ++i)
      cut.append(ea.ids[i], ea.type_ids[i], ea.sequence_ids[i], ea.word_ids[i], ea.offsets[i]);
    ea = std::move(cut);
  }
  return tok.post_process(ea, &eb);
}

std::vector<std::vector<float>> sequence_logits(const TextModel& m, const std::vector<EncoderSequence>& seqs) {
  const size_t L = size_t(m.encoder->num_labels());
  std::vector<std::vector<float>> logits(seqs.size(), std::vector<float>(L));
  detail::run_batches(m, seqs, [&](size_t i, const EncoderOutput& out, size_t s) {
    m.encoder->sequence_logits(out.row(s, 0), out.n_tokens(s), logits[i].data());
  });
  return logits;
}

}  // namespace

ScoreFunction score_function_from_name(std::string_view name) {
  if (name == "auto") return ScoreFunction::Auto;
  if (name == "softmax") return ScoreFunction::Softmax;
  if (name == "sigmoid") return ScoreFunction::Sigmoid;
  if (name == "none") return ScoreFunction::None;
  fail("function '", name, "' is not one of auto, softmax, sigmoid, none");
}

std::vector<std::vector<LabelScore>> classify(const TextModel& m, const std::vector<TextInput>& inputs, size_t top_k,
                                              ScoreFunction fn) {
  const hf::Config& c = m.encoder->config();
  if (m.encoder->head() != EncoderHead::SequenceClassification)
    fail(m.encoder->path(), ": classify needs a *ForSequenceClassification model, this one is ",
         encoder_head_name(m.encoder->head()));
  if (fn == ScoreFunction::Auto) {
    std::string problem;
    if (c.raw && c.raw->contains("problem_type") && (*c.raw)["problem_type"].is_string())
      problem = (*c.raw)["problem_type"].get<std::string>();
    fn = problem == "multi_label_classification" || m.encoder->num_labels() == 1 ? ScoreFunction::Sigmoid
                                                                                 : ScoreFunction::Softmax;
  }
  std::vector<EncoderSequence> seqs;
  for (const TextInput& in : inputs)
    seqs.push_back(detail::to_sequence(encode_pair(m, in.text, in.text_pair ? &*in.text_pair : nullptr), c));
  std::vector<std::vector<float>> logits = sequence_logits(m, seqs);
  std::vector<std::vector<LabelScore>> result;
  for (const std::vector<float>& l : logits) {
    std::vector<float> p = l;
    if (fn == ScoreFunction::Softmax) p = detail::softmax(l.data(), l.size());
    if (fn == ScoreFunction::Sigmoid)
      for (float& v : p) v = detail::sigmoid(v);
    std::vector<LabelScore> scores;
    for (size_t k = 0; k < p.size(); ++k) scores.push_back({label_name(c, int64_t(k)), p[k]});
    std::stable_sort(scores.begin(), scores.end(), [](const LabelScore& a, const LabelScore& b) { return a.score > b.score; });
    if (top_k > 0 && scores.size() > top_k) scores.resize(top_k);
    result.push_back(std::move(scores));
  }
  return result;
}

int64_t entailment_id(const hf::Config& c) {
  for (const auto& [id, label] : c.id2label) {
    std::string lower = label;
    for (char& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    if (lower.starts_with("entail")) return id;
  }
  return -1;
}

std::vector<ZeroShotResult> zero_shot(const TextModel& m, const std::vector<ZeroShotInput>& inputs,
                                      const std::string& hypothesis_template, bool multi_label) {
  const hf::Config& c = m.encoder->config();
  if (m.encoder->head() != EncoderHead::SequenceClassification)
    fail(m.encoder->path(), ": zero-shot needs an NLI *ForSequenceClassification model");
  const size_t brace = hypothesis_template.find("{}");
  if (brace == std::string::npos) fail("the hypothesis template '", hypothesis_template, "' has no {} for the label");
  const int64_t n_classes = m.encoder->num_labels();
  int64_t entail = entailment_id(c);
  if (entail < 0) entail = n_classes - 1;  // transformers indexes [..., -1]
  if (entail >= n_classes) fail("the entailment label id ", entail, " is outside the ", n_classes, " classes");
  const int64_t contradiction = entail == 0 ? n_classes - 1 : 0;  // transformers: -1 if entailment is 0, else 0

  std::vector<EncoderSequence> seqs;
  for (const ZeroShotInput& in : inputs) {
    if (in.labels.empty()) fail("zero-shot: no candidate labels");
    for (const std::string& label : in.labels) {
      std::string hypothesis = hypothesis_template;
      hypothesis.replace(brace, 2, label);
      seqs.push_back(detail::to_sequence(encode_pair(m, in.text, &hypothesis), c));
    }
  }
  std::vector<std::vector<float>> logits = sequence_logits(m, seqs);
  std::vector<ZeroShotResult> result;
  size_t next = 0;
  for (const ZeroShotInput& in : inputs) {
    const size_t n = in.labels.size();
    std::vector<float> scores(n);
    if (!multi_label && n > 1) {
      std::vector<float> e(n);
      for (size_t k = 0; k < n; ++k) e[k] = logits[next + k][size_t(entail)];
      scores = detail::softmax(e.data(), n);
    } else {
      for (size_t k = 0; k < n; ++k) {
        float pair[2] = {logits[next + k][size_t(contradiction)], logits[next + k][size_t(entail)]};
        scores[k] = detail::softmax(pair, 2)[1];
      }
    }
    next += n;
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    ZeroShotResult r;
    for (size_t k : order) {
      r.labels.push_back(in.labels[k]);
      r.scores.push_back(scores[k]);
    }
    result.push_back(std::move(r));
  }
  return result;
}

}  // namespace tf::pipelines
