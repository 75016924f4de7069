// A read-only view of a whole file: memory-mapped (default) or read into
// anonymous memory (--no-mmap). Parsers see bytes and a size, never a stream,
// and check every offset against size() before trusting it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace tf {

enum class LoadMode { Mmap, Read };

// How inference tools load weights unless told otherwise. Measured on the
// project's machines (AMD Zen 5 VMs, TinyLlama-1.1B f16, 2 threads, tf-bench
// tg128, alternating runs): 16.8 tok/s from anonymous memory against 6.5-7.4
// from a file-backed mapping (llama.cpp sees the same with -mmp 0). Reading
// costs ~1 s more at load for 2 GB from the page cache; --mmap opts back in.
constexpr LoadMode kDefaultModelLoadMode = LoadMode::Read;

// Anonymous memory for weights, 2 MiB-aligned (so transparent huge pages can
// back it where the system's THP mode is "always"). Not advised to use them:
// measured on the quiet machine (TinyLlama, tg128, 2 threads, alternating
// processes), THP gave nothing for f16 and cost ~7 % for interleaved Q4_0
// (50.4 vs 46.9 tok/s). Zero-filled; throws tf::Error when it cannot be had.
void* allocate_weight_memory(size_t bytes);
void free_weight_memory(void* p, size_t bytes);

class MappedFile {
 public:
  static std::shared_ptr<const MappedFile> open(const std::string& path, LoadMode mode = LoadMode::Mmap);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  LoadMode mode() const { return mode_; }

  // Drops the whole pages inside [p, p + n) — bytes of some live MappedFile —
  // from memory; reading them again fetches them from the file (for a
  // LoadMode::Read file too: its pages are remapped from the file). For
  // weights a backend has copied into a layout of its own, so a model is not
  // held in memory twice. Bytes of no live MappedFile are left alone.
  static void release(const void* p, size_t n);

 private:
  MappedFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  LoadMode mode_ = LoadMode::Mmap;
  bool mapped_ = false;
  int fd_ = -1;  // LoadMode::Read: the open file, for release()

  void register_self() const;
};

}  // namespace tf
