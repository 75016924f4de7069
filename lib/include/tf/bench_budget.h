// Performance budgets for CI: `--budget ttft_ms=100,tg_tok_per_s=20`. A key
// names a numeric field of the `bench` record; rates (`*_per_s`, `*_ts`) are
// floors, times and sizes (`*_ms`, `*_ns`, `*_bytes`) are ceilings.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tf::bench {

struct Budget {
  std::string key;
  double limit = 0;
  bool is_floor = false;  // the value must be >= limit (else <= limit)
};

// tf::Error for malformed items or keys that are no budgetable field.
std::vector<Budget> parse_budgets(const std::string& spec);
const std::vector<std::string>& budget_keys();

// One line per budget the record misses ("tg128 t2 b512 m.gguf: tg_tok_per_s
// 12.3 < budget 20"); records without the field are not checked.
std::vector<std::string> check_budgets(const std::vector<Budget>& budgets, const nlohmann::json& record);

}  // namespace tf::bench
