#include "tf/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "formats/strict_json.h"
#include "tf/atomic_file.h"
#include "tf/error.h"

namespace tf::safetensors {
namespace {

using nlohmann::json;
using tf::json::brief;
using tf::json::quote;
using tf::json::type_name;

struct DTypeName {
  DType dtype;
  std::string_view name;
  int rank;  // position in the Rust crate's Dtype enum, which orders by alignment
};

// Ranks follow safetensors' `enum Dtype` (BOOL < F4 < ... < I16 < U16 < F16 <
// BF16 < I32 < U32 < F32 < C64 < F64 < I64 < U64); only the order matters.
constexpr DTypeName kNames[] = {
    {DType::I8, "I8", 5},     {DType::I16, "I16", 9},  {DType::F16, "F16", 11}, {DType::BF16, "BF16", 12},
    {DType::I32, "I32", 13},  {DType::F32, "F32", 15}, {DType::F64, "F64", 17}, {DType::I64, "I64", 18},
};

// Valid in the format, not (yet) representable here.
constexpr std::string_view kKnownUnsupported[] = {"BOOL", "U8", "U16", "U32", "U64", "F8_E4M3", "F8_E5M2",
                                                  "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"};

int alignment_rank(DType t) {
  for (const auto& n : kNames)
    if (n.dtype == t) return n.rank;
  return -1;
}

uint64_t parse_u64(const json& v, const std::string& where, const char* what) {
  if (!v.is_number_unsigned()) {
    if (v.is_number_integer()) fail(where, ": ", what, " ", v.get<int64_t>(), " is negative");
    if (v.is_number_float()) fail(where, ": ", what, " must be an integer (got ", brief(v), ")");
    fail(where, ": ", what, " must be an integer (got ", type_name(v), ")");
  }
  return v.get<uint64_t>();
}

}  // namespace

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& n : kNames)
    if (n.name == name) return n.dtype;
  return std::nullopt;
}

std::string_view dtype_to_name(DType t) {
  for (const auto& n : kNames)
    if (n.dtype == t) return n.name;
  fail("safetensors cannot hold tensors of type ", dtype_name(t));
}

uint64_t TensorInfo::numel() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= uint64_t(d);
  return n;
}

// ---------------------------------------------------------------- reading

File File::open(const std::string& path, LoadMode mode) { return parse(MappedFile::open(path, mode)); }

File File::parse(std::shared_ptr<const MappedFile> file) {
  File f = parse_bytes(file->data(), file->size(), file->path());
  f.file_ = std::move(file);
  return f;
}

