// tf-bench: benchmarks (docs/tf-bench.md). llama-bench spells its prompt +
// generation test `-pg`, which CLI11 cannot take as a short option, so it is
// rewritten to `--pg` before parsing.
#include <cstring>
#include <vector>

#include "common/tool.h"
#include "tf-bench/commands.h"

int main(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  static char pg[] = "--pg";
  for (auto& a : args)
    if (std::strcmp(a, "-pg") == 0) a = pg;
  return tf::tool::run("tf-bench", "trustformers benchmarks: prompt processing, generation, latency, memory; compare runs",
                       int(args.size()), args.data(), [](CLI::App& app) {
                         tf::bench_tool::add_run(app);
                         tf::bench_tool::add_compare(app);
                         tf::bench_tool::add_tokenize(app);
                         tf::bench_tool::add_embed(app);
                         tf::bench_tool::add_train(app);
                       });
}
