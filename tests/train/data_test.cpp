// Training data: loader order, packed token windows, perplexity-style eval
// windows, JSONL classification sets and IDX image files (plain, gzip'd,
// truncated, corrupt), all from fixtures written here.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>

#include "common/error_of.h"
#include "common/test_paths.h"
#include "tf/error.h"
#include "tf/train_data.h"

namespace tf::train {
namespace {

using tf::test::error_of;
using tf::test::TempDir;

void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// ---------------------------------------------------------------- order

TEST(TrainData, ShuffledOrderVisitsEveryItemOncePerEpoch) {
  ShuffledOrder order(10, 7);
  std::vector<size_t> first = order.next(10), second = order.next(10);
  EXPECT_EQ(order.epoch(), 1u);
  std::vector<size_t> sorted = first;
  std::sort(sorted.begin(), sorted.end());
  std::vector<size_t> all(10);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(sorted, all);
  std::sort(second.begin(), second.end());
  EXPECT_EQ(second, all);
  EXPECT_NE(first, all);  // shuffled
  ShuffledOrder again(10, 7), other_seed(10, 8), plain(10, 7, false);
  EXPECT_EQ(again.next(10), first);
  EXPECT_NE(other_seed.next(10), first);
  EXPECT_EQ(plain.next(10), all);
}

TEST(TrainData, ShuffledOrderResumesFromItsState) {
  ShuffledOrder a(13, 3);
  a.next(17);  // into the second epoch
  const nlohmann::json state = a.state();
  std::vector<size_t> rest = a.next(30);
  ShuffledOrder b(13, 3);
  b.restore(state);
  EXPECT_EQ(b.next(30), rest);
  ShuffledOrder wrong_size(12, 3), wrong_seed(13, 4);
  EXPECT_NE(error_of([&] { wrong_size.restore(state); }).find("saved for 13 items"), std::string::npos);
  EXPECT_NE(error_of([&] { wrong_seed.restore(state); }).find("seed"), std::string::npos);
  nlohmann::json bad = state;
  bad["cursor"] = 99;
  EXPECT_NE(error_of([&] { b.restore(bad); }).find("cursor"), std::string::npos);
  EXPECT_NE(error_of([] { ShuffledOrder(0, 1).next(1); }).find("empty"), std::string::npos);
}

// ---------------------------------------------------------------- token windows

std::vector<TokenId> iota_tokens(int n) {
  std::vector<TokenId> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), 100);
  return t;
}

TEST(TrainData, TokenWindowsShiftTargetsByOne) {
  TokenWindows w(iota_tokens(21), 4, -1, 1, false);
  ASSERT_EQ(w.size(), 5u);  // starts 0,4,8,12,16; each needs 5 tokens
  TokenBatch b = w.next(2);
  EXPECT_EQ(b.ids, (std::vector<int32_t>{100, 101, 102, 103, 104, 105, 106, 107}));
  EXPECT_EQ(b.targets, (std::vector<int32_t>{101, 102, 103, 104, 105, 106, 107, 108}));
  EXPECT_EQ(b.n_targets(), 8);
  w.next(2);
  TokenBatch wrap = w.next(2);  // window 4 (starts at 116), then epoch 2's first
  EXPECT_EQ(wrap.ids[0], 116);
  EXPECT_EQ(wrap.targets[3], 120);
  EXPECT_EQ(wrap.ids[4], 100);
}

TEST(TrainData, TokenWindowsWithBosScoreEveryToken) {
  TokenWindows w(iota_tokens(12), 4, 1, 1, false);
  ASSERT_EQ(w.size(), 3u);
  TokenBatch b = w.next(3);
  EXPECT_EQ(b.ids, (std::vector<int32_t>{1, 100, 101, 102, 1, 104, 105, 106, 1, 108, 109, 110}));
  EXPECT_EQ(b.targets, iota_tokens(12));
  EXPECT_NE(error_of([] { TokenWindows(iota_tokens(4), 4, -1, 1); }).find("fewer than one window"), std::string::npos);
}

