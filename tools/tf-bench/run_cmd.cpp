// The default command: every combination of -m/-p/-n/-pg/-t/-b, one record each.
#include <iostream>
#include <memory>

#include "common/tool.h"
#include "tf-bench/commands.h"
#include "tf/atomic_file.h"
#include "tf/bench.h"
#include "tf/bench_budget.h"
#include "tf/bench_plot.h"
#include "tf/bench_report.h"
#include "tf/error.h"
#include "tf/log.h"
#include "tf/records.h"
#include "tf/thread_pool.h"

namespace tf::bench_tool {
namespace {

std::pair<int, int> parse_pg(const std::string& s) {
  size_t comma = s.find(',');
  try {
    if (comma != std::string::npos) {
      size_t a = 0, b = 0;
      int p = std::stoi(s.substr(0, comma), &a), g = std::stoi(s.substr(comma + 1), &b);
      if (a == comma && b == s.size() - comma - 1 && p >= 0 && g >= 0) return {p, g};
    }
  } catch (const std::exception&) {
  }
  throw CLI::ValidationError("-pg", "'" + s + "' is not PROMPT,GEN (e.g. -pg 512,128)");
}

}  // namespace

void add_run(CLI::App& app) {
  struct Options {
    bench::Sweep sweep;
    std::vector<std::string> pg;
    bench::RunOptions run;
    bool no_warmup = false, probe = false;
    LoadMode load_mode = kDefaultModelLoadMode;
    std::string output = "jsonl", budget, plot;
  };
  auto o = std::make_shared<Options>();
  o->sweep.n_threads = {hardware_threads()};
  app.add_option("-m,--model", o->sweep.models, "GGUF files or HF folders, comma-separated ('-': last model record on stdin)")
      ->delimiter(',');
  app.add_option("-p,--n-prompt", o->sweep.n_prompt, "prompt sizes (pp tests)")->delimiter(',')->capture_default_str();
  app.add_option("-n,--n-gen", o->sweep.n_gen, "generation lengths (tg tests)")->delimiter(',')->capture_default_str();
  app.add_option("--pg", o->pg, "prompt then generation in one test: PROMPT,GEN (also -pg; repeatable)");
  app.add_option("-t,--threads", o->sweep.n_threads, "thread counts (default: all cores)")->delimiter(',');
  app.add_option("-b,--batch-size", o->sweep.n_batch, "prompt batch sizes")->delimiter(',')->capture_default_str();
  app.add_option("-r,--repetitions", o->run.repetitions, "timed repetitions per test, after one warm-up")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--min-time", o->run.min_time_s, "repeat each test until its timed runs add up to SECONDS")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--no-warmup", o->no_warmup, "skip the untimed warm-up run");
  app.add_flag("--profile", o->run.profile, "add the time per operation kind (linear, attention, ...) to each record");
  app.add_option("--seed", o->run.seed, "seed of the random token ids")->capture_default_str();
  tool::add_load_mode_flags(&app, o->load_mode);
  app.add_option("-o,--output", o->output, "output format: jsonl | json | csv | md | sql")
      ->check(CLI::IsMember({"jsonl", "json", "csv", "md", "sql"}))
      ->capture_default_str();
  app.add_flag("--probe", o->probe, "print a {\"type\":\"machine\"} record (CPU, caches, memory, measured bandwidth)");
  app.add_option("--budget", o->budget, "key=value,…: exit 1 when a record misses one (e.g. ttft_ms=100,tg_tok_per_s=20)");
  app.add_option("--plot", o->plot, "also write a chart of the results to this SVG file (lines over a sweep, else bars)");
  app.callback([o, &app] {
    if (app.get_subcommands().size() > 0) return;
    bench::Machine machine = bench::probe_machine();
    if (o->probe) {
      nlohmann::json rec = bench::machine_record(machine);
      rec["read_gb_per_s_1_thread"] = bench::measure_read_bandwidth(1);
      rec["read_gb_per_s_all_threads"] = bench::measure_read_bandwidth(machine.logical_cpus);
      rec["read_threads"] = machine.logical_cpus;
      io::emit(rec);
    }
    if (o->sweep.models.empty()) {
      if (o->probe) return;
      throw CLI::RequiredError("-m,--model (or --probe)");
    }
    std::vector<bench::Budget> budgets;
    if (!o->budget.empty()) {
      try {
        budgets = bench::parse_budgets(o->budget);
      } catch (const Error& e) {
        throw CLI::ValidationError(e.what());
      }
    }
    for (const auto& p : o->pg) o->sweep.pg.push_back(parse_pg(p));
    for (auto& m : o->sweep.models)
      if (m == "-") m = io::resolve_model_arg(m, std::cin);
    o->run.warmup = !o->no_warmup;
    o->run.load_mode = o->load_mode;
    std::vector<bench::TestSpec> tests = bench::expand(o->sweep);
    if (tests.empty()) throw CLI::ValidationError("no tests: every -p, -n and -pg size is 0");

    auto writer = bench::make_writer(*bench::format_from_name(o->output), bench::stdout_sink());
    bench::Runner runner(o->run, machine);
    std::vector<nlohmann::json> records;
    size_t misses = 0;
    for (size_t i = 0; i < tests.size(); ++i) {
      if (stderr_is_terminal()) log("[", i + 1, "/", tests.size(), "] ", tests[i].name(), " t", tests[i].n_threads, " b",
                                    tests[i].n_batch, " ", tests[i].model);
      records.push_back(runner.run(tests[i]));
      writer->record(records.back());
      for (const auto& line : bench::check_budgets(budgets, records.back())) {
        log(line);
        ++misses;
      }
    }
    writer->finish();
    if (!o->plot.empty()) {
      std::string svg = bench::chart_svg(records, "tf-bench " + std::string(TF_VERSION));
      AtomicFile f(o->plot);
      f.write(svg.data(), svg.size());
      f.commit();
    }
    if (misses) fail(misses, misses == 1 ? " budget missed" : " budgets missed");
  });
}

}  // namespace tf::bench_tool
