#include "tf/gguf.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/test_paths.h"
#include "tf/atomic_file.h"
#include "tf/error.h"
#include "tf/half.h"

namespace tf::gguf {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- helpers

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

const uint8_t* bytes_of(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

File parse(const std::string& bytes, const std::string& name = "mem.gguf") {
  return File::parse_bytes(bytes_of(bytes), bytes.size(), name);
}

// Parses and expects a tf::Error whose message names the file and contains `part`.
void expect_error(const std::string& bytes, const std::string& part) {
  try {
    parse(bytes, "bad.gguf");
    ADD_FAILURE() << "parsed, expected an error containing '" << part << "'";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("bad.gguf"), std::string::npos) << msg;
    EXPECT_NE(msg.find(part), std::string::npos) << "expected '" << part << "' in: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_LT(msg.size(), 1024u) << msg;
  }
}

// Hand-built GGUF bytes, for inputs the writer refuses to make.
struct Raw {
  std::string b;
  Raw& u8(uint8_t v) { return put(&v, 1); }
  Raw& u32(uint32_t v) { return put(&v, 4); }
  Raw& u64(uint64_t v) { return put(&v, 8); }
  Raw& str(std::string_view s) {
    u64(s.size());
    b += s;
    return *this;
  }
  Raw& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    b += "GGUF";
    return u32(version).u64(n_tensors).u64(n_kv);
  }
  Raw& kv_u32(std::string_view key, uint32_t v) { return str(key).u32(uint32_t(ValueType::UINT32)).u32(v); }
  Raw& tensor(std::string_view name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).u32(uint32_t(ne.size()));
    for (uint64_t n : ne) u64(n);
    return u32(type).u64(offset);
  }
  Raw& pad_to(size_t alignment) {
    b.resize((b.size() + alignment - 1) / alignment * alignment, '\0');
    return *this;
  }
  Raw& zeros(size_t n) {
    b.append(n, '\0');
    return *this;
  }
  Raw& put(const void* p, size_t n) {
    b.append(static_cast<const char*>(p), n);
    return *this;
  }
};

// Parses, then touches everything a caller might: every value and every
// tensor byte (so ASan sees any out-of-bounds pointer the reader let through).
uint64_t touch(const File& f) {
  uint64_t h = f.metadata().size();
  for (const KeyValue& kv : f.metadata()) {
    h += kv.key.size();
    std::string enc;
    kv.value.encode(enc);
    h += enc.size();
  }
  for (const TensorInfo& t : f.tensors()) {
    const uint8_t* p = f.tensor_data(t);
    for (uint64_t i = 0; i < t.nbytes; i += 61) h += p[i];
    h += p[t.nbytes - 1];
    h += f.tensor(t.name).numel();
  }
  return h;
}

// Every outcome must be a parse or a tf::Error; anything else fails the test.
bool parses_or_fails_cleanly(const uint8_t* data, size_t size, const std::string& what) {
  try {
    File f = File::parse_bytes(data, size, "mem.gguf");
    touch(f);
    return true;
  } catch (const Error&) {
    return false;
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": non-tf exception: " << e.what();
    return false;
  }
}

// A cut is parsed from its own exact-size buffer, so that ASan sees a read past the cut.
bool cut_parses(const std::string& bytes, size_t n) {
  std::vector<uint8_t> copy(bytes.begin(), bytes.begin() + std::ptrdiff_t(n));
  return parses_or_fails_cleanly(copy.data(), n, "cut at " + std::to_string(n));
}

// Flips in place and back: copying a whole file per case would dominate the test's time.
void flip_parses(std::string& bytes, size_t pos, uint8_t mask) {
  bytes[pos] = char(uint8_t(bytes[pos]) ^ mask);
  parses_or_fails_cleanly(bytes_of(bytes), bytes.size(), "flip at " + std::to_string(pos));
  bytes[pos] = char(uint8_t(bytes[pos]) ^ mask);
}

// A small file with every value type, nested arrays, a block type, an odd
// tensor size (so padding shows) and a custom alignment.
struct Fixture {
  std::vector<float> f32 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  std::vector<uint16_t> f16 = {0x3c00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600, 0x4700, 0x4800};
  std::vector<uint8_t> q4_0 = std::vector<uint8_t>(4 * 18);  // 2 rows of 64 = 2 blocks each
  std::vector<int8_t> i8 = {-1, 2, -3, 4, -5};
  std::vector<uint8_t> q4_k = std::vector<uint8_t>(144);

  Fixture() {
    for (size_t i = 0; i < q4_0.size(); ++i) q4_0[i] = uint8_t(i * 7 + 1);
    for (size_t i = 0; i < q4_k.size(); ++i) q4_k[i] = uint8_t(255 - i);
  }

