#include "quant/gptq.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "models/decoder.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/log.h"
#include "tf/model.h"
#include "tf/quant.h"
#include "tf/thread_pool.h"
#include "tf/tokenizer.h"

namespace tf::quant {
namespace {

struct InputOf {
  std::string key;
  bool primary;  // the first product that reads this input: it adds to the Hessian
};

class HessianObserver : public MatmulObserver {
 public:
  HessianObserver(std::map<std::string, Hessian>& h, std::unordered_map<const Tensor*, InputOf> inputs)
      : h_(h), inputs_(std::move(inputs)) {}
  void observe(const Tensor& w, const float* x, size_t rows) override {
    auto it = inputs_.find(&w);
    if (it == inputs_.end() || !it->second.primary) return;
    Hessian& h = h_[it->second.key];
    const int n = int(w.dim(1));
    if (h.dim == 0) {
      h.dim = n;
      h.sum_xxt.assign(size_t(n) * size_t(n), 0.0f);
    }
    // upper triangle of H += xᵀx
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, n, int(rows), 1.0f, x, n, 1.0f, h.sum_xxt.data(), n);
    h.rows += int64_t(rows);
  }

 private:
  std::map<std::string, Hessian>& h_;
  std::unordered_map<const Tensor*, InputOf> inputs_;
};

// Lower Cholesky factor of a symmetric positive definite n x n matrix, in
// place; false if it is not positive definite.
bool cholesky(std::vector<double>& a, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double* rj = &a[size_t(j * n)];
    double d = rj[j];
    for (int64_t k = 0; k < j; ++k) d -= rj[k] * rj[k];
    if (!(d > 0)) return false;
    d = std::sqrt(d);
    rj[j] = d;
    for (int64_t i = j + 1; i < n; ++i) {
      double* ri = &a[size_t(i * n)];
      double s = ri[j];
      for (int64_t k = 0; k < j; ++k) s -= ri[k] * rj[k];
      ri[j] = s / d;
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) a[size_t(i * n + j)] = 0;
  return true;
}

// U, upper triangular with Uᵀ U = H⁻¹ (GPTQ's "Hinv" factor), for the damped H.
std::vector<float> inverse_factor(const Hessian& h, std::vector<bool>& dead) {
  const int64_t n = h.dim;
  std::vector<double> H(size_t(n * n));
  const double scale = 1.0 / double(std::max<int64_t>(1, h.rows));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) H[size_t(i * n + j)] = H[size_t(j * n + i)] = double(h.sum_xxt[size_t(i * n + j)]) * scale;
  dead.assign(size_t(n), false);
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (H[size_t(i * n + i)] <= 0) {
      dead[size_t(i)] = true;
      H[size_t(i * n + i)] = 1;
    }
    mean += H[size_t(i * n + i)];
  }
  mean /= double(n);
  std::vector<double> L;
  for (double damp = 0.01;; damp *= 10) {
    L = H;
    for (int64_t i = 0; i < n; ++i) L[size_t(i * n + i)] += damp * mean;
    if (cholesky(L, n)) break;
    if (damp > 1e3) fail("gptq: the calibration Hessian is not positive definite");
  }
  // L⁻¹ (lower), then H⁻¹ = L⁻ᵀ L⁻¹
  std::vector<double> Li(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    Li[size_t(i * n + i)] = 1.0 / L[size_t(i * n + i)];
    for (int64_t j = 0; j < i; ++j) {
      double s = 0;
      for (int64_t k = j; k < i; ++k) s += L[size_t(i * n + k)] * Li[size_t(k * n + j)];
      Li[size_t(i * n + j)] = -s / L[size_t(i * n + i)];
    }
  }
  std::vector<double> Hi(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double s = 0;
      for (int64_t k = i; k < n; ++k) s += Li[size_t(k * n + i)] * Li[size_t(k * n + j)];
      Hi[size_t(i * n + j)] = Hi[size_t(j * n + i)] = s;
    }
  // GPTQ's factor: U upper with Uᵀ U = H⁻¹, the transpose of H⁻¹'s lower Cholesky factor
  if (!cholesky(Hi, n)) fail("gptq: the inverse Hessian is not positive definite");
  std::vector<float> U(size_t(n * n), 0.0f);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) U[size_t(i * n + j)] = float(Hi[size_t(j * n + i)]);
  return U;
}

}  // namespace

