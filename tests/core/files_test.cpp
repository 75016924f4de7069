#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/test_paths.h"
#include "tf/atomic_file.h"
#include "tf/byte_reader.h"
#include "tf/error.h"
#include "tf/mapped_file.h"
#include "tf/rng.h"

namespace tf {
namespace fs = std::filesystem;

TEST(AtomicFile, AppearsOnlyOnCommit) {
  test::TempDir dir;
  std::string path = dir / "out.bin";
  {
    AtomicFile f(path);
    f.write("abc", 3);
    EXPECT_FALSE(fs::exists(path));
    EXPECT_TRUE(fs::exists(f.temp_path()));
    // sha256("abc")
    EXPECT_EQ(f.commit(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  }
  EXPECT_EQ(fs::file_size(path), 3u);
  EXPECT_EQ(sha256_file(path), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AtomicFile, AbandonedWriteLeavesNothing) {
  test::TempDir dir;
  std::string path = dir / "out.bin";
  std::string temp;
  try {
    AtomicFile f(path);
    temp = f.temp_path();
    f.write_zeros(5 << 20);
    throw Error("simulated failure");
  } catch (const Error&) {
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(AtomicFile, ReplacesExistingFileWhole) {
  test::TempDir dir;
  std::string path = dir / "model.gguf";
  std::ofstream(path) << "old";
  AtomicFile f(path);
  f.write("new contents", 12);
  f.commit();
  EXPECT_EQ(fs::file_size(path), 12u);
}

TEST(AtomicFile, MissingFolderIsAClearError) {
  try {
    AtomicFile f("/nonexistent-dir-xyz/out.gguf");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir-xyz/out.gguf"), std::string::npos);
  }
}

TEST(MappedFile, MapAndReadAgree) {
  test::TempDir dir;
  std::string path = dir / "data.bin";
  std::ofstream(path, std::ios::binary) << std::string(10000, 'x') << "end";
  auto a = MappedFile::open(path, LoadMode::Mmap);
  auto b = MappedFile::open(path, LoadMode::Read);
  ASSERT_EQ(a->size(), 10003u);
  ASSERT_EQ(b->size(), 10003u);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(a->data()), a->size()),
            std::string_view(reinterpret_cast<const char*>(b->data()), b->size()));
  EXPECT_THROW(MappedFile::open(dir / "missing.bin"), Error);
  EXPECT_THROW(MappedFile::open(dir.path().string()), Error);  // a folder
  std::ofstream(dir / "empty.bin");
  EXPECT_EQ(MappedFile::open(dir / "empty.bin")->size(), 0u);
}

// Released pages are dropped from memory but read back the file's bytes.
TEST(MappedFile, ReleasedPagesReadBackTheFile) {
  test::TempDir dir;
  std::string path = dir / "data.bin";
  std::string content(5 * 4096 + 123, '\0');
  Rng rng(3);
  for (char& c : content) c = char(rng.next_u64() >> 56);
  std::ofstream(path, std::ios::binary) << content;
  for (LoadMode mode : {LoadMode::Mmap, LoadMode::Read}) {
    auto f = MappedFile::open(path, mode);
    MappedFile::release(f->data() + 100, 3 * 4096 + 50);  // whole pages 1..3
    MappedFile::release(f->data(), f->size());
    EXPECT_EQ(content, std::string_view(reinterpret_cast<const char*>(f->data()), f->size()))
        << (mode == LoadMode::Mmap ? "mmap" : "read");
  }
  int on_stack[4] = {1, 2, 3, 4};
  MappedFile::release(on_stack, sizeof(on_stack));  // not a file's bytes: left alone
  EXPECT_EQ(on_stack[3], 4);
}

TEST(ByteReader, ChecksEveryRead) {
  const uint8_t bytes[6] = {1, 0, 0, 0, 2, 0};
  ByteReader r(bytes, sizeof bytes, "x.bin");
  EXPECT_EQ(r.read<uint32_t>("a"), 1u);
  EXPECT_EQ(r.read<uint16_t>("b"), 2u);
  try {
    r.read<uint8_t>("count of things");
    FAIL();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("x.bin"), std::string::npos);
    EXPECT_NE(msg.find("count of things"), std::string::npos);
    EXPECT_NE(msg.find("offset 6"), std::string::npos);
  }
  ByteReader r2(bytes, sizeof bytes, "y");
  EXPECT_THROW(r2.take(UINT64_MAX, "huge"), Error);
  EXPECT_THROW(r2.seek(7, "seek"), Error);
}

TEST(Rng, DeterministicAndRoughlyNormal) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
  EXPECT_NE(a.next_u64(), c.next_u64());
  Rng r(1);
  double sum = 0, sq = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double x = r.normal();
    sum += x;
    sq += x * x;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sq / n, 1.0, 0.02);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(r.below(7), 7u);
}

}  // namespace tf