  Writer writer() const {
    Writer w;
    w.set("general.architecture", Value::string("llama"));
    w.set_alignment(64);
    w.set("t.u8", Value::u8(200));
    w.set("t.i8", Value::i8(-100));
    w.set("t.u16", Value::u16(60000));
    w.set("t.i16", Value::i16(-30000));
    w.set("t.u32", Value::u32(4000000000u));
    w.set("t.i32", Value::i32(-2000000000));
    w.set("t.u64", Value::u64(18000000000000000000ull));
    w.set("t.i64", Value::i64(-9000000000000000000ll));
    w.set("t.f32", Value::f32(0.25f));
    w.set("t.f64", Value::f64(-1.5e300));
    w.set("t.bool", Value::boolean(true));
    w.set("t.string", Value::string(std::string("h\0llo \xe2\x96\x81", 10)));
    w.set("t.empty_string", Value::string(""));
    w.set("t.strings", Value::string_array({"a", "", "ccc"}));
    w.set("t.f32s", Value::f32_array({1.5f, -2.f, std::nanf("")}));
    w.set("t.i32s", Value::i32_array({1, -2, 3}));
    w.set("t.bools", Value::array(ValueType::BOOL, {Value::boolean(true), Value::boolean(false)}));
    w.set("t.u64s", Value::array(ValueType::UINT64, {Value::u64(1), Value::u64(~0ull)}));
    w.set("t.empty", Value::array(ValueType::INT16, {}));
    w.set("t.nested", Value::array(ValueType::ARRAY, {Value::i32_array({1, 2}), Value::string_array({"x"}),
                                                      Value::array(ValueType::ARRAY, {Value::f32_array({})})}));
    w.add_tensor("f32", DType::F32, {4, 3}, f32.data());
    w.add_tensor("f16", DType::F16, {8}, f16.data());
    w.add_tensor("blk.q4_0", DType::Q4_0, {64, 2}, q4_0.data());
    w.add_tensor("i8", DType::I8, {5}, i8.data());
    w.add_tensor("q4_k", DType::Q4_K, {256, 1, 1, 1}, [this](AtomicFile& out) {
      out.write(q4_k.data(), 100);  // in two pieces, as a streaming producer would
      out.write(q4_k.data() + 100, 44);
    });
    return w;
  }
};

// ---------------------------------------------------------------- values

TEST(GgufValue, ScalarsKeepTypeAndConvertOnlyWhenTheyFit) {
  EXPECT_EQ(Value::u8(200).as_u64(), 200u);
  EXPECT_EQ(Value::i8(-5).as_i64(), -5);
  EXPECT_THROW(Value::i8(-5).as_u64(), Error);
  EXPECT_THROW(Value::u64(~0ull).as_i64(), Error);
  EXPECT_EQ(Value::u64(~0ull).as_u64(), ~0ull);
  EXPECT_EQ(Value::u32(7).as_f64(), 7.0);
  EXPECT_EQ(Value::i16(-7).as_f64(), -7.0);
  EXPECT_EQ(Value::f32(0.1f).as_f64(), double(0.1f));
  EXPECT_THROW(Value::f32(1).as_u64(), Error);
  EXPECT_THROW(Value::string("1").as_u64(), Error);
  EXPECT_THROW(Value::u8(1).as_bool(), Error);
  EXPECT_THROW(Value::boolean(true).as_string(), Error);
  EXPECT_TRUE(Value::boolean(true).as_bool());
  EXPECT_TRUE(Value::u16(1).is_integer());
  EXPECT_FALSE(Value::boolean(true).is_integer());
  EXPECT_EQ(Value::u32(1).type(), ValueType::UINT32);
  EXPECT_FALSE(Value::u32(1) == Value::u64(1));  // exact types matter for byte-identical copies
  EXPECT_EQ(value_type_name(ValueType::FLOAT64), "float64");
}

