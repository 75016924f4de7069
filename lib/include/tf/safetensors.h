// safetensors (Hugging Face's weight format): reader and streaming writer,
// plus sharded checkpoints (model.safetensors.index.json).
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
// then the data section; offsets are relative to its start (8 + N).
//
// The reader checks, before trusting anything: N against a cap (100 MB, the
// Rust crate's MAX_HEADER_SIZE) and the file size; the header is a JSON
// object without duplicate keys; every entry has exactly dtype/shape/
// data_offsets of the right JSON types, a known dtype and a shape whose
// element and byte counts do not overflow; end - begin == numel * dtype size;
// and, sorted by offset, the entries tile the data section exactly: no gap,
// no overlap, nothing left over (the crate's rule, MetadataIncompleteBuffer).
// Any failure is a one-line tf::Error naming the file and the tensor/field.
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

// Header lengths above this are refused (as the Rust crate does).
inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// "F32" "F16" "BF16" "I8" "I16" "I32" "I64" "F64" <-> DType (case-sensitive,
// as in the format). Other dtypes ("U8", "BOOL", "F8_E4M3", ...) are a clear
// error until a model needs them.
std::optional<DType> dtype_from_name(std::string_view name);
std::string_view dtype_to_name(DType t);  // tf::Error for a type safetensors cannot hold

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0, end = 0;  // offsets in the data section
  uint64_t nbytes() const { return end - begin; }
  uint64_t numel() const;
};

class File {
 public:
  static File open(const std::string& path, LoadMode mode = LoadMode::Mmap);
  static File parse(std::shared_ptr<const MappedFile> file);
  // Parses bytes the caller keeps alive (fuzzers, tests); `name` is used in errors.
  static File parse_bytes(const uint8_t* data, size_t size, const std::string& name);

  const std::string& path() const { return path_; }
  uint64_t data_offset() const { return data_start_; }  // file offset of the data section (8 + N)
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in data-offset order
  const TensorInfo* find(std::string_view name) const;
  const uint8_t* data(const TensorInfo& info) const;
  // Zero-copy view into the map when the data is aligned for its element
  // type (always so for files written by HF or by Writer); otherwise an owned,
  // aligned copy, so kernels never see a misaligned float*.
  Tensor tensor(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }  // "__metadata__"
  std::shared_ptr<const MappedFile> mapping() const { return file_; }

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

// All tensors of a model folder: model.safetensors, or else the shards named
// by model.safetensors.index.json (transformers looks in the same order).
// Index rules: "weight_map" is an object of tensor -> shard file; shard names
// are plain file names inside the folder (no '/', no "..", no control bytes);
// every shard exists and parses; every listed tensor is in its shard; no
// tensor is listed twice or held by two shards; no shard holds a tensor the
// index does not list.
class Checkpoint {
 public:
  static Checkpoint open_dir(const std::string& dir, LoadMode mode = LoadMode::Mmap);
  static Checkpoint open_file(const std::string& path, LoadMode mode = LoadMode::Mmap);

  const std::string& path() const { return path_; }  // the file, or the index file
  bool sharded() const { return sharded_; }
  const std::vector<File>& shards() const { return shards_; }  // sorted by file name
  size_t size() const { return order_.size(); }
  const std::vector<std::string>& names() const { return order_; }  // in shard order, then file order
  bool contains(std::string_view name) const;
  const TensorInfo* find(std::string_view name) const;   // nullptr if missing
  const TensorInfo& info(std::string_view name) const;   // tf::Error if missing
  const uint8_t* data(std::string_view name) const;
  Tensor tensor(std::string_view name) const;
  // The index's "metadata" object as JSON text ("" for a single file).
  const std::string& index_metadata() const { return index_metadata_; }

 private:
  const File& shard_of(std::string_view name, const TensorInfo** info) const;
  std::string path_;
  bool sharded_ = false;
  std::vector<File> shards_;
  std::map<std::string, std::pair<size_t, size_t>, std::less<>> where_;  // shard, tensor index
  std::vector<std::string> order_;
  std::string index_metadata_;
};

// Writes files byte-identical to the Python/Rust `safetensors` serializer:
// tensors ordered by descending dtype alignment rank (the crate's Dtype enum
// order: I64 > F64 > F32 > I32 > BF16 > F16 > I16 > I8) then by name (byte
// order); compact JSON with "__metadata__" first (when set) and tensors in
// data order; header padded with spaces to a multiple of 8 so that every
// tensor is aligned for its type. Metadata keys are written sorted (the
// crate writes a HashMap, i.e. in no fixed order; with one key, as
// transformers writes {"format": "pt"}, the bytes match).
class Writer {
 public:
  using Producer = std::function<void(AtomicFile& out)>;  // must write exactly the tensor's bytes
  void set_metadata(std::string key, std::string value);
  void add(std::string name, DType dtype, Shape shape, Producer produce);
  void add(std::string name, const Tensor& tensor);  // writes a contiguous copy of the data
  size_t size() const { return tensors_.size(); }
  struct Result {
    uint64_t bytes = 0;
    std::string sha256;
  };
  Result write(const std::string& path) const;  // atomic (temp file + rename)

 private:
  struct Pending {
    TensorInfo info;
    Producer produce;
  };
  std::vector<Pending> tensors_;
  std::map<std::string, size_t, std::less<>> names_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace tf::safetensors
