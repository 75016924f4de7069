// Extractive question answering as transformers' QuestionAnsweringPipeline:
// question + context windows (truncation only_second, doc stride), start/end
// probabilities outside the context masked, spans scored start·end over
// answers of at most max_answer_len tokens, widened to whole words.
#include <numeric>

#include "pipelines/batching.h"
#include "tf/error.h"

namespace tf::pipelines {
namespace {

struct Window {
  size_t input = 0;
  Encoding enc;
};

Encoding slice(const Encoding& e, size_t b, size_t end) {
  Encoding out;
  for (size_t i = b; i < end; ++i) out.append(e.ids[i], e.type_ids[i], e.sequence_ids[i], e.word_ids[i], e.offsets[i]);
  return out;
}

// HF tokenizers' overflow: windows of `len` tokens starting every len - stride.
std::vector<std::pair<size_t, size_t>> windows(size_t total, size_t len, size_t stride) {
  std::vector<std::pair<size_t, size_t>> w;
  const size_t step = len - stride;
  for (size_t start = 0;; start += step) {
    size_t stop = std::min(total, start + len);
    w.push_back({start, stop});
    if (stop == total) break;
  }
  return w;
}

// [start, end) characters of the context covered by the words of tokens s and e
std::pair<size_t, size_t> answer_span(const Encoding& e, size_t s, size_t t) {
  size_t b = e.offsets[s].first, en = e.offsets[t].second;
  // align_to_words: extend to the first / last token of the same words
  for (size_t k = 0; k < e.size(); ++k) {
    if (e.sequence_ids[k] != 1) continue;
    if (e.word_ids[k] == e.word_ids[s]) b = std::min<size_t>(b, e.offsets[k].first);
    if (e.word_ids[k] == e.word_ids[t]) en = std::max<size_t>(en, e.offsets[k].second);
  }
  return {b, en};
}

}  // namespace

std::vector<std::vector<Answer>> answer_questions(const TextModel& m, const std::vector<QaInput>& inputs,
                                                  const QaOptions& o) {
  const Tokenizer& tok = m.tok();
  if (m.encoder->head() != EncoderHead::QuestionAnswering)
    fail(m.encoder->path(), ": qa needs a *ForQuestionAnswering model, this one is ", encoder_head_name(m.encoder->head()));
  const size_t max_len = std::min(o.max_seq_len, m.max_tokens());
  const size_t stride = std::min(o.doc_stride, max_len / 2);
  std::vector<Window> wins;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Encoding q = tok.encode_with_offsets(inputs[i].question, detail::kRaw);
    Encoding ctx = tok.encode_with_offsets(inputs[i].context, detail::kRaw);
    size_t added = tok.num_added_tokens(true);
    if (q.size() + added + 1 > max_len)
      fail("qa: the question (", q.size(), " tokens) leaves no room for the context in ", max_len, " tokens");
    size_t room = max_len - q.size() - added;
    if (ctx.size() == 0) fail("qa: empty context");
    size_t s = std::min(stride, room - 1);
    for (auto [b, e] : windows(ctx.size(), room, s)) {
      Encoding part = slice(ctx, b, e);
      wins.push_back({i, tok.post_process(q, &part)});
    }
  }
  std::vector<EncoderSequence> seqs;
  for (const Window& w : wins) seqs.push_back(detail::to_sequence(w.enc, m.encoder->config()));

  std::vector<std::vector<Answer>> all(inputs.size());
  std::vector<float> min_null(inputs.size(), 1e6f);
  detail::run_batches(m, seqs, [&](size_t wi, const EncoderOutput& out, size_t s) {
    const Encoding& e = wins[wi].enc;
    const QaInput& in = inputs[wins[wi].input];
    const size_t n = e.size();
    std::vector<float> start(n), end(n);
    m.encoder->qa_logits(out.row(s, 0), n, start.data(), end.data());
    // p_mask: everything but the context; [CLS] stays a candidate until masked below
    std::vector<uint8_t> wanted(n);
    for (size_t k = 0; k < n; ++k) wanted[k] = e.sequence_ids[k] == 1;
    for (size_t k = 0; k < n; ++k)
      if (!wanted[k]) start[k] = end[k] = -10000.0f;
    std::vector<float> ps = detail::softmax(start.data(), n), pe = detail::softmax(end.data(), n);
    if (o.handle_impossible_answer) min_null[wins[wi].input] = std::min(min_null[wins[wi].input], ps[0] * pe[0]);
    ps[0] = pe[0] = 0.0f;
    struct Cand {
      float score;
      size_t s, e;
    };
    std::vector<Cand> cands;
    for (size_t a = 0; a < n; ++a)
      for (size_t b = a; b < std::min(n, a + o.max_answer_len); ++b)
        cands.push_back({ps[a] * pe[b], a, b});
    // the flattened [start, end] matrix in row order, best first (numpy's argsort of -scores)
    std::stable_sort(cands.begin(), cands.end(), [](const Cand& x, const Cand& y) { return x.score > y.score; });
    if (cands.size() > o.top_k) cands.resize(o.top_k);
    for (const Cand& cd : cands) {
      if (!wanted[cd.s] || !wanted[cd.e]) continue;
      auto [b, en] = answer_span(e, cd.s, cd.e);
      Answer a;
      a.score = cd.score;
      a.start = char_index(in.context, b);
      a.end = char_index(in.context, en);
      a.answer = in.context.substr(b, en - b);
      all[wins[wi].input].push_back(std::move(a));
    }
  });
  for (size_t i = 0; i < all.size(); ++i) {
    if (o.handle_impossible_answer) all[i].push_back({min_null[i], 0, 0, ""});
    std::stable_sort(all[i].begin(), all[i].end(), [](const Answer& a, const Answer& b) { return a.score > b.score; });
    if (all[i].size() > o.top_k) all[i].resize(o.top_k);
  }
  return all;
}

}  // namespace tf::pipelines
