// Weights of the building blocks decoders and encoders share: a linear
// projection (stored-dtype matrix + f32 bias) and a norm's f32 scale and
// shift, loaded by GGUF name with their shapes checked.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/weights.h"

namespace tf {
class Backend;
}

namespace tf::models {

struct Linear {
  const Tensor* w = nullptr;  // [out, in] in its stored dtype, as in the file
  std::vector<float> b;       // [out], empty: no bias
  Tensor prepared;            // w in the backend's own layout, once prepare() made one
  int64_t out() const { return w ? w->dim(0) : 0; }
  int64_t in() const { return w ? w->dim(1) : 0; }
  // What the backend's linear() is given.
  const Tensor& weight() const { return prepared.data() ? prepared : *w; }
};

struct NormWeights {
  std::vector<float> w, b;  // empty w: this norm does not exist
  bool present() const { return !w.empty(); }
};

std::vector<float> to_f32(const Tensor* t);
// `name`.weight (+ `name`.bias); an absent optional one has w == nullptr.
Linear load_linear(const Weights& w, const std::string& name, bool required = true);
// `name`.weight / .bias of length dim, each optional.
// Lets the backend keep l's matrix in a layout of its own (once, at load);
// the file's copy of the bytes is then dropped from memory.
void prepare(Linear& l, Backend& be);
NormWeights load_norm(const Weights& w, const std::string& name, int64_t dim);

}  // namespace tf::models
