// Fill-mask as transformers' FillMaskPipeline: softmax over the vocabulary at
// each mask token, the top k with their decoded token and the input with the
// token in place (special tokens dropped when the input has one mask).
#include <numeric>

#include "pipelines/batching.h"
#include "tf/error.h"

namespace tf::pipelines {
namespace {

TokenId mask_token(const Tokenizer& tok) {
  for (const char* p : {"[MASK]", "<mask>", "[mask]"})
    if (auto id = tok.find(p)) return *id;
  fail("the tokenizer has no mask token ([MASK] or <mask>)");
}

}  // namespace

std::vector<std::vector<MaskPrediction>> fill_mask(const TextModel& m, const std::vector<std::string>& texts,
                                                   size_t top_k) {
  const Tokenizer& tok = m.tok();
  const TokenId mask = mask_token(tok);
  std::vector<EncoderSequence> seqs;
  for (const std::string& t : texts) {
    Encoding e = tok.encode_with_offsets(t, detail::kWithSpecials);
    if (std::find(e.ids.begin(), e.ids.end(), mask) == e.ids.end())
      fail("fill-mask: no ", tok.piece(mask), " token in \"", t, "\"");
    if (e.size() > m.max_tokens()) fail("fill-mask: ", e.size(), " tokens exceed the model's ", m.max_tokens());
    seqs.push_back(detail::to_sequence(e, m.encoder->config()));
  }
  const size_t V = size_t(m.encoder->mlm_vocab());
  std::vector<std::vector<MaskPrediction>> result(texts.size());
  std::vector<float> logits(V);
  detail::run_batches(m, seqs, [&](size_t i, const EncoderOutput& out, size_t s) {
    const std::vector<TokenId>& ids = seqs[i].ids;
    const size_t n_masks = size_t(std::count(ids.begin(), ids.end(), mask));
    for (size_t t = 0; t < ids.size(); ++t) {
      if (ids[t] != mask) continue;
      m.encoder->mlm_logits(out.row(s, t), 1, logits.data());
      std::vector<float> p = detail::softmax(logits.data(), V);
      std::vector<int32_t> order(V);
      std::iota(order.begin(), order.end(), 0);
      size_t k = std::min(top_k, V);
      std::partial_sort(order.begin(), order.begin() + ptrdiff_t(k), order.end(),
                        [&](int32_t a, int32_t b) { return p[size_t(a)] > p[size_t(b)] || (p[size_t(a)] == p[size_t(b)] && a < b); });
      MaskPrediction pred;
      pred.position = t;
      for (size_t r = 0; r < k; ++r) {
        MaskCandidate c;
        c.token = order[r];
        c.score = p[size_t(c.token)];
        TokenId one[1] = {c.token};
        c.token_str = tok.decode(one);
        std::vector<TokenId> filled = ids;
        filled[t] = c.token;
        if (auto pad = m.encoder->config().pad_token_id)
          filled.erase(std::remove(filled.begin(), filled.end(), TokenId(*pad)), filled.end());
        c.sequence = tok.decode(filled, DecodeOptions{n_masks == 1});
        pred.candidates.push_back(std::move(c));
      }
      result[i].push_back(std::move(pred));
    }
  });
  return result;
}

}  // namespace tf::pipelines
