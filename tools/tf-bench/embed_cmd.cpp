// embed -m MODEL [-b 1,32] [--seq-len N] [-t N]: encoder throughput in sentences/s.
#include <memory>

#include "common/tool.h"
#include "tf-bench/commands.h"
#include "tf/bench.h"
#include "tf/bench_report.h"
#include "tf/records.h"

namespace tf::bench_tool {

void add_embed(CLI::App& app) {
  struct Options {
    std::string model, output = "jsonl";
    std::vector<int> batch{1, 32}, threads{1};
    int seq_len = 32;
    bench::RunOptions run;
    LoadMode load_mode = kDefaultModelLoadMode;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("embed", "encoder throughput (sentences/s) over batches of random sequences");
  cmd->add_option("-m,--model", o->model, "encoder: HF folder or BERT GGUF ('-': last model record on stdin)")
      ->required();
  cmd->add_option("-b,--batch-size", o->batch, "sequences per forward pass (comma list)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "threads (comma list)")->delimiter(',')->capture_default_str();
  cmd->add_option("--seq-len", o->seq_len, "tokens per sequence")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("-r,--repetitions", o->run.repetitions, "timed repetitions, after one warm-up")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--min-time", o->run.min_time_s, "repeat until the timed runs add up to SECONDS")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-o,--output", o->output, "jsonl | json | csv | md | sql")
      ->check(CLI::IsMember({"jsonl", "json", "csv", "md", "sql"}))
      ->capture_default_str();
  tool::add_load_mode_flags(cmd, o->load_mode);
  cmd->callback([o] {
    o->run.load_mode = o->load_mode;
    std::string model = io::resolve_model_arg(o->model, std::cin);
    auto writer = bench::make_writer(*bench::format_from_name(o->output), bench::stdout_sink());
    bench::Machine machine = bench::probe_machine();
    for (int t : o->threads)
      for (int b : o->batch) writer->record(bench::encoder_bench({model, b, o->seq_len, t}, o->run, machine));
    writer->finish();
  });
}

}  // namespace tf::bench_tool
