// tf-quantize's `tensor` and `report` records (docs/tf-quantize.md).
#include <algorithm>
#include <cmath>
#include <map>

#include "tf/quantize_model.h"

namespace tf::quant {

nlohmann::json tensor_record(const TensorReport& t) {
  std::vector<uint64_t> shape(t.ne.rbegin(), t.ne.rend());  // PyTorch order, as tf-convert info
  nlohmann::json j = {{"type", "tensor"},
                      {"name", t.name},
                      {"shape", shape},
                      {"from", dtype_name(t.from)},
                      {"to", dtype_name(t.to)},
                      {"reason", t.reason},
                      {"params", t.params},
                      {"bytes_in", t.bytes_in},
                      {"bytes", t.bytes_out},
                      {"rmse", t.rmse()},
                      {"rel_rmse", t.sum_sq > 0 ? std::sqrt(t.sum_sq_err / t.sum_sq) : 0.0},
                      {"imatrix", t.imatrix},
                      {"ms", t.seconds * 1e3}};
  if (t.gptq) j["method"] = "gptq";
  return j;
}

nlohmann::json report_record(const QuantizeResult& r, const nlohmann::json& eval) {
  struct Sum {
    uint64_t tensors = 0, params = 0, bytes = 0;
    double sq_err = 0, sq = 0;
  };
  std::map<std::string, Sum> by_type;
  Sum all;
  uint64_t bytes_in = 0;
  for (const TensorReport& t : r.tensors) {
    Sum& s = by_type[std::string(dtype_name(t.to))];
    for (Sum* x : {&s, &all}) {
      x->tensors += 1;
      x->params += t.params;
      x->bytes += t.bytes_out;
      x->sq_err += t.sum_sq_err;
      x->sq += t.sum_sq;
    }
    bytes_in += t.bytes_in;
  }
  auto summary = [](const Sum& s) {
    return nlohmann::json{{"tensors", s.tensors},
                          {"params", s.params},
                          {"bytes", s.bytes},
                          {"bits_per_weight", s.params ? 8.0 * double(s.bytes) / double(s.params) : 0.0},
                          {"rmse", s.params ? std::sqrt(s.sq_err / double(s.params)) : 0.0},
                          {"rel_rmse", s.sq > 0 ? std::sqrt(s.sq_err / s.sq) : 0.0}};
  };
  nlohmann::json types = nlohmann::json::object();
  for (const auto& [name, s] : by_type) types[name] = summary(s);
  nlohmann::json j = {{"type", "report"},
                      {"path", r.model.path},
                      {"file_type", r.file_type},
                      {"params", all.params},
                      {"bytes_in", bytes_in},
                      {"bytes", all.bytes},
                      {"file_bytes", r.model.bytes},
                      {"bits_per_weight_in", all.params ? 8.0 * double(bytes_in) / double(all.params) : 0.0},
                      {"bits_per_weight", all.params ? 8.0 * double(all.bytes) / double(all.params) : 0.0},
                      {"size_ratio", bytes_in ? double(all.bytes) / double(bytes_in) : 0.0},
                      {"rmse", all.params ? std::sqrt(all.sq_err / double(all.params)) : 0.0},
                      {"rel_rmse", all.sq > 0 ? std::sqrt(all.sq_err / all.sq) : 0.0},
                      {"by_type", types},
                      {"quantize_s", r.seconds}};
  if (!eval.is_null()) j["eval"] = eval;
  return j;
}

}  // namespace tf::quant
