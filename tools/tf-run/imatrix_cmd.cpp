// imatrix: importance-matrix statistics for tf-quantize / llama-quantize
// (docs/tf-run.md).
#include <chrono>

#include "common/tool.h"
#include "tf-run/commands.h"
#include "tf-run/common.h"
#include "tf/imatrix.h"
#include "tf/thread_pool.h"

namespace tf::run {

void add_imatrix(CLI::App& app) {
  struct Options {
    std::string model, file, out = "imatrix.gguf", format;
    quant::ImatrixRun run;
    int threads = 0;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("imatrix", "importance matrix of a model over a text, in llama.cpp's file formats");
  cmd->add_option("-m,--model", o->model, "GGUF file ('-': last model record on stdin)")->required();
  cmd->add_option("-f,--file", o->file, "text file")->required();
  cmd->add_option("-o,--output", o->out, "output file")->capture_default_str();
  cmd->add_option("--output-format", o->format, "gguf | dat (llama-imatrix's choice: gguf)")
      ->check(CLI::IsMember({"gguf", "dat"}));
  cmd->add_option("-c,--ctx-size", o->run.n_ctx, "tokens per chunk")->capture_default_str();
  cmd->add_option("--chunks", o->run.chunks, "at most this many chunks (0: all)");
  cmd->add_flag("--process-output", o->run.process_output, "collect output.weight too");
  cmd->add_option("-t,--threads", o->threads, "threads (0: all cores)");
  cmd->callback([o] {
    set_default_threads(o->threads);
    auto t0 = std::chrono::steady_clock::now();
    quant::Imatrix m = quant::collect_imatrix(model_path(o->model), o->file, o->run);
    bool legacy = quant::imatrix_format_is_legacy(o->format);
    m.save(o->out, legacy);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    io::emit({{"type", "imatrix"}, {"path", o->out}, {"format", legacy ? "dat" : "gguf"}, {"entries", m.entries.size()},
              {"chunks", m.chunk_count}, {"chunk_size", m.chunk_size}, {"seconds", s}});
  });
}

}  // namespace tf::run
