// GGUF v3 (llama.cpp's model file format): reader and streaming writer.
//
// The reader validates before it trusts: magic and version, every count and
// string length against the bytes that remain, tensor offsets and sizes inside
// the data section and aligned, no overlaps, no duplicate names or keys, dims
// whose product does not overflow, known type ids. Any failure is a tf::Error
// naming the file and the field. Tensor data stays in the memory map.
//
// The writer keeps metadata in insertion order and streams tensor data one
// tensor at a time through callbacks, so a model never has to fit in RAM;
// reading a file and writing it back gives identical bytes.
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

namespace tf::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

std::string_view value_type_name(ValueType t);

// One metadata value. Scalars keep their exact type so that a file written
// back is identical. Arrays hold elements of one type (nested arrays allowed).
class Value {
 public:
  Value() = default;
  static Value u8(uint8_t v);
  static Value i8(int8_t v);
  static Value u16(uint16_t v);
  static Value i16(int16_t v);
  static Value u32(uint32_t v);
  static Value i32(int32_t v);
  static Value u64(uint64_t v);
  static Value i64(int64_t v);
  static Value f32(float v);
  static Value f64(double v);
  static Value boolean(bool v);
  static Value string(std::string v);
  static Value array(ValueType element_type, std::vector<Value> items);
  static Value string_array(std::vector<std::string> items);
  static Value f32_array(const std::vector<float>& items);
  static Value i32_array(const std::vector<int32_t>& items);

  ValueType type() const { return type_; }
  ValueType element_type() const { return element_type_; }  // arrays only
  bool is_array() const { return type_ == ValueType::ARRAY; }
  bool is_string() const { return type_ == ValueType::STRING; }
  bool is_integer() const;
  bool is_float() const { return type_ == ValueType::FLOAT32 || type_ == ValueType::FLOAT64; }

  // Checked accessors: a tf::Error when the type does not fit (integers
  // convert between widths only when the value fits).
  uint64_t as_u64() const;
  int64_t as_i64() const;
  double as_f64() const;
  bool as_bool() const;
  const std::string& as_string() const;
  const std::vector<Value>& items() const;  // arrays
  size_t size() const;                       // array length

  std::vector<std::string> as_strings() const;  // array of strings
  std::vector<float> as_f32s() const;            // array of numbers
  std::vector<int64_t> as_i64s() const;          // array of integers

  bool operator==(const Value& other) const;

 private:
  ValueType type_ = ValueType::UINT8;
  ValueType element_type_ = ValueType::UINT8;
  uint64_t bits_ = 0;  // scalar payload (integers sign-extended / float bits)
  std::string str_;
  std::vector<Value> items_;
};

struct KeyValue {
  std::string key;
  Value value;
};

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> ne;  // dims as stored: ne[0] is the innermost (row length)
  DType type = DType::F32;
  uint64_t offset = 0;       // relative to the start of the data section
  uint64_t nbytes = 0;       // computed from ne and type

  Shape shape() const;       // PyTorch order (outermost first)
  uint64_t numel() const;
};

class File {
 public:
  static File open(const std::string& path, LoadMode mode = LoadMode::Mmap);
  // Parse from bytes the caller keeps alive (fuzzers, tests); `name` is used in errors.
  static File parse(std::shared_ptr<const MappedFile> file);
  static File parse_bytes(const uint8_t* data, size_t size, const std::string& name);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // file offset of the data section
  const std::string& path() const { return path_; }

  const std::vector<KeyValue>& metadata() const { return metadata_; }
  const Value* find(std::string_view key) const;
  const Value& get(std::string_view key) const;  // tf::Error naming the key if missing
  // Typed getters with a default for missing keys (wrong type is still an error).
  std::string get_string(std::string_view key, const std::string& fallback) const;
  uint64_t get_u64(std::string_view key, uint64_t fallback) const;
  double get_f64(std::string_view key, double fallback) const;
  bool get_bool(std::string_view key, bool fallback) const;
  std::string architecture() const;  // general.architecture or ""

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;
  const uint8_t* tensor_data(const TensorInfo& info) const;
  // A borrowed (zero-copy) tensor in PyTorch shape order; keeps the map alive.
  Tensor tensor(std::string_view name) const;

  std::shared_ptr<const MappedFile> mapping() const { return file_; }

 private:
  std::shared_ptr<const MappedFile> file_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  std::string path_;
  uint32_t version_ = 3;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<KeyValue> metadata_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> key_index_, tensor_index_;
};

// Streaming writer. Tensor offsets are assigned in add order, each aligned.
class Writer {
 public:
  using Producer = std::function<void(AtomicFile& out)>;  // must write exactly nbytes

  Writer();
  void set(std::string key, Value value);  // replaces a key in place, else appends
  void remove(std::string_view key);
  const std::vector<KeyValue>& metadata() const { return metadata_; }
  void set_alignment(uint64_t alignment);  // also writes general.alignment when != 32

  // ne as stored in GGUF (innermost first).
  void add_tensor(std::string name, DType type, std::vector<uint64_t> ne, Producer produce);
  void add_tensor(std::string name, DType type, std::vector<uint64_t> ne, const void* data);
  size_t tensor_count() const { return tensors_.size(); }

  struct Result {
    uint64_t bytes = 0;
    std::string sha256;
  };
  // Writes header, then each tensor's bytes, atomically (temp file + rename).
  Result write(const std::string& path) const;

 private:
  struct PendingTensor {
    TensorInfo info;
    Producer produce;
  };
  std::vector<KeyValue> metadata_;
  std::vector<PendingTensor> tensors_;
  uint64_t alignment_ = 32;
};

// Copies a whole file through the writer: metadata, tensor infos and data.
Writer writer_from(const File& file);

}  // namespace tf::gguf