TEST(GgufValue, ArraysPackAndUnpack) {
  Value a = Value::array(ValueType::INT16, {Value::i16(-1), Value::i16(300)});
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(a.element_type(), ValueType::INT16);
  EXPECT_EQ(a.packed().size(), 4u);
  EXPECT_EQ(a.at(0), Value::i16(-1));
  EXPECT_EQ(a.as_i64s(), (std::vector<int64_t>{-1, 300}));
  EXPECT_EQ(a.as_f32s(), (std::vector<float>{-1.f, 300.f}));
  EXPECT_EQ(a.items().size(), 2u);
  EXPECT_THROW(a.at(2), Error);
  EXPECT_THROW(a.as_strings(), Error);
  EXPECT_THROW(Value::array(ValueType::INT16, {Value::i32(1)}), Error);
  EXPECT_THROW(Value::packed_array(ValueType::INT32, "abc"), Error);
  EXPECT_THROW(Value::packed_array(ValueType::STRING, ""), Error);
  Value s = Value::string_array({"a", "b"});
  EXPECT_EQ(s.as_strings(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s.at(1).as_string(), "b");
  EXPECT_THROW(s.as_f32s(), Error);
  EXPECT_THROW(Value::f32_array({1.5f}).as_i64s(), Error);
  EXPECT_THROW(Value::u64(3).size(), Error);
  EXPECT_THROW(Value::u64(3).packed(), Error);
}

// ---------------------------------------------------------------- writer + reader

TEST(GgufFile, WriterFixtureReadsBack) {
  test::TempDir dir;
  Fixture fx;
  Writer w = fx.writer();
  Writer::Result res = w.write(dir / "a.gguf");
  EXPECT_EQ(res.sha256, sha256_file(dir / "a.gguf"));
  EXPECT_EQ(res.bytes, fs::file_size(dir / "a.gguf"));

  File f = File::open(dir / "a.gguf");
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  EXPECT_EQ(f.architecture(), "llama");
  ASSERT_EQ(f.metadata().size(), w.metadata().size());
  for (size_t i = 0; i < f.metadata().size(); ++i) {
    EXPECT_EQ(f.metadata()[i].key, w.metadata()[i].key);
    EXPECT_TRUE(f.metadata()[i].value == w.metadata()[i].value) << f.metadata()[i].key;
  }
  EXPECT_EQ(f.metadata()[1].key, "general.alignment");  // set_alignment's key goes where it was set
  EXPECT_EQ(f.get("general.alignment").type(), ValueType::UINT32);
  EXPECT_EQ(f.get("t.i64").as_i64(), -9000000000000000000ll);
  EXPECT_EQ(f.get("t.u64").as_u64(), 18000000000000000000ull);
  EXPECT_EQ(f.get("t.f64").as_f64(), -1.5e300);
  EXPECT_EQ(f.get_string("t.string", ""), std::string("h\0llo \xe2\x96\x81", 10));
  EXPECT_EQ(f.get_string("missing", "dflt"), "dflt");
  EXPECT_EQ(f.get_u64("t.u16", 0), 60000u);
  EXPECT_EQ(f.get_f64("t.f32", 0), 0.25);
  EXPECT_EQ(f.get_f64("t.u8", 0), 200.0);
  EXPECT_TRUE(f.get_bool("t.bool", false));
  EXPECT_THROW(f.get_u64("t.string", 0), Error);
  EXPECT_THROW(f.get("missing"), Error);
  try {
    f.get_bool("t.u8", false);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'t.u8'"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::isnan(f.get("t.f32s").as_f32s()[2]));
  const Value& nested = f.get("t.nested");
  ASSERT_EQ(nested.size(), 3u);
  EXPECT_EQ(nested.at(0).as_i64s(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(nested.at(1).as_strings(), std::vector<std::string>{"x"});
  EXPECT_EQ(nested.at(2).at(0).size(), 0u);
  EXPECT_EQ(f.get("t.empty").size(), 0u);

  ASSERT_EQ(f.tensors().size(), 5u);
  const TensorInfo* q = f.find_tensor("blk.q4_0");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->ne, (std::vector<uint64_t>{64, 2}));
  EXPECT_EQ(q->shape(), (Shape{2, 64}));
  EXPECT_EQ(q->type, DType::Q4_0);
  EXPECT_EQ(q->nbytes, 72u);
  EXPECT_EQ(std::memcmp(f.tensor_data(*q), fx.q4_0.data(), 72), 0);
  EXPECT_EQ(f.find_tensor("nope"), nullptr);
  EXPECT_THROW(f.tensor("nope"), Error);

  Tensor t = f.tensor("f32");
  EXPECT_EQ(t.shape(), (Shape{3, 4}));
  EXPECT_EQ(t.data(), f.tensor_data(*f.find_tensor("f32")));  // zero-copy
  EXPECT_EQ(t.data_as<float>()[5], 6.f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
  EXPECT_EQ(f.tensor("q4_k").shape(), (Shape{1, 1, 1, 256}));
  EXPECT_EQ(std::memcmp(f.tensor("q4_k").data(), fx.q4_k.data(), 144), 0);
  EXPECT_EQ(std::memcmp(f.tensor("i8").data(), fx.i8.data(), 5), 0);

  // Layout: offsets in add order, each aligned, padding after every tensor.
  uint64_t expect = 0;
  for (const TensorInfo& info : f.tensors()) {
    EXPECT_EQ(info.offset, expect) << info.name;
    expect += (info.nbytes + 63) / 64 * 64;
  }
  EXPECT_EQ(fs::file_size(dir / "a.gguf"), f.data_offset() + expect);
  const TensorInfo& i8 = *f.find_tensor("i8");
  std::string bytes = read_all(dir / "a.gguf");
  EXPECT_EQ(bytes.substr(f.data_offset() + i8.offset + 5, 59), std::string(59, '\0'));

  // A tensor borrowed from the file outlives the File object.
  Tensor kept;
  {
    File g = File::open(dir / "a.gguf", LoadMode::Read);
    kept = g.tensor("f16");
  }
  EXPECT_EQ(kept.data_as<uint16_t>()[7], 0x4800);
}

TEST(GgufFile, WriteReadWriteIsByteIdentical) {
  test::TempDir dir;
  Fixture fx;
  std::string a = fx.writer().write(dir / "a.gguf").sha256;
  File f = File::open(dir / "a.gguf");
  Writer::Result b = writer_from(f).write(dir / "b.gguf");
  EXPECT_EQ(a, b.sha256);
  EXPECT_EQ(read_all(dir / "a.gguf"), read_all(dir / "b.gguf"));
  // parse_bytes gives the same file and the same copy
  std::string bytes = read_all(dir / "a.gguf");
  File m = parse(bytes);
  EXPECT_EQ(writer_from(m).write(dir / "c.gguf").sha256, a);
}

TEST(GgufFile, FileWithoutTensorsEndsAfterMetadata) {
  test::TempDir dir;
  Writer w;
  w.set("general.architecture", Value::string("x"));  // 4+4+8+8 + 8+20+4+8+1 = 65 bytes
  Writer::Result r = w.write(dir / "v.gguf");
  EXPECT_EQ(r.bytes, 65u);
  File f = File::open(dir / "v.gguf");
  EXPECT_EQ(f.size(), 65u);
  EXPECT_EQ(f.data_offset(), 96u);  // past the end: nothing lives there
  EXPECT_EQ(writer_from(f).write(dir / "w.gguf").sha256, r.sha256);
}

TEST(GgufFile, AcceptsVersion2AndNonCanonicalLayouts) {
  // Version 2 shares v3's layout; tensors stored in reverse order with a gap.
  Raw raw;
  raw.header(2, 1, 2).kv_u32("general.alignment", 16);
  raw.tensor("a", {2}, 0, 32).tensor("b", {4}, 0, 0).pad_to(16);
  float b[4] = {1, 2, 3, 4}, a[2] = {5, 6};
  raw.put(b, 16).zeros(16).put(a, 8);
  File f = parse(raw.b);
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.alignment(), 16u);
  EXPECT_EQ(f.tensor("a").data_as<float>()[1], 6.f);
  test::TempDir dir;
  writer_from(f).write(dir / "x.gguf");
  File g = File::open(dir / "x.gguf");
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.find_tensor("a")->offset, 0u);  // rewritten in info order, packed
  EXPECT_EQ(g.find_tensor("b")->offset, 16u);
  EXPECT_EQ(g.tensor("a").data_as<float>()[1], 6.f);
  EXPECT_EQ(g.tensor("b").data_as<float>()[3], 4.f);

  // Zero dims: a scalar.
  Raw s;
  s.header(1, 0).tensor("s", {}, 0, 0).pad_to(32);
  float one = 1;
  s.put(&one, 4);
  File sf = parse(s.b);
  EXPECT_EQ(sf.tensors()[0].numel(), 1u);
  EXPECT_EQ(sf.tensor("s").shape(), Shape{});
}

TEST(GgufWriter, RejectsWhatGgmlCannotLoad) {
  test::TempDir dir;
  float data[4] = {};
  Writer w;
  w.add_tensor("x", DType::F32, {4}, data);
  EXPECT_THROW(w.add_tensor("x", DType::F32, {4}, data), Error);                          // duplicate
  EXPECT_THROW(w.add_tensor("y", DType::F32, {4, 0}, data), Error);                       // zero dim
  EXPECT_THROW(w.add_tensor("y", DType::F32, {1, 1, 1, 1, 1}, data), Error);              // 5 dims
  EXPECT_THROW(w.add_tensor("y", DType::Q4_0, {16}, data), Error);                        // not whole blocks
  EXPECT_THROW(w.add_tensor("y", DType(4), {32}, data), Error);                           // removed type id
  EXPECT_THROW(w.add_tensor(std::string(64, 'n'), DType::F32, {4}, data), Error);         // GGML_MAX_NAME
  EXPECT_THROW(w.add_tensor("y", DType::F64, {1ull << 31, 1ull << 31, 4}, data), Error);  // overflow
  EXPECT_THROW(w.add_tensor("y", DType::F32, {4}, static_cast<const void*>(nullptr)), Error);
  EXPECT_THROW(w.add_tensor("y", DType::F32, {4}, Writer::Producer()), Error);
  w.add_tensor(std::string(63, 'n'), DType::F32, {1}, data);
  EXPECT_EQ(w.tensor_count(), 2u);
  EXPECT_THROW(w.set("general.alignment", Value::u64(64)), Error);
  EXPECT_THROW(w.set("general.alignment", Value::u32(48)), Error);
  EXPECT_THROW(w.set_alignment(0), Error);
  EXPECT_THROW(w.set_alignment(1ull << 32), Error);
  EXPECT_EQ(w.alignment(), 32u);
  w.set_alignment(32);
  EXPECT_TRUE(w.metadata().empty());  // the default needs no key
  w.set_alignment(16);
  w.set_alignment(32);
  ASSERT_EQ(w.metadata().size(), 1u);  // an explicit key stays explicit
  w.remove("general.alignment");
  EXPECT_TRUE(w.metadata().empty());

  // A producer that writes the wrong byte count fails and leaves no file.
  Writer bad;
  bad.add_tensor("z", DType::F32, {4}, [](AtomicFile& out) { out.write_zeros(15); });
  try {
    bad.write(dir / "bad.gguf");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'z'"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(GgufWriter, SetReplacesInPlaceAndRemoveKeepsOrder) {
  Writer w;
  w.set("a", Value::u8(1));
  w.set("b", Value::u8(2));
  w.set("c", Value::u8(3));
  w.set("a", Value::string("x"));
  w.remove("b");
  w.remove("missing");
  w.set("d", Value::u8(4));
  ASSERT_EQ(w.metadata().size(), 3u);
  EXPECT_EQ(w.metadata()[0].key, "a");
  EXPECT_EQ(w.metadata()[0].value.as_string(), "x");
  EXPECT_EQ(w.metadata()[1].key, "c");
  EXPECT_EQ(w.metadata()[2].key, "d");
  w.set("c", Value::u8(9));
  EXPECT_EQ(w.metadata()[1].value.as_u64(), 9u);
  w.remove(w.metadata()[0].key);  // a key that lives in the writer itself
  EXPECT_EQ(w.metadata()[0].key, "c");
}

// ---------------------------------------------------------------- hostile input

TEST(GgufHostile, HeaderFields) {
  expect_error("", "too short");
  expect_error("GGU", "too short");
  expect_error("GGML" + std::string(20, '\0'), "not a GGUF file");
  expect_error(Raw().header(0, 0, 1).b, "version 1");
  expect_error(Raw().header(0, 0, 4).b, "unsupported GGUF version 4");
  expect_error(Raw().header(0, 0, 3u << 24).b, "big-endian");
  expect_error(std::string("GGUF\3\0\0\0", 8), "truncated");
  // 2^63 tensors in a 24-byte file: must fail before reserving anything.
  expect_error(Raw().header(1ull << 63, 0).b, "tensor_count");
  expect_error(Raw().header(~0ull, 0).b, "tensor_count");
  expect_error(Raw().header(0, ~0ull).b, "metadata_kv_count");
  expect_error(Raw().header(0, 2).kv_u32("a", 1).b, "metadata_kv_count");  // 2 × 13 > 16 bytes left
  expect_error(Raw().header(1, 1).kv_u32("a", 1).b, "tensor_count");
  EXPECT_NO_THROW(parse(Raw().header(0, 0).b));
}

TEST(GgufHostile, MetadataFields) {
  auto kv = [](auto&& build) {
    Raw r;
    r.header(0, 1);
    build(r);
    return r.b;
  };
  expect_error(kv([](Raw& r) { r.u64(~0ull).u32(0).u8(0); }), "string length");
  expect_error(kv([](Raw& r) { r.u64(1ull << 62).u32(0).u8(0); }), "metadata key 0");
  expect_error(kv([](Raw& r) { r.str("k").u32(13).u8(0); }), "unknown value type 13");
  expect_error(kv([](Raw& r) { r.str("k").u32(~0u).u8(0); }), "'k'");
  expect_error(kv([](Raw& r) { r.str("k").u32(8).u64(1000); }), "'k'");  // string past the end
  expect_error(kv([](Raw& r) { r.str("k").u32(6).u8(0); }), "truncated");
  expect_error(kv([](Raw& r) { r.str("k").u32(9).u32(0).u64(1ull << 62); }), "array of 4611686018427387904");
  expect_error(kv([](Raw& r) { r.str("k").u32(9).u32(12).u64(2).u64(0); }), "cannot fit");  // 2 × f64 in 8
  expect_error(kv([](Raw& r) { r.str("k").u32(9).u32(8).u64(~0ull); }), "cannot fit");
  expect_error(kv([](Raw& r) { r.str("k").u32(9).u32(9).u64(1ull << 60); }), "cannot fit");
  expect_error(kv([](Raw& r) { r.str("k").u32(9).u32(14).u64(0); }), "unknown value type 14");
  expect_error(kv([](Raw& r) { r.str("k").u32(9).u32(8).u64(1).u64(5).b += "ab"; }), "string length 5");
  {
    // Nesting deeper than the limit fails; the limit itself parses.
    auto nested = [](int depth) {
      Raw r;
      r.header(0, 1).str("k").u32(9);
      for (int i = 1; i < depth; ++i) r.u32(9).u64(1);
      r.u32(0).u64(0);
      return r.b;
    };
    EXPECT_NO_THROW(parse(nested(16)));
    expect_error(nested(17), "nested deeper");
    expect_error(nested(100000), "nested deeper");  // no stack overflow
  }
  {
    Raw r;
    r.header(0, 2).kv_u32("dup", 1).kv_u32("dup", 2);
    expect_error(r.b, "duplicate metadata key 'dup'");
    Raw nl;  // a hostile key cannot break the message over lines or flood it
    nl.header(0, 2).kv_u32("a\nb", 1).kv_u32("a\nb", 2);
    expect_error(nl.b, "duplicate metadata key 'a\\x0ab'");
    Raw big;
    big.header(0, 2).kv_u32(std::string(5000, 'k'), 1).kv_u32(std::string(5000, 'k'), 2);
    expect_error(big.b, "'...");
  }
  auto align = [](auto&& build) {
    Raw r;
    r.header(0, 1).str("general.alignment");
    build(r);
    return r.b;
  };
  expect_error(align([](Raw& r) { r.u32(10).u64(32); }), "general.alignment has type uint64");
  expect_error(align([](Raw& r) { r.u32(8).str("32"); }), "general.alignment has type string");
  expect_error(align([](Raw& r) { r.u32(4).u32(0); }), "not a power of two");
  expect_error(align([](Raw& r) { r.u32(4).u32(48); }), "not a power of two");
  EXPECT_EQ(parse(align([](Raw& r) { r.u32(4).u32(1u << 31); })).alignment(), 1u << 31);
}

TEST(GgufHostile, TensorFields) {
  auto one = [](std::vector<uint64_t> ne, uint32_t type, uint64_t offset, size_t data = 64) {
    Raw r;
    r.header(1, 0).tensor("w", std::move(ne), type, offset).pad_to(32).zeros(data);
    return r.b;
  };
  EXPECT_NO_THROW(parse(one({16}, 0, 0)));
  expect_error(one({16, 2}, 0, 0), "tensor 'w': data at offset 0 + 128 bytes runs past the end");
  expect_error(one({16}, 0, 32), "runs past the end");
  expect_error(one({16}, 0, 16), "not a multiple of the alignment 32");
  expect_error(one({16}, 0, ~0ull - 31), "runs past the end");  // offset + size overflows
  expect_error(one({16}, 0, 1ull << 63), "runs past the end");
  expect_error(one({16, 0}, 0, 0), "dimension 1 is zero");
  expect_error(one({1ull << 32, 1ull << 32}, 0, 0), "overflows");
  expect_error(one({~0ull}, 24, 0), "overflows");
  expect_error(one({1ull << 62}, 28, 0), "overflows");  // f64: 2^65 bytes
  expect_error(one({1ull << 60}, 0, 0), "runs past the end");
  expect_error(one({16}, 4, 0), "unknown ggml type id 4");  // removed Q4_2
  expect_error(one({16}, 39, 0), "unknown ggml type id 39");
  expect_error(one({16}, ~0u, 0), "unknown ggml type id 4294967295");
  expect_error(one({16}, 2, 0), "not a multiple of the q4_0 block size 32");
  expect_error(one({1, 1, 1, 1, 1}, 0, 0), "5 dimensions");
  {
    Raw r;
    r.header(1, 0).str("w").u32(~0u).u64(1).zeros(16);
    expect_error(r.b, "4294967295 dimensions");
  }
  {
    Raw r;
    r.header(2, 0).tensor("w", {8}, 0, 0).tensor("w", {8}, 0, 32).pad_to(32).zeros(64);
    expect_error(r.b, "duplicate tensor 'w'");
  }
  {
    Raw r;
    r.header(2, 0).tensor("a", {16}, 0, 32).tensor("b", {16}, 0, 0).pad_to(32).zeros(96);
    expect_error(r.b, "tensors 'b' (offset 0, 64 bytes) and 'a' (offset 32) overlap");
    Raw same;
    same.header(2, 0).tensor("a", {1}, 0, 0).tensor("b", {1}, 0, 0).pad_to(32).zeros(32);
    expect_error(same.b, "overlap");
  }
  {
    Raw r;
    r.header(1, 0).tensor(std::string(64, 'x'), {1}, 0, 0).pad_to(32).zeros(32);
    expect_error(r.b, "64 bytes long");
  }
  {
    // The data section starts past the end of a file whose tensor is empty-handed.
    Raw r;
    r.header(1, 0).tensor("w", {1}, 0, 0);
    expect_error(r.b, "runs past the end");
  }
}

TEST(GgufHostile, EveryTruncationAndManyFlipsOfTheFixture) {
  test::TempDir dir;
  Fixture fx;
  fx.writer().write(dir / "a.gguf");
  std::string good = read_all(dir / "a.gguf");
  File f = parse(good);
  size_t header_end = size_t(f.data_offset());
  int parsed = 0;
  for (size_t n = 0; n < good.size(); ++n) parsed += cut_parses(good, n);
  // A cut inside the last tensor's padding still leaves a whole file; anything earlier cannot.
  const TensorInfo& last = f.tensors().back();
  EXPECT_EQ(size_t(parsed), good.size() - (header_end + last.offset + last.nbytes));
  for (size_t pos = 0; pos < header_end; ++pos)
    for (uint8_t mask : {0x01, 0x80, 0xff, 0x10}) flip_parses(good, pos, mask);
  // Stamping an extreme value over every 8-byte window of the header.
  for (size_t pos = 0; pos + 8 <= header_end; ++pos)
    for (uint64_t v : {~0ull, 1ull << 63, 1ull << 32, 0ull, 0x7fffffffull}) {
      std::string bad = good;
      std::memcpy(bad.data() + pos, &v, 8);
      parses_or_fails_cleanly(bytes_of(bad), bad.size(), "stamp at " + std::to_string(pos));
    }
}

// ---------------------------------------------------------------- reference files

std::string model(const std::string& rel) { return (test::shared_models() / rel).string(); }

// Reads one tensor's raw bytes from a safetensors file (just enough of the format for a check).
std::string safetensors_bytes(const std::string& path, const std::string& name, std::string* dtype,
                              std::vector<int64_t>* shape) {
  std::string all = read_all(path);
  uint64_t n;
  std::memcpy(&n, all.data(), 8);
  nlohmann::json header = nlohmann::json::parse(all.substr(8, n));
  const auto& e = header.at(name);
  *dtype = e.at("dtype").get<std::string>();
  *shape = e.at("shape").get<std::vector<int64_t>>();
  auto off = e.at("data_offsets").get<std::vector<uint64_t>>();
  return all.substr(8 + n + off[0], off[1] - off[0]);
}

void expect_round_trip(const File& f, const std::string& path) {
  test::TempDir dir;
  Writer::Result r = writer_from(f).write(dir / "copy.gguf");
  EXPECT_EQ(r.sha256, sha256_file(path)) << path;
  EXPECT_EQ(r.bytes, fs::file_size(path)) << path;
}

TEST(GgufReference, LlamaShakespeareF16) {
  TF_REQUIRE_SHARED_MODELS();
  std::string path = model("trained/llama-shakespeare/llama-shakespeare-f16.gguf");
  File f = File::open(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.find("general.alignment"), nullptr);
  EXPECT_EQ(f.data_offset(), 726272u);
  EXPECT_EQ(f.architecture(), "llama");
  EXPECT_EQ(f.metadata().size(), 26u);
  EXPECT_EQ(f.metadata().front().key, "general.architecture");
  EXPECT_EQ(f.metadata().back().key, "general.quantization_version");
  EXPECT_EQ(f.get("llama.block_count").type(), ValueType::UINT32);
  EXPECT_EQ(f.get_u64("llama.block_count", 0), 4u);
  EXPECT_EQ(f.get_u64("llama.embedding_length", 0), 256u);
  EXPECT_EQ(f.get_u64("general.file_type", 9), 1u);
  EXPECT_FLOAT_EQ(float(f.get_f64("llama.attention.layer_norm_rms_epsilon", 0)), 1e-5f);
  EXPECT_EQ(f.find("llama.rope.freq_base"), nullptr);  // README §7: not carried by this conversion
  EXPECT_TRUE(f.get_bool("tokenizer.ggml.add_space_prefix", false));
  const auto& tokens = f.get("tokenizer.ggml.tokens").as_strings();
  ASSERT_EQ(tokens.size(), 32000u);
  EXPECT_EQ(tokens[1], "<s>");
  EXPECT_EQ(f.get("tokenizer.ggml.scores").as_f32s().size(), 32000u);
  EXPECT_EQ(f.get("tokenizer.ggml.token_type").element_type(), ValueType::INT32);
  EXPECT_EQ(f.get("tokenizer.ggml.token_type").as_i64s()[0], 2);

  ASSERT_EQ(f.tensors().size(), 38u);
  EXPECT_EQ(f.find_tensor("output.weight"), nullptr);  // tied embeddings
  const TensorInfo* emb = f.find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->type, DType::F16);
  EXPECT_EQ(emb->ne, (std::vector<uint64_t>{256, 32000}));
  EXPECT_EQ(emb->shape(), (Shape{32000, 256}));
  EXPECT_EQ(f.find_tensor("blk.0.attn_norm.weight")->type, DType::F32);

  // The f16 embedding is the bf16 checkpoint rounded (README §7: within 3e-8).
  std::string dtype;
  std::vector<int64_t> shape;
  std::string st = safetensors_bytes(model("trained/llama-shakespeare/model.safetensors"), "model.embed_tokens.weight",
                                     &dtype, &shape);
  ASSERT_EQ(dtype, "BF16");
  ASSERT_EQ(shape, (std::vector<int64_t>{32000, 256}));
  Tensor t = f.tensor("token_embd.weight");
  const uint16_t* h = t.data_as<uint16_t>();
  const uint16_t* b = reinterpret_cast<const uint16_t*>(st.data());
  for (size_t i : {size_t(0), size_t(1), size_t(255), size_t(256), size_t(4096001), size_t(32000 * 256 - 1)})
    EXPECT_NEAR(f16_to_f32(h[i]), bf16_to_f32(b[i]), 3e-8) << i;

  expect_round_trip(f, path);
}

TEST(GgufReference, ParityLlamaF32MatchesSafetensors) {
  TF_REQUIRE_SHARED_MODELS();
  std::string path = model("parity/llama/llama-parity-f32.gguf");
  File f = File::open(path, LoadMode::Read);
  EXPECT_EQ(f.architecture(), "llama");
  EXPECT_EQ(f.tensors().size(), 21u);
  EXPECT_EQ(f.tensors().front().name, "output.weight");
  EXPECT_EQ(f.get_u64("llama.attention.head_count_kv", 0), 2u);
  EXPECT_EQ(f.get("tokenizer.ggml.tokens").size(), 1000u);
  for (const auto& [gguf_name, st_name] :
       {std::pair{"token_embd.weight", "model.embed_tokens.weight"}, std::pair{"output.weight", "lm_head.weight"},
        std::pair{"blk.1.ffn_down.weight", "model.layers.1.mlp.down_proj.weight"}}) {
    std::string dtype;
    std::vector<int64_t> shape;
    std::string st = safetensors_bytes(model("parity/llama/model.safetensors"), st_name, &dtype, &shape);
    Tensor t = f.tensor(gguf_name);
    EXPECT_EQ(dtype, "F32");
    EXPECT_EQ(t.shape(), shape) << gguf_name;
    ASSERT_EQ(t.nbytes(), st.size()) << gguf_name;
    EXPECT_EQ(std::memcmp(t.data(), st.data(), st.size()), 0) << gguf_name;
  }
  expect_round_trip(f, path);
}

TEST(GgufReference, VocabularyFiles) {
  TF_REQUIRE_SHARED_MODELS();
  struct Case {
    const char* file;
    const char* arch;
    size_t tokens;
    size_t kvs;
  };
  for (const Case& c :
       {Case{"ggml-vocab-llama-spm.gguf", "llama", 32000, 22}, Case{"ggml-vocab-gpt-2.gguf", "gpt2", 50257, 16},
        Case{"ggml-vocab-bert-bge.gguf", "bert", 30522, 20}}) {
    SCOPED_TRACE(c.file);
    std::string path = model(std::string("tokenizers/") + c.file);
    File f = File::open(path);
    EXPECT_EQ(f.architecture(), c.arch);
    EXPECT_EQ(f.metadata().size(), c.kvs);
    EXPECT_TRUE(f.tensors().empty());
    EXPECT_GT(f.data_offset(), f.size());  // vocab-only files stop right after the metadata
    EXPECT_EQ(f.get("tokenizer.ggml.tokens").size(), c.tokens);
    EXPECT_EQ(f.get("tokenizer.ggml.token_type").size(), c.tokens);
    expect_round_trip(f, path);
  }
  File gpt2 = File::open(model("tokenizers/ggml-vocab-gpt-2.gguf"));
  EXPECT_EQ(gpt2.get("tokenizer.ggml.merges").as_strings()[0], "\xc4\xa0 t");  // "Ġ t"
  EXPECT_EQ(gpt2.get_u64("tokenizer.ggml.bos_token_id", 0), 50256u);
  File bert = File::open(model("tokenizers/ggml-vocab-bert-bge.gguf"));
  EXPECT_FALSE(bert.get_bool("bert.attention.causal", true));
  EXPECT_EQ(bert.get("tokenizer.ggml.seperator_token_id").as_u64(), 102u);  // sic, llama.cpp's spelling
  File spm = File::open(model("tokenizers/ggml-vocab-llama-spm.gguf"));
  EXPECT_EQ(spm.get("tokenizer.ggml.scores").as_f32s().size(), 32000u);
  EXPECT_TRUE(spm.get_bool("tokenizer.ggml.add_bos_token", false));
}

TEST(GgufReference, CorruptedRealFilesFailCleanly) {
  TF_REQUIRE_SHARED_MODELS();
  std::string good = read_all(model("parity/llama/llama-parity-f32.gguf"));
  size_t header_end = size_t(parse(good).data_offset());
  int parsed = 0;
  // Every cut in the first 4 KiB (header fields, the start of the vocabulary),
  // then a sample through the rest of the header, then the data (whose cuts
  // need no private copy: the header they parse is whole).
  for (size_t n = 0; n < header_end; n += n < 4096 ? 1 : 97) parsed += cut_parses(good, n);
  for (size_t n = header_end; n < good.size(); n += 4099)
    parsed += parses_or_fails_cleanly(bytes_of(good), n, "cut at " + std::to_string(n));
  EXPECT_EQ(parsed, 0);
  for (size_t pos = 0; pos < header_end; pos += pos < 1024 ? 1 : 53) flip_parses(good, pos, 0xff);
  std::string spm = read_all(model("tokenizers/ggml-vocab-llama-spm.gguf"));
  for (size_t n = 0; n < spm.size(); n += 7919) cut_parses(spm, n);
}

}  // namespace
}  // namespace tf::gguf
