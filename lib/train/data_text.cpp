// Loader order and packed token windows (tf/train_data.h).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "tf/error.h"
#include "tf/mapped_file.h"
#include "tf/rng.h"
#include "tf/train_data.h"

namespace tf::train {

// ---------------------------------------------------------------- ShuffledOrder

ShuffledOrder::ShuffledOrder(size_t size, uint64_t seed, bool shuffle) : size_(size), seed_(seed), shuffle_(shuffle) {
  permute();
}

void ShuffledOrder::permute() {
  perm_.resize(size_);
  for (size_t i = 0; i < size_; ++i) perm_[i] = i;
  if (!shuffle_) return;
  // Each epoch's permutation depends on (seed, epoch) only, never on the
  // previous epoch's stream: a restored position needs no replay.
  Rng rng(seed_ ^ (0x9E3779B97F4A7C15ull * (epoch_ + 1)));
  for (size_t i = size_; i > 1; --i) std::swap(perm_[i - 1], perm_[size_t(rng.below(i))]);
}

std::vector<size_t> ShuffledOrder::next(size_t n) {
  if (size_ == 0) fail("data loader: the data set is empty");
  std::vector<size_t> out;
  out.reserve(n);
  while (out.size() < n) {
    if (cursor_ == size_) {
      ++epoch_;
      cursor_ = 0;
      permute();
    }
    out.push_back(perm_[cursor_++]);
  }
  return out;
}

nlohmann::json ShuffledOrder::state() const {
  return {{"epoch", epoch_}, {"cursor", cursor_}, {"seed", seed_}, {"size", size_}, {"shuffle", shuffle_}};
}

void ShuffledOrder::restore(const nlohmann::json& s) {
  auto field = [&](const char* key) -> const nlohmann::json& {
    if (!s.is_object() || !s.contains(key)) fail("data loader state: missing '", key, "'");
    return s.at(key);
  };
  auto uint_field = [&](const char* key) {
    const nlohmann::json& v = field(key);
    if (!v.is_number_unsigned()) fail("data loader state: '", key, "' is not a non-negative integer");
    return v.get<uint64_t>();
  };
  const uint64_t size = uint_field("size"), seed = uint_field("seed"), epoch = uint_field("epoch"),
                 cursor = uint_field("cursor");
  if (!field("shuffle").is_boolean()) fail("data loader state: 'shuffle' is not a boolean");
  const bool shuffle = field("shuffle").get<bool>();
  if (size != size_)
    fail("data loader state: saved for ", size, " items, the data now has ", size_,
         " (the data, seq or split changed)");
  if (seed != seed_) fail("data loader state: saved with seed ", seed, ", this run has seed ", seed_);
  if (shuffle != shuffle_) fail("data loader state: saved with shuffle ", shuffle, ", this run has ", shuffle_);
  if (cursor > size_) fail("data loader state: cursor ", cursor, " beyond ", size_, " items");
  epoch_ = epoch;
  cursor_ = size_t(cursor);
  permute();
}

// ---------------------------------------------------------------- text

TokenId window_bos(const Tokenizer& tokenizer) {
  std::vector<TokenId> probe = tokenizer.encode("a", EncodeOptions{true, false});
  return !probe.empty() && tokenizer.bos() >= 0 && probe.front() == tokenizer.bos() ? tokenizer.bos() : -1;
}

size_t split_offset(std::string_view text, double valid_fraction) {
  if (!(valid_fraction >= 0.0 && valid_fraction < 1.0))
    fail("valid fraction ", valid_fraction, " is not in [0, 1)");
  size_t cut = size_t(std::floor(double(text.size()) * (1.0 - valid_fraction)));
  cut = std::min(cut, text.size());
  // never cut a UTF-8 character in two: skip continuation bytes
  while (cut < text.size() && (uint8_t(text[cut]) & 0xC0) == 0x80) ++cut;
  return cut;
}

TokenizedText tokenize_text_file(const std::string& path, const Tokenizer& tokenizer, double valid_fraction) {
  auto file = MappedFile::open(path, LoadMode::Read);
  std::string_view text(reinterpret_cast<const char*>(file->data()), file->size());
  TokenizedText t;
  t.text_bytes = text.size();
  t.valid_offset = split_offset(text, valid_fraction);
  const EncodeOptions plain{false, false};
  t.train = tokenizer.encode(text.substr(0, t.valid_offset), plain);
  if (t.valid_offset < text.size()) t.valid = tokenizer.encode(text.substr(t.valid_offset), plain);
  return t;
}

int64_t TokenBatch::n_targets() const {
  return int64_t(std::count_if(targets.begin(), targets.end(), [](int32_t t) { return t != -100; }));
}

namespace {
size_t window_count(size_t n_tokens, int64_t seq, TokenId bos) {
  if (seq < 1) fail("sequence length ", seq, " must be at least 1");
  const size_t s = size_t(seq);
  if (bos >= 0) return n_tokens / s;
  return n_tokens > s ? (n_tokens - 1) / s : 0;
}
}  // namespace

TokenWindows::TokenWindows(std::vector<TokenId> tokens, int64_t seq, TokenId bos, uint64_t seed, bool shuffle)
    : tokens_(std::move(tokens)), seq_(seq), bos_(bos), order_(window_count(tokens_.size(), seq, bos), seed, shuffle) {
  if (order_.size() == 0)
    fail("training text has ", tokens_.size(), " tokens, fewer than one window of ", seq + (bos >= 0 ? 0 : 1));
}

TokenBatch TokenWindows::next(int64_t batch) {
  if (batch < 1) fail("batch size ", batch, " must be at least 1");
  TokenBatch b;
  b.batch = batch;
  b.seq = seq_;
  b.ids.reserve(size_t(batch * seq_));
  b.targets.reserve(size_t(batch * seq_));
  for (size_t w : order_.next(size_t(batch))) {
    const TokenId* s = tokens_.data() + w * size_t(seq_);
    if (bos_ >= 0) {
      b.ids.push_back(bos_);
      b.ids.insert(b.ids.end(), s, s + seq_ - 1);
      b.targets.insert(b.targets.end(), s, s + seq_);
    } else {
      b.ids.insert(b.ids.end(), s, s + seq_);
      b.targets.insert(b.targets.end(), s + 1, s + seq_ + 1);
    }
  }
  return b;
}

EvalWindows::EvalWindows(std::span<const TokenId> tokens, int64_t n_ctx, TokenId bos) : n_ctx_(n_ctx) {
  if (n_ctx < 2) fail("evaluation context ", n_ctx, " must be at least 2 tokens");
  const size_t step = bos >= 0 ? size_t(n_ctx - 1) : size_t(n_ctx);
  for (size_t start = 0; start < tokens.size(); start += step) {
    const size_t n = std::min(step, tokens.size() - start);
    std::vector<TokenId> w;
    if (bos >= 0) w.push_back(bos);
    w.insert(w.end(), tokens.begin() + long(start), tokens.begin() + long(start + n));
    if (w.size() < 2) break;
    n_targets_ += int64_t(w.size()) - 1;
    windows_.push_back(std::move(w));
  }
}

TokenBatch EvalWindows::batch(size_t first, size_t count) const {
  first = std::min(first, windows_.size());
  count = std::min(count, windows_.size() - first);
  TokenBatch b;
  b.batch = int64_t(count);
  b.seq = n_ctx_;
  b.ids.assign(count * size_t(n_ctx_), 0);
  b.targets.assign(count * size_t(n_ctx_), -100);
  for (size_t r = 0; r < count; ++r) {
    const std::vector<TokenId>& w = windows_[first + r];
    int32_t* ids = b.ids.data() + r * size_t(n_ctx_);
    int32_t* targets = b.targets.data() + r * size_t(n_ctx_);
    std::copy(w.begin(), w.end(), ids);
    // position i predicts w[i + 1]; padding after a short last window is never scored
    std::copy(w.begin() + 1, w.end(), targets);
  }
  return b;
}

}  // namespace tf::train
