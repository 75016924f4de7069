// Unigram training, a compact version of SentencePiece's: seed the vocabulary
// with every character and the most frequent substrings, then alternate
// re-estimation and pruning. Re-estimation is hard EM (counts from each
// word's best segmentation) rather than forward-backward, and pruning drops
// the least used pieces, not those whose removal costs least likelihood: a
// simpler trainer, good enough for building test and toy vocabularies.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <unordered_map>

#include "tf/error.h"
#include "tokenizer/impl.h"
#include "tokenizer/train.h"
#include "tokenizer/unicode.h"

namespace tf::tok {
namespace {

using ordered_json = nlohmann::ordered_json;
constexpr size_t kMaxPieceChars = 16;

struct Piece {
  std::string text;
  double score = 0;
  bool required = false;  // single characters: never pruned, so no text is unknown
};

// Character boundaries of `word` (byte offsets, including 0 and size).
std::vector<uint32_t> boundaries(const std::string& word) {
  std::vector<uint32_t> b{0};
  for (size_t i = 0; i < word.size();) {
    i += std::min(unicode::sequence_length(static_cast<unsigned char>(word[i])), word.size() - i);
    b.push_back(uint32_t(i));
  }
  return b;
}

// Best segmentation of every word under the current scores; returns the
// number of times each piece is used, weighted by word count.
std::vector<double> viterbi_counts(const std::vector<Piece>& pieces,
                                   const std::vector<std::pair<std::string, uint64_t>>& words) {
  std::vector<std::string> keys;
  for (const Piece& p : pieces) keys.push_back(p.text);
  StringIndex index;
  index.build(std::move(keys));
  std::vector<double> counts(pieces.size(), 0.0);
  std::vector<double> best;
  std::vector<int32_t> from_piece;
  std::vector<uint32_t> from_pos;
  for (const auto& [word, count] : words) {
    std::vector<uint32_t> b = boundaries(word);
    size_t n = b.size();
    best.assign(n, -DBL_MAX);
    from_piece.assign(n, -1);
    from_pos.assign(n, 0);
    best[0] = 0;
    for (size_t i = 0; i + 1 < n; ++i) {
      if (best[i] == -DBL_MAX) continue;
      for (size_t j = i + 1; j < n && j - i <= kMaxPieceChars; ++j) {
        int32_t id = index.find(std::string_view(word).substr(b[i], b[j] - b[i]));
        if (id < 0) continue;
        double s = best[i] + pieces[size_t(id)].score;
        if (s > best[j]) {
          best[j] = s;
          from_piece[j] = id;
          from_pos[j] = uint32_t(i);
        }
      }
    }
    for (size_t j = n - 1; j > 0 && from_piece[j] >= 0; j = from_pos[j]) counts[size_t(from_piece[j])] += double(count);
  }
  return counts;
}

void rescore(std::vector<Piece>& pieces, const std::vector<double>& counts) {
  double total = 0;
  for (double c : counts) total += c;
  double floor_score = std::log(0.5 / std::max(total, 1.0));
  for (size_t i = 0; i < pieces.size(); ++i)
    pieces[i].score = counts[i] > 0 ? std::log(counts[i] / total) : floor_score - 1.0;
}

}  // namespace

std::string train_unigram(std::string_view corpus, const TrainOptions& o) {
  // Words as the tokenizer will see them: spaces become U+2581, which starts each word.
  Tokenizer::Impl pipeline;
  PreStep meta;
  meta.kind = PreStep::Kind::Metaspace;
  meta.prepend = PreStep::Prepend::Always;
  meta.split = true;
  pipeline.pre_tokenizers.push_back(meta);
  std::string clean = unicode::sanitize_utf8(corpus);
  Words w;
  pre_tokenize(pipeline.pre_tokenizers, clean, {0, true}, w);
  std::unordered_map<std::string, size_t> word_index;
  std::vector<std::pair<std::string, uint64_t>> words;
  for (auto [b, e] : w.spans) {
    auto [it, inserted] = word_index.emplace(w.text.substr(b, e - b), words.size());
    if (inserted) words.push_back({it->first, 0});
    ++words[it->second].second;
  }

  // Seeds: characters (required) and frequent substrings.
  std::unordered_map<std::string, double> freq;
  std::unordered_map<std::string, bool> is_char;
  for (const auto& [word, count] : words) {
    std::vector<uint32_t> b = boundaries(word);
    for (size_t i = 0; i + 1 < b.size(); ++i) {
      is_char[word.substr(b[i], b[i + 1] - b[i])] = true;
      for (size_t j = i + 1; j < b.size() && j - i <= kMaxPieceChars; ++j)
        freq[word.substr(b[i], b[j] - b[i])] += double(count);
    }
  }
  const size_t target = o.vocab_size > 1 ? o.vocab_size - 1 : 1;  // one id for <unk>
  std::vector<Piece> pieces;
  std::vector<std::pair<double, std::string>> candidates;
  double total = 0;
  for (auto& [text, f] : freq) total += f;
  // Log-probabilities (negative), so a segmentation into fewer pieces scores higher.
  auto initial_score = [&](double f) { return std::log(f / total); };
  for (auto& [text, f] : freq) {
    if (is_char.count(text))
      pieces.push_back({text, initial_score(f), true});
    else if (f >= double(std::max<size_t>(o.min_frequency, 2)))
      candidates.push_back({f * double(boundaries(text).size() - 1), text});
  }
  if (pieces.size() > target)
    fail("train-tokenizer: --vocab-size must be at least ", pieces.size() + 1, " for unigram on this corpus (its alphabet)");
  std::sort(candidates.begin(), candidates.end(), [](const auto& x, const auto& y) {
    return x.first != y.first ? x.first > y.first : x.second < y.second;
  });
  size_t seeds = std::min(candidates.size(), std::max<size_t>(target * 4, 1000));
  for (size_t i = 0; i < seeds; ++i) pieces.push_back({candidates[i].second, initial_score(freq[candidates[i].second]), false});
  std::sort(pieces.begin(), pieces.end(), [](const Piece& x, const Piece& y) { return x.text < y.text; });

  // Re-estimate, then prune a quarter of the optional pieces, until the size fits.
  for (int round = 0; round < 64; ++round) {
    std::vector<double> counts = viterbi_counts(pieces, words);
    rescore(pieces, counts);
    if (pieces.size() <= target) {
      if (round > 0) break;
      continue;
    }
    std::vector<size_t> optional;
    for (size_t i = 0; i < pieces.size(); ++i)
      if (!pieces[i].required) optional.push_back(i);
    size_t keep_total = std::max(target, pieces.size() - std::max<size_t>(1, optional.size() / 4));
    size_t drop = pieces.size() - keep_total;
    std::stable_sort(optional.begin(), optional.end(), [&](size_t x, size_t y) { return counts[x] < counts[y]; });
    std::vector<bool> dropped(pieces.size(), false);
    for (size_t k = 0; k < drop && k < optional.size(); ++k) dropped[optional[k]] = true;
    std::vector<Piece> kept;
    for (size_t i = 0; i < pieces.size(); ++i)
      if (!dropped[i]) kept.push_back(std::move(pieces[i]));
    pieces.swap(kept);
  }
  rescore(pieces, viterbi_counts(pieces, words));
  std::stable_sort(pieces.begin(), pieces.end(), [](const Piece& x, const Piece& y) { return x.score > y.score; });

  ordered_json vocab = ordered_json::array({ordered_json::array({"<unk>", 0.0})});
  for (const Piece& p : pieces) vocab.push_back(ordered_json::array({p.text, p.score}));
  ordered_json metaspace = {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "always"}, {"split", true}};
  ordered_json j = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens",
       ordered_json::array({{{"id", 0},
                             {"content", "<unk>"},
                             {"single_word", false},
                             {"lstrip", false},
                             {"rstrip", false},
                             {"normalized", false},
                             {"special", true}}})},
      {"normalizer", nullptr},
      {"pre_tokenizer", metaspace},
      {"post_processor", nullptr},
      {"decoder", metaspace},
      {"model", {{"type", "Unigram"}, {"unk_id", 0}, {"vocab", vocab}, {"byte_fallback", false}}},
  };
  return j.dump(2);
}

}  // namespace tf::tok
