#include "convert/hf_vocab.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <map>

#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/json_file.h"

namespace tf::convert {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Added tokens llama.cpp treats as control tokens even when not flagged special.
bool looks_special(const std::string& t) {
  auto starts = [&](const char* p) { return t.rfind(p, 0) == 0; };
  auto ends = [&](const std::string& s) { return t.size() >= s.size() && t.compare(t.size() - s.size(), s.size(), s) == 0; };
  if (t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]") return true;
  if (starts("<|") && ends("|>")) return true;
  if (starts("<\xef\xbd\x9c") && ends("\xef\xbd\x9c>")) return true;  // fullwidth bars
  return starts("<unused") && ends(">");
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
  return s;
}

const json& require(const json& j, const char* key, const std::string& file) {
  if (!j.contains(key)) fail(file, ": missing \"", key, "\"");
  return j[key];
}

json tokenizer_json(const std::string& dir) { return read_json_file((fs::path(dir) / "tokenizer.json").string()); }

}  // namespace

GgufVocab sentencepiece_vocab(const std::string& dir, uint32_t n_vocab) {
  std::string path = (fs::path(dir) / "tokenizer.model").string();
  sentencepiece::SentencePieceProcessor sp;
  auto status = sp.Load(path);
  if (!status.ok()) fail(path, ": not a SentencePiece model: ", status.ToString());
  uint32_t n_sp = uint32_t(sp.GetPieceSize());
  if (n_vocab == 0) n_vocab = n_sp;
  GgufVocab v;
  v.model = "llama";
  v.pre = "default";
  v.tokens.resize(n_vocab);
  v.scores.assign(n_vocab, -10000.0f);
  v.types.assign(n_vocab, kUnused);
  for (uint32_t i = 0; i < n_vocab; ++i) v.tokens[i] = "[PAD" + std::to_string(i) + "]";
  for (uint32_t i = 0; i < n_sp && i < n_vocab; ++i) {
    int id = int(i);
    v.tokens[i] = sp.IdToPiece(id);
    v.scores[i] = sp.GetScore(id);
    v.types[i] = sp.IsUnknown(id) ? kUnknown : sp.IsControl(id) ? kControl : sp.IsUnused(id) ? kUnused
                 : sp.IsByte(id)  ? kByte : kNormal;
  }
  if (n_sp > n_vocab) fail(path, ": ", n_sp, " pieces but config.json says vocab_size ", n_vocab);
  // Added tokens override entries, as in llama.cpp: added_tokens.json, then
  // tokenizer_config.json's added_tokens_decoder.
  fs::path added = fs::path(dir) / "added_tokens.json";
  if (fs::exists(added)) {
    json added_tokens = read_json_file(added.string());
    for (const auto& [text, id] : added_tokens.items()) {
      if (!id.is_number_unsigned()) fail(added.string(), ": id of \"", text, "\" is not a non-negative integer");
      uint64_t i = id.get<uint64_t>();
      if (i >= n_vocab) continue;
      v.tokens[i] = text;
      v.scores[i] = -1000.0f;
      v.types[i] = kUserDefined;
    }
  }
  fs::path config = fs::path(dir) / "tokenizer_config.json";
  if (fs::exists(config)) {
    json tc = read_json_file(config.string());
    if (tc.contains("added_tokens_decoder") && tc["added_tokens_decoder"].is_object()) {
      for (const auto& [key, tok] : tc["added_tokens_decoder"].items()) {
        uint64_t i = std::stoull(key);
        if (i >= n_vocab || !tok.is_object()) continue;
        std::string text = tok.value("content", "");
        bool special = tok.value("special", false) || looks_special(text);
        v.tokens[i] = special ? text : replace_all(text, "\xe2\x96\x81", " ");
        v.scores[i] = -1000.0f;
        v.types[i] = special ? kControl : kUserDefined;
      }
    }
  }
  return v;
}

