// Training data: packed token windows from a text file, JSONL text
// classification sets and IDX image sets (MNIST / Fashion-MNIST, optionally
// gzip'd), plus the seeded, resumable order in which a loader visits them.
//
// Every reader checks counts and sizes against the real file and fails with
// a one-line tf::Error naming the file (and the line, for JSONL).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tf/tokenizer.h"

namespace tf::train {

// ---------------------------------------------------------------- order

// The order in which a loader visits `size` items: epoch after epoch, each a
// permutation drawn from (seed, epoch) alone, so that a position (epoch,
// cursor) is the loader's whole state: a checkpoint stores it and a resumed
// run sees exactly the items the uninterrupted one would have.
class ShuffledOrder {
 public:
  ShuffledOrder(size_t size, uint64_t seed, bool shuffle = true);
  // The next n item indices; crosses into the next epoch (a fresh
  // permutation) when the current one runs out.
  std::vector<size_t> next(size_t n);
  size_t size() const { return size_; }
  uint64_t epoch() const { return epoch_; }
  size_t cursor() const { return cursor_; }

  nlohmann::json state() const;  // {"epoch","cursor","seed","size","shuffle"}
  // Restores a position; a state saved for another size, seed or shuffle
  // setting is a tf::Error (the data changed under the checkpoint).
  void restore(const nlohmann::json& state);

 private:
  void permute();
  size_t size_;
  uint64_t seed_;
  bool shuffle_;
  uint64_t epoch_ = 0;
  size_t cursor_ = 0;
  std::vector<size_t> perm_;
};

// ---------------------------------------------------------------- token text

// The BOS token that opens every window, or -1: the model's tokenizer adds
// BOS to an encoded text (llama) or it does not (gpt2). The same rule as
// `tf-run perplexity`, so that training, its evaluation and tf-run agree.
TokenId window_bos(const Tokenizer& tokenizer);

// A text file split by characters (bytes, moved forward to the start of a
// UTF-8 character) at floor(size · (1 − valid_fraction)): train is the
// text before the cut, valid the text from it — the split the model zoo's
// trained models used (text[int(0.9·len):]). Each part is tokenized once as
// one stream without special tokens, so the valid tokens are exactly what
// `tf-run perplexity -f` gets from the valid text alone.
struct TokenizedText {
  std::vector<TokenId> train, valid;
  uint64_t text_bytes = 0;
  uint64_t valid_offset = 0;  // byte where the valid text begins
};
TokenizedText tokenize_text_file(const std::string& path, const Tokenizer& tokenizer, double valid_fraction);
size_t split_offset(std::string_view text, double valid_fraction);

// One batch of token sequences: ids and targets [batch, seq] row-major;
// target -100 is ignored by the loss.
struct TokenBatch {
  int64_t batch = 0, seq = 0;
  std::vector<int32_t> ids, targets;
  int64_t n_targets() const;  // targets that are scored
};

// Training windows of a token stream. A window is seq + 1 tokens — inputs
// are its first seq, targets its last seq — and consecutive windows start
// seq tokens apart, so every token but the first is a target once per epoch.
// With bos >= 0 a window is BOS + seq stream tokens instead (starts still seq
// apart), as a model whose tokenizer adds BOS always sees one first.
class TokenWindows {
 public:
  TokenWindows(std::vector<TokenId> tokens, int64_t seq, TokenId bos, uint64_t seed, bool shuffle = true);
  size_t size() const { return order_.size(); }  // windows per epoch
  TokenBatch next(int64_t batch);
  const ShuffledOrder& order() const { return order_; }
  ShuffledOrder& order() { return order_; }

 private:
  std::vector<TokenId> tokens_;
  int64_t seq_;
  TokenId bos_;
  ShuffledOrder order_;
};

// Evaluation windows with `tf-run perplexity`'s rules for context n_ctx:
// consecutive non-overlapping windows of the stream; with bos >= 0 each is
// BOS + (n_ctx − 1) tokens and every stream token is scored, otherwise
// n_ctx tokens whose first is not scored; a last window with fewer than two
// tokens is dropped. Batches are [batch, n_ctx] with short windows padded
// (pad targets -100), so the mean over all scored targets is tf-run
// perplexity's nll.
class EvalWindows {
 public:
  EvalWindows(std::span<const TokenId> tokens, int64_t n_ctx, TokenId bos);
  size_t size() const { return windows_.size(); }
  int64_t n_targets() const { return n_targets_; }
  // Windows [first, first + count) (clamped to the end) as one batch.
  TokenBatch batch(size_t first, size_t count) const;

 private:
  std::vector<std::vector<TokenId>> windows_;
  int64_t n_ctx_;
  int64_t n_targets_ = 0;
};

// ---------------------------------------------------------------- text classification

// JSON Lines, one example per line: {"text": "...", "label": "positive"} or
// {"label": 1}; optionally "text_pair" for sentence-pair tasks. Blank lines
// are skipped; any other deviation (bad JSON, missing or extra fields, wrong
// types, an unknown label name, an id out of range, names mixed with ids)
// fails with "<file>:<line>: ...".
struct TextExample {
  std::string text, text_pair;
  int32_t label = 0;
};
struct TextClassificationData {
  std::vector<TextExample> examples;
  std::vector<std::string> labels;  // id -> name
};
// `labels` (e.g. a model's id2label, or the train set's map when reading the
// valid set) fixes the map; empty: names are numbered in sorted order, or,
// when the file uses integer ids, ids 0..max are named "LABEL_<i>" as
// transformers does.
TextClassificationData load_text_classification(const std::string& path,
                                                const std::vector<std::string>& labels = {});

// ---------------------------------------------------------------- images

// An IDX array (LeCun's MNIST format): magic 0x00 0x00 <type> <ndim>, ndim
// big-endian u32 dimensions, then the data. Only unsigned bytes (type 0x08)
// are accepted. Files ending in .gz are gunzipped first (as
// dataset-fashion-mnist ships them); the data size must match the
// dimensions exactly.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};
IdxArray read_idx(const std::string& path);
// Parses IDX bytes held in memory; `name` is used in errors.
IdxArray parse_idx(std::span<const uint8_t> bytes, const std::string& name);
// The whole content of a gzip file (every member), with zlib.
std::vector<uint8_t> read_gzip(const std::string& path);

struct ImageClassificationData {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // [count, rows, cols]
  std::vector<int32_t> labels;  // [count]
  int32_t num_classes = 0;      // max label + 1
  // Images [indices.size(), rows·cols] scaled to [0, 1].
  std::vector<float> batch_pixels(std::span<const size_t> indices) const;
};
// An images file ([n, rows, cols]) and its labels file ([n]).
ImageClassificationData load_idx_images(const std::string& images_path, const std::string& labels_path);

}  // namespace tf::train
