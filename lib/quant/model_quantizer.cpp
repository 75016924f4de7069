// The whole-file quantizer (llama.cpp's llama_model_quantize_impl, minus
// splits and pruning): metadata copied in order with general.* keys appended
// as gguf_set_val does, tensors in llama.cpp's order, each converted to f32,
// quantized in row chunks on the thread pool, checked by dequantizing it back.
#include "tf/quantize_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <span>

#include "quant/gptq.h"
#include "tf/atomic_file.h"
#include "tf/convert.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/half.h"
#include "tf/imatrix.h"
#include "tf/log.h"
#include "tf/model_format.h"
#include "tf/quant.h"
#include "tf/thread_pool.h"

namespace tf::quant {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Removes a temporary file when it goes out of scope.
struct TempFile {
  std::string path;
  ~TempFile() {
    if (!path.empty()) {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    }
  }
};

// llama-model-loader's guess of a file type from the most common tensor type,
// used by COPY for files without general.file_type.
uint32_t guess_file_type(const gguf::File& f) {
  std::map<DType, size_t> n;
  for (const auto& t : f.tensors()) ++n[t.type];
  DType most = DType::F32;
  size_t best = 0;
  for (auto [t, c] : n)
    if (c > best) best = c, most = t;
  switch (most) {
    case DType::F16: return uint32_t(FileType::MOSTLY_F16);
    case DType::BF16: return uint32_t(FileType::MOSTLY_BF16);
    case DType::Q4_0: return uint32_t(FileType::MOSTLY_Q4_0);
    case DType::Q4_1: return uint32_t(FileType::MOSTLY_Q4_1);
    case DType::Q5_0: return uint32_t(FileType::MOSTLY_Q5_0);
    case DType::Q5_1: return uint32_t(FileType::MOSTLY_Q5_1);
    case DType::Q8_0: return uint32_t(FileType::MOSTLY_Q8_0);
    case DType::Q2_K: return uint32_t(FileType::MOSTLY_Q2_K);
    case DType::Q3_K: return uint32_t(FileType::MOSTLY_Q3_K_M);
    case DType::Q4_K: return uint32_t(FileType::MOSTLY_Q4_K_M);
    case DType::Q5_K: return uint32_t(FileType::MOSTLY_Q5_K_M);
    case DType::Q6_K: return uint32_t(FileType::MOSTLY_Q6_K);
    case DType::IQ4_NL: return uint32_t(FileType::MOSTLY_IQ4_NL);
    case DType::IQ4_XS: return uint32_t(FileType::MOSTLY_IQ4_XS);
    default: return uint32_t(FileType::ALL_F32);
  }
}

// Rows of any readable type as f32, in parallel.
// err += Σ (dequantized − x)², sq += Σ x² over `rows` rows: per row in 16
// float lanes (which vectorise), across rows in double.
void add_round_trip_error(DType t, const uint8_t* q, uint64_t q_row_bytes, const float* x, int64_t rows, int64_t ncols,
                          double& err, double& sq) {
  thread_local std::vector<float> back;
  back.resize(size_t(ncols));
  constexpr int64_t kLanes = 16;
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(t, q + uint64_t(r) * q_row_bytes, back.data(), ncols);
    const float* xr = x + r * ncols;
    float e[kLanes] = {}, s[kLanes] = {};
    int64_t c = 0;
    for (; c + kLanes <= ncols; c += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) {
        const float d = back[size_t(c + l)] - xr[c + l];
        e[l] += d * d;
        s[l] += xr[c + l] * xr[c + l];
      }
    double er = 0, sr = 0;
    for (; c < ncols; ++c) {
      const double d = double(back[size_t(c)]) - double(xr[c]);
      er += d * d;
      sr += double(xr[c]) * double(xr[c]);
    }
    for (int64_t l = 0; l < kLanes; ++l) er += e[l], sr += s[l];
    err += er;
    sq += sr;
  }
}

