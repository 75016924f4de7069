// llama.cpp's importance-matrix files (common/imatrix-loader.cpp reads them,
// tools/imatrix/imatrix.cpp writes them); see tf/imatrix.h for the layouts.
#include "tf/imatrix.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tf/atomic_file.h"
#include "tf/byte_reader.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/mapped_file.h"

namespace tf::quant {
namespace {

constexpr const char* kSums = ".in_sum2";
constexpr const char* kCounts = ".counts";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Imatrix load_legacy(const MappedFile& f) {
  ByteReader r(f.data(), f.size(), f.path());
  Imatrix m;
  m.legacy = true;
  int32_t n_entries = r.read<int32_t>("entry count");
  if (n_entries < 1) fail(f.path(), ": not an imatrix file (entry count ", n_entries, ")");
  for (int32_t i = 0; i < n_entries; ++i) {
    int32_t len = r.read<int32_t>("name length");
    if (len < 0) fail(f.path(), ": entry ", i, ": negative name length");
    std::string name(r.read_view(uint64_t(len), "name"));
    int32_t ncall = r.read<int32_t>("ncall");
    int32_t nval = r.read<int32_t>("value count");
    if (nval < 1) fail(f.path(), ": entry '", name, "' has ", nval, " values");
    const uint8_t* p = r.take(uint64_t(nval) * 4, "values");
    if (m.entries.count(name)) fail(f.path(), ": duplicate entry '", name, "'");
    ImatrixEntry& e = m.entries[name];
    e.sums.resize(size_t(nval));
    std::memcpy(e.sums.data(), p, size_t(nval) * 4);
    e.counts = {ncall};
  }
  // optional trailer: chunk count, then the dataset name
  if (r.remaining() >= 4) {
    m.chunk_count = r.read<int32_t>("chunk count");
    if (r.remaining() >= 4) {
      int32_t len = r.read<int32_t>("dataset name length");
      if (len > 0) m.datasets.emplace_back(r.read_view(uint64_t(len), "dataset name"));
    }
  }
  return m;
}

Imatrix load_gguf(const std::string& path) {
  gguf::File f = gguf::File::open(path, LoadMode::Read);
  Imatrix m;
  if (f.tensors().empty()) fail(path, ": imatrix file without entries");
  if (const gguf::Value* v = f.find("imatrix.datasets"); v && v->is_array() && v->element_type() == gguf::ValueType::STRING)
    m.datasets = v->as_strings();
  m.chunk_count = int32_t(f.get_u64("imatrix.chunk_count", 0));
  m.chunk_size = int32_t(f.get_u64("imatrix.chunk_size", 0));
  std::map<std::string, std::pair<const gguf::TensorInfo*, const gguf::TensorInfo*>> pairs;
  for (const gguf::TensorInfo& t : f.tensors()) {
    if (ends_with(t.name, kSums))
      pairs[t.name.substr(0, t.name.size() - std::strlen(kSums))].first = &t;
    else if (ends_with(t.name, kCounts))
      pairs[t.name.substr(0, t.name.size() - std::strlen(kCounts))].second = &t;
  }
  for (const auto& [name, st] : pairs) {
    const auto [sums, counts] = st;
    if (!sums || !counts) fail(path, ": '", name, "' lacks its ", sums ? kCounts : kSums, " tensor");
    if (sums->type != DType::F32 || counts->type != DType::F32) fail(path, ": '", name, "': sums and counts must be F32");
    uint64_t n_mat = counts->numel();
    if (n_mat == 0 || sums->numel() % n_mat != 0)
      fail(path, ": '", name, "': ", sums->numel(), " sums do not split into ", n_mat, " matrices");
    ImatrixEntry& e = m.entries[name];
    const float* s = reinterpret_cast<const float*>(f.tensor_data(*sums));
    const float* c = reinterpret_cast<const float*>(f.tensor_data(*counts));
    e.sums.assign(s, s + sums->numel());
    e.counts.resize(n_mat);
    for (uint64_t j = 0; j < n_mat; ++j) e.counts[j] = std::lround(c[j]);
  }
  return m;
}

void save_legacy(const Imatrix& m, const std::string& path) {
  // llama-imatrix stores (sum / count) * ncall with ncall the chunks a weight
  // saw (rounded up), so dividing by ncall gives the mean again.
  const int64_t chunk_size = m.chunk_size > 0 ? m.chunk_size : 1;
  AtomicFile out(path);
  auto i32 = [&](int32_t v) { out.write(&v, 4); };
  std::vector<const std::string*> names;
  for (const auto& [name, e] : m.entries) {
    bool any = std::any_of(e.counts.begin(), e.counts.end(), [](int64_t c) { return c != 0; });
    if (any || m.legacy) names.push_back(&name);  // entries without data are skipped, as llama.cpp does
  }
  i32(int32_t(names.size()));
  for (const std::string* name : names) {
    const ImatrixEntry& e = m.entries.at(*name);
    i32(int32_t(name->size()));
    out.write(name->data(), name->size());
    if (m.legacy) {  // already in this form
      i32(int32_t(e.counts.empty() ? 0 : e.counts[0]));
      i32(int32_t(e.sums.size()));
      out.write(e.sums.data(), e.sums.size() * 4);
      continue;
    }
    int64_t max_count = *std::max_element(e.counts.begin(), e.counts.end());
    int32_t ncall = int32_t((max_count + chunk_size - 1) / chunk_size);
    i32(ncall);
    int32_t nval = int32_t(e.sums.size());
    int32_t nmat = int32_t(e.counts.size());
    i32(nval);
    std::vector<float> tmp(static_cast<size_t>(nval));
    for (int32_t i = 0; i < nval; ++i) {
      float count = float(e.counts[size_t(i / (nval / nmat))]);
      float value = e.sums[size_t(i)];
      if (count == 0.0f) value = count = 1.0f;  // partial data (unused experts): store 1
      tmp[size_t(i)] = (value / count) * float(ncall);
    }
    out.write(tmp.data(), tmp.size() * 4);
  }
  i32(m.chunk_count);
  const std::string dataset = m.datasets.empty() ? std::string() : m.datasets.back();
  i32(int32_t(dataset.size()));
  out.write(dataset.data(), dataset.size());
  out.commit();
}

void save_gguf(const Imatrix& m, const std::string& path) {
  gguf::Writer w;
  w.set("general.type", gguf::Value::string("imatrix"));
  w.set("imatrix.datasets", gguf::Value::string_array(m.datasets));
  w.set("imatrix.chunk_count", gguf::Value::u32(uint32_t(m.chunk_count)));
  w.set("imatrix.chunk_size", gguf::Value::u32(uint32_t(m.chunk_size)));
  // the float copies must outlive write()
  std::vector<std::vector<float>> counts_f;
  counts_f.reserve(m.entries.size());
  // ggml writes a tensor's dims without trailing 1s
  auto dims = [](uint64_t a, uint64_t b) { return b == 1 ? std::vector<uint64_t>{a} : std::vector<uint64_t>{a, b}; };
  for (const auto& [name, e] : m.entries) {
    if (e.sums.empty() || e.counts.empty()) continue;
    uint64_t nmat = e.counts.size(), ncols = e.sums.size() / nmat;
    counts_f.emplace_back(e.counts.begin(), e.counts.end());
    w.add_tensor(name + kSums, DType::F32, dims(ncols, nmat), e.sums.data());
    w.add_tensor(name + kCounts, DType::F32, dims(1, nmat), counts_f.back().data());
  }
  w.write(path);
}

}  // namespace

Imatrix Imatrix::load(const std::string& path) {
  auto f = MappedFile::open(path, LoadMode::Read);
  if (f->size() >= 4 && std::memcmp(f->data(), "GGUF", 4) == 0) return load_gguf(path);
  return load_legacy(*f);
}

void Imatrix::save(const std::string& path, bool as_legacy) const {
  if (as_legacy)
    save_legacy(*this, path);
  else
    save_gguf(*this, path);
}

void Imatrix::accumulate(const std::string& name, const float* x, size_t rows, size_t n_cols, size_t ld) {
  ImatrixEntry& e = entries[name];
  if (e.sums.empty()) {
    e.sums.assign(n_cols, 0.0f);
    e.counts.assign(1, 0);
  } else if (e.sums.size() != n_cols) {
    fail("imatrix: inconsistent size for ", name, " (", e.sums.size(), " vs ", n_cols, ")");
  }
  float* acc = e.sums.data();
  for (size_t r = 0; r < rows; ++r) {
    const float* row = x + r * ld;
    for (size_t j = 0; j < n_cols; ++j) acc[j] += row[j] * row[j];
  }
  for (size_t j = 0; j < n_cols; ++j)
    if (!std::isfinite(acc[j])) fail("imatrix: non-finite activations in ", name);
  e.counts[0] += int64_t(rows);
}

std::vector<float> Imatrix::importance(const std::string& name) const {
  auto it = entries.find(name);
  if (it == entries.end()) return {};
  const ImatrixEntry& e = it->second;
  std::vector<float> v(e.sums.size());
  if (legacy) {  // (sum / count) * ncall: divide by ncall
    int64_t ncall = e.counts.empty() ? 0 : e.counts[0];
    for (size_t i = 0; i < v.size(); ++i) v[i] = ncall > 0 ? e.sums[i] / float(ncall) : e.sums[i];
    return v;
  }
  size_t nmat = e.counts.size(), ncols = nmat ? e.sums.size() / nmat : 0;
  for (size_t j = 0; j < nmat; ++j) {
    float count = float(e.counts[j]);
    for (size_t i = 0; i < ncols; ++i) v[j * ncols + i] = count > 0.0f ? e.sums[j * ncols + i] / count : 1.0f;
  }
  return v;
}

bool imatrix_format_is_legacy(const std::string& output_format) {
  if (output_format == "dat") return true;
  if (output_format.empty() || output_format == "gguf") return false;
  fail("--output-format must be gguf or dat, not '", output_format, "'");
}

}  // namespace tf::quant
