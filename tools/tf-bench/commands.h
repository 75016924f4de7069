// tf-bench subcommands, each in its own file.
#pragma once
#include <CLI/CLI.hpp>

namespace tf::bench_tool {

void add_run(CLI::App& app);       // the default command: causal-LM benchmarks and --probe
void add_compare(CLI::App& app);   // compare BASE NEW
void add_tokenize(CLI::App& app);  // tokenize -m MODEL -f FILE
void add_embed(CLI::App& app);     // embed -m ENCODER: sentences/s
void add_train(CLI::App& app);     // train --config CONFIG: training samples/s

}  // namespace tf::bench_tool
