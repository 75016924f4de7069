#include "tf/bench.h"

namespace tf::bench {

std::string TestSpec::name() const {
  if (n_prompt > 0 && n_gen > 0) return "pp" + std::to_string(n_prompt) + "+tg" + std::to_string(n_gen);
  if (n_prompt > 0) return "pp" + std::to_string(n_prompt);
  return "tg" + std::to_string(n_gen);
}

std::vector<TestSpec> expand(const Sweep& sweep) {
  std::vector<TestSpec> tests;
  for (const auto& model : sweep.models)
    for (int batch : sweep.n_batch)
      for (int threads : sweep.n_threads) {
        auto add = [&](int p, int g) { tests.push_back({model, p, g, threads, batch}); };
        for (int p : sweep.n_prompt)
          if (p > 0) add(p, 0);
        for (int g : sweep.n_gen)
          if (g > 0) add(0, g);
        for (auto [p, g] : sweep.pg)
          if (p > 0 || g > 0) add(p, g);
      }
  return tests;
}

}  // namespace tf::bench