TEST(TrainData, EvalWindowsFollowPerplexityRules) {
  // no BOS: windows of 4, first token of each unscored, last window kept with >= 2 tokens
  EvalWindows plain(iota_tokens(10), 4, -1);
  ASSERT_EQ(plain.size(), 3u);  // 4 + 4 + 2
  EXPECT_EQ(plain.n_targets(), 3 + 3 + 1);
  TokenBatch b = plain.batch(1, 5);
  ASSERT_EQ(b.batch, 2);
  EXPECT_EQ(b.ids, (std::vector<int32_t>{104, 105, 106, 107, 108, 109, 0, 0}));
  EXPECT_EQ(b.targets, (std::vector<int32_t>{105, 106, 107, -100, 109, -100, -100, -100}));
  EXPECT_EQ(EvalWindows(iota_tokens(9), 4, -1).size(), 2u);  // a lone last token is dropped
  // BOS: BOS + 3 tokens, every token scored
  EvalWindows bos(iota_tokens(10), 4, 1);
  ASSERT_EQ(bos.size(), 4u);
  EXPECT_EQ(bos.n_targets(), 10);
  TokenBatch c = bos.batch(3, 1);
  EXPECT_EQ(c.ids, (std::vector<int32_t>{1, 109, 0, 0}));
  EXPECT_EQ(c.targets, (std::vector<int32_t>{109, -100, -100, -100}));
}

TEST(TrainData, SplitCutsByCharactersAtTheFraction) {
  EXPECT_EQ(split_offset("0123456789", 0.1), 9u);
  EXPECT_EQ(split_offset("0123456789", 0.0), 10u);
  // the model zoo's split of tinyshakespeare: int(1115394 * 0.9)
  EXPECT_EQ(split_offset(std::string(1115394, 'a'), 0.1), 1003854u);
  // "é" is two bytes: a cut inside it moves to the next character
  EXPECT_EQ(split_offset("ab\xc3\xa9", 0.25), 4u);
  EXPECT_NE(error_of([] { split_offset("abc", 1.0); }).find("valid fraction"), std::string::npos);
}

TEST(TrainData, TokenizesTrainAndValidSeparately) {
  TempDir dir;
  std::string corpus;
  for (int i = 0; i < 60; ++i) corpus += "the quick brown fox jumps over the lazy dog " + std::to_string(i) + "\n";
  Tokenizer tok = Tokenizer::from_hf_json(train_tokenizer(corpus, {TokenizerAlgorithm::BytePairEncoding, 300, 2}), "", "bpe");
  write_file(dir / "text.txt", corpus);
  TokenizedText t = tokenize_text_file(dir / "text.txt", tok, 0.2);
  EXPECT_EQ(t.text_bytes, corpus.size());
  EXPECT_EQ(t.valid_offset, split_offset(corpus, 0.2));
  EXPECT_EQ(t.train, tok.encode(corpus.substr(0, t.valid_offset), {false, false}));
  EXPECT_EQ(t.valid, tok.encode(corpus.substr(t.valid_offset), {false, false}));
  EXPECT_FALSE(t.valid.empty());
  EXPECT_EQ(window_bos(tok), -1);
}

// ---------------------------------------------------------------- JSONL

TEST(TrainData, JsonlLabelsByName) {
  TempDir dir;
  write_file(dir / "a.jsonl", "{\"text\":\"good\",\"label\":\"pos\"}\n\n{\"text\":\"bad\",\"label\":\"neg\"}\r\n"
                              "{\"label\":\"pos\",\"text\":\"fine\",\"text_pair\":\"ok\"}");
  TextClassificationData d = load_text_classification(dir / "a.jsonl");
  EXPECT_EQ(d.labels, (std::vector<std::string>{"neg", "pos"}));
  ASSERT_EQ(d.examples.size(), 3u);
  EXPECT_EQ(d.examples[0].label, 1);
  EXPECT_EQ(d.examples[1].label, 0);
  EXPECT_EQ(d.examples[2].text_pair, "ok");
  // a fixed map (the train set's, or a model's id2label)
  TextClassificationData fixed = load_text_classification(dir / "a.jsonl", {"pos", "neg", "neutral"});
  EXPECT_EQ(fixed.examples[0].label, 0);
  EXPECT_EQ(fixed.labels.size(), 3u);
}

TEST(TrainData, JsonlLabelsByIntegerId) {
  TempDir dir;
  write_file(dir / "a.jsonl", "{\"text\":\"x\",\"label\":2}\n{\"text\":\"y\",\"label\":0}\n");
  TextClassificationData d = load_text_classification(dir / "a.jsonl");
  EXPECT_EQ(d.labels, (std::vector<std::string>{"LABEL_0", "LABEL_1", "LABEL_2"}));
  EXPECT_EQ(d.examples[0].label, 2);
}

