#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "common/test_paths.h"
#include "tf/atomic_file.h"
#include "tf/error.h"
#include "tf/safetensors.h"

namespace tf {
namespace {

namespace fs = std::filesystem;
namespace st = safetensors;

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A file with a hand-written header and `data_size` bytes of data.
std::vector<uint8_t> make_file(const std::string& header, size_t data_size = 0, uint8_t fill = 0xab) {
  std::vector<uint8_t> out(8 + header.size() + data_size, fill);
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  if (!header.empty()) std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

st::File parse(const std::vector<uint8_t>& bytes) {
  return st::File::parse_bytes(bytes.data(), bytes.size(), "mem.st");
}

// Expects a tf::Error whose message contains every fragment.
void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected a tf::Error containing '" << *fragments.begin() << "'";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
  }
}

void expect_bad_header(const std::string& header, size_t data_size, std::initializer_list<std::string> fragments) {
  SCOPED_TRACE(header);
  auto bytes = make_file(header, data_size);
  expect_error([&] { parse(bytes); }, fragments);
}

// Parses or throws tf::Error; anything else (crash, other exception) fails.
bool parses_or_errors(const std::vector<uint8_t>& bytes) {
  try {
    st::File f = parse(bytes);
    uint64_t sum = 0;
    for (const auto& t : f.tensors()) {
      const uint8_t* p = f.data(t);
      for (uint64_t i = 0; i < t.nbytes(); ++i) sum += p[i];
      EXPECT_EQ(f.tensor(t.name).shape(), t.shape);
    }
    (void)sum;
    return true;
  } catch (const Error&) {
    return false;
  }
}

Tensor filled(DType dtype, Shape shape, uint8_t seed) {
  Tensor t = Tensor::zeros(dtype, std::move(shape));
  auto* p = static_cast<uint8_t*>(t.mutable_data());
  for (uint64_t i = 0; i < t.nbytes(); ++i) p[i] = uint8_t(seed + i * 7);
  return t;
}

// A small valid file with several dtypes, used by the corruption tests.
std::vector<uint8_t> sample_file(const test::TempDir& dir) {
  st::Writer w;
  w.set_metadata("format", "pt");
  w.add("a.weight", filled(DType::F32, {3, 4}, 1));
  w.add("b.bias", filled(DType::F16, {5}, 2));
  w.add("c.ids", filled(DType::I64, {2}, 3));
  w.add("d.empty", filled(DType::BF16, {0, 4}, 4));
  w.write(dir / "sample.safetensors");
  return read_bytes(dir / "sample.safetensors");
}

// ---------------------------------------------------------------- names

TEST(SafetensorsDType, NamesRoundTrip) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::I8, DType::I16, DType::I32, DType::I64, DType::F64}) {
    auto name = st::dtype_to_name(t);
    EXPECT_EQ(st::dtype_from_name(name), t) << name;
  }
  EXPECT_EQ(st::dtype_from_name("f32"), std::nullopt);  // the format is case-sensitive
  EXPECT_EQ(st::dtype_from_name("U8"), std::nullopt);
  EXPECT_THROW(st::dtype_to_name(DType::Q4_K), Error);
}

// ---------------------------------------------------------------- writer

// Byte vectors from the Rust crate's own tests (safetensors/src/tensor.rs).
TEST(SafetensorsWriter, MatchesTheRustSerializerByteForByte) {
  test::TempDir dir;
  {
    st::Writer w;
    Tensor t = Tensor::zeros(DType::F32, {1, 2, 3});
    for (int i = 0; i < 6; ++i) t.mutable_data_as<float>()[i] = float(i);
    w.add("attn.0", t);
    w.write(dir / "a.st");
    std::vector<uint8_t> expect = {
        64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34,
        58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100,
        97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0,
        0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64};
    EXPECT_EQ(read_bytes(dir / "a.st"), expect);
  }
  {
    st::Writer w;
    w.write(dir / "empty.st");
    EXPECT_EQ(read_bytes(dir / "empty.st"),
              (std::vector<uint8_t>{8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32}));
    st::File f = st::File::open(dir / "empty.st");
    EXPECT_TRUE(f.tensors().empty());
  }
  {
    st::Writer w;
    w.set_metadata("framework", "pt");
    w.write(dir / "meta.st");
    std::vector<uint8_t> expect = {40,  0,   0,   0,   0,   0,   0,   0,   123, 34,  95,  95,  109, 101, 116, 97,
                                   100, 97,  116, 97,  95,  95,  34,  58,  123, 34,  102, 114, 97,  109, 101, 119,
                                   111, 114, 107, 34,  58,  34,  112, 116, 34,  125, 125, 32,  32,  32,  32,  32};
    EXPECT_EQ(read_bytes(dir / "meta.st"), expect);
  }
}

