// Shared by the tokenizer tests: file reading and llama.cpp's vocab test files.
#pragma once
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/test_paths.h"
#include "tf/tokenizer.h"

namespace tf::test {

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out << bytes;
}

// X.gguf.inp: inputs separated by "\n__ggml_vocab_test__\n"; X.gguf.out: one
// line of space-separated ids per input.
struct VocabCase {
  std::string text;
  std::vector<TokenId> ids;
};

inline std::vector<VocabCase> llama_cpp_cases(const std::string& vocab) {
  auto dir = shared_models() / "tokenizers";
  std::string inp = read_file(dir / ("ggml-vocab-" + vocab + ".gguf.inp"));
  std::string out = read_file(dir / ("ggml-vocab-" + vocab + ".gguf.out"));
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  size_t pos = 0;
  for (size_t hit; (hit = inp.find(sep, pos)) != std::string::npos; pos = hit + sep.size())
    texts.push_back(inp.substr(pos, hit - pos));
  if (pos < inp.size()) texts.push_back(inp.substr(pos));
  std::vector<VocabCase> cases;
  std::istringstream lines(out);
  std::string line;
  for (const std::string& t : texts) {
    std::getline(lines, line);
    std::istringstream ids(line);
    VocabCase c{t, {}};
    for (TokenId id; ids >> id;) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  return cases;
}

inline const Tokenizer& cached_tokenizer(const std::string& path) {
  static std::map<std::string, Tokenizer> cache;
  auto it = cache.find(path);
  if (it == cache.end()) it = cache.emplace(path, Tokenizer::load(path)).first;
  return it->second;
}

}  // namespace tf::test
