// GGUF v3 (llama.cpp's model file format): reader and streaming writer.
//
// The reader validates before it trusts: magic and version (2 or 3), every
// count and string length against the bytes that remain, arrays nested at
// most 16 deep, general.alignment a uint32 power of two, tensor offsets and
// sizes inside the data section and aligned, no overlaps, no duplicate names
// or keys, 0-4 dims > 0 whose product fits int64, whole blocks, known type
// ids, names ggml can hold (< 64 bytes). Any failure is a one-line tf::Error
// naming the file and the field. Tensor data stays in the memory map.
//
// The writer keeps metadata in insertion order and streams tensor data one
// tensor at a time through callbacks, so a model never has to fit in RAM;
// reading a file in the writer's layout (ggml's and gguf-py's) and writing it
// back gives identical bytes.
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

// One metadata value. Scalars keep their exact type (and float bit pattern)
// so that a file written back is identical. Arrays hold elements of one type;
// nested arrays are allowed. Arrays of numbers and bools are stored packed as
// in the file, so a large vocabulary's scores or token types cost what they
// cost on disk rather than one Value per element.
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
  // Every item must have type element_type (a tf::Error otherwise).
  static Value array(ValueType element_type, std::vector<Value> items);
  static Value string_array(std::vector<std::string> items);
  static Value f32_array(const std::vector<float>& items);
  static Value i32_array(const std::vector<int32_t>& items);
  // Packed little-endian elements of a scalar element type (not STRING/ARRAY);
  // the size must be a multiple of the element size. The reader's path.
  static Value packed_array(ValueType element_type, std::string bytes);

  ValueType type() const { return type_; }
  ValueType element_type() const { return element_type_; }  // arrays only
  bool is_array() const { return type_ == ValueType::ARRAY; }
  bool is_string() const { return type_ == ValueType::STRING; }
  bool is_integer() const;
  bool is_float() const { return type_ == ValueType::FLOAT32 || type_ == ValueType::FLOAT64; }

  // Checked accessors: a tf::Error when the type does not fit (integers
  // convert between widths only when the value fits; as_f64 takes integers).
  uint64_t as_u64() const;
  int64_t as_i64() const;
  double as_f64() const;
  bool as_bool() const;
  const std::string& as_string() const;

  size_t size() const;                  // array length
  Value at(size_t i) const;             // one array element
  std::vector<Value> items() const;     // all array elements (built on demand)
  const std::string& packed() const;    // raw elements of a number/bool array

  const std::vector<std::string>& as_strings() const;  // array of strings
  std::vector<float> as_f32s() const;                  // array of numbers
  std::vector<int64_t> as_i64s() const;                // array of integers

  // Appends the value as GGUF stores it, without its type tag (the writer's
  // path; exact bits, so NaN payloads and odd bool bytes survive a copy).
  void encode(std::string& out) const;

  bool operator==(const Value& other) const;

 private:
  ValueType type_ = ValueType::UINT8;
  ValueType element_type_ = ValueType::UINT8;
  uint64_t bits_ = 0;                 // scalar payload (integers sign-extended / float bits)
  std::string str_;                   // STRING, or packed elements of a number/bool array
  std::vector<std::string> strings_;  // array of strings
  std::vector<Value> items_;          // array of arrays
  uint64_t count_ = 0;                // array length
};

// Bytes one element of a fixed-size type takes (0 for STRING and ARRAY).
size_t value_type_size(ValueType t);

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
  // Parse from bytes the caller keeps alive as long as the File and its
  // tensors (fuzzers, tests); `name` is used in errors.
  static File parse(std::shared_ptr<const MappedFile> file);
  static File parse_bytes(const uint8_t* data, size_t size, const std::string& name);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  // File offset of the data section: the end of the tensor infos, aligned. A
  // file without tensors may end before it.
  uint64_t data_offset() const { return data_offset_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  const std::vector<KeyValue>& metadata() const { return metadata_; }
  const Value* find(std::string_view key) const;
  const Value& get(std::string_view key) const;  // tf::Error naming the key if missing
  // Typed getters with a default for missing keys (wrong type is still an
  // error). get_f64 takes integers too.
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

// Streaming writer. Tensor offsets are assigned in add order, each aligned;
// the layout is ggml's and gguf-py's: zero padding to the alignment after the
// tensor infos and after every tensor, the last one included. A file without
// tensors ends right after its metadata (as gguf-py's vocab-only files do).
class Writer {
 public:
  using Producer = std::function<void(AtomicFile& out)>;  // must write exactly nbytes

  Writer();
  // Replaces a key in place, else appends. general.alignment must be a UINT32
  // power of two; it sets the alignment.
  void set(std::string key, Value value);
  void remove(std::string_view key);
  const std::vector<KeyValue>& metadata() const { return metadata_; }
  // Writes general.alignment unless it is the default 32 and the key is absent.
  void set_alignment(uint64_t alignment);
  uint64_t alignment() const { return alignment_; }

  // ne as stored in GGUF (innermost first), 0 to 4 dims, each > 0, ne[0] a
  // multiple of the type's block size. Names are unique and shorter than 64
  // bytes (ggml's GGML_MAX_NAME). `data` must stay alive until write().
  void add_tensor(std::string name, DType type, std::vector<uint64_t> ne, Producer produce);
  void add_tensor(std::string name, DType type, std::vector<uint64_t> ne, const void* data);
  size_t tensor_count() const { return tensors_.size(); }

  struct Result {
    uint64_t bytes = 0;
    std::string sha256;
  };
  // Writes header, then each tensor's bytes, atomically (temp file + rename).
  // A producer that writes other than nbytes is a tf::Error naming the tensor.
  Result write(const std::string& path) const;

 private:
  struct PendingTensor {
    TensorInfo info;
    Producer produce;
  };
  std::vector<KeyValue> metadata_;
  std::vector<PendingTensor> tensors_;
  std::map<std::string, size_t, std::less<>> key_index_, tensor_index_;
  uint64_t alignment_ = 32;
};

// Copies a whole file through the writer: metadata, tensor infos and data
// (which the producers read from the file's mapping, kept alive by them).
// For a file in the canonical layout above the copy is byte-identical.
Writer writer_from(const File& file);

}  // namespace tf::gguf
