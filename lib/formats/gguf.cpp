// GGUF reader. Every count, length and offset is checked against the bytes
// that remain before anything is allocated for it, so a hostile header fails
// fast with a tf::Error instead of reserving memory proportional to a claim.
#include "tf/gguf.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>

#include "formats/gguf_layout.h"
#include "tf/byte_reader.h"
#include "tf/error.h"

namespace tf::gguf {
namespace {

constexpr uint64_t kMinKeyValueBytes = 8 + 4 + 1;        // empty key, type, smallest value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // empty name, n_dims 0, type, offset
constexpr uint64_t kMinArrayBytes = 4 + 8;               // element type, count
constexpr uint64_t kMinStringBytes = 8;                  // length
constexpr int kMaxArrayDepth = 16;                       // real files never nest at all
// Counts are bounded by the bytes left, but an element in memory is several
// times its smallest encoding: reserve at most this many up front and let
// elements that really parse grow the rest.
constexpr uint64_t kMaxReserve = 1 << 16;

bool known_value_type(uint32_t t) { return t <= uint32_t(ValueType::FLOAT64); }

uint64_t min_value_bytes(ValueType t) {
  if (t == ValueType::STRING) return kMinStringBytes;
  if (t == ValueType::ARRAY) return kMinArrayBytes;
  return value_type_size(t);
}

class Parser {
 public:
  Parser(const uint8_t* data, size_t size, const std::string& name) : r_(data, size, name) {}

  const std::string& name() const { return r_.name(); }
  ByteReader& reader() { return r_; }

  std::string read_string(std::string_view field) {
    size_t at = r_.offset();
    uint64_t n = r_.read<uint64_t>(field);
    if (n > r_.remaining())
      fail(name(), ": ", field, ": string length ", n, " at offset ", at, " exceeds the ", r_.remaining(),
           " bytes left");
    return std::string(r_.read_view(n, field));
  }

  ValueType read_type(std::string_view field) {
    size_t at = r_.offset();
    uint32_t t = r_.read<uint32_t>(field);
    if (!known_value_type(t)) fail(name(), ": ", field, ": unknown value type ", t, " at offset ", at);
    return ValueType(t);
  }

  Value read_value(ValueType t, std::string_view field, int depth) {
    if (t == ValueType::STRING) return Value::string(read_string(field));
    if (t != ValueType::ARRAY) {
      std::string_view raw = r_.read_view(value_type_size(t), field);
      return Value::packed_array(t, std::string(raw)).at(0);
    }
    if (depth >= kMaxArrayDepth)
      fail(name(), ": ", field, ": arrays nested deeper than ", kMaxArrayDepth, " at offset ", r_.offset());
    ValueType et = read_type(field);
    size_t at = r_.offset();
    uint64_t count = r_.read<uint64_t>(field);
    if (count > r_.remaining() / min_value_bytes(et))
      fail(name(), ": ", field, ": array of ", count, " ", value_type_name(et), " elements at offset ", at,
           " cannot fit in the ", r_.remaining(), " bytes left");
    if (et == ValueType::STRING) {
      std::vector<std::string> items;
      items.reserve(size_t(std::min(count, kMaxReserve)));
      for (uint64_t i = 0; i < count; ++i) items.push_back(read_string(field));
      return Value::string_array(std::move(items));
    }
    if (et == ValueType::ARRAY) {
      std::vector<Value> items;
      items.reserve(size_t(std::min(count, kMaxReserve)));
      for (uint64_t i = 0; i < count; ++i) items.push_back(read_value(et, field, depth + 1));
      return Value::array(et, std::move(items));
    }
    std::string_view raw = r_.read_view(count * value_type_size(et), field);
    return Value::packed_array(et, std::string(raw));
  }

