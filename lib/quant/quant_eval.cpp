#include "tf/quant_eval.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tf/atomic_file.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/log.h"
#include "tf/model.h"
#include "tf/quant.h"
#include "tf/tokenizer.h"

namespace tf::quant {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A copy of a GGUF whose quantized tensors are stored dequantized as F32:
// the same weights for a backend without kernels for their block types.
void write_dequantized(const std::string& in, const std::string& out) {
  gguf::File f = gguf::File::open(in, LoadMode::Mmap);
  gguf::Writer w;
  for (const gguf::KeyValue& kv : f.metadata()) w.set(kv.key, kv.value);
  for (const gguf::TensorInfo& t : f.tensors()) {
    const uint8_t* src = f.tensor_data(t);
    if (!traits(t.type).is_quantized) {
      w.add_tensor(t.name, t.type, t.ne, src);
      continue;
    }
    w.add_tensor(t.name, DType::F32, t.ne, [src, &t](AtomicFile& sink) {
      const uint64_t ncols = t.ne[0], nrows = t.numel() / ncols, row = *row_bytes(t.type, ncols);
      std::vector<float> buf(ncols);
      for (uint64_t r = 0; r < nrows; ++r) {
        dequantize_row(t.type, src + r * row, buf.data(), int64_t(ncols));
        sink.write(buf.data(), ncols * 4);
      }
    });
  }
  w.write(out);
}

// log-softmax of V logits into out (double for the sums).
void log_softmax(const float* l, size_t V, std::vector<double>& out) {
  double mx = l[0];
  for (size_t j = 1; j < V; ++j) mx = std::max(mx, double(l[j]));
  double sum = 0;
  for (size_t j = 0; j < V; ++j) sum += std::exp(double(l[j]) - mx);
  double lse = mx + std::log(sum);
  out.resize(V);
  for (size_t j = 0; j < V; ++j) out[j] = double(l[j]) - lse;
}

}  // namespace

nlohmann::json evaluate_quantized(const std::string& original, const std::string& quantized,
                                  const std::string& text_file, int64_t n_ctx, int max_chunks) {
  if (n_ctx < 4) fail("evaluation context (-c) must be at least 4 tokens");
  auto base = CausalLM::load(original);
  std::unique_ptr<CausalLM> quant;
  std::string weights = "quantized";
  std::string dequant_path;
  struct Cleanup {
    std::string* p;
    ~Cleanup() {
      std::error_code ec;
      if (!p->empty()) std::filesystem::remove(*p, ec);
    }
  } cleanup{&dequant_path};
  try {
    quant = CausalLM::load(quantized);
    SessionOptions probe_options;
    probe_options.n_ctx = 8;
    probe_options.n_batch = 8;
    Session probe(*quant, probe_options);
    int32_t tok = 0;
    probe.eval(&tok, 1);
  } catch (const Error& e) {
    // no kernels for some block type yet: the same weights, dequantized
    log("evaluating on dequantized weights (", e.what(), ")");
    std::filesystem::path q(quantized);
    dequant_path = (q.parent_path() / ("." + q.filename().string() + ".f32.tmp.gguf")).string();
    write_dequantized(quantized, dequant_path);
    quant = CausalLM::load(dequant_path);
    weights = "dequantized-f32";
  }
  if (!base->gguf()) fail(original, ": evaluation needs the tokenizer of a GGUF file");
  Tokenizer tok = Tokenizer::from_gguf(*base->gguf());
  if (quant->vocab_size() != base->vocab_size()) fail("the quantized model's vocabulary differs from the original's");

  // llama-perplexity: tokenize with BOS, cut into n_ctx chunks, each chunk's
  // first token replaced by BOS, positions n_ctx/2 .. n_ctx-2 scored.
  std::vector<int32_t> tokens = tok.encode(read_text(text_file), EncodeOptions{true, false});
  const bool add_bos = tok.bos() >= 0 && !tokens.empty() && tokens.front() == tok.bos();
  const int64_t n_chunk_max = int64_t(tokens.size()) / n_ctx;
  if (n_chunk_max < 1) fail(text_file, ": ", tokens.size(), " tokens, fewer than one chunk of ", n_ctx);
  const int64_t n_chunks = max_chunks > 0 ? std::min<int64_t>(max_chunks, n_chunk_max) : n_chunk_max;
  const size_t V = size_t(base->vocab_size());
  const int64_t first = n_ctx / 2;
  constexpr int64_t kStep = 32;  // positions evaluated at once: memory 2 * kStep * vocab floats

  SessionOptions so;
  so.n_ctx = n_ctx;
  so.n_batch = kStep;
  Session sb(*base, so), sq(*quant, so);
  ForwardOutputs ob, oq;
  ob.want_all_logits = oq.want_all_logits = true;
  std::vector<double> lp, lq;
  std::vector<float> klds;
  double nll_b = 0, nll_q = 0;
  size_t top1_same = 0;
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx);
    if (add_bos) chunk[0] = tok.bos();
    sb.reset();
    sq.reset();
    for (int64_t s = 0; s < n_ctx; s += kStep) {
      const int64_t n = std::min(kStep, n_ctx - s);
      sb.eval(chunk.data() + s, size_t(n), &ob);
      sq.eval(chunk.data() + s, size_t(n), &oq);
      for (int64_t i = 0; i < n; ++i) {
        const int64_t pos = s + i;
        if (pos < first || pos + 1 >= n_ctx) continue;
        log_softmax(&ob.logits[size_t(i) * V], V, lp);
        log_softmax(&oq.logits[size_t(i) * V], V, lq);
        const int32_t next = chunk[size_t(pos + 1)];
        nll_b -= lp[size_t(next)];
        nll_q -= lq[size_t(next)];
        double kl = 0;
        for (size_t j = 0; j < V; ++j) kl += std::exp(lp[j]) * (lp[j] - lq[j]);
        klds.push_back(float(std::max(0.0, kl)));
        top1_same += std::max_element(lp.begin(), lp.end()) - lp.begin() == std::max_element(lq.begin(), lq.end()) - lq.begin();
      }
    }
  }
  const size_t n = klds.size();
  double mean = 0;
  for (float k : klds) mean += k;
  mean /= double(n);
  std::vector<float> sorted = klds;
  std::sort(sorted.begin(), sorted.end());
  auto pct = [&](double p) { return double(sorted[std::min(n - 1, size_t(p * double(n - 1) + 0.5))]); };
  return {{"ppl_base", std::exp(nll_b / double(n))},
          {"ppl", std::exp(nll_q / double(n))},
          {"kld_mean", mean},
          {"kld_median", pct(0.5)},
          {"kld_p99", pct(0.99)},
          {"kld_max", double(sorted.back())},
          {"top1_agreement", double(top1_same) / double(n)},
          {"tokens", n},
          {"chunks", n_chunks},
          {"n_ctx", n_ctx},
          {"text", text_file},
          {"weights", weights}};
}

}  // namespace tf::quant
