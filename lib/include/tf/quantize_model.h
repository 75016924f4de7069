// Quantizing a whole model file: the mix picks each tensor's type
// (tf/quant_mix.h), the rows are quantized on the thread pool, and the result
// is a GGUF that llama.cpp loads: same metadata plus general.file_type and
// general.quantization_version, tensors in llama-quantize's order, written
// atomically. Each tensor reports its type, the rule behind it and the
// round-trip error.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tf/dtype.h"
#include "tf/quant_mix.h"
#include "tf/records.h"

namespace tf::quant {

enum class Method { Rtn, Gptq };  // round to nearest (llama.cpp's) or GPTQ error compensation

struct QuantizeOptions {
  MixOptions mix;
  std::string imatrix_path;     // llama.cpp imatrix file (.dat or GGUF); "" for none
  bool allow_requantize = false;
  bool dry_run = false;         // choose types and report sizes, write nothing
  Method method = Method::Rtn;
  std::string calib_text;       // GPTQ: calibration text file
  int64_t calib_ctx = 512;      // GPTQ: tokens per calibration chunk
  int calib_chunks = 8;         // GPTQ: chunks of calibration text used
};

struct TensorReport {
  std::string name;
  std::vector<uint64_t> ne;  // GGUF order
  DType from = DType::F32, to = DType::F32;
  std::string reason;
  uint64_t params = 0, bytes_in = 0, bytes_out = 0;
  double sum_sq_err = 0;    // over all elements, of dequantize(quantize(w)) - w
  double sum_sq = 0;        // of w, for the relative error
  bool imatrix = false;     // an importance matrix steered the rounding
  bool gptq = false;
  double seconds = 0;

  double rmse() const { return params ? std::sqrt(sum_sq_err / double(params)) : 0.0; }
};

struct QuantizeResult {
  io::ModelInfo model;
  std::string file_type;   // "Q4_K_M"
  std::vector<TensorReport> tensors;
  double seconds = 0;      // wall time of the whole quantization (reading, quantizing, writing)
};

// `in` is a GGUF file or a Hugging Face folder (converted to a temporary GGUF
// first). on_tensor is called as each tensor is written.
QuantizeResult quantize_model(const std::string& in, const std::string& out, const QuantizeOptions& options,
                              const std::function<void(const TensorReport&)>& on_tensor = {});

// Records (docs/tf-quantize.md).
nlohmann::json tensor_record(const TensorReport& t);
nlohmann::json report_record(const QuantizeResult& r, const nlohmann::json& eval);

}  // namespace tf::quant