File File::parse_bytes(const uint8_t* data, size_t size, const std::string& name) {
  File f;
  f.path_ = name;
  f.base_ = data;
  f.size_ = size;
  if (size < 8) fail(name, ": ", size, " bytes is too short for a safetensors file (8-byte header length)");
  uint64_t n;
  std::memcpy(&n, data, 8);  // little-endian hosts only (x86-64)
  if (n > kMaxHeaderBytes)
    fail(name, ": header length ", n, " exceeds the ", kMaxHeaderBytes, "-byte limit (not a safetensors file?)");
  if (n > size - 8) fail(name, ": header length ", n, " runs past the end of the file (", size, " bytes)");
  f.data_start_ = 8 + n;
  const uint64_t data_size = size - f.data_start_;

  const std::string origin = name + ": header";
  // nlohmann would skip a byte-order mark that the Rust crate rejects.
  if (n >= 3 && data[8] == 0xEF && data[9] == 0xBB && data[10] == 0xBF)
    fail(origin, ": starts with a UTF-8 byte-order mark");
  // Depth 3 is the most a valid header has: {tensor: {"shape": [..]}}.
  json header = tf::json::parse_strict(std::string_view(reinterpret_cast<const char*>(data) + 8, size_t(n)),
                                       origin, 3);
  if (!header.is_object()) fail(origin, ": expected a JSON object, got ", type_name(header));

  f.tensors_.reserve(header.size());
  for (auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (value.is_null()) continue;  // serde reads null as "no metadata"
      if (!value.is_object()) fail(origin, ": __metadata__ must be an object, got ", type_name(value));
      for (auto& [mk, mv] : value.items()) {
        if (!mv.is_string())
          fail(origin, ": __metadata__ ", quote(mk), " must be a string, got ", type_name(mv));
        f.metadata_.emplace(mk, mv.get<std::string>());
      }
      continue;
    }
    const std::string where = name + ": tensor " + quote(key);
    if (!value.is_object()) fail(where, ": expected an object, got ", type_name(value));
    TensorInfo info;
    info.name = key;
    const json *dtype = nullptr, *shape = nullptr, *offsets = nullptr;
    for (auto& [field, fv] : value.items()) {
      if (field == "dtype") dtype = &fv;
      else if (field == "shape") shape = &fv;
      else if (field == "data_offsets") offsets = &fv;
      else fail(where, ": unknown field ", quote(field));
    }
    if (!dtype) fail(where, ": missing dtype");
    if (!shape) fail(where, ": missing shape");
    if (!offsets) fail(where, ": missing data_offsets");

    if (!dtype->is_string()) fail(where, ": dtype must be a string, got ", type_name(*dtype));
    const auto& dname = dtype->get_ref<const std::string&>();
    auto dt = dtype_from_name(dname);
    if (!dt) {
      for (auto known : kKnownUnsupported)
        if (dname == known) fail(where, ": dtype ", dname, " is not supported");
      fail(where, ": unknown dtype ", quote(dname));
    }
    info.dtype = *dt;

    if (!shape->is_array()) fail(where, ": shape must be an array, got ", type_name(*shape));
    uint64_t numel = 1;
    for (const json& d : *shape) {
      uint64_t dim = parse_u64(d, where, "shape dimension");
      if (dim > uint64_t(INT64_MAX)) fail(where, ": shape dimension ", dim, " is too large");
      if (dim != 0 && numel > UINT64_MAX / dim) fail(where, ": shape ", brief(*shape), " overflows");
      numel *= dim;
      info.shape.push_back(int64_t(dim));
    }
    const uint64_t esize = element_size(info.dtype);
    if (numel > UINT64_MAX / esize) fail(where, ": shape ", brief(*shape), " overflows");
    const uint64_t expect = numel * esize;

    if (!offsets->is_array() || offsets->size() != 2)
      fail(where, ": data_offsets must be an array of 2 integers, got ", brief(*offsets));
    info.begin = parse_u64((*offsets)[0], where, "data_offsets begin");
    info.end = parse_u64((*offsets)[1], where, "data_offsets end");
    if (info.begin > info.end)
      fail(where, ": data_offsets [", info.begin, ", ", info.end, "] has begin after end");
    if (info.end > data_size)
      fail(where, ": data_offsets [", info.begin, ", ", info.end, "] run past the data section (", data_size,
           " bytes)");
    if (info.end - info.begin != expect)
      fail(where, ": ", info.end - info.begin, " bytes for ", dname, " ", shape_string(info.shape), " (expected ",
           expect, ")");
    f.tensors_.push_back(std::move(info));
  }

  // The format requires the tensors, in offset order, to tile the data
  // section: anything else hides bytes (or aliases tensors) that a reader
  // could be tricked into using.
  std::stable_sort(f.tensors_.begin(), f.tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t pos = 0;
  for (size_t i = 0; i < f.tensors_.size(); ++i) {
    const TensorInfo& t = f.tensors_[i];
    if (t.begin != pos) {
      if (t.begin > pos) fail(name, ": tensor ", quote(t.name), ": data_offsets [", t.begin, ", ", t.end,
                              "] leave a gap after offset ", pos);
      fail(name, ": tensor ", quote(t.name), ": data_offsets [", t.begin, ", ", t.end, "] overlap tensor ",
           quote(f.tensors_[i - 1].name));
    }
    pos = t.end;
    f.index_.emplace(t.name, i);
  }
  if (pos != data_size)
    fail(name, ": tensors cover ", pos, " bytes of a ", data_size, "-byte data section (",
         pos < data_size ? "trailing bytes" : "truncated", ")");
  return f;
}

const TensorInfo* File::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const uint8_t* File::data(const TensorInfo& info) const { return base_ + data_start_ + info.begin; }

Tensor File::tensor(std::string_view name) const {
  const TensorInfo* info = find(name);
  if (!info) fail(path_, ": no tensor ", quote(name));
  const uint8_t* p = data(*info);
  if (reinterpret_cast<uintptr_t>(p) % element_size(info->dtype) == 0)
    return Tensor::borrow(info->dtype, info->shape, p, file_);
  Tensor copy = Tensor::zeros(info->dtype, info->shape);
  if (info->nbytes()) std::memcpy(copy.mutable_data(), p, size_t(info->nbytes()));
  return copy;
}

// ---------------------------------------------------------------- checkpoints