TEST(TrainData, JsonlErrorsNameTheLine) {
  TempDir dir;
  const std::string p = dir / "bad.jsonl";
  auto err = [&](const std::string& content, const std::vector<std::string>& labels = {}) {
    write_file(p, content);
    return error_of([&] { load_text_classification(p, labels); });
  };
  const std::string ok = "{\"text\":\"a\",\"label\":\"x\"}\n";
  EXPECT_NE(err(ok + "{\"text\":\"b\",\"label\":\n").find("bad.jsonl:2: invalid JSON"), std::string::npos);
  EXPECT_NE(err(ok + "\n[1]\n").find("bad.jsonl:3: expected a JSON object"), std::string::npos);
  EXPECT_NE(err(ok + "{\"label\":\"x\"}\n").find(":2: missing 'text'"), std::string::npos);
  EXPECT_NE(err(ok + "{\"text\":\"b\"}\n").find(":2: missing 'label'"), std::string::npos);
  EXPECT_NE(err(ok + "{\"text\":1,\"label\":\"x\"}\n").find(":2: 'text' must be a string"), std::string::npos);
  EXPECT_NE(err(ok + "{\"text\":\"b\",\"label\":\"x\",\"idx\":3}\n").find(":2: unexpected field 'idx'"),
            std::string::npos);
  EXPECT_NE(err(ok + "{\"text\":\"b\",\"label\":1}\n").find(":2: label 1 mixes integer ids with the names of line 1"),
            std::string::npos);
  EXPECT_NE(err(ok + "{\"text\":\"b\",\"label\":-1}\n").find(":2: 'label' must be a name or a non-negative integer"),
            std::string::npos);
  EXPECT_NE(err(ok + "{\"text\":\"b\",\"label\":\"x\",\"text\":\"c\"}\n").find(":2: duplicate key"), std::string::npos);
  EXPECT_NE(err(ok + "{\"text\":\"b\",\"label\":\"z\"}\n", {"x", "y"}).find(":2: unknown label 'z'"),
            std::string::npos);
  EXPECT_NE(err("{\"text\":\"b\",\"label\":5}\n", {"x", "y"}).find(":1: label id 5 out of range"), std::string::npos);
  EXPECT_NE(err("\n \n").find("no examples"), std::string::npos);
}

// ---------------------------------------------------------------- IDX

std::string idx_bytes(std::vector<uint32_t> dims, const std::vector<uint8_t>& data) {
  std::string s = {0, 0, 8, char(dims.size())};
  for (uint32_t d : dims) {
    s += char(d >> 24);
    s += char(d >> 16);
    s += char(d >> 8);
    s += char(d);
  }
  s.append(data.begin(), data.end());
  return s;
}

std::vector<uint8_t> pixels(size_t n) {
  std::vector<uint8_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = uint8_t(i * 37);
  return p;
}

TEST(TrainData, IdxImagesAndLabels) {
  TempDir dir;
  write_file(dir / "img", idx_bytes({3, 2, 2}, pixels(12)));
  write_file(dir / "lab", idx_bytes({3}, {4, 0, 9}));
  ImageClassificationData d = load_idx_images(dir / "img", dir / "lab");
  EXPECT_EQ(d.count, 3);
  EXPECT_EQ(d.rows, 2);
  EXPECT_EQ(d.cols, 2);
  EXPECT_EQ(d.labels, (std::vector<int32_t>{4, 0, 9}));
  EXPECT_EQ(d.num_classes, 10);
  std::vector<size_t> idx{2, 0};
  std::vector<float> x = d.batch_pixels(idx);
  ASSERT_EQ(x.size(), 8u);
  EXPECT_FLOAT_EQ(x[0], float(uint8_t(8 * 37)) / 255.0f);
  EXPECT_FLOAT_EQ(x[4], 0.0f);
}