TEST(SafetensorsWriter, RoundTripsEveryDTypeEmptyTensorsAndMetadata) {
  test::TempDir dir;
  st::Writer w;
  w.set_metadata("format", "pt");
  w.set_metadata("note", "line\nbreak \"quoted\" \xc3\xa9");
  std::vector<std::pair<std::string, Tensor>> inputs = {
      {"f32", filled(DType::F32, {2, 3}, 1)},   {"f16", filled(DType::F16, {7}, 2)},
      {"bf16", filled(DType::BF16, {3, 1}, 3)}, {"i8", filled(DType::I8, {5}, 4)},
      {"i16", filled(DType::I16, {3}, 5)},      {"i32", filled(DType::I32, {1, 1, 2}, 6)},
      {"i64", filled(DType::I64, {3}, 7)},      {"f64", filled(DType::F64, {2}, 8)},
      {"empty", filled(DType::F32, {0}, 9)},    {"empty2", filled(DType::I64, {2, 0, 3}, 10)},
      {"scalar", filled(DType::F32, {}, 11)},   {"weird \"name\"\t\xe2\x82\xac", filled(DType::F16, {1}, 12)},
  };
  for (auto& [name, t] : inputs) w.add(name, t);
  auto result = w.write(dir / "all.safetensors");
  EXPECT_EQ(result.bytes, fs::file_size(dir / "all.safetensors"));
  EXPECT_EQ(result.sha256, sha256_file(dir / "all.safetensors"));

  for (LoadMode mode : {LoadMode::Mmap, LoadMode::Read}) {
    st::File f = st::File::open(dir / "all.safetensors", mode);
    EXPECT_EQ(f.data_offset() % 8, 0u);
    EXPECT_EQ(f.metadata().at("format"), "pt");
    EXPECT_EQ(f.metadata().at("note"), "line\nbreak \"quoted\" \xc3\xa9");
    ASSERT_EQ(f.tensors().size(), inputs.size());
    for (auto& [name, t] : inputs) {
      SCOPED_TRACE(name);
      const st::TensorInfo* info = f.find(name);
      ASSERT_NE(info, nullptr);
      EXPECT_EQ(info->dtype, t.dtype());
      EXPECT_EQ(info->shape, t.shape());
      ASSERT_EQ(info->nbytes(), t.nbytes());
      EXPECT_EQ(std::memcmp(f.data(*info), t.data(), size_t(t.nbytes())), 0);
      Tensor back = f.tensor(name);
      EXPECT_EQ(back.shape(), t.shape());
      EXPECT_EQ(back.data(), static_cast<const void*>(f.data(*info)));  // zero-copy
      EXPECT_EQ(reinterpret_cast<uintptr_t>(back.data()) % element_size(t.dtype()), 0u);
    }
  }
}

TEST(SafetensorsWriter, OrdersLikeHuggingFace) {
  test::TempDir dir;
  st::Writer w;
  w.add("z_f16", filled(DType::F16, {3}, 1));
  w.add("a_i8", filled(DType::I8, {1}, 1));
  w.add("b_f32", filled(DType::F32, {1}, 1));
  w.add("a_f32", filled(DType::F32, {1}, 1));
  w.add("y_bf16", filled(DType::BF16, {1}, 1));
  w.add("x_i64", filled(DType::I64, {1}, 1));
  w.add("w_f64", filled(DType::F64, {1}, 1));
  w.add("v_i32", filled(DType::I32, {1}, 1));
  w.add("u_i16", filled(DType::I16, {1}, 1));
  w.write(dir / "o.st");
  st::File f = st::File::open(dir / "o.st");
  std::vector<std::string> names;
  for (const auto& t : f.tensors()) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"x_i64", "w_f64", "a_f32", "b_f32", "v_i32", "y_bf16", "z_f16",
                                              "u_i16", "a_i8"}));
  // the header lists tensors in that same order
  auto bytes = read_bytes(dir / "o.st");
  std::string header(bytes.begin() + 8, bytes.begin() + long(f.data_offset()));
  EXPECT_LT(header.find("x_i64"), header.find("w_f64"));
  EXPECT_LT(header.find("z_f16"), header.find("a_i8"));
}