GptqCalibration::GptqCalibration(const std::string& model_path, const std::string& text_file, int64_t n_ctx, int chunks) {
  auto lm = CausalLM::load(model_path);
  if (!lm->gguf()) fail(model_path, ": gptq calibration needs a GGUF model (for its tokenizer)");
  const models::DecoderModel& m = lm->impl();
  std::unordered_map<const Tensor*, InputOf> inputs;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const models::DecoderLayer& L = m.layers[i];
    const std::string b = "blk." + std::to_string(i) + ".";
    auto add = [&](const models::Linear& lin, const char* name, const std::string& key, bool primary) {
      if (!lin.w) return;
      inputs[lin.w] = {b + key, primary};
      input_of_[b + name + ".weight"] = b + key;
    };
    const bool fused = L.qkv.w != nullptr;
    add(L.qkv, "attn_qkv", "attn_in", true);
    add(L.q, "attn_q", "attn_in", !fused);
    add(L.k, "attn_k", "attn_in", false);
    add(L.v, "attn_v", "attn_in", false);
    add(L.o, "attn_output", "attn_out_in", true);
    add(L.gate, "ffn_gate", "ffn_in", true);
    add(L.up, "ffn_up", "ffn_in", L.gate.w == nullptr);
    add(L.down, "ffn_down", "ffn_down_in", true);
  }
  HessianObserver observer(by_input_, std::move(inputs));
  Tokenizer tok = Tokenizer::from_gguf(*lm->gguf());
  std::ifstream in(text_file, std::ios::binary);
  if (!in) fail(text_file, ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  std::vector<int32_t> tokens = tok.encode(text.str(), EncodeOptions{true, false});
  const int64_t n_max = int64_t(tokens.size()) / n_ctx;
  if (n_max < 1) fail(text_file, ": fewer than ", n_ctx, " tokens of calibration text");
  const int64_t n = chunks > 0 ? std::min<int64_t>(chunks, n_max) : n_max;
  const bool add_bos = tok.bos() >= 0 && tokens.front() == tok.bos();
  SessionOptions so;
  so.n_ctx = n_ctx;
  so.n_batch = n_ctx;
  so.observer = &observer;
  Session session(*lm, so);
  for (int64_t c = 0; c < n; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx);
    if (add_bos) chunk[0] = tok.bos();
    session.reset();
    session.eval(chunk);
  }
  log("gptq: calibrated on ", n, " chunks of ", n_ctx, " tokens");
}

const Hessian* GptqCalibration::hessian(const std::string& name) const {
  auto it = input_of_.find(name);
  if (it == input_of_.end()) return nullptr;
  auto h = by_input_.find(it->second);
  return h == by_input_.end() || h->second.rows == 0 ? nullptr : &h->second;
}

bool gptq_supports(DType t) { return traits(t).is_quantized && t != DType::Q8_0 && t != DType::Q8_K && t != DType::Q8_1; }

void gptq_quantize(DType type, float* w, void* dst, int64_t rows, int64_t cols, const Hessian& h,
                   const float* importance, ThreadPool& pool) {
  if (h.dim != cols) fail("gptq: Hessian of size ", h.dim, " for rows of ", cols);
  std::vector<bool> dead;
  const std::vector<float> U = inverse_factor(h, dead);
  std::vector<float> diag(static_cast<size_t>(cols));
  for (int64_t i = 0; i < cols; ++i) diag[size_t(i)] = h.sum_xxt[size_t(i * cols + i)] / float(std::max<int64_t>(1, h.rows));
  const float* imp = importance ? importance : diag.data();
  const DTypeTraits& tr = traits(type);
  const int64_t B = tr.block_size;
  const int64_t S = std::min<int64_t>(B, 32);  // columns rounded per grid
  const uint64_t row_size = *row_bytes(type, uint64_t(cols));
  pool.parallel_for(size_t(rows), 1, [&](size_t r0, size_t r1, int) {
    std::vector<float> q(static_cast<size_t>(B)), qn(q), xs(q), seen(q);
    for (size_t r = r0; r < r1; ++r) {
      float* x = w + r * size_t(cols);
      uint8_t* out = static_cast<uint8_t*>(dst) + r * row_size;
      for (int64_t i = 0; i < cols; ++i)
        if (dead[size_t(i)]) x[i] = 0;
      for (int64_t b0 = 0; b0 < cols; b0 += B) {
        uint8_t* blk = out + uint64_t(b0 / B) * tr.type_size;
        // A 256-wide super-block is re-gridded every 32 columns: the columns
        // already rounded are pinned at their values, the rest enter as
        // compensated so far, so later sub-blocks' rounding sees the
        // compensation (one grid per block for 32-wide types).
        for (int64_t s0 = 0; s0 < B; s0 += S) {
          for (int64_t j = 0; j < B; ++j) xs[size_t(j)] = j < s0 ? q[size_t(j)] : x[b0 + j];
          quantize_rows(type, xs.data(), blk, 1, B, imp + b0);
          dequantize_row(type, blk, qn.data(), B);
          for (int64_t j = s0; j < s0 + S; ++j) {
            const int64_t c = b0 + j;
            const float* u = &U[size_t(c * cols)];
            q[size_t(j)] = qn[size_t(j)];
            seen[size_t(j)] = x[c];
            const float e = (x[c] - q[size_t(j)]) / u[c];
            for (int64_t k = c + 1; k < b0 + B; ++k) x[k] -= e * u[k];
          }
        }
        if (S < B) {  // the stored block: the pinned values, rounded once more
          quantize_rows(type, q.data(), blk, 1, B, imp + b0);
          dequantize_row(type, blk, q.data(), B);
        }
        // the block's errors (against what is stored) onto every later column
        for (int64_t j = 0; j < B; ++j) {
          const float* u = &U[size_t((b0 + j) * cols)];
          const float e = (seen[size_t(j)] - q[size_t(j)]) / u[b0 + j];
          for (int64_t k = b0 + B; k < cols; ++k) x[k] -= e * u[k];
        }
      }
    }
  });
}

}  // namespace tf::quant