 private:
  ByteReader r_;
};

}  // namespace

Shape TensorInfo::shape() const {
  Shape s;
  for (size_t i = ne.size(); i-- > 0;) s.push_back(int64_t(ne[i]));
  return s;
}

uint64_t TensorInfo::numel() const {
  uint64_t n = 1;
  for (uint64_t d : ne) n *= d;
  return n;
}

File File::open(const std::string& path, LoadMode mode) { return parse(MappedFile::open(path, mode)); }

File File::parse(std::shared_ptr<const MappedFile> file) {
  if (!file) fail("GGUF: no file to parse");
  File f = parse_bytes(file->data(), file->size(), file->path());
  f.file_ = std::move(file);
  return f;
}

File File::parse_bytes(const uint8_t* data, size_t size, const std::string& name) {
  File f;
  f.base_ = data;
  f.size_ = size;
  f.path_ = name;
  Parser p(data, size, name);
  ByteReader& r = p.reader();

  if (size < 4 || std::memcmp(data, "GGUF", 4) != 0) {
    if (size < 4) fail(name, ": not a GGUF file (", size, " bytes, too short for the magic)");
    char hex[16];
    std::snprintf(hex, sizeof hex, "%02x %02x %02x %02x", data[0], data[1], data[2], data[3]);
    fail(name, ": not a GGUF file (magic bytes ", hex, ", expected 47 47 55 46 \"GGUF\")");
  }
  r.seek(4, "magic");
  f.version_ = r.read<uint32_t>("version");
  if (f.version_ == 1) fail(name, ": GGUF version 1 is not supported (32-bit counts; re-convert the model)");
  if (f.version_ != 2 && f.version_ != 3) {
    if ((f.version_ & 0xffff) == 0 && (f.version_ >> 16) != 0)
      fail(name, ": GGUF version field ", f.version_, " looks byte-swapped: big-endian GGUF files are not supported");
    fail(name, ": unsupported GGUF version ", f.version_, " (2 and 3 are)");
  }
  uint64_t tensor_count = r.read<uint64_t>("tensor_count");
  uint64_t kv_count = r.read<uint64_t>("metadata_kv_count");
  if (kv_count > r.remaining() / kMinKeyValueBytes)
    fail(name, ": metadata_kv_count ", kv_count, " cannot fit in the ", r.remaining(),
         " bytes after the header (each needs at least ", kMinKeyValueBytes, ")");
  if (tensor_count > r.remaining() / kMinTensorInfoBytes ||
      tensor_count * kMinTensorInfoBytes > r.remaining() - kv_count * kMinKeyValueBytes)
    fail(name, ": tensor_count ", tensor_count, " cannot fit in the ", r.remaining(),
         " bytes after the header (each tensor info needs at least ", kMinTensorInfoBytes, ")");

  f.metadata_.reserve(size_t(std::min(kv_count, kMaxReserve)));
  for (uint64_t i = 0; i < kv_count; ++i) {
    size_t at = r.offset();
    std::string key = p.read_string("metadata key " + std::to_string(i));
    if (f.key_index_.count(key)) fail(name, ": duplicate metadata key ", layout::quoted(key), " at offset ", at);
    std::string field = "metadata " + layout::quoted(key);
    ValueType t = p.read_type(field);
    Value v = p.read_value(t, field, 0);
    f.key_index_.emplace(key, f.metadata_.size());
    f.metadata_.push_back({std::move(key), std::move(v)});
  }

  f.alignment_ = layout::kDefaultAlignment;
  if (const Value* a = f.find(layout::kAlignmentKey)) f.alignment_ = layout::checked_alignment(name, *a);

  f.tensors_.reserve(size_t(std::min(tensor_count, kMaxReserve)));
  for (uint64_t i = 0; i < tensor_count; ++i) {
    size_t at = r.offset();
    TensorInfo t;
    t.name = p.read_string("name of tensor " + std::to_string(i));
    layout::check_tensor_name(name + ": tensor at offset " + std::to_string(at), t.name);
    if (f.tensor_index_.count(t.name)) fail(name, ": duplicate tensor ", layout::quoted(t.name), " at offset ", at);
    std::string field = "tensor " + layout::quoted(t.name);
    uint32_t n_dims = r.read<uint32_t>(field);
    if (n_dims > layout::kMaxDims)
      fail(name, ": ", field, ": ", n_dims, " dimensions (at most ", layout::kMaxDims, ")");
    for (uint32_t d = 0; d < n_dims; ++d) t.ne.push_back(r.read<uint64_t>(field));
    size_t type_at = r.offset();
    uint32_t type_id = r.read<uint32_t>(field);
    if (!dtype_traits(type_id)) fail(name, ": ", field, ": unknown ggml type id ", type_id, " at offset ", type_at);
    t.type = DType(type_id);
    t.nbytes = layout::tensor_nbytes(name + ": " + field, t.type, t.ne);
    t.offset = r.read<uint64_t>(field);
    f.tensor_index_.emplace(t.name, f.tensors_.size());
    f.tensors_.push_back(std::move(t));
  }

  f.data_offset_ = layout::align_up(r.offset(), f.alignment_);
  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(f.tensors_.size());
  for (const TensorInfo& t : f.tensors_) {
    if (t.offset % f.alignment_ != 0)
      fail(name, ": tensor ", layout::quoted(t.name), ": data offset ", t.offset,
           " is not a multiple of the alignment ", f.alignment_);
    uint64_t room = f.data_offset_ > size ? 0 : size - f.data_offset_;
    if (t.offset > room || t.nbytes > room - t.offset)
      fail(name, ": tensor ", layout::quoted(t.name), ": data at offset ", t.offset, " + ", t.nbytes,
           " bytes runs past the end of the file (data section starts at ", f.data_offset_, ", file size ", size, ")");
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo& a = *by_offset[i - 1];
    const TensorInfo& b = *by_offset[i];
    if (a.offset + a.nbytes > b.offset)
      fail(name, ": tensors ", layout::quoted(a.name), " (offset ", a.offset, ", ", a.nbytes, " bytes) and ",
           layout::quoted(b.name), " (offset ", b.offset, ") overlap");
  }
  return f;
}

const Value* File::find(std::string_view key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].value;
}

