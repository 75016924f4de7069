// train --config CONFIG.json [-b 8] [--seq 128] [-t N]: training throughput in samples/s.
#include <memory>

#include "common/tool.h"
#include "tf-bench/commands.h"
#include "tf/bench.h"
#include "tf/bench_report.h"

namespace tf::bench_tool {

void add_train(CLI::App& app) {
  struct Options {
    std::string config, output = "jsonl";
    std::vector<int> batch{8}, threads{1};
    int seq_len = 128;
    bench::RunOptions run;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "train", "training throughput (samples/s): forward + backward + AdamW of a seeded model on random tokens");
  cmd->add_option("--config", o->config, "model config.json (or a folder holding one): gpt2 or llama family")
      ->required();
  cmd->add_option("-b,--batch-size", o->batch, "sequences per step (comma list)")->delimiter(',')->capture_default_str();
  cmd->add_option("--seq,--seq-len", o->seq_len, "tokens per sequence")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "threads (comma list)")->delimiter(',')->capture_default_str();
  cmd->add_option("-r,--repetitions", o->run.repetitions, "timed steps, after one warm-up step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--min-time", o->run.min_time_s, "repeat until the timed steps add up to SECONDS")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-o,--output", o->output, "jsonl | json | csv | md | sql")
      ->check(CLI::IsMember({"jsonl", "json", "csv", "md", "sql"}))
      ->capture_default_str();
  cmd->callback([o] {
    auto writer = bench::make_writer(*bench::format_from_name(o->output), bench::stdout_sink());
    bench::Machine machine = bench::probe_machine();
    for (int t : o->threads)
      for (int b : o->batch) writer->record(bench::train_bench({o->config, b, o->seq_len, t}, o->run, machine));
    writer->finish();
  });
}

}  // namespace tf::bench_tool
