// Feature extraction: the last hidden state, pooled (sentence-transformers'
// mean over the attended tokens, or the first token), optionally L2-normalised.
#include <cmath>

#include "pipelines/batching.h"
#include "tf/error.h"

namespace tf::pipelines {

Pooling pooling_from_name(std::string_view name) {
  if (name == "mean") return Pooling::Mean;
  if (name == "cls") return Pooling::Cls;
  if (name == "none") return Pooling::None;
  fail("pooling '", name, "' is not one of mean, cls, none");
}

std::vector<Embedding> embed(const TextModel& m, const std::vector<std::string>& texts, Pooling pooling,
                             bool normalize) {
  const Tokenizer& tok = m.tok();
  std::vector<EncoderSequence> seqs;
  for (const std::string& t : texts)
    seqs.push_back(detail::to_sequence(detail::truncate(tok, tok.encode_with_offsets(t, detail::kRaw), m.max_tokens()),
                                       m.encoder->config()));
  std::vector<Embedding> result(texts.size());
  const size_t d = size_t(m.encoder->hidden_size());
  detail::run_batches(m, seqs, [&](size_t i, const EncoderOutput& out, size_t s) {
    Embedding& e = result[i];
    e.dim = int64_t(d);
    e.n_tokens = out.n_tokens(s);
    if (pooling == Pooling::None) {
      e.values.assign(out.row(s, 0), out.row(s, 0) + e.n_tokens * d);
    } else if (pooling == Pooling::Cls) {
      e.values.assign(out.row(s, 0), out.row(s, 0) + d);
    } else {
      e.values.assign(d, 0.0f);
      for (size_t t = 0; t < e.n_tokens; ++t)
        for (size_t j = 0; j < d; ++j) e.values[j] += out.row(s, t)[j];
      for (float& v : e.values) v /= float(e.n_tokens);
    }
    if (normalize) {
      // torch.nn.functional.normalize: x / max(||x||, 1e-12), per vector
      for (size_t r = 0; r < e.values.size() / d; ++r) {
        float* v = &e.values[r * d];
        double ss = 0;
        for (size_t j = 0; j < d; ++j) ss += double(v[j]) * v[j];
        float norm = std::max(float(std::sqrt(ss)), 1e-12f);
        for (size_t j = 0; j < d; ++j) v[j] /= norm;
      }
    }
  });
  return result;
}

}  // namespace tf::pipelines
