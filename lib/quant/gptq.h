// GPTQ (Frantar et al., 2022): rounding with second-order error
// compensation. Each block of columns is rounded to the target block type,
// and the rounding error of every column is pushed onto the columns not yet
// processed through the inverse Hessian of the layer's inputs, so that the
// layer's outputs on calibration data change as little as possible.
//
// The Hessians come from the original model's activations on calibration
// text (one per distinct input of the blocks' weights: q/k/v share one,
// gate/up share one). Memory: 4 * in^2 bytes per distinct input of every
// block, so this is for models of modest width.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tf/dtype.h"

namespace tf {
class ThreadPool;
}

namespace tf::quant {

struct Hessian {
  int64_t dim = 0;
  std::vector<float> sum_xxt;  // dim x dim, sum over calibration rows of x xᵀ
  int64_t rows = 0;
};

class GptqCalibration {
 public:
  // Runs the model over `chunks` chunks of n_ctx tokens of the text.
  GptqCalibration(const std::string& model_path, const std::string& text_file, int64_t n_ctx, int chunks);
  // The Hessian of the input of weight `name`, or nullptr (not a block weight).
  const Hessian* hessian(const std::string& name) const;

 private:
  std::map<std::string, Hessian> by_input_;
  std::map<std::string, std::string> input_of_;  // weight name -> input key
};

// Whether GPTQ applies to a target type (block types with a dequantizer).
bool gptq_supports(DType t);

// Quantizes W (rows x cols, row-major; modified: it ends holding the
// compensated weights) to `type` into dst (rows of row_bytes(type, cols)).
// importance: cols per-column weights for the block rounding, or nullptr
// (then the Hessian's diagonal is used, which is what an imatrix holds).
void gptq_quantize(DType type, float* w, void* dst, int64_t rows, int64_t cols, const Hessian& h,
                   const float* importance, ThreadPool& pool);

}  // namespace tf::quant