TEST(SafetensorsWriter, RejectsBadInput) {
  test::TempDir dir;
  st::Writer w;
  w.add("x", filled(DType::F32, {1}, 1));
  expect_error([&] { w.add("x", filled(DType::F32, {1}, 1)); }, {"'x'", "twice"});
  expect_error([&] { w.add("__metadata__", filled(DType::F32, {1}, 1)); }, {"reserved"});
  expect_error([&] { w.add("q", DType::Q4_K, {256}, nullptr); }, {"q4_K"});
  expect_error([&] { w.add("neg", DType::F32, {-1}, nullptr); }, {"negative"});
  expect_error([&] { w.add("big", DType::F32, {int64_t(1) << 40, int64_t(1) << 40}, nullptr); }, {"overflows"});

  st::Writer bad;
  bad.add("short", DType::F32, {4}, [](AtomicFile& out) { out.write_zeros(12); });
  expect_error([&] { bad.write(dir / "bad.st"); }, {"'short'", "wrote 12 bytes, expected 16"});
  EXPECT_FALSE(fs::exists(dir / "bad.st"));
  EXPECT_TRUE(fs::is_empty(dir.path()));  // no temporary file left behind

  st::Writer utf;
  utf.add("bad\xff", filled(DType::F32, {1}, 1));
  expect_error([&] { utf.write(dir / "utf.st"); }, {"UTF-8"});
}

// ---------------------------------------------------------------- reader: hand-made headers

TEST(SafetensorsReader, AcceptsValidEdgeCases) {
  // tensors listed out of offset order are fine; zero-size tensors may share an offset
  auto bytes = make_file(
      R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
      R"("e":{"dtype":"I64","shape":[0],"data_offsets":[8,8]},"__metadata__":null})",
      8);
  st::File f = parse(bytes);
  ASSERT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.tensors()[0].name, "a");
  EXPECT_EQ(f.tensors()[1].name, "b");
  EXPECT_TRUE(f.metadata().empty());
  EXPECT_NO_THROW(parse(make_file("{}")));
  EXPECT_NO_THROW(parse(make_file("  {}  \n")));
}