GgufVocab hf_token_list(const std::string& dir, uint32_t n_vocab, const std::string& model) {
  std::string file = (fs::path(dir) / "tokenizer.json").string();
  json tj = tokenizer_json(dir);
  const json& vocab = require(require(tj, "model", file), "vocab", file);
  if (!vocab.is_object()) fail(file, ": model.vocab is not an object");
  std::map<uint64_t, std::string> by_id;
  for (const auto& [text, id] : vocab.items()) {
    if (!id.is_number_unsigned()) fail(file, ": id of token \"", text, "\" is not a non-negative integer");
    by_id[id.get<uint64_t>()] = text;
  }
  std::map<uint64_t, std::pair<std::string, bool>> added;  // id -> (content, special)
  if (tj.contains("added_tokens") && tj["added_tokens"].is_array()) {
    for (const auto& t : tj["added_tokens"]) {
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_unsigned() || !t.contains("content") ||
          !t["content"].is_string())
        fail(file, ": an added_tokens entry lacks an integer \"id\" or a string \"content\"");
      uint64_t id = t["id"].get<uint64_t>();
      added[id] = {t["content"].get<std::string>(), t.value("special", false)};
      by_id[id] = t["content"].get<std::string>();
    }
  }
  if (n_vocab == 0) n_vocab = by_id.empty() ? 0 : uint32_t(by_id.rbegin()->first + 1);
  if (!by_id.empty() && by_id.rbegin()->first >= n_vocab)
    fail(file, ": token id ", by_id.rbegin()->first, " is beyond vocab_size ", n_vocab);
  GgufVocab v;
  v.model = model;
  v.tokens.resize(n_vocab);
  v.types.assign(n_vocab, kNormal);
  for (uint32_t i = 0; i < n_vocab; ++i) {
    auto a = added.find(i);
    auto t = by_id.find(i);
    if (a != added.end()) {
      bool control = a->second.second || looks_special(a->second.first);
      v.tokens[i] = control ? a->second.first : replace_all(a->second.first, "\xe2\x96\x81", " ");
      v.types[i] = control ? kControl : kUserDefined;
    } else if (t != by_id.end()) {
      v.tokens[i] = t->second;
    } else {
      v.tokens[i] = "[PAD" + std::to_string(i) + "]";
      v.types[i] = kUnused;
    }
  }
  return v;
}

void add_special_vocab(const std::string& dir, bool load_merges, GgufVocab& v) {
  fs::path tokenizer_path = fs::path(dir) / "tokenizer.json";
  json tj = fs::exists(tokenizer_path) ? tokenizer_json(dir) : json::object();
  uint64_t n_vocab = v.tokens.size();
  if (load_merges) {
    const json* merges = nullptr;
    if (tj.contains("model") && tj["model"].is_object() && tj["model"].contains("merges"))
      merges = &tj["model"]["merges"];
    if (merges && merges->is_array()) {
      for (const auto& m : *merges) {
        if (m.is_string()) {
          v.merges.push_back(m.get<std::string>());
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
          // transformers >= 4.45 stores pairs; spaces inside a part become U+0120
          v.merges.push_back(replace_all(m[0].get<std::string>(), " ", "\xc4\xa0") + " " +
                             replace_all(m[1].get<std::string>(), " ", "\xc4\xa0"));
        } else {
          fail(tokenizer_path.string(), ": model.merges entries must be strings or pairs of strings");
        }
      }
    }
    fs::path merges_txt = fs::path(dir) / "merges.txt";
    if (v.merges.empty() && fs::exists(merges_txt)) {
      std::ifstream in(merges_txt);
      std::string line;
      bool first = true;
      while (std::getline(in, line)) {
        if (first && line.rfind("#", 0) == 0) {
          first = false;
          continue;
        }
        first = false;
        std::istringstream parts(line);
        std::string a, b, extra;
        if (parts >> a >> b && !(parts >> extra)) v.merges.push_back(a + " " + b);
      }
    }
  }
  static const char* kTypes[] = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
  auto set_id = [&](const std::string& type, int64_t id, const std::string& source) {
    if (id < 0) fail(source, ": ", type, " token id ", id, " is negative");
    if (n_vocab && uint64_t(id) >= n_vocab) return;
    for (const auto& [t, _] : v.special_ids)
      if (t == type) return;
    v.special_ids.emplace_back(type, uint32_t(id));
  };
  fs::path tc_path = fs::path(dir) / "tokenizer_config.json";
  if (fs::exists(tc_path)) {
    json tc = read_json_file(tc_path.string());
    if (tc.contains("chat_template") && tc["chat_template"].is_string())
      v.chat_template = tc["chat_template"].get<std::string>();
    for (const char* type : kTypes) {
      std::string add_key = std::string("add_") + type + "_token";
      if (tc.contains(add_key) && tc[add_key].is_boolean()) v.add_flags.emplace_back(type, tc[add_key].get<bool>());
      std::string key = std::string(type) + "_token";
      if (!tc.contains(key)) continue;
      const json& t = tc[key];
      std::string content = t.is_string() ? t.get<std::string>()
                            : (t.is_object() && t.contains("content") && t["content"].is_string())
                                ? t["content"].get<std::string>()
                                : std::string();
      if (content.empty()) continue;
      if (!fs::exists(tokenizer_path)) {
        // No tokenizer.json (e.g. a folder tf-convert gguf wrote for a
        // SentencePiece model): look the token up in the vocabulary itself.
        // llama.cpp would drop it; with tokenizer.json present both agree.
        auto it = std::find(v.tokens.begin(), v.tokens.end(), content);
        if (it != v.tokens.end()) set_id(type, it - v.tokens.begin(), tc_path.string());
        continue;
      }
      if (!tj.contains("added_tokens") || !tj["added_tokens"].is_array()) continue;
      for (const auto& a : tj["added_tokens"]) {
        if (a.is_object() && a.value("content", "") == content && a.contains("id") && a["id"].is_number_integer()) {
          set_id(type, a["id"].get<int64_t>(), tc_path.string());
          break;
        }
      }
    }
  }
  fs::path config_path = fs::path(dir) / "config.json";
  if (fs::exists(config_path)) {
    json config = read_json_file(config_path.string());
    for (const char* type : kTypes) {
      std::string key = std::string(type) + "_token_id";
      if (config.contains(key) && config[key].is_number_integer())
        set_id(type, config[key].get<int64_t>(), config_path.string());
    }
  }
}

