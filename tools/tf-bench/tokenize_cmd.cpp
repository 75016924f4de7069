// tokenize -m MODEL -f FILE: tokenizer throughput in MB/s.
#include <fstream>
#include <memory>
#include <sstream>

#include "tf-bench/commands.h"
#include "tf/bench.h"
#include "tf/bench_report.h"
#include "tf/error.h"
#include "tf/records.h"
#include "tf/tokenizer.h"

namespace tf::bench_tool {

void add_tokenize(CLI::App& app) {
  struct Options {
    std::string model, file, output = "jsonl";
    bench::RunOptions run;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("tokenize", "tokenizer throughput (MB/s) on a text file");
  cmd->add_option("-m,--model", o->model, "GGUF file, HF folder or tokenizer.json ('-': last model record on stdin)")
      ->required();
  cmd->add_option("-f,--file", o->file, "text to encode")->required();
  cmd->add_option("-r,--repetitions", o->run.repetitions, "timed repetitions, after one warm-up")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--min-time", o->run.min_time_s, "repeat until the timed runs add up to SECONDS")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-o,--output", o->output, "jsonl | json | csv | md | sql")
      ->check(CLI::IsMember({"jsonl", "json", "csv", "md", "sql"}))
      ->capture_default_str();
  cmd->callback([o] {
    std::string model = io::resolve_model_arg(o->model, std::cin);
    std::ifstream in(o->file, std::ios::binary);
    if (!in) fail(o->file, ": cannot open");
    std::ostringstream text;
    text << in.rdbuf();
    Tokenizer tok = Tokenizer::load(model);
    auto writer = bench::make_writer(*bench::format_from_name(o->output), bench::stdout_sink());
    writer->record(bench::tokenizer_bench(tok, model, text.str(), o->run, bench::probe_machine()));
    writer->finish();
  });
}

}  // namespace tf::bench_tool