const Value& File::get(std::string_view key) const {
  const Value* v = find(key);
  if (!v) fail(path_, ": missing metadata key ", layout::quoted(key));
  return *v;
}

namespace {

// Runs a Value accessor and names the file and key in its error.
template <class F>
auto checked(const std::string& path, std::string_view key, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    fail(path, ": metadata ", layout::quoted(key), ": ", e.what());
  }
}

}  // namespace

std::string File::get_string(std::string_view key, const std::string& fallback) const {
  const Value* v = find(key);
  return v ? checked(path_, key, [&] { return v->as_string(); }) : fallback;
}

uint64_t File::get_u64(std::string_view key, uint64_t fallback) const {
  const Value* v = find(key);
  return v ? checked(path_, key, [&] { return v->as_u64(); }) : fallback;
}

double File::get_f64(std::string_view key, double fallback) const {
  const Value* v = find(key);
  return v ? checked(path_, key, [&] { return v->as_f64(); }) : fallback;
}

bool File::get_bool(std::string_view key, bool fallback) const {
  const Value* v = find(key);
  return v ? checked(path_, key, [&] { return v->as_bool(); }) : fallback;
}

std::string File::architecture() const { return get_string("general.architecture", ""); }

const TensorInfo* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const uint8_t* File::tensor_data(const TensorInfo& info) const { return base_ + data_offset_ + info.offset; }

Tensor File::tensor(std::string_view name) const {
  const TensorInfo* info = find_tensor(name);
  if (!info) fail(path_, ": no tensor named ", layout::quoted(name));
  return Tensor::borrow(info->type, info->shape(), tensor_data(*info), file_);
}

}  // namespace tf::gguf
