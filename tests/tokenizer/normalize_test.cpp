// Normalizer steps on their own, against what HF tokenizers' normalizers do.
#include <gtest/gtest.h>

#include "tokenizer/impl.h"

namespace tf {
namespace {

// Assigning short literals inside the lambdas trips GCC 12's -Wrestrict false
// positive (GCC bug 105329); std::string sources do not.
const std::string kSpaceMark = "\xE2\x96\x81", kOneSpace = " ", kX = "x";

std::string run(tok::NormStep::Kind kind, std::string_view text, const std::function<void(tok::NormStep&)>& set = {}) {
  tok::NormStep st;
  st.kind = kind;
  if (set) set(st);
  return tok::normalize({st}, text, {0, true});
}

TEST(Normalize, UnicodeForms) {
  using K = tok::NormStep::Kind;
  EXPECT_EQ(run(K::Nfd, "\xC3\xA9"), "e\xCC\x81");              // é -> e + combining acute
  EXPECT_EQ(run(K::Nfc, "e\xCC\x81"), "\xC3\xA9");
  EXPECT_EQ(run(K::Nfkc, "\xEF\xAC\x81 \xE2\x91\xA0"), "fi 1");  // ﬁ ① -> fi 1
  EXPECT_EQ(run(K::Nfkd, "\xEF\xBC\xA1"), "A");                  // fullwidth A
  EXPECT_EQ(run(K::Nfc, "plain ascii"), "plain ascii");
}

TEST(Normalize, CaseAndAccents) {
  using K = tok::NormStep::Kind;
  EXPECT_EQ(run(K::Lowercase, "HeLLo \xC3\x84\xCE\xA3"), "hello \xC3\xA4\xCF\x83");  // Ä Σ -> ä σ (no final-sigma rule)
  EXPECT_EQ(run(K::Lowercase, "\xC4\xB0"), "i\xCC\x87");                            // İ -> i + dot above
  EXPECT_EQ(run(K::StripAccents, "e\xCC\x81"), "e");
  // BertNormalizer: controls removed, white space -> ' ', CJK padded, accents stripped, lower-cased.
  EXPECT_EQ(run(K::Bert, "A\tb\x01 C\xC3\xA9\xE4\xB8\xAD!"), "a b ce \xE4\xB8\xAD !");
  EXPECT_EQ(run(K::Bert, "\xC3\x89T\xC3\x89", [](tok::NormStep& s) { s.strip_accents = false; }), "\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(run(K::Bert, "ABC", [](tok::NormStep& s) { s.lowercase = false; s.strip_accents = false; }), "ABC");
}

TEST(Normalize, ReplacePrependStrip) {
  using K = tok::NormStep::Kind;
  EXPECT_EQ(run(K::Replace, "a b  c", [](tok::NormStep& s) { s.pattern = kOneSpace; s.content = kSpaceMark; }),
            "a\xE2\x96\x81" "b\xE2\x96\x81\xE2\x96\x81" "c");
  EXPECT_EQ(run(K::Replace, "a b    c", [](tok::NormStep& s) { s.regex = tok::compile_regex(" {2,}", "t"); s.content = kOneSpace; }),
            "a b c");
  EXPECT_EQ(run(K::Prepend, "abc", [](tok::NormStep& s) { s.content = kSpaceMark; }), "\xE2\x96\x81" "abc");
  EXPECT_EQ(run(K::Prepend, "", [](tok::NormStep& s) { s.content = kX; }), "");
  EXPECT_EQ(run(K::Strip, "  \t a b \n"), "a b");
  EXPECT_EQ(run(K::Strip, "  a  ", [](tok::NormStep& s) { s.right = false; }), "a  ");
}

}  // namespace
}  // namespace tf
