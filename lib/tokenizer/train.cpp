// Tokenizer training: byte-level BPE (GPT-2 style) and WordPiece (BERT
// style, learnt by BPE merges over "##"-prefixed continuations, as HF's
// WordPieceTrainer does). Unigram lives in train_unigram.cpp. The result is a
// tokenizer.json that this library and HF tokenizers load.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <queue>
#include <unordered_map>

#include "tf/error.h"
#include "tokenizer/impl.h"
#include "tokenizer/train.h"
#include "tokenizer/unicode.h"

namespace tf::tok {

using ordered_json = nlohmann::ordered_json;

namespace {

constexpr const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct PairHash {
  size_t operator()(uint64_t k) const { return size_t(k * 0x9E3779B97F4A7C15ull >> 17); }
};
uint64_t pack(int32_t a, int32_t b) { return uint64_t(uint32_t(a)) << 32 | uint32_t(b); }

// Learns merges over words given as symbol id sequences. `join` names the
// token a merge makes from its two parts.
struct MergeLearner {
  std::vector<std::string>& tokens;
  std::unordered_map<std::string, int32_t>& ids;
  std::vector<std::vector<int32_t>> words;
  std::vector<uint64_t> counts;
  std::vector<std::pair<int32_t, int32_t>> merges;

  void learn(size_t vocab_size, size_t min_frequency, const std::function<std::string(int32_t, int32_t)>& join) {
    std::unordered_map<uint64_t, int64_t, PairHash> pair_count;
    std::unordered_map<uint64_t, std::vector<uint32_t>, PairHash> where;
    for (size_t w = 0; w < words.size(); ++w) {
      const auto& s = words[w];
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        uint64_t p = pack(s[i], s[i + 1]);
        pair_count[p] += int64_t(counts[w]);
        where[p].push_back(uint32_t(w));
      }
    }
    // Max-heap of (count, pair); entries go stale as counts change and are
    // re-checked when popped. Ties: the smaller pair of ids, for determinism.
    using Entry = std::pair<int64_t, uint64_t>;
    auto cmp = [](const Entry& x, const Entry& y) { return x.first != y.first ? x.first < y.first : x.second > y.second; };
    std::priority_queue<Entry, std::vector<Entry>, decltype(cmp)> heap(cmp);
    for (auto [p, c] : pair_count) heap.push({c, p});
    while (tokens.size() < vocab_size && !heap.empty()) {
      auto [count, p] = heap.top();
      heap.pop();
      auto it = pair_count.find(p);
      int64_t current = it == pair_count.end() ? 0 : it->second;
      if (current != count) {
        if (current > 0) heap.push({current, p});
        continue;
      }
      if (count < int64_t(min_frequency) || count <= 0) break;
      int32_t a = int32_t(p >> 32), b = int32_t(uint32_t(p));
      std::string merged = join(a, b);
      int32_t id;
      if (auto found = ids.find(merged); found != ids.end()) {
        id = found->second;  // two spellings of one token: merge into it, no new entry
      } else {
        id = int32_t(tokens.size());
        tokens.push_back(merged);
        ids.emplace(merged, id);
      }
      merges.push_back({a, b});
      std::vector<uint32_t> affected = std::move(where[p]);
      where.erase(p);
      std::sort(affected.begin(), affected.end());
      affected.erase(std::unique(affected.begin(), affected.end()), affected.end());
      std::unordered_map<uint64_t, int64_t, PairHash> delta;
      for (uint32_t w : affected) {
        auto& s = words[w];
        int64_t c = int64_t(counts[w]);
        for (size_t i = 0; i + 1 < s.size();) {
          if (s[i] != a || s[i + 1] != b) {
            ++i;
            continue;
          }
          if (i > 0) {
            delta[pack(s[i - 1], a)] -= c;
            delta[pack(s[i - 1], id)] += c;
            where[pack(s[i - 1], id)].push_back(w);
          }
          if (i + 2 < s.size()) {
            delta[pack(b, s[i + 2])] -= c;
            delta[pack(id, s[i + 2])] += c;
            where[pack(id, s[i + 2])].push_back(w);
          }
          s[i] = id;
          s.erase(s.begin() + std::ptrdiff_t(i) + 1);
          ++i;
        }
      }
      pair_count.erase(p);
      for (auto [q, d] : delta) {
        int64_t& value = pair_count[q];
        value += d;
        if (value <= 0) {
          pair_count.erase(q);
        } else if (d > 0) {
          heap.push({value, q});
        }
      }
    }
  }
};

// Words of the corpus with their counts, in first-seen order (deterministic).
std::vector<std::pair<std::string, uint64_t>> count_words(const Tokenizer::Impl& pipeline, std::string_view corpus) {
  std::unordered_map<std::string, size_t> index;
  std::vector<std::pair<std::string, uint64_t>> words;
  std::string clean = unicode::sanitize_utf8(corpus);
  Words w;
  std::string normalized = pipeline.normalizers.empty() ? clean : normalize(pipeline.normalizers, clean, {0, true});
  pre_tokenize(pipeline.pre_tokenizers, normalized, {0, true}, w);
  for (auto [b, e] : w.spans) {
    std::string word = w.text.substr(b, e - b);
    auto [it, inserted] = index.emplace(word, words.size());
    if (inserted) words.push_back({word, 0});
    ++words[it->second].second;
  }
  return words;
}

ordered_json added_token(int32_t id, const std::string& content) {
  return {{"id", id},          {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false},   {"normalized", false}, {"special", true}};
}

std::string train_bpe(std::string_view corpus, const TrainOptions& o) {
  Tokenizer::Impl pipeline;
  PreStep split;
  split.kind = PreStep::Kind::ByteLevel;
  split.regex = compile_regex(kGpt2Pattern, "train-tokenizer");
  pipeline.pre_tokenizers.push_back(split);
  auto words = count_words(pipeline, corpus);

  std::vector<std::string> tokens = {"<|endoftext|>"};
  std::unordered_map<std::string, int32_t> ids = {{tokens[0], 0}};
  // The full byte alphabet, so that any text encodes without an unknown token.
  int32_t byte_id[256];
  for (int b = 0; b < 256; ++b) {
    byte_id[b] = int32_t(tokens.size());
    ids.emplace(byte_to_unicode(uint8_t(b)), byte_id[b]);
    tokens.push_back(byte_to_unicode(uint8_t(b)));
  }
  if (o.vocab_size < tokens.size()) fail("train-tokenizer: --vocab-size must be at least ", tokens.size(), " for bpe");
  MergeLearner learner{tokens, ids, {}, {}, {}};
  for (auto& [word, count] : words) {
    std::vector<int32_t> s;
    for (unsigned char c : word) s.push_back(byte_id[c]);
    learner.words.push_back(std::move(s));
    learner.counts.push_back(count);
  }
  learner.learn(o.vocab_size, o.min_frequency, [&](int32_t a, int32_t b) { return tokens[size_t(a)] + tokens[size_t(b)]; });

  ordered_json vocab = ordered_json::object();
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
  ordered_json merges = ordered_json::array();
  for (auto [a, b] : learner.merges) merges.push_back(tokens[size_t(a)] + " " + tokens[size_t(b)]);
  ordered_json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  ordered_json j = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", ordered_json::array({added_token(0, tokens[0])})},
      {"normalizer", nullptr},
      {"pre_tokenizer", byte_level},
      {"post_processor", byte_level},
      {"decoder", byte_level},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", merges}}},
  };
  return j.dump(2);
}