TEST(SafetensorsReader, RejectsBadHeaders) {
  const std::string ok = R"("dtype":"F32","shape":[2],"data_offsets":[0,8])";
  expect_bad_header("{\"t\":{" + ok + "}", 8, {"mem.st", "invalid JSON"});
  expect_bad_header("[1,2]", 0, {"expected a JSON object, got array"});
  expect_bad_header(R"({"t":[1]})", 0, {"'t'", "expected an object"});
  expect_bad_header(R"({"t":{"shape":[2],"data_offsets":[0,8]}})", 8, {"'t'", "missing dtype"});
  expect_bad_header(R"({"t":{"dtype":"F32","data_offsets":[0,8]}})", 8, {"'t'", "missing shape"});
  expect_bad_header(R"({"t":{"dtype":"F32","shape":[2]}})", 8, {"'t'", "missing data_offsets"});
  expect_bad_header(R"({"t":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", 8, {"'t'", "unknown dtype", "F33"});
  expect_bad_header(R"({"t":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", 2, {"'t'", "U8", "not supported"});
  expect_bad_header(R"({"t":{"dtype":7,"shape":[2],"data_offsets":[0,8]}})", 8, {"'t'", "dtype must be a string"});
  expect_bad_header(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8, {"'t'", "-2 is negative"});
  expect_bad_header(R"({"t":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", 8, {"'t'", "must be an integer"});
  expect_bad_header(R"({"t":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}})", 8, {"'t'", "must be an integer"});
  expect_bad_header(R"({"t":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", 8, {"'t'", "shape must be an array"});
  expect_bad_header(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8,
                    {"'t'", "overflows"});
  expect_bad_header(R"({"t":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8]}})", 8,
                    {"'t'", "overflows"});
  expect_bad_header(R"({"t":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,8]}})", 8,
                    {"'t'", "must be an integer"});
  expect_bad_header(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}})", 8, {"'t'", "2 integers"});
  expect_bad_header(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8, {"'t'", "begin after end"});
  expect_bad_header(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", 8, {"'t'", "run past the data"});
  expect_bad_header(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 8, {"'t'", "4 bytes", "expected 8"});
  expect_bad_header(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}})", 8,
                    {"'t'", "unknown field 'extra'"});
  // tiling of the data section
  expect_bad_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                    R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                    12, {"'b'", "overlap", "'a'"});
  expect_bad_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                    12, {"'b'", "gap after offset 4"});
  expect_bad_header(R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8, {"'b'", "gap after offset 0"});
  expect_bad_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 9, {"cover 8 bytes", "trailing"});
  expect_bad_header("{}", 1, {"trailing"});
  // duplicates: "last one wins" would let two readers disagree about a tensor
  expect_bad_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                    R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                    8, {"duplicate key 'a'"});
  expect_bad_header(R"({"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}})", 4,
                    {"duplicate key 'dtype' in 'a'"});
  expect_bad_header(R"({"__metadata__":{"k":"1","k":"2"}})", 0, {"duplicate key 'k'"});
  // metadata
  expect_bad_header(R"({"__metadata__":{"k":1}})", 0, {"__metadata__ 'k' must be a string"});
  expect_bad_header(R"({"__metadata__":["x"]})", 0, {"__metadata__ must be an object"});
  // nesting, encoding
  expect_bad_header(R"({"a":{"dtype":"F32","shape":[[1]],"data_offsets":[0,4]}})", 4, {"nested deeper"});
  expect_bad_header(std::string(100000, '[') + std::string(100000, ']'), 0, {"nested deeper"});
  expect_bad_header("\xef\xbb\xbf{}", 0, {"byte-order mark"});
  expect_bad_header("{\"\xff\":1}", 0, {"invalid JSON"});
  expect_bad_header("{} // comment", 0, {"invalid JSON"});
}

TEST(SafetensorsReader, RejectsBadHeaderLengths) {
  expect_error([] { parse({}); }, {"mem.st", "too short"});
  expect_error([] { parse({1, 0, 0}); }, {"too short"});
  std::vector<uint8_t> huge(16, 0);
  uint64_t n = st::kMaxHeaderBytes + 1;
  std::memcpy(huge.data(), &n, 8);
  expect_error([&] { parse(huge); }, {"exceeds"});
  n = UINT64_MAX;
  std::memcpy(huge.data(), &n, 8);
  expect_error([&] { parse(huge); }, {"exceeds"});
  n = 9;  // one byte more than the file holds
  std::memcpy(huge.data(), &n, 8);
  expect_error([&] { parse(huge); }, {"runs past the end"});
}

TEST(SafetensorsReader, EveryTruncationFails) {
  test::TempDir dir;
  auto bytes = sample_file(dir);
  ASSERT_NO_THROW(parse(bytes));
  for (size_t len = 0; len < bytes.size(); ++len) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + long(len));
    EXPECT_THROW(parse(cut), Error) << "length " << len;
  }
  // and appending anything fails too (the data section must be covered exactly)
  auto longer = bytes;
  longer.push_back(0);
  EXPECT_THROW(parse(longer), Error);
}

TEST(SafetensorsReader, FlippedBytesParseOrFailCleanly) {
  test::TempDir dir;
  auto bytes = sample_file(dir);
  size_t header_end = 8 + size_t(parse(bytes).data_offset() - 8);
  size_t ok = 0, failed = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t mask : {uint8_t(0x01), uint8_t(0x20), uint8_t(0x80), uint8_t(0xff)}) {
      auto flipped = bytes;
      flipped[i] ^= mask;
      (parses_or_errors(flipped) ? ok : failed)++;
    }
    if (i >= header_end) {  // data bytes: every value parses
      auto flipped = bytes;
      flipped[i] ^= 0xff;
      EXPECT_TRUE(parses_or_errors(flipped));
    }
  }
  EXPECT_GT(ok, 0u);
  EXPECT_GT(failed, 0u);
}

