// tf-quantize: GGUF quantization with llama.cpp's types and mixes, a record
// per tensor, a `model` record and a quality `report`. Library calls only.
#include <iostream>

#include "common/tool.h"
#include "tf/error.h"
#include "tf/quant_eval.h"
#include "tf/quantize_model.h"
#include "tf/records.h"
#include "tf/thread_pool.h"

namespace {

tf::DType parse_type(const std::string& flag, const std::string& name) {
  auto t = tf::dtype_from_name(name);
  if (!t) tf::fail(flag, ": unknown type '", name, "' (ggml names: q4_K, q6_K, q8_0, f16, ...)");
  return *t;
}

std::string type_list() {
  std::string s;
  for (const auto& f : tf::quant::file_types()) s += (s.empty() ? "" : ", ") + std::string(f.name);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  static std::string in, out, type, imatrix, rules, eval_text, calib_text, method = "rtn", out_type, embd_type;
  static std::vector<std::string> tensor_types;
  static int threads = 0, eval_chunks = 0;
  static int64_t eval_ctx = 512;
  static bool pure = false, leave_output = false, allow_requantize = false, dry_run = false;
  return tf::tool::run(
      "tf-quantize", "Quantize a model to a llama.cpp GGUF type (Q4_K_M, Q8_0, IQ4_XS, ...) with a quality report", argc,
      argv, [](CLI::App& app) {
        app.add_option("IN", in, "GGUF file, Hugging Face folder, or '-' (the last model record on stdin)")->required();
        app.add_option("OUT", out, "output GGUF file")->required();
        app.add_option("TYPE", type, "file type: " + type_list())->required();
        app.add_option("-t,--threads", threads, "threads (0: all cores)");
        app.add_option("--imatrix", imatrix, "importance matrix (llama.cpp .dat or GGUF imatrix file)");
        app.add_flag("--pure", pure, "the base type for every tensor (no mix rules)");
        app.add_option("--output-tensor-type", out_type, "type of output.weight");
        app.add_option("--token-embedding-type", embd_type, "type of token_embd.weight");
        app.add_flag("--leave-output-tensor", leave_output, "keep output.weight as it is");
        app.add_flag("--allow-requantize", allow_requantize, "allow quantizing already quantized tensors");
        app.add_option("--tensor-type", tensor_types, "REGEX=TYPE: tensors whose name matches get TYPE (first match wins; always)");
        app.add_option("--rules", rules, "JSON rules file (docs/tf-quantize.md)");
        app.add_option("--eval-text", eval_text, "text file: report perplexity and KL divergence vs the original");
        app.add_option("-c,--ctx", eval_ctx, "tokens per evaluation chunk")->capture_default_str();
        app.add_option("--chunks", eval_chunks, "evaluate at most this many chunks (0: all)");
        app.add_option("--calib-text", calib_text, "calibration text for --method gptq (default: --eval-text)");
        app.add_option("--method", method, "rtn (round to nearest, llama.cpp's) | gptq")
            ->check(CLI::IsMember({"rtn", "gptq"}))
            ->capture_default_str();
        app.add_flag("--dry-run", dry_run, "choose types and report sizes without writing");
        app.callback([] {
          tf::set_default_threads(threads);
          tf::quant::QuantizeOptions o;
          auto ft = tf::quant::parse_file_type(type);
          if (!ft) tf::fail("unknown type '", type, "' (", type_list(), ")");
          o.mix.file_type = *ft;
          o.mix.pure = pure;
          o.mix.quantize_output = !leave_output;
          if (!out_type.empty()) o.mix.output_tensor_type = parse_type("--output-tensor-type", out_type);
          if (!embd_type.empty()) o.mix.token_embedding_type = parse_type("--token-embedding-type", embd_type);
          for (const std::string& tt : tensor_types) o.mix.overrides.push_back(tf::quant::parse_tensor_override(tt));
          if (!rules.empty()) tf::quant::apply_rules_file(rules, o.mix);
          o.imatrix_path = imatrix;
          o.allow_requantize = allow_requantize;
          o.dry_run = dry_run;
          o.method = method == "gptq" ? tf::quant::Method::Gptq : tf::quant::Method::Rtn;
          o.calib_text = calib_text.empty() ? eval_text : calib_text;
          o.calib_ctx = eval_ctx;
          const std::string input = tf::io::resolve_model_arg(in, std::cin);
          auto result = tf::quant::quantize_model(input, out, o, [](const tf::quant::TensorReport& t) {
            tf::io::emit(tf::quant::tensor_record(t));
          });
          nlohmann::json eval;
          if (!dry_run) {
            tf::io::emit(tf::io::model_record(result.model));
            if (!eval_text.empty()) eval = tf::quant::evaluate_quantized(input, out, eval_text, eval_ctx, eval_chunks);
          }
          tf::io::emit(tf::quant::report_record(result, eval));
        });
      });
}