Checkpoint Checkpoint::open_file(const std::string& path, LoadMode mode) {
  Checkpoint c;
  c.path_ = path;
  c.shards_.push_back(File::open(path, mode));
  for (size_t i = 0; i < c.shards_[0].tensors().size(); ++i) {
    const std::string& name = c.shards_[0].tensors()[i].name;
    c.where_.emplace(name, std::make_pair(size_t(0), i));
    c.order_.push_back(name);
  }
  return c;
}

namespace {

void check_shard_name(const std::string& shard, const std::string& origin, const std::string& tensor) {
  bool bad = shard.empty() || shard == "." || shard == ".." || shard.find('/') != std::string::npos ||
             shard.find('\\') != std::string::npos;
  for (char c : shard)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) bad = true;
  if (bad)
    fail(origin, ": tensor ", quote(tensor), ": shard ", quote(shard),
         " is not a plain file name inside the model folder");
}

}  // namespace

Checkpoint Checkpoint::open_dir(const std::string& dir, LoadMode mode) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(dir, ": not a folder");
  const fs::path single = fs::path(dir) / "model.safetensors";
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(single, ec)) return open_file(single.string(), mode);
  if (!fs::exists(index_path, ec)) fail(dir, ": no model.safetensors or model.safetensors.index.json");

  const std::string origin = index_path.string();
  auto bytes = MappedFile::open(origin, LoadMode::Read);
  json index = tf::json::parse_strict(
      std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()), origin);
  if (!index.is_object()) fail(origin, ": expected a JSON object, got ", type_name(index));
  auto wm = index.find("weight_map");
  if (wm == index.end()) fail(origin, ": missing weight_map");
  if (!wm->is_object()) fail(origin, ": weight_map must be an object, got ", type_name(*wm));
  if (wm->empty()) fail(origin, ": weight_map lists no tensors");

  Checkpoint c;
  c.path_ = origin;
  c.sharded_ = true;
  if (auto md = index.find("metadata"); md != index.end()) {
    if (!md->is_object() && !md->is_null()) fail(origin, ": metadata must be an object, got ", type_name(*md));
    if (md->is_object()) c.index_metadata_ = md->dump();
  }

  // tensor -> shard, and shard -> tensors it should hold
  std::map<std::string, std::string, std::less<>> listed;
  std::map<std::string, std::vector<std::string>> by_shard;  // sorted by shard name
  for (auto& [tensor, shard] : wm->items()) {
    if (!shard.is_string())
      fail(origin, ": weight_map ", quote(tensor), " must name a shard file, got ", type_name(shard));
    const auto& s = shard.get_ref<const std::string&>();
    check_shard_name(s, origin, tensor);
    listed.emplace(tensor, s);
    by_shard[s].push_back(tensor);
  }

  for (auto& [shard, tensors] : by_shard) {
    const fs::path p = fs::path(dir) / shard;
    if (!fs::exists(p, ec)) fail(origin, ": shard ", quote(shard), " (listed for ", quote(tensors.front()),
                                 ") does not exist in ", dir);
    File f = File::open(p.string(), mode);
    for (const std::string& t : tensors)
      if (!f.find(t)) fail(origin, ": tensor ", quote(t), " is listed in shard ", quote(shard), " but ",
                           f.path(), " does not hold it");
    const size_t shard_index = c.shards_.size();
    for (size_t i = 0; i < f.tensors().size(); ++i) {
      const std::string& t = f.tensors()[i].name;
      auto it = listed.find(t);
      if (it == listed.end())
        fail(origin, ": shard ", quote(shard), " holds tensor ", quote(t), ", which the index does not list");
      if (it->second != shard)
        fail(origin, ": tensor ", quote(t), " is in both shard ", quote(shard), " and shard ", quote(it->second));
      c.where_.emplace(t, std::make_pair(shard_index, i));
      c.order_.push_back(t);
    }
    c.shards_.push_back(std::move(f));
  }
  return c;
}

bool Checkpoint::contains(std::string_view name) const { return where_.find(name) != where_.end(); }

const TensorInfo* Checkpoint::find(std::string_view name) const {
  auto it = where_.find(name);
  if (it == where_.end()) return nullptr;
  return &shards_[it->second.first].tensors()[it->second.second];
}

const File& Checkpoint::shard_of(std::string_view name, const TensorInfo** info) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail(path_, ": no tensor ", quote(name));
  const File& f = shards_[it->second.first];
  *info = &f.tensors()[it->second.second];
  return f;
}

const TensorInfo& Checkpoint::info(std::string_view name) const {
  const TensorInfo* info = nullptr;
  shard_of(name, &info);
  return *info;
}