void rows_to_f32(DType t, const uint8_t* src, float* dst, int64_t nrows, int64_t ncols) {
  const uint64_t row = *row_bytes(t, uint64_t(ncols));
  for (int64_t r = 0; r < nrows; ++r) {
    const uint8_t* s = src + uint64_t(r) * row;
    float* d = dst + r * ncols;
    switch (t) {
      case DType::F32: std::memcpy(d, s, size_t(ncols) * 4); break;
      case DType::F16: f16_to_f32(reinterpret_cast<const uint16_t*>(s), d, size_t(ncols)); break;
      case DType::BF16: bf16_to_f32(reinterpret_cast<const uint16_t*>(s), d, size_t(ncols)); break;
      default: dequantize_row(t, s, d, ncols);
    }
  }
}

// Rows [r, r + n) of a source tensor as f32: in place when it is f32,
// else converted into a per-thread buffer of the chunk (which stays in
// cache for the quantizer and the error after it).
const float* chunk_as_f32(DType t, const uint8_t* src, int64_t r, int64_t n, int64_t ncols) {
  const uint64_t row = *row_bytes(t, uint64_t(ncols));
  if (t == DType::F32) return reinterpret_cast<const float*>(src + uint64_t(r) * row);
  thread_local std::vector<float> chunk;
  chunk.resize(size_t(n * ncols));
  rows_to_f32(t, src + uint64_t(r) * row, chunk.data(), n, ncols);
  return chunk.data();
}

struct Job {
  const gguf::TensorInfo* info;
  TensorChoice choice;
  std::vector<float> importance;  // n_mat * ne[0], or empty
};

}  // namespace