TEST(SafetensorsReader, MisalignedDataIsCopiedNotBorrowed) {
  // A header of 8k+1 bytes puts the data at an odd offset: a float* there would be misaligned.
  std::string header = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  while (header.size() % 8 != 1) header += ' ';
  std::vector<uint8_t> bytes = make_file(header, 0);
  float v[2] = {1.5f, -2.25f};
  bytes.insert(bytes.end(), reinterpret_cast<uint8_t*>(v), reinterpret_cast<uint8_t*>(v) + 8);
  // parse_bytes over a copy starting at an aligned address
  std::vector<uint64_t> storage((bytes.size() + 7) / 8);
  std::memcpy(storage.data(), bytes.data(), bytes.size());
  st::File f = st::File::parse_bytes(reinterpret_cast<const uint8_t*>(storage.data()), bytes.size(), "mis.st");
  Tensor t = f.tensor("t");
  EXPECT_NE(t.data(), static_cast<const void*>(f.data(f.tensors()[0])));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 4, 0u);
  EXPECT_EQ(t.data_as<float>()[0], 1.5f);
  EXPECT_EQ(t.data_as<float>()[1], -2.25f);
  expect_error([&] { f.tensor("missing"); }, {"mis.st", "no tensor 'missing'"});
}

// ---------------------------------------------------------------- sharded checkpoints

struct ShardFixture {
  test::TempDir dir;
  ShardFixture() {
    st::Writer a, b;
    a.add("model.embed.weight", filled(DType::F32, {4, 2}, 1));
    a.add("model.layers.0.w", filled(DType::F16, {3}, 2));
    b.add("model.layers.1.w", filled(DType::F16, {3}, 3));
    b.add("lm_head.weight", filled(DType::BF16, {4, 2}, 4));
    a.write(dir / "model-00001-of-00002.safetensors");
    b.write(dir / "model-00002-of-00002.safetensors");
  }
  std::string index(const std::string& weight_map) const {
    std::string path = dir / "model.safetensors.index.json";
    std::ofstream(path) << R"({"metadata": {"total_size": 64}, "weight_map": )" << weight_map << "}";
    return path;
  }
  static std::string valid_map() {
    return R"({"lm_head.weight": "model-00002-of-00002.safetensors",
               "model.embed.weight": "model-00001-of-00002.safetensors",
               "model.layers.0.w": "model-00001-of-00002.safetensors",
               "model.layers.1.w": "model-00002-of-00002.safetensors"})";
  }
};

TEST(SafetensorsCheckpoint, OpensAShardedFolder) {
  ShardFixture fx;
  fx.index(ShardFixture::valid_map());
  st::Checkpoint c = st::Checkpoint::open_dir(fx.dir.path().string());
  EXPECT_TRUE(c.sharded());
  EXPECT_EQ(c.shards().size(), 2u);
  EXPECT_EQ(c.size(), 4u);
  EXPECT_EQ(c.names(), (std::vector<std::string>{"model.embed.weight", "model.layers.0.w", "lm_head.weight",
                                                  "model.layers.1.w"}));
  EXPECT_EQ(c.index_metadata(), R"({"total_size":64})");
  EXPECT_TRUE(c.contains("lm_head.weight"));
  EXPECT_FALSE(c.contains("nope"));
  EXPECT_EQ(c.find("nope"), nullptr);
  EXPECT_EQ(c.info("lm_head.weight").dtype, DType::BF16);
  Tensor t = c.tensor("lm_head.weight");
  EXPECT_EQ(t.shape(), (Shape{4, 2}));
  EXPECT_EQ(std::memcmp(t.data(), filled(DType::BF16, {4, 2}, 4).data(), 16), 0);
  EXPECT_EQ(c.data("model.layers.1.w"), static_cast<const uint8_t*>(c.tensor("model.layers.1.w").data()));
  expect_error([&] { c.info("nope"); }, {"model.safetensors.index.json", "no tensor 'nope'"});
}