const uint8_t* Checkpoint::data(std::string_view name) const {
  const TensorInfo* info = nullptr;
  const File& f = shard_of(name, &info);
  return f.data(*info);
}

Tensor Checkpoint::tensor(std::string_view name) const {
  const TensorInfo* info = nullptr;
  return shard_of(name, &info).tensor(name);
}

// ---------------------------------------------------------------- writing

void Writer::set_metadata(std::string key, std::string value) { metadata_[std::move(key)] = std::move(value); }

void Writer::add(std::string name, DType dtype, Shape shape, Producer produce) {
  if (name == "__metadata__") fail("safetensors: __metadata__ is reserved and cannot name a tensor");
  if (names_.count(name)) fail("safetensors: tensor ", quote(name), " added twice");
  dtype_to_name(dtype);  // throws for types the format cannot hold
  uint64_t bytes = element_size(dtype);
  for (int64_t d : shape) {
    if (d < 0) fail("safetensors: tensor ", quote(name), ": negative dimension in ", shape_string(shape));
    if (d != 0 && bytes > UINT64_MAX / uint64_t(d))
      fail("safetensors: tensor ", quote(name), ": shape ", shape_string(shape), " overflows");
    bytes *= uint64_t(d);
  }
  Pending p;
  p.info.name = std::move(name);
  p.info.dtype = dtype;
  p.info.shape = std::move(shape);
  p.info.end = bytes;  // offsets are assigned in write()
  p.produce = std::move(produce);
  names_.emplace(p.info.name, tensors_.size());
  tensors_.push_back(std::move(p));
}

void Writer::add(std::string name, const Tensor& tensor) {
  if (!tensor.defined()) fail("safetensors: tensor ", quote(name), " has no data");
  Tensor t = tensor;
  add(std::move(name), t.dtype(), t.shape(), [t](AtomicFile& out) {
    Tensor c = t.contiguous();
    out.write(c.data(), size_t(c.nbytes()));
  });
}

namespace {

std::string json_string(const std::string& s, const char* what) {
  try {
    return json(s).dump();  // escapes like serde_json: \" \\ \n ..., other controls as \u00XX
  } catch (const json::exception&) {
    fail("safetensors: ", what, " ", quote(s), " is not valid UTF-8");
  }
}

}  // namespace

Writer::Result Writer::write(const std::string& path) const {
  std::vector<const Pending*> order;
  order.reserve(tensors_.size());
  for (const Pending& p : tensors_) order.push_back(&p);
  std::sort(order.begin(), order.end(), [](const Pending* a, const Pending* b) {
    int ra = alignment_rank(a->info.dtype), rb = alignment_rank(b->info.dtype);
    if (ra != rb) return ra > rb;
    return a->info.name < b->info.name;  // std::string compares bytes, like Rust's String
  });

  std::string header = "{";
  if (!metadata_.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata_) {
      if (!first) header += ',';
      first = false;
      header += json_string(k, "metadata key");
      header += ':';
      header += json_string(v, "metadata value");
    }
    header += '}';
  }
  uint64_t offset = 0;
  for (const Pending* p : order) {
    if (header.size() > 1) header += ',';
    header += json_string(p->info.name, "tensor name");
    header += ":{\"dtype\":\"";
    header += dtype_to_name(p->info.dtype);
    header += "\",\"shape\":[";
    for (size_t i = 0; i < p->info.shape.size(); ++i) {
      if (i) header += ',';
      header += std::to_string(p->info.shape[i]);
    }
    header += "],\"data_offsets\":[";
    header += std::to_string(offset);
    header += ',';
    offset += p->info.end;
    header += std::to_string(offset);
    header += "]}";
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');
  if (header.size() > kMaxHeaderBytes) fail(path, ": safetensors header would be ", header.size(), " bytes (limit ",
                                            kMaxHeaderBytes, ")");

  AtomicFile out(path);
  const uint64_t n = header.size();
  out.write(&n, 8);
  out.write(header.data(), header.size());
  for (const Pending* p : order) {
    const uint64_t before = out.bytes_written();
    if (p->produce) p->produce(out);
    const uint64_t wrote = out.bytes_written() - before;
    if (wrote != p->info.end)
      fail(path, ": tensor ", quote(p->info.name), ": producer wrote ", wrote, " bytes, expected ", p->info.end);
  }
  Result r;
  r.bytes = out.bytes_written();
  r.sha256 = out.commit();
  return r;
}

}  // namespace tf::safetensors
