// Collecting an importance matrix by running a model over text (llama.cpp's
// tools/imatrix/imatrix.cpp: IMatrixCollector::collect_imatrix and
// compute_imatrix), through the MatmulObserver hook of the sessions.
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "models/decoder.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/imatrix.h"
#include "tf/log.h"
#include "tf/model.h"
#include "tf/tokenizer.h"

namespace tf::quant {
namespace {

// Names the weights of a decoder as GGUF does, by the tensors' addresses.
std::unordered_map<const Tensor*, std::string> weight_names(const models::DecoderModel& m, bool with_output) {
  std::unordered_map<const Tensor*, std::string> names;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const models::DecoderLayer& L = m.layers[i];
    const std::string b = "blk." + std::to_string(i) + ".";
    const std::pair<const models::Linear*, const char*> all[] = {
        {&L.q, "attn_q"}, {&L.k, "attn_k"}, {&L.v, "attn_v"}, {&L.qkv, "attn_qkv"}, {&L.o, "attn_output"},
        {&L.gate, "ffn_gate"}, {&L.up, "ffn_up"}, {&L.down, "ffn_down"}};
    for (const auto& [lin, name] : all)
      if (lin->w) names[lin->w] = b + name + ".weight";
  }
  if (with_output && m.output != m.token_embd) names[m.output] = "output.weight";
  return names;
}

class Collector : public MatmulObserver {
 public:
  Collector(Imatrix& m, std::unordered_map<const Tensor*, std::string> names) : m_(m), names_(std::move(names)) {}
  void observe(const Tensor& w, const float* x, size_t rows) override {
    if (rows < 16) return;  // llama.cpp ignores small batches
    auto it = names_.find(&w);
    if (it == names_.end()) return;
    m_.accumulate(it->second, x, rows, size_t(w.dim(1)), size_t(w.dim(1)));
  }

 private:
  Imatrix& m_;
  std::unordered_map<const Tensor*, std::string> names_;
};

}  // namespace

Imatrix collect_imatrix(const std::string& model_path, const std::string& text_file, const ImatrixRun& run) {
  auto lm = CausalLM::load(model_path);
  if (!lm->gguf()) fail(model_path, ": imatrix needs a GGUF model (for its tokenizer)");
  Tokenizer tok = Tokenizer::from_gguf(*lm->gguf());
  std::ifstream in(text_file, std::ios::binary);
  if (!in) fail(text_file, ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  std::vector<int32_t> tokens = tok.encode(text.str(), EncodeOptions{true, false});
  const int64_t n_ctx = run.n_ctx;
  if (n_ctx < 16) fail("imatrix: the context (-c) must be at least 16 tokens");
  if (int64_t(tokens.size()) < 2 * n_ctx)
    fail(text_file, ": ", tokens.size(), " tokens; imatrix needs at least ", 2 * n_ctx, " for a context of ", n_ctx);
  const bool add_bos = tok.bos() >= 0 && tokens.front() == tok.bos();
  const int64_t n_max = int64_t(tokens.size()) / n_ctx;
  const int64_t n_chunks = run.chunks > 0 ? std::min<int64_t>(run.chunks, n_max) : n_max;

  Imatrix m;
  m.chunk_size = int32_t(n_ctx);
  m.datasets = {text_file};
  Collector collector(m, weight_names(lm->impl(), run.process_output));
  SessionOptions so;
  so.n_ctx = n_ctx;
  so.n_batch = n_ctx;
  so.observer = &collector;
  Session session(*lm, so);
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx);
    if (add_bos) chunk[0] = tok.bos();
    session.reset();
    session.eval(chunk);
    m.chunk_count = int32_t(c + 1);
    if (stderr_is_terminal()) log("imatrix: chunk ", c + 1, " of ", n_chunks);
  }
  return m;
}

}  // namespace tf::quant