TEST(SafetensorsCheckpoint, RejectsBrokenIndexes) {
  ShardFixture fx;
  const std::string dir = fx.dir.path().string();
  auto open = [&] { st::Checkpoint::open_dir(dir); };
  fx.index(R"({"x": "model-00003-of-00003.safetensors"})");
  expect_error(open, {"shard 'model-00003-of-00003.safetensors'", "does not exist"});
  fx.index(R"({"model.embed.weight": "model-00001-of-00002.safetensors",
               "model.layers.0.w": "model-00001-of-00002.safetensors",
               "ghost": "model-00001-of-00002.safetensors"})");
  expect_error(open, {"tensor 'ghost'", "does not hold it"});
  fx.index(R"({"a": "../evil.safetensors"})");
  expect_error(open, {"'../evil.safetensors'", "not a plain file name"});
  fx.index(R"({"a": "sub/x.safetensors"})");
  expect_error(open, {"'sub/x.safetensors'", "not a plain file name"});
  fx.index(R"({"a": ".."})");
  expect_error(open, {"not a plain file name"});
  fx.index(R"({"a": "/etc/passwd"})");
  expect_error(open, {"not a plain file name"});
  fx.index(R"({"a": 3})");
  expect_error(open, {"must name a shard file"});
  fx.index(R"({})");
  expect_error(open, {"lists no tensors"});
  // the same tensor twice in the map
  fx.index(R"({"lm_head.weight": "model-00002-of-00002.safetensors",
               "lm_head.weight": "model-00001-of-00002.safetensors"})");
  expect_error(open, {"duplicate key 'lm_head.weight' in 'weight_map'"});
  // a shard holding a tensor the index does not list
  fx.index(R"({"model.layers.1.w": "model-00002-of-00002.safetensors"})");
  expect_error(open, {"holds tensor 'lm_head.weight'", "does not list"});
  // the same tensor in two shards
  {
    st::Writer dup;
    dup.add("lm_head.weight", filled(DType::BF16, {4, 2}, 9));
    dup.write(fx.dir / "extra.safetensors");
    fx.index(R"({"lm_head.weight": "model-00002-of-00002.safetensors",
                 "model.layers.1.w": "model-00002-of-00002.safetensors",
                 "x": "extra.safetensors"})");
    expect_error(open, {"'extra.safetensors'", "does not hold it"});
  }
  {
    std::ofstream(fx.dir / "model.safetensors.index.json") << R"({"weight_map": {"a": "b"},)";
    expect_error(open, {"model.safetensors.index.json", "invalid JSON"});
    std::ofstream(fx.dir / "model.safetensors.index.json") << R"({"metadata": {}})";
    expect_error(open, {"missing weight_map"});
  }
}

TEST(SafetensorsCheckpoint, TensorInTwoShardsIsAnError) {
  ShardFixture fx;
  st::Writer dup;
  dup.add("lm_head.weight", filled(DType::BF16, {4, 2}, 9));
  dup.add("only.here", filled(DType::F32, {1}, 9));
  dup.write(fx.dir / "model-extra.safetensors");
  fx.index(R"({"lm_head.weight": "model-00002-of-00002.safetensors",
               "model.layers.1.w": "model-00002-of-00002.safetensors",
               "model.embed.weight": "model-00001-of-00002.safetensors",
               "model.layers.0.w": "model-00001-of-00002.safetensors",
               "only.here": "model-extra.safetensors"})");
  expect_error([&] { st::Checkpoint::open_dir(fx.dir.path().string()); },
               {"tensor 'lm_head.weight' is in both shard 'model-extra.safetensors' and shard "
                "'model-00002-of-00002.safetensors'"});
}

TEST(SafetensorsCheckpoint, SingleFileWinsAndMissingIsAnError) {
  test::TempDir dir;
  expect_error([&] { st::Checkpoint::open_dir(dir.path().string()); }, {"no model.safetensors"});
  expect_error([&] { st::Checkpoint::open_dir(dir / "nothing-here"); }, {"not a folder"});
  std::ofstream(dir / "model.safetensors.index.json") << "garbage";
  st::Writer w;
  w.add("x", filled(DType::F32, {1}, 1));
  w.write(dir / "model.safetensors");
  st::Checkpoint c = st::Checkpoint::open_dir(dir.path().string());  // transformers' order: single file first
  EXPECT_FALSE(c.sharded());
  EXPECT_EQ(c.names(), std::vector<std::string>{"x"});
}

