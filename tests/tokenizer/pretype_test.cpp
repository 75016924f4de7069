// Every llama.cpp pre-tokenizer variant compiles and splits; a few known
// splits pin the semantics of the regex lists.
#include <gtest/gtest.h>

#include <set>

#include "tokenizer/gguf_pretypes.h"
#include "tokenizer/impl.h"

namespace tf {
namespace {

std::vector<std::string> split(const std::string& pre, const std::string& text) {
  const tok::PreType* t = tok::find_pre_type(pre);
  EXPECT_NE(t, nullptr) << pre;
  if (!t) return {};
  std::vector<tok::PreStep> steps;
  for (std::string_view re : t->regexes) {
    tok::PreStep st;
    st.regex = tok::compile_regex(std::string(re), pre);
    steps.push_back(st);
  }
  tok::Words w;
  tok::pre_tokenize(steps, text, {0, true}, w);
  std::vector<std::string> out;
  for (auto [b, e] : w.spans) out.push_back(w.text.substr(b, e - b));
  return out;
}

TEST(PreTypes, AllCompileAndCoverTheText) {
  std::set<std::string_view> names;
  const std::string sample = "Hello, y'all! HOW'S it 1234567 going?\n\n  \t 🦙 日本語 naïve — ok $x+1==2 IMGIMGAZ";
  for (const tok::PreType& t : tok::all_pre_types()) {
    for (std::string_view n : t.names) {
      EXPECT_TRUE(names.insert(n).second) << "duplicate name " << n;
      std::string joined;
      for (const std::string& p : split(std::string(n), sample)) joined += p;
      EXPECT_EQ(joined, sample) << n;  // pieces cover the text, in order
    }
  }
  EXPECT_GT(names.size(), 60u);
}

TEST(PreTypes, KnownSplits) {
  using V = std::vector<std::string>;
  EXPECT_EQ(split("gpt-2", "Hello world  123"), (V{"Hello", " world", " ", " 123"}));
  EXPECT_EQ(split("llama-bpe", "Hello world  123456 I'M"), (V{"Hello", " world", " ", " ", "123", "456", " I", "'M"}));
  EXPECT_EQ(split("qwen2", "x 123"), (V{"x", " ", "1", "2", "3"}));
  EXPECT_EQ(split("starcoder", "ab 12"), (V{"ab", " ", "1", "2"}));
  EXPECT_EQ(split("default", "a 1234!!"), (V{"a", " ", "123", "4", "!!"}));
  EXPECT_EQ(split("deepseek-coder", "ab cd\n12"), (V{"ab", " cd", "\n", "1", "2"}));
  EXPECT_EQ(split("deepseek-llm", "ab cd 日本"), (V{"ab", " cd", " ", "日本"}));
  EXPECT_EQ(split("falcon", "a, 1234"), (V{"a", ",", " ", "123", "4"}));
  EXPECT_EQ(split("superbpe", "1234567"), (V{"1", "234", "567"}));
  EXPECT_EQ(tok::find_pre_type("no-such-pre"), nullptr);
  EXPECT_TRUE(tok::find_pre_type("llama3")->ignore_merges);
  EXPECT_TRUE(tok::find_pre_type("llama3")->add_bos);
}

}  // namespace
}  // namespace tf
