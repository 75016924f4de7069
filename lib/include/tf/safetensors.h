// safetensors (Hugging Face's weight format): reader and streaming writer,
// plus sharded checkpoints (model.safetensors.index.json).
//
// The reader checks: the 8-byte header length against a cap (100 MiB) and the
// file size, the header is a JSON object, every entry has a known dtype, a
// shape whose product does not overflow, data_offsets [begin, end) inside the
// data section with end - begin == numel * dtype size, entries contiguous and
// not overlapping (the format's rule), and no duplicate names.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tf/dtype.h"
#include "tf/mapped_file.h"
#include "tf/tensor.h"

namespace tf {
class AtomicFile;
}

namespace tf::safetensors {

// "F32" "F16" "BF16" "I8" "I16" "I32" "I64" "F64" <-> DType. Other dtypes
// ("U8", "BOOL", "F8_E4M3", ...) are a clear error until a model needs them.
std::optional<DType> dtype_from_name(std::string_view name);
std::string_view dtype_to_name(DType t);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0, end = 0;  // offsets in the data section
  uint64_t nbytes() const { return end - begin; }
};

class File {
 public:
  static File open(const std::string& path, LoadMode mode = LoadMode::Mmap);
  static File parse(std::shared_ptr<const MappedFile> file);
  static File parse_bytes(const uint8_t* data, size_t size, const std::string& name);

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in data-offset order
  const TensorInfo* find(std::string_view name) const;
  const uint8_t* data(const TensorInfo& info) const;
  Tensor tensor(std::string_view name) const;  // borrowed, zero-copy
  const std::map<std::string, std::string>& metadata() const { return metadata_; }  // "__metadata__"

 private:
  std::shared_ptr<const MappedFile> file_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  uint64_t data_start_ = 0;
  std::string path_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

// All tensors of a model folder: model.safetensors, or the shards named by
// model.safetensors.index.json (every shard must exist; a tensor listed in the
// index must be in its shard; no name twice).
class Checkpoint {
 public:
  static Checkpoint open_dir(const std::string& dir, LoadMode mode = LoadMode::Mmap);
  static Checkpoint open_file(const std::string& path, LoadMode mode = LoadMode::Mmap);

  std::vector<std::string> names() const;  // in shard order, then file order
  bool contains(std::string_view name) const;
  const TensorInfo& info(std::string_view name) const;  // tf::Error if missing
  const uint8_t* data(std::string_view name) const;
  Tensor tensor(std::string_view name) const;

 private:
  std::vector<File> shards_;
  std::map<std::string, std::pair<size_t, size_t>, std::less<>> where_;  // shard, tensor index
  std::vector<std::string> order_;
};

class Writer {
 public:
  using Producer = std::function<void(AtomicFile& out)>;  // must write exactly the tensor's bytes
  void set_metadata(std::string key, std::string value);
  void add(std::string name, DType dtype, Shape shape, Producer produce);
  void add(std::string name, const Tensor& tensor);  // contiguous copy of the data
  struct Result {
    uint64_t bytes = 0;
    std::string sha256;
  };
  Result write(const std::string& path) const;  // atomic

 private:
  struct Pending {
    TensorInfo info;
    Producer produce;
  };
  std::vector<Pending> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace tf::safetensors
