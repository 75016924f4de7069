// Token classification (NER / POS) as transformers' TokenClassificationPipeline:
// softmax per token, then aggregation none / simple / first / average / max
// into entities with character spans.
#include <numeric>

#include "pipelines/batching.h"
#include "tf/error.h"

namespace tf::pipelines {
namespace {

struct PreEntity {
  TokenId id = -1;
  std::string word;  // the vocabulary piece (or the text, for the unknown token)
  std::vector<float> scores;
  size_t start = 0, end = 0;  // characters
  int64_t index = 0;
  bool is_subword = false;
};

struct Scored {
  std::string entity;
  float score = 0;
  int64_t index = -1;
  std::vector<TokenId> ids;  // the tokens it spans, for its text
  size_t start = 0, end = 0;
};

size_t argmax(const std::vector<float>& v) { return size_t(std::max_element(v.begin(), v.end()) - v.begin()); }

// convert_tokens_to_string: the tokenizer's decoder over the pieces
std::string tokens_text(const Tokenizer& tok, const std::vector<TokenId>& ids) { return tok.decode(ids); }

// get_tag: "B-PER" -> (B, PER), "I-PER" -> (I, PER), anything else -> (I, it)
std::pair<char, std::string> tag_of(const std::string& e) {
  if (e.starts_with("B-")) return {'B', e.substr(2)};
  if (e.starts_with("I-")) return {'I', e.substr(2)};
  return {'I', e};
}

Entity group_sub_entities(const Tokenizer& tok, const std::vector<Scored>& group) {
  Entity g;
  const std::string& first = group.front().entity;
  size_t dash = first.find('-');
  g.entity = dash == std::string::npos ? first : first.substr(dash + 1);
  double sum = 0;
  std::vector<TokenId> ids;
  for (const Scored& s : group) {
    sum += s.score;
    ids.insert(ids.end(), s.ids.begin(), s.ids.end());
  }
  g.score = float(sum / double(group.size()));
  g.word = tokens_text(tok, ids);
  g.start = group.front().start;
  g.end = group.back().end;
  return g;
}

std::vector<Entity> group_entities(const Tokenizer& tok, const std::vector<Scored>& entities) {
  std::vector<Entity> groups;
  std::vector<Scored> current;
  for (const Scored& e : entities) {
    if (current.empty()) {
      current.push_back(e);
      continue;
    }
    auto [bi, tag] = tag_of(e.entity);
    auto [last_bi, last_tag] = tag_of(current.back().entity);
    if (tag == last_tag && bi != 'B') {
      current.push_back(e);
    } else {
      groups.push_back(group_sub_entities(tok, current));
      current = {e};
    }
  }
  if (!current.empty()) groups.push_back(group_sub_entities(tok, current));
  return groups;
}

Scored aggregate_word(const hf::Config& c, const std::vector<PreEntity>& word, Aggregation how) {
  Scored s;
  std::vector<float> scores;
  if (how == Aggregation::First) {
    scores = word.front().scores;
  } else if (how == Aggregation::Max) {
    size_t best = 0;
    float best_score = -1;
    for (size_t i = 0; i < word.size(); ++i) {
      float mx = *std::max_element(word[i].scores.begin(), word[i].scores.end());
      if (mx > best_score) best_score = mx, best = i;
    }
    scores = word[best].scores;
  } else {
    scores.assign(word.front().scores.size(), 0.0f);
    for (const PreEntity& p : word)
      for (size_t k = 0; k < scores.size(); ++k) scores[k] += p.scores[k];
    for (float& v : scores) v /= float(word.size());
  }
  size_t k = argmax(scores);
  s.entity = label_name(c, int64_t(k));
  s.score = scores[k];
  for (const PreEntity& p : word) s.ids.push_back(p.id);
  s.start = word.front().start;
  s.end = word.back().end;
  return s;
}

}  // namespace

Aggregation aggregation_from_name(std::string_view name) {
  if (name == "none") return Aggregation::None;
  if (name == "simple") return Aggregation::Simple;
  if (name == "first") return Aggregation::First;
  if (name == "average") return Aggregation::Average;
  if (name == "max") return Aggregation::Max;
  fail("aggregation '", name, "' is not one of none, simple, first, average, max");
}

std::vector<std::vector<Entity>> token_classify(const TextModel& m, const std::vector<std::string>& texts,
                                                Aggregation aggregation, const std::vector<std::string>& ignore) {
  const hf::Config& c = m.encoder->config();
  const Tokenizer& tok = m.tok();
  if (m.encoder->head() != EncoderHead::TokenClassification)
    fail(m.encoder->path(), ": token-classify needs a *ForTokenClassification model, this one is ",
         encoder_head_name(m.encoder->head()));
  // A WordPiece vocabulary marks continuations ("##"); elsewhere a token is
  // part of the previous word when no space precedes it (transformers'
  // heuristic for tokenizers without a continuing-subword prefix).
  const bool wordpiece = tok.algorithm() == TokenizerAlgorithm::WordPiece;
  std::vector<Encoding> encodings;
  std::vector<EncoderSequence> seqs;
  for (const std::string& t : texts) {
    Encoding e = tok.encode_with_offsets(t, detail::kWithSpecials);
    if (e.size() > m.max_tokens()) fail("token-classify: ", e.size(), " tokens exceed the model's ", m.max_tokens());
    seqs.push_back(detail::to_sequence(e, c));
    encodings.push_back(std::move(e));
  }
  const size_t L = size_t(m.encoder->num_labels());
  std::vector<std::vector<Entity>> result(texts.size());
  detail::run_batches(m, seqs, [&](size_t i, const EncoderOutput& out, size_t s) {
    const Encoding& e = encodings[i];
    const std::string& text = texts[i];
    std::vector<float> logits(out.n_tokens(s) * L);
    m.encoder->token_logits(out.row(s, 0), out.n_tokens(s), logits.data());
    std::vector<PreEntity> pre;
    for (size_t t = 0; t < e.size(); ++t) {
      if (e.sequence_ids[t] < 0 || tok.is_special(e.ids[t])) continue;  // special_tokens_mask
      PreEntity p;
      p.id = e.ids[t];
      p.index = int64_t(t);
      p.scores = detail::softmax(&logits[t * L], L);
      auto [b, en] = e.offsets[t];
      p.start = char_index(text, b);
      p.end = char_index(text, en);
      std::string ref = text.substr(b, en - b);
      p.word = tok.piece(p.id);
      if (wordpiece) {
        p.is_subword = char_index(p.word, p.word.size()) != char_index(ref, ref.size());
      } else {
        p.is_subword = b > 0 && text[b - 1] != ' ' && text[b] != ' ';
      }
      if (p.id == tok.unk()) {
        p.word = ref;
        p.is_subword = false;
      }
      pre.push_back(std::move(p));
    }
    std::vector<Scored> scored;
    if (aggregation == Aggregation::None || aggregation == Aggregation::Simple) {
      for (const PreEntity& p : pre) {
        Scored s;
        size_t k = argmax(p.scores);
        s.entity = label_name(c, int64_t(k));
        s.score = p.scores[k];
        s.index = p.index;
        s.ids = {p.id};
        s.start = p.start;
        s.end = p.end;
        scored.push_back(std::move(s));
      }
    } else {
      std::vector<PreEntity> word;
      for (const PreEntity& p : pre) {
        if (!word.empty() && !p.is_subword) {
          scored.push_back(aggregate_word(c, word, aggregation));
          word.clear();
        }
        word.push_back(p);
      }
      if (!word.empty()) scored.push_back(aggregate_word(c, word, aggregation));
    }
    std::vector<Entity> entities;
    if (aggregation == Aggregation::None) {
      for (size_t k = 0; k < scored.size(); ++k) {
        const Scored& s = scored[k];
        Entity en{s.entity, s.score, s.index, pre[k].word, s.start, s.end};
        entities.push_back(std::move(en));
      }
    } else {
      entities = group_entities(tok, scored);
    }
    for (const Entity& en : entities)
      if (std::find(ignore.begin(), ignore.end(), en.entity) == ignore.end()) result[i].push_back(en);
  });
  return result;
}

}  // namespace tf::pipelines
