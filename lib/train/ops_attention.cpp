// Causal self-attention composed from differentiable primitives. A fused
// kernel with its own backward (flash-attention style) replaces this once
// training speed is measured; this version is the reference it will be
// checked against.
#include <cmath>

#include "tf/error.h"
#include "tf/train_ops.h"

namespace tf::train {

Var causal_attention(const Var& q, const Var& k, const Var& v) {
  if (q.ndim() != 4 || q.shape() != k.shape() || q.shape() != v.shape())
    fail("causal_attention: q, k, v must share one [B, H, T, D] shape, got ", shape_string(q.shape()), ", ",
         shape_string(k.shape()), ", ", shape_string(v.shape()));
  const int64_t T = q.dim(2), D = q.dim(3);
  Var mask = Var::zeros({T, T});
  float* m = mask.mutable_data();
  for (int64_t i = 0; i < T; ++i)
    for (int64_t j = i + 1; j < T; ++j) m[i * T + j] = -INFINITY;
  const Var scores = add(scale(matmul(q, k, false, true), 1.0f / std::sqrt(float(D))), mask);
  return matmul(softmax(scores), v);
}

}  // namespace tf::train
