#include "models/layers.h"

#include "backend/backend.h"
#include "tf/error.h"
#include "tf/mapped_file.h"

namespace tf::models {

std::vector<float> to_f32(const Tensor* t) {
  if (!t) return {};
  Tensor f = t->to(DType::F32);
  return {f.data_as<float>(), f.data_as<float>() + f.numel()};
}

Linear load_linear(const Weights& w, const std::string& name, bool required) {
  Linear l;
  l.w = required ? &w.get(name + ".weight") : w.find(name + ".weight");
  if (l.w) {
    if (l.w->ndim() != 2) fail(w.path(), ": ", name, ".weight is not a matrix");
    if (!cpu_backend().supports(l.w->dtype()))
      fail(w.path(), ": ", name, ".weight has type ", dtype_name(l.w->dtype()), ", which matmul does not support yet");
    l.b = to_f32(w.find(name + ".bias"));
    if (!l.b.empty() && int64_t(l.b.size()) != l.w->dim(0)) fail(w.path(), ": ", name, ".bias has the wrong size");
  }
  return l;
}

void prepare(Linear& l, Backend& be) {
  if (!l.w || l.prepared.data()) return;
  Tensor t = be.prepare_linear_weight(*l.w);
  if (!t.in_backend_layout()) return;
  l.prepared = std::move(t);
  MappedFile::release(l.w->data(), size_t(l.w->nbytes()));
}

NormWeights load_norm(const Weights& w, const std::string& name, int64_t dim) {
  NormWeights n;
  n.w = to_f32(w.find(name + ".weight"));
  n.b = to_f32(w.find(name + ".bias"));
  if ((!n.w.empty() && int64_t(n.w.size()) != dim) || (!n.b.empty() && int64_t(n.b.size()) != dim))
    fail(w.path(), ": ", name, " has the wrong size");
  return n;
}

}  // namespace tf::models
