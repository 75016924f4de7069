#include "convert/naming.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <vector>

namespace tf::convert {
namespace {

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_cased(char c) { return is_upper(c) || is_lower(c); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Python str.islower(): at least one cased character and none uppercase.
bool py_islower(const std::string& w) {
  bool any = false;
  for (char c : w) {
    if (is_upper(c)) return false;
    any = any || is_lower(c);
  }
  return any;
}

// ^(v\d+(\.\d+)*|\d.*)$
bool is_version_or_number(const std::string& w) {
  if (w.empty()) return false;
  if (is_digit(w[0])) return true;
  if (w[0] != 'v' || w.size() < 2) return false;
  bool need_digit = true;
  for (size_t i = 1; i < w.size(); ++i) {
    if (is_digit(w[i])) {
      need_digit = false;
    } else if (w[i] == '.' && !need_digit) {
      need_digit = true;
    } else {
      return false;
    }
  }
  return !need_digit;
}

// Python str.title(): a cased letter is upper-cased when the previous
// character is not cased, lower-cased otherwise.
std::string py_title(const std::string& w) {
  std::string out = w;
  bool prev_cased = false;
  for (char& c : out) {
    if (is_cased(c)) {
      c = prev_cased ? char(std::tolower(c)) : char(std::toupper(c));
      prev_cased = true;
    } else {
      prev_cased = false;
    }
  }
  return out;
}

}  // namespace

std::string id_to_title(const std::string& id) {
  std::string spaced = id;
  for (char& c : spaced)
    if (c == '-') c = ' ';
  std::istringstream words(spaced);
  std::string word, out;
  while (words >> word) {
    if (!out.empty()) out += ' ';
    out += (py_islower(word) && !is_version_or_number(word)) ? py_title(word) : word;
  }
  return out;
}

std::string size_label(uint64_t params) {
  double n = double(params), scaled;
  const char* suffix;
  if (n > 1e12) {
    scaled = n * 1e-12;
    suffix = "T";
  } else if (n > 1e9) {
    scaled = n * 1e-9;
    suffix = "B";
  } else if (n > 1e6) {
    scaled = n * 1e-6;
    suffix = "M";
  } else {
    scaled = n * 1e-3;
    suffix = "K";
  }
  // Python: fix = max(2 - len(str(round(scaled)).lstrip('0')), 0); round is half-even
  double rounded = std::nearbyint(scaled);
  std::string digits = std::to_string(uint64_t(rounded));
  size_t first = digits.find_first_not_of('0');
  int len = first == std::string::npos ? 0 : int(digits.size() - first);
  int fix = std::max(2 - len, 0);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f%s", fix, scaled, suffix);
  return buf;
}

}  // namespace tf::convert