std::string train_wordpiece(std::string_view corpus, const TrainOptions& o) {
  Tokenizer::Impl pipeline;
  NormStep bert;
  bert.kind = NormStep::Kind::Bert;
  pipeline.normalizers.push_back(bert);
  PreStep split;
  split.kind = PreStep::Kind::Bert;
  pipeline.pre_tokenizers.push_back(split);
  auto words = count_words(pipeline, corpus);

  std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  std::unordered_map<std::string, int32_t> ids;
  for (size_t i = 0; i < tokens.size(); ++i) ids.emplace(tokens[i], int32_t(i));
  auto intern = [&](const std::string& t) {
    auto [it, inserted] = ids.emplace(t, int32_t(tokens.size()));
    if (inserted) tokens.push_back(t);
    return it->second;
  };
  MergeLearner learner{tokens, ids, {}, {}, {}};
  for (auto& [word, count] : words) {
    std::vector<int32_t> s;
    for (size_t i = 0; i < word.size();) {
      size_t len = std::min(unicode::sequence_length(static_cast<unsigned char>(word[i])), word.size() - i);
      s.push_back(intern((i == 0 ? "" : "##") + word.substr(i, len)));
      i += len;
    }
    learner.words.push_back(std::move(s));
    learner.counts.push_back(count);
  }
  if (o.vocab_size < tokens.size())
    fail("train-tokenizer: --vocab-size must be at least ", tokens.size(), " for wordpiece on this corpus (its alphabet)");
  learner.learn(o.vocab_size, o.min_frequency, [&](int32_t a, int32_t b) {
    const std::string& right = tokens[size_t(b)];
    return tokens[size_t(a)] + (right.starts_with("##") ? right.substr(2) : right);
  });

  ordered_json vocab = ordered_json::object();
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
  ordered_json added = ordered_json::array();
  for (int32_t i = 0; i < 5; ++i) added.push_back(added_token(i, tokens[size_t(i)]));
  auto special = [&](const char* t) { return ordered_json{{"SpecialToken", {{"id", t}, {"type_id", 0}}}}; };
  ordered_json seq_a = {{"Sequence", {{"id", "A"}, {"type_id", 0}}}};
  ordered_json seq_b = {{"Sequence", {{"id", "B"}, {"type_id", 1}}}};
  ordered_json j = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer",
       {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true}, {"strip_accents", nullptr}, {"lowercase", true}}},
      {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {special("[CLS]"), seq_a, special("[SEP]")}},
        {"pair", {special("[CLS]"), seq_a, special("[SEP]"), seq_b, {{"SpecialToken", {{"id", "[SEP]"}, {"type_id", 1}}}}}},
        {"special_tokens",
         {{"[CLS]", {{"id", "[CLS]"}, {"ids", {2}}, {"tokens", {"[CLS]"}}}},
          {"[SEP]", {{"id", "[SEP]"}, {"ids", {3}}, {"tokens", {"[SEP]"}}}}}}}},
      {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}},
      {"model",
       {{"type", "WordPiece"},
        {"unk_token", "[UNK]"},
        {"continuing_subword_prefix", "##"},
        {"max_input_chars_per_word", 100},
        {"vocab", vocab}}},
  };
  return j.dump(2);
}

}  // namespace

}  // namespace tf::tok

namespace tf {

std::string train_tokenizer(std::string_view corpus, const TrainOptions& options) {
  if (options.vocab_size == 0) fail("train-tokenizer: --vocab-size must be positive");
  switch (options.algorithm) {
    case TokenizerAlgorithm::BytePairEncoding: return tok::train_bpe(corpus, options);
    case TokenizerAlgorithm::WordPiece: return tok::train_wordpiece(corpus, options);
    case TokenizerAlgorithm::Unigram: return tok::train_unigram(corpus, options);
    case TokenizerAlgorithm::SentencePieceBpe: break;
  }
  fail("train-tokenizer: SentencePiece BPE training is not supported (use bpe, wordpiece or unigram)");
}

}  // namespace tf