QuantizeResult quantize_model(const std::string& in_arg, const std::string& out, const QuantizeOptions& opt,
                              const std::function<void(const TensorReport&)>& on_tensor) {
  const auto t0 = Clock::now();
  std::string in = in_arg;
  TempFile converted;
  const ModelFormat format = detect_model_format(in);
  if (format == ModelFormat::HfFolder) {
    // quantize from llama.cpp's conversion of the folder, as a user would
    std::filesystem::path o(out);
    converted.path = (o.parent_path() / ("." + o.filename().string() + ".hf.tmp.gguf")).string();
    HfToGgufOptions ho;
    ho.outtype = "auto";
    log("converting ", in, " to GGUF first");
    convert_hf_to_gguf(in, converted.path, ho);
    in = converted.path;
  } else if (format != ModelFormat::Gguf) {
    fail(in, ": tf-quantize takes a GGUF file or a Hugging Face folder");
  }
  if (!opt.dry_run) {
    std::error_code ec;
    if (std::filesystem::equivalent(in, out, ec)) fail("input and output are the same file: ", out);
  }

  gguf::File file = gguf::File::open(in, LoadMode::Mmap);
  MixOptions mix = opt.mix;
  Imatrix imatrix;
  if (!opt.imatrix_path.empty()) {
    imatrix = Imatrix::load(opt.imatrix_path);
    for (const auto& [name, e] : imatrix.entries)
      for (float v : e.sums)
        if (!std::isfinite(v)) fail(opt.imatrix_path, ": non-finite value in entry ", name);
    mix.has_imatrix = true;
    log("importance matrix: ", imatrix.entries.size(), " entries from ", opt.imatrix_path,
        imatrix.legacy ? " (legacy .dat)" : " (GGUF)");
  }

  const ModelShape shape = ModelShape::from_gguf(file);
  const std::vector<TensorDesc> descs = ordered_tensors(file);
  const std::vector<TensorChoice> choices = choose_types(shape, descs, mix);

  std::vector<Job> jobs;
  for (size_t i = 0; i < descs.size(); ++i) {
    Job j{file.find_tensor(descs[i].name), choices[i], {}};
    const DType from = j.info->type, to = j.choice.type;
    if (j.choice.quantizable && j.choice.requires_imatrix && !mix.has_imatrix)
      fail("this quantization requires an importance matrix (tensor ", j.info->name, " becomes ", dtype_name(to),
           "): pass --imatrix FILE (tf-run imatrix or llama-imatrix writes one)");
    if (from != to) {
      if (traits(from).is_quantized && !opt.allow_requantize)
        fail("tensor ", j.info->name, " is already ", dtype_name(from), ": requantizing is disabled (--allow-requantize)");
      if (!can_quantize(to)) fail("tensor ", j.info->name, ": no quantizer for ", dtype_name(to));
      if (from != DType::F32 && from != DType::F16 && from != DType::BF16 && !traits(from).is_quantized)
        fail("tensor ", j.info->name, ": cannot convert type ", dtype_name(from));
      if (mix.has_imatrix && traits(to).is_quantized) {
        const uint64_t want = j.info->ne[0] * (j.info->ne.size() > 2 ? j.info->ne[2] : 1);
        if (imatrix.contains(j.info->name)) {
          j.importance = imatrix.importance(j.info->name);
          if (j.importance.size() != want) {
            // llama.cpp tolerates this only for the token embeddings
            if (j.info->name != "token_embd.weight" && j.info->name != "per_layer_token_embd.weight")
              fail(opt.imatrix_path, ": entry ", j.info->name, " has ", j.importance.size(), " values, the tensor needs ", want);
            j.importance.clear();
          }
        }
        if (j.importance.empty() && j.choice.requires_imatrix)
          fail("no importance matrix entry for ", j.info->name, ", which becomes ", dtype_name(to),
               " (garbage without one)");
      }
    }
    jobs.push_back(std::move(j));
  }

  QuantizeResult result;
  const FileTypeSpec& ft = mix.file_type;
  result.file_type = ft.copy_only ? "COPY" : std::string(file_type_name(ft.type));  // Q4_K -> Q4_K_M

  gguf::Writer w;
  for (const gguf::KeyValue& kv : file.metadata()) w.set(kv.key, kv.value);
  // gguf_set_val_u32 removes a key and appends it: same order as llama.cpp
  auto append = [&](const std::string& key, gguf::Value v) {
    w.remove(key);
    w.set(key, std::move(v));
  };
  append("general.quantization_version", gguf::Value::u32(kQuantizationVersion));
  uint32_t ft_value = uint32_t(ft.type);
  if (ft.copy_only) {
    const gguf::Value* v = file.find("general.file_type");
    ft_value = v ? uint32_t(v->as_u64()) : guess_file_type(file);
  }
  append("general.file_type", gguf::Value::u32(ft_value));
  if (mix.has_imatrix) {
    append("quantize.imatrix.file", gguf::Value::string(opt.imatrix_path.substr(0, 127)));
    if (!imatrix.datasets.empty()) append("quantize.imatrix.dataset", gguf::Value::string(imatrix.datasets[0].substr(0, 127)));
    append("quantize.imatrix.entries_count", gguf::Value::u32(uint32_t(imatrix.entries.size())));
    if (imatrix.chunk_count > 0) append("quantize.imatrix.chunks_count", gguf::Value::u32(uint32_t(imatrix.chunk_count)));
  }

  std::unique_ptr<GptqCalibration> calibration;
  if (opt.method == Method::Gptq && !opt.dry_run) {
    if (opt.calib_text.empty()) fail("--method gptq needs calibration text (--calib-text or --eval-text)");
    calibration = std::make_unique<GptqCalibration>(in, opt.calib_text, opt.calib_ctx, opt.calib_chunks);
  }

  ThreadPool& pool = default_pool();
  result.tensors.resize(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    const Job& j = jobs[i];
    TensorReport& rep = result.tensors[i];
    rep.name = j.info->name;
    rep.ne = j.info->ne;
    rep.from = j.info->type;
    rep.to = j.choice.type;
    rep.reason = j.choice.reason;
    rep.params = j.info->numel();
    rep.bytes_in = j.info->nbytes;
    const int64_t ncols = int64_t(j.info->ne[0]);
    const int64_t nrows = int64_t(rep.params / uint64_t(ncols));
    rep.bytes_out = *row_bytes(rep.to, uint64_t(ncols)) * uint64_t(nrows);
    rep.imatrix = !j.importance.empty();
  }

  // Tensors are produced one at a time; the output buffer is reused so that
  // only the largest tensor's pages are ever faulted in.
  std::unique_ptr<uint8_t[]> dst_buffer;
  uint64_t dst_capacity = 0;
  auto produce = [&, in_file = &file](size_t i) {
    return [&, i, in_file](AtomicFile& sink) {
      const auto t_start = Clock::now();
      const Job& j = jobs[i];
      TensorReport& rep = result.tensors[i];
      const uint8_t* src = in_file->tensor_data(*j.info);
      if (rep.from == rep.to) {
        sink.write(src, rep.bytes_in);
      } else {
        const int64_t ncols = int64_t(j.info->ne[0]);
        const int64_t nrows = int64_t(rep.params / uint64_t(ncols));
        const int64_t rows_per_mat = j.info->ne.size() > 1 ? int64_t(j.info->ne[1]) : 1;
        const uint64_t dst_row = *row_bytes(rep.to, uint64_t(ncols));
        if (dst_capacity < rep.bytes_out) {
          dst_buffer.reset();                            // the old one goes first
          dst_buffer.reset(new uint8_t[rep.bytes_out]);  // not zeroed: every byte is written before it is read
          dst_capacity = rep.bytes_out;
        }
        std::span<uint8_t> dst(dst_buffer.get(), size_t(rep.bytes_out));
        const Hessian* hessian = calibration ? calibration->hessian(j.info->name) : nullptr;
        // the round-trip error, per thread then summed
        std::vector<double> err(size_t(pool.size()), 0.0), sq(size_t(pool.size()), 0.0);
        if (hessian && gptq_supports(rep.to) && rows_per_mat == nrows) {
          // GPTQ compensates the whole matrix in place; f32 stays the reference for the error
          std::vector<float> f32(size_t(rep.params));
          const uint64_t src_row = *row_bytes(rep.from, uint64_t(ncols));
          pool.parallel_for(size_t(nrows), 16, [&](size_t r0, size_t r1, int) {
            rows_to_f32(rep.from, src + r0 * src_row, f32.data() + r0 * size_t(ncols), int64_t(r1 - r0), ncols);
          });
          std::vector<float> work(f32);
          gptq_quantize(rep.to, work.data(), dst.data(), nrows, ncols, *hessian,
                        j.importance.empty() ? nullptr : j.importance.data(), pool);
          pool.parallel_for(size_t(nrows), 16, [&](size_t r0, size_t r1, int tid) {
            add_round_trip_error(rep.to, dst.data() + r0 * dst_row, dst_row, f32.data() + r0 * size_t(ncols),
                                 int64_t(r1 - r0), ncols, err[size_t(tid)], sq[size_t(tid)]);
          });
          rep.gptq = true;
        } else {
          // chunks of >= 16384 elements, as llama.cpp hands its threads; a
          // chunk never crosses a matrix (expert), whose importance differs
          const int64_t grain = std::max<int64_t>(1, (16384 + ncols - 1) / ncols);
          const int64_t n_mats = nrows / rows_per_mat;
          for (int64_t m = 0; m < n_mats; ++m) {
            const float* imp = j.importance.empty() ? nullptr : j.importance.data() + m * ncols;
            pool.parallel_for(size_t(rows_per_mat), size_t(grain), [&](size_t r0, size_t r1, int tid) {
              const int64_t r = m * rows_per_mat + int64_t(r0), n = int64_t(r1 - r0);
              uint8_t* q = dst.data() + uint64_t(r) * dst_row;
              const float* x = chunk_as_f32(rep.from, src, r, n, ncols);
              quantize_rows(rep.to, x, q, n, ncols, imp);
              // measured while the chunk is still in cache: no second pass over the tensor
              add_round_trip_error(rep.to, q, dst_row, x, n, ncols, err[size_t(tid)], sq[size_t(tid)]);
            });
          }
        }
        for (size_t t = 0; t < err.size(); ++t) rep.sum_sq_err += err[t], rep.sum_sq += sq[t];
        sink.write(dst.data(), dst.size());
      }
      rep.seconds = seconds_since(t_start);
      if (on_tensor) on_tensor(rep);
    };
  };

  for (size_t i = 0; i < jobs.size(); ++i) {
    const Job& j = jobs[i];
    w.add_tensor(j.info->name, j.choice.type, j.info->ne, produce(i));
  }

  result.model.path = out;
  result.model.format = "gguf";
  result.model.arch = file.architecture();
  result.model.quant = result.file_type;
  for (const auto& t : result.tensors) result.model.params += t.params;
  if (opt.dry_run) {
    for (const auto& t : result.tensors)
      if (on_tensor) on_tensor(t);
    result.seconds = seconds_since(t0);
    return result;
  }
  gguf::Writer::Result written = w.write(out);
  result.model.bytes = written.bytes;
  result.model.sha256 = written.sha256;
  result.seconds = seconds_since(t0);
  return result;
}

}  // namespace tf::quant
