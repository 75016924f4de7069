// GGUF writer: metadata in insertion order, tensor data streamed one tensor
// at a time through an AtomicFile, so a model never has to fit in RAM.
#include <limits>

#include "formats/gguf_layout.h"
#include "tf/atomic_file.h"
#include "tf/error.h"
#include "tf/gguf.h"

namespace tf::gguf {
namespace {

constexpr uint32_t kVersion = 3;

void put_u32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }
void put_u64(std::string& out, uint64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); }
void put_string(std::string& out, const std::string& s) {
  put_u64(out, s.size());
  out += s;
}

}  // namespace

Writer::Writer() = default;

void Writer::set(std::string key, Value value) {
  if (key == layout::kAlignmentKey) alignment_ = layout::checked_alignment("GGUF writer", value);
  auto it = key_index_.find(key);
  if (it != key_index_.end()) {
    metadata_[it->second].value = std::move(value);
    return;
  }
  key_index_.emplace(key, metadata_.size());
  metadata_.push_back({std::move(key), std::move(value)});
}

void Writer::remove(std::string_view key) {
  auto it = key_index_.find(key);
  if (it == key_index_.end()) return;
  bool was_alignment = key == layout::kAlignmentKey;  // before `key` may dangle
  size_t removed = it->second;
  key_index_.erase(it);
  metadata_.erase(metadata_.begin() + std::ptrdiff_t(removed));
  for (auto& entry : key_index_)
    if (entry.second > removed) --entry.second;
  if (was_alignment) alignment_ = layout::kDefaultAlignment;
}

void Writer::set_alignment(uint64_t alignment) {
  if (alignment == layout::kDefaultAlignment && !key_index_.count(layout::kAlignmentKey)) return;
  if (alignment > std::numeric_limits<uint32_t>::max())
    fail("GGUF writer: alignment ", alignment, " does not fit in general.alignment (uint32)");
  set(std::string(layout::kAlignmentKey), Value::u32(uint32_t(alignment)));
}

void Writer::add_tensor(std::string name, DType type, std::vector<uint64_t> ne, Producer produce) {
  std::string what = "GGUF writer: tensor " + layout::quoted(name);
  layout::check_tensor_name("GGUF writer", name);
  if (tensor_index_.count(name)) fail(what, ": added twice");
  if (!produce) fail(what, ": no producer");
  PendingTensor t;
  t.info.nbytes = layout::tensor_nbytes(what, type, ne);
  t.info.name = std::move(name);
  t.info.type = type;
  t.info.ne = std::move(ne);
  t.produce = std::move(produce);
  tensor_index_.emplace(t.info.name, tensors_.size());
  tensors_.push_back(std::move(t));
}

void Writer::add_tensor(std::string name, DType type, std::vector<uint64_t> ne, const void* data) {
  std::string what = "GGUF writer: tensor " + layout::quoted(name);
  if (!data) fail(what, ": no data");
  uint64_t n = layout::tensor_nbytes(what, type, ne);
  add_tensor(std::move(name), type, std::move(ne), [data, n](AtomicFile& out) { out.write(data, size_t(n)); });
}

Writer::Result Writer::write(const std::string& path) const {
  std::string header = "GGUF";
  put_u32(header, kVersion);
  put_u64(header, tensors_.size());
  put_u64(header, metadata_.size());
  for (const KeyValue& kv : metadata_) {
    put_string(header, kv.key);
    put_u32(header, uint32_t(kv.value.type()));
    kv.value.encode(header);
  }
  uint64_t offset = 0;
  for (const PendingTensor& t : tensors_) {
    put_string(header, t.info.name);
    put_u32(header, uint32_t(t.info.ne.size()));
    for (uint64_t n : t.info.ne) put_u64(header, n);
    put_u32(header, uint32_t(t.info.type));
    put_u64(header, offset);
    uint64_t padded = layout::align_up(t.info.nbytes, alignment_);
    if (padded < t.info.nbytes || offset > std::numeric_limits<uint64_t>::max() - padded)
      fail(path, ": tensor ", layout::quoted(t.info.name), ": data section size overflows");
    offset += padded;
  }

  AtomicFile out(path);
  out.write(header.data(), header.size());
  if (!tensors_.empty()) out.write_zeros(size_t(layout::align_up(header.size(), alignment_) - header.size()));
  for (const PendingTensor& t : tensors_) {
    uint64_t before = out.bytes_written();
    t.produce(out);
    uint64_t wrote = out.bytes_written() - before;
    if (wrote != t.info.nbytes)
      fail(path, ": tensor ", layout::quoted(t.info.name), ": producer wrote ", wrote, " bytes, expected ",
           t.info.nbytes);
    out.write_zeros(size_t(layout::align_up(wrote, alignment_) - wrote));
  }
  Result result;
  result.bytes = out.bytes_written();
  result.sha256 = out.commit();
  return result;
}

Writer writer_from(const File& file) {
  Writer w;
  for (const KeyValue& kv : file.metadata()) w.set(kv.key, kv.value);
  std::shared_ptr<const MappedFile> keep = file.mapping();
  for (const TensorInfo& t : file.tensors()) {
    const uint8_t* data = file.tensor_data(t);
    w.add_tensor(t.name, t.type, t.ne, [data, n = t.nbytes, keep](AtomicFile& out) { out.write(data, size_t(n)); });
  }
  return w;
}

}  // namespace tf::gguf