namespace {

// Split regexes of tokenizer.json pre-tokenizers -> the llama.cpp
// tokenizer.ggml.pre name whose runtime regex is the same. (llama.cpp's
// converter identifies the tokenizer by hashing a probe encoding; tokenizers
// with equal regexes and different vocabularies get different hashes but
// tokenize alike.)
const std::vector<std::pair<std::string, std::string>> kSplitRegexes = {
    // Llama 3 (and 3.1/3.2): digits in runs of up to 3
    {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     "llama-bpe"},
    // Qwen2 / Qwen2.5 (and DeepSeek-R1 distills of Qwen): single digits
    {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     "qwen2"},
    // GPT-2's own regex spelled out as a Split (some re-saved GPT-2 style tokenizers)
    {R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", "gpt-2"},
};

void collect_split_regexes(const json& pre, std::vector<std::string>& out) {
  if (!pre.is_object()) return;
  std::string type = pre.value("type", "");
  if (type == "Split" && pre.contains("pattern") && pre["pattern"].is_object() &&
      pre["pattern"].contains("Regex") && pre["pattern"]["Regex"].is_string())
    out.push_back(pre["pattern"]["Regex"].get<std::string>());
  if (type == "Sequence" && pre.contains("pretokenizers") && pre["pretokenizers"].is_array())
    for (const auto& p : pre["pretokenizers"]) collect_split_regexes(p, out);
}

}  // namespace

std::string detect_pre_tokenizer(const std::string& dir) {
  json tj = tokenizer_json(dir);
  json model = tj.value("model", json::object());
  std::string type = model.is_object() ? model.value("type", "") : "";
  json pre = tj.value("pre_tokenizer", json::object());
  std::string pre_type = pre.is_object() ? pre.value("type", "") : "";
  if (type == "WordPiece" || pre_type == "BertPreTokenizer") return "jina-v2-en";
  // GPT-2's byte-level BPE: a ByteLevel pre-tokenizer with its built-in regex
  if (pre_type == "ByteLevel" && pre.value("use_regex", true)) return "gpt-2";
  std::vector<std::string> regexes;
  collect_split_regexes(pre, regexes);
  if (regexes.size() == 1)
    for (const auto& [regex, name] : kSplitRegexes)
      if (regexes[0] == regex) return name;
  fail(dir, "/tokenizer.json: pre-tokenizer \"", pre_type, "\" is not one tf-convert knows how to name for llama.cpp",
       regexes.empty() ? std::string() : " (Split regex " + regexes[0] + ")");
}

void write_vocab(gguf::Writer& w, const GgufVocab& v) {
  using gguf::Value;
  static const std::map<std::string, std::string> kIdKeys = {
      {"bos", "bos_token_id"}, {"eos", "eos_token_id"}, {"unk", "unknown_token_id"}, {"sep", "seperator_token_id"},
      {"pad", "padding_token_id"}, {"cls", "cls_token_id"}, {"mask", "mask_token_id"}};
  w.set("tokenizer.ggml.model", Value::string(v.model));
  if (!v.pre.empty()) w.set("tokenizer.ggml.pre", Value::string(v.pre));
  w.set("tokenizer.ggml.tokens", Value::string_array(v.tokens));
  if (!v.scores.empty()) w.set("tokenizer.ggml.scores", Value::f32_array(v.scores));
  w.set("tokenizer.ggml.token_type", Value::i32_array(v.types));
  if (!v.merges.empty()) w.set("tokenizer.ggml.merges", Value::string_array(v.merges));
  for (const auto& [type, id] : v.special_ids) w.set("tokenizer.ggml." + kIdKeys.at(type), Value::u32(id));
  for (const auto& [type, add] : v.add_flags) w.set("tokenizer.ggml.add_" + type + "_token", Value::boolean(add));
  if (!v.chat_template.empty()) w.set("tokenizer.chat_template", Value::string(v.chat_template));
}

}  // namespace tf::convert