// ---------------------------------------------------------------- the model zoo

struct Known {
  const char* folder;
  const char* tensor;
  DType dtype;
  Shape shape;
};

TEST(SafetensorsZoo, EveryModelFileParsesWithKnownShapes) {
  TF_REQUIRE_SHARED_MODELS();
  const fs::path zoo = test::shared_models();
  size_t files = 0;
  for (const char* group : {"parity", "trained"}) {
    for (const auto& entry : fs::directory_iterator(zoo / group)) {
      for (const char* name : {"model.safetensors", "golden.safetensors"}) {
        fs::path p = entry.path() / name;
        if (!fs::exists(p)) continue;
        SCOPED_TRACE(p.string());
        st::File f = st::File::open(p.string());
        EXPECT_FALSE(f.tensors().empty());
        EXPECT_EQ(f.metadata().at("format"), "pt");
        for (const auto& t : f.tensors()) {
          Tensor v = f.tensor(t.name);
          EXPECT_EQ(v.data(), static_cast<const void*>(f.data(t)));
        }
        ++files;
      }
      st::Checkpoint c = st::Checkpoint::open_dir(entry.path().string());
      EXPECT_GT(c.size(), 0u);
    }
  }
  EXPECT_GE(files, 46u);

  const Known known[] = {
      {"trained/llama-shakespeare", "model.embed_tokens.weight", DType::BF16, {32000, 256}},
      {"trained/llama-shakespeare", "model.layers.0.self_attn.k_proj.weight", DType::BF16, {128, 256}},
      {"trained/gpt2-shakespeare", "transformer.wte.weight", DType::F16, {50257, 256}},
      {"trained/gpt2-shakespeare", "transformer.h.0.attn.c_attn.weight", DType::F16, {256, 768}},
      {"trained/bert-shakespeare", "bert.embeddings.word_embeddings.weight", DType::F16, {30522, 256}},
      {"parity/llama", "lm_head.weight", DType::F32, {1000, 64}},
      {"parity/llama", "model.layers.1.self_attn.k_proj.weight", DType::F32, {32, 64}},
      {"parity/gemma", "model.layers.0.self_attn.k_proj.weight", DType::F32, {16, 64}},
      {"parity/albert", "albert.embeddings.word_embeddings.weight", DType::F32, {1000, 32}},
      {"parity/vit", "embeddings.position_embeddings", DType::F32, {1, 17, 64}},
      {"parity/whisper", "model.encoder.conv1.weight", DType::F32, {64, 80, 3}},
  };
  for (const Known& k : known) {
    SCOPED_TRACE(std::string(k.folder) + " " + k.tensor);
    st::Checkpoint c = st::Checkpoint::open_dir((zoo / k.folder).string());
    const st::TensorInfo& info = c.info(k.tensor);
    EXPECT_EQ(info.dtype, k.dtype);
    EXPECT_EQ(info.shape, k.shape);
  }
  // tied embeddings: no lm_head in the file
  EXPECT_FALSE(st::Checkpoint::open_dir((zoo / "trained/llama-shakespeare").string()).contains("lm_head.weight"));
}

// Reading a file written by Python's safetensors and writing it back gives the same bytes.
TEST(SafetensorsZoo, RewritingGivesIdenticalBytes) {
  TF_REQUIRE_SHARED_MODELS();
  test::TempDir dir;
  size_t n = 0;
  for (const auto& entry : fs::directory_iterator(test::shared_models() / "parity")) {
    for (const char* name : {"model.safetensors", "golden.safetensors"}) {
      fs::path p = entry.path() / name;
      if (!fs::exists(p)) continue;
      SCOPED_TRACE(p.string());
      st::File f = st::File::open(p.string());
      st::Writer w;
      for (const auto& [k, v] : f.metadata()) w.set_metadata(k, v);
      for (const auto& t : f.tensors()) w.add(t.name, f.tensor(t.name));
      auto r = w.write(dir / "copy.safetensors");
      EXPECT_EQ(r.sha256, sha256_file(p.string()));
      ++n;
    }
  }
  EXPECT_GE(n, 40u);
}

}  // namespace
}  // namespace tf