TEST(TrainData, IdxRejectsBadFiles) {
  TempDir dir;
  const std::string p = dir / "x.idx";
  auto err = [&](const std::string& bytes) {
    write_file(p, bytes);
    return error_of([&] { read_idx(p); });
  };
  EXPECT_NE(err(std::string("\x00\x00", 2)).find("truncated"), std::string::npos);
  EXPECT_NE(err(idx_bytes({3, 2, 2}, pixels(11))).find("need 12 bytes of data, the file has 11"), std::string::npos);
  EXPECT_NE(err(idx_bytes({3, 2, 2}, pixels(13))).find("need 12 bytes of data, the file has 13"), std::string::npos);
  EXPECT_NE(err(idx_bytes({3, 2}, {}).substr(0, 10)).find("truncated"), std::string::npos);  // a cut dimension
  EXPECT_NE(err(idx_bytes({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {})).find("more bytes than the file has"),
            std::string::npos);
  std::string f32 = idx_bytes({1}, {0, 0, 0, 0});
  f32[2] = 0x0D;
  EXPECT_NE(err(f32).find("element type 0x0d is not supported"), std::string::npos);
  EXPECT_NE(err("PK\x03\x04....").find("not an IDX file"), std::string::npos);
  write_file(dir / "img", idx_bytes({3, 2, 2}, pixels(12)));
  write_file(dir / "lab", idx_bytes({2}, {1, 2}));
  EXPECT_NE(error_of([&] { load_idx_images(dir / "img", dir / "lab"); }).find("3 images but"), std::string::npos);
  EXPECT_NE(error_of([&] { load_idx_images(dir / "lab", dir / "lab"); }).find("expected [count, rows, cols]"),
            std::string::npos);
}

TEST(TrainData, IdxGzipPlainCorruptAndTruncated) {
  TempDir dir;
  const std::string raw = idx_bytes({50, 28, 28}, pixels(50 * 28 * 28));
  write_file(dir / "img", raw);
  ASSERT_EQ(std::system(("gzip -n -k " + (dir / "img")).c_str()), 0);
  IdxArray a = read_idx(dir / "img.gz");
  EXPECT_EQ(a.dims, (std::vector<int64_t>{50, 28, 28}));
  EXPECT_EQ(std::string(a.data.begin(), a.data.end()), raw.substr(16));
  // two concatenated members read as one stream
  const std::string gz = read_file(dir / "img.gz");
  write_file(dir / "half1", raw.substr(0, 1000));
  write_file(dir / "half2", raw.substr(1000));
  ASSERT_EQ(std::system(("gzip -n -k " + (dir / "half1") + " " + (dir / "half2")).c_str()), 0);
  write_file(dir / "two.gz", read_file(dir / "half1.gz") + read_file(dir / "half2.gz"));
  EXPECT_EQ(read_idx(dir / "two.gz").data, a.data);

  write_file(dir / "cut.gz", gz.substr(0, gz.size() / 2));
  EXPECT_NE(error_of([&] { read_idx(dir / "cut.gz"); }).find("truncated gzip data"), std::string::npos);
  write_file(dir / "short.gz", gz.substr(0, gz.size() - 3));  // the trailer's size field cut
  EXPECT_NE(error_of([&] { read_idx(dir / "short.gz"); }).find("truncated gzip data"), std::string::npos);
  std::string flipped = gz;
  flipped[flipped.size() - 6] ^= 0x55;  // the CRC
  write_file(dir / "crc.gz", flipped);
  EXPECT_NE(error_of([&] { read_idx(dir / "crc.gz"); }).find("corrupt gzip data"), std::string::npos);
  write_file(dir / "tail.gz", gz + "junk");
  EXPECT_NE(error_of([&] { read_idx(dir / "tail.gz"); }).find("garbage after the gzip data"), std::string::npos);
  write_file(dir / "not.gz", raw);
  EXPECT_NE(error_of([&] { read_idx(dir / "not.gz"); }).find("not a gzip file"), std::string::npos);
}

TEST(TrainData, FashionMnistFromDebian) {
  const std::string base = "/usr/share/datasets/fashion-mnist/";
  if (!std::filesystem::exists(base + "t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  ImageClassificationData d = load_idx_images(base + "t10k-images-idx3-ubyte.gz", base + "t10k-labels-idx1-ubyte.gz");
  EXPECT_EQ(d.count, 10000);
  EXPECT_EQ(d.rows, 28);
  EXPECT_EQ(d.cols, 28);
  EXPECT_EQ(d.num_classes, 10);
  std::vector<int> per_class(10);
  for (int32_t l : d.labels) ++per_class[size_t(l)];
  for (int c : per_class) EXPECT_EQ(c, 1000);  // the test set is balanced
}

}  // namespace
}  // namespace tf::train
