// Hugging Face tokenizer.json (+ tokenizer_config.json) -> Tokenizer::Impl.
// Every component type the file can name is either translated exactly or
// refused with a one-line error naming it: a tokenizer that silently skipped
// a step would produce plausible but wrong ids.
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "tf/error.h"
#include "tokenizer/impl.h"

namespace tf::tok {
namespace {

using json = nlohmann::json;

struct Loader {
  std::string name;

  [[noreturn]] void bad(const std::string& where, const std::string& what) const { fail(name, ": ", where, ": ", what); }

  std::string str(const json& j, const char* key, const std::string& where, const std::string& fallback = "") const {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    if (!j[key].is_string()) bad(where, std::string("\"") + key + "\" must be a string");
    return j[key].get<std::string>();
  }
  bool boolean(const json& j, const char* key, bool fallback) const {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    if (!j[key].is_boolean()) bad(name, std::string("\"") + key + "\" must be true or false");
    return j[key].get<bool>();
  }
  std::string type_of(const json& j, const std::string& where) const {
    if (!j.is_object()) bad(where, "must be an object");
    return str(j, "type", where);
  }

  static std::string base64_decode(const std::string& in) {
    static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    uint32_t buffer = 0;
    int bits = 0;
    for (char c : in) {
      if (c == '=') break;
      size_t v = kAlphabet.find(c);
      if (v == std::string::npos) continue;
      buffer = buffer << 6 | uint32_t(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += char((buffer >> bits) & 0xFF);
      }
    }
    return out;
  }

  // A "pattern" field: {"String": "..."} or {"Regex": "..."}.
  std::pair<std::string, bool> pattern(const json& j, const std::string& where) const {
    if (!j.contains("pattern") || !j["pattern"].is_object()) bad(where, "\"pattern\" must be {\"String\":…} or {\"Regex\":…}");
    const json& p = j["pattern"];
    if (p.contains("String") && p["String"].is_string()) return {p["String"].get<std::string>(), false};
    if (p.contains("Regex") && p["Regex"].is_string()) return {p["Regex"].get<std::string>(), true};
    bad(where, "\"pattern\" must be {\"String\":…} or {\"Regex\":…}");
  }

  void normalizer(const json& j, std::vector<NormStep>& out) const {
    if (j.is_null()) return;
    std::string type = type_of(j, "normalizer");
    std::string where = "normalizer " + type;
    NormStep st;
    using K = NormStep::Kind;
    if (type == "Sequence") {
      if (!j.contains("normalizers") || !j["normalizers"].is_array()) bad(where, "\"normalizers\" must be an array");
      for (const json& n : j["normalizers"]) normalizer(n, out);
      return;
    } else if (type == "BertNormalizer") {
      st.kind = K::Bert;
      st.clean_text = boolean(j, "clean_text", true);
      st.handle_chinese = boolean(j, "handle_chinese_chars", true);
      st.lowercase = boolean(j, "lowercase", true);
      st.strip_accents = boolean(j, "strip_accents", st.lowercase);  // null: follow lowercase
    } else if (type == "Lowercase") {
      st.kind = K::Lowercase;
    } else if (type == "StripAccents") {
      st.kind = K::StripAccents;
    } else if (type == "NFC") {
      st.kind = K::Nfc;
    } else if (type == "NFD") {
      st.kind = K::Nfd;
    } else if (type == "NFKC") {
      st.kind = K::Nfkc;
    } else if (type == "NFKD") {
      st.kind = K::Nfkd;
    } else if (type == "Replace") {
      auto [p, is_regex] = pattern(j, where);
      st.kind = K::Replace;
      st.pattern = p;
      if (is_regex) st.regex = compile_regex(p, name);
      st.content = str(j, "content", where);
    } else if (type == "Prepend") {
      st.kind = K::Prepend;
      st.content = str(j, "prepend", where);
    } else if (type == "Strip") {
      st.kind = K::Strip;
      st.left = boolean(j, "strip_left", true);
      st.right = boolean(j, "strip_right", true);
    } else if (type == "Precompiled") {
      st.kind = K::Precompiled;
      std::string blob = base64_decode(str(j, "precompiled_charsmap", where));
      if (!blob.empty()) st.charsmap = make_charsmap(std::move(blob), name);
    } else {
      bad("normalizer", "type '" + type + "' is not supported");
    }
    out.push_back(std::move(st));
  }

  SplitBehavior behavior(const json& j, const std::string& where) const {
    std::string b = str(j, "behavior", where, "Isolated");
    if (b == "Removed") return SplitBehavior::Removed;
    if (b == "Isolated") return SplitBehavior::Isolated;
    if (b == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
    if (b == "MergedWithNext") return SplitBehavior::MergedWithNext;
    if (b == "Contiguous") return SplitBehavior::Contiguous;
    bad(where, "unknown behavior '" + b + "'");
  }

  void pre_tokenizer(const json& j, std::vector<PreStep>& out) const {
    if (j.is_null()) return;
    std::string type = type_of(j, "pre_tokenizer");
    std::string where = "pre_tokenizer " + type;
    PreStep st;
    using K = PreStep::Kind;
    if (type == "Sequence") {
      if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array()) bad(where, "\"pretokenizers\" must be an array");
      for (const json& p : j["pretokenizers"]) pre_tokenizer(p, out);
      return;
    } else if (type == "ByteLevel") {
      st.kind = K::ByteLevel;
      st.add_prefix_space = boolean(j, "add_prefix_space", true);
      if (boolean(j, "use_regex", true))
        st.regex = compile_regex(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", name);
    } else if (type == "Metaspace") {
      st.kind = K::Metaspace;
      st.replacement = str(j, "replacement", where, "\xE2\x96\x81");
      std::string scheme = str(j, "prepend_scheme", where, "");
      if (scheme.empty()) scheme = boolean(j, "add_prefix_space", true) ? "always" : "never";
      if (scheme == "always")
        st.prepend = PreStep::Prepend::Always;
      else if (scheme == "first")
        st.prepend = PreStep::Prepend::First;
      else if (scheme == "never")
        st.prepend = PreStep::Prepend::Never;
      else
        bad(where, "unknown prepend_scheme '" + scheme + "'");
      st.split = boolean(j, "split", true);
    } else if (type == "Split") {
      auto [p, is_regex] = pattern(j, where);
      st.kind = K::Split;
      if (is_regex)
        st.regex = compile_regex(p, name);
      else
        st.literal = p;
      st.behavior = behavior(j, where);
      st.invert = boolean(j, "invert", false);
    } else if (type == "BertPreTokenizer") {
      st.kind = K::Bert;
    } else if (type == "Whitespace") {
      st.kind = K::Whitespace;
      st.regex = compile_regex(R"(\w+|[^\w\s]+)", name);
    } else if (type == "WhitespaceSplit") {
      st.kind = K::WhitespaceSplit;
    } else if (type == "Punctuation") {
      st.kind = K::Punctuation;
      st.behavior = behavior(j, where);
    } else if (type == "Digits") {
      st.kind = K::Digits;
      st.individual_digits = boolean(j, "individual_digits", false);
    } else {
      bad("pre_tokenizer", "type '" + type + "' is not supported");
    }
    out.push_back(std::move(st));
  }

  void decoder(const json& j, std::vector<DecodeStep>& out) const {
    if (j.is_null()) return;
    std::string type = type_of(j, "decoder");
    std::string where = "decoder " + type;
    DecodeStep st;
    using K = DecodeStep::Kind;
    if (type == "Sequence") {
      if (!j.contains("decoders") || !j["decoders"].is_array()) bad(where, "\"decoders\" must be an array");
      for (const json& d : j["decoders"]) decoder(d, out);
      return;
    } else if (type == "ByteLevel") {
      st.kind = K::ByteLevel;
    } else if (type == "Metaspace") {
      st.kind = K::Metaspace;
      st.pattern = str(j, "replacement", where, "\xE2\x96\x81");
      std::string scheme = str(j, "prepend_scheme", where, "");
      if (scheme.empty()) scheme = boolean(j, "add_prefix_space", true) ? "always" : "never";
      st.prepend_first = scheme != "never";
    } else if (type == "WordPiece") {
      st.kind = K::WordPiece;
      st.content = str(j, "prefix", where, "##");
      st.cleanup = boolean(j, "cleanup", true);
    } else if (type == "Replace") {
      auto [p, is_regex] = pattern(j, where);
      if (is_regex) bad(where, "regex replacement is not supported");
      st.kind = K::Replace;
      st.pattern = p;
      st.content = str(j, "content", where);
    } else if (type == "ByteFallback") {
      st.kind = K::ByteFallback;
    } else if (type == "Fuse") {
      st.kind = K::Fuse;
    } else if (type == "Strip") {
      st.kind = K::Strip;
      st.content = str(j, "content", where, " ");
      st.start = j.value("start", size_t(0));
      st.stop = j.value("stop", size_t(0));
    } else if (type == "BPEDecoder") {
      st.kind = K::BpeSuffix;
      st.content = str(j, "suffix", where, "</w>");
    } else if (type == "CTC") {
      st.kind = K::Ctc;
      st.pattern = str(j, "pad_token", where, "<pad>");
      st.content = str(j, "word_delimiter_token", where, "|");
    } else {
      bad("decoder", "type '" + type + "' is not supported");
    }
    out.push_back(std::move(st));
  }
};

// The id of a special token named in the post-processor or tokenizer_config.
TokenId lookup_named(const Tokenizer::Impl& m, const json& j) {
  std::string content;
  if (j.is_string())
    content = j.get<std::string>();
  else if (j.is_object() && j.contains("content") && j["content"].is_string())
    content = j["content"].get<std::string>();
  else
    return -1;
  for (const AddedToken& a : m.added)
    if (a.content == content) return a.id;
  return m.vocab.find(content);
}

void post_processor(const Loader& L, const json& j, Tokenizer::Impl& m) {
  if (j.is_null()) return;
  std::string type = L.type_of(j, "post_processor");
  std::string where = "post_processor " + type;
  if (type == "Sequence") {
    if (!j.contains("processors") || !j["processors"].is_array()) L.bad(where, "\"processors\" must be an array");
    for (const json& p : j["processors"]) post_processor(L, p, m);
  } else if (type == "ByteLevel") {
    // offsets only
  } else if (type == "BertProcessing" || type == "RobertaProcessing") {
    auto id_of = [&](const char* key) {
      if (!j.contains(key) || !j[key].is_array() || j[key].size() != 2 || !j[key][1].is_number_integer())
        L.bad(where, std::string("\"") + key + "\" must be [token, id]");
      return j[key][1].get<TokenId>();
    };
    m.prefix_ids = {id_of("cls")};
    m.suffix_ids = {id_of("sep")};
    using Item = Tokenizer::Impl::PairItem;
    if (type == "BertProcessing")  // [CLS] A [SEP] B [SEP]
      m.pair_template = {Item{-1, m.prefix_ids, 0}, Item{0, {}, 0}, Item{-1, m.suffix_ids, 0}, Item{1, {}, 1},
                         Item{-1, m.suffix_ids, 1}};
    else  // <s> A </s></s> B </s>, all type 0 (RoBERTa has one segment)
      m.pair_template = {Item{-1, m.prefix_ids, 0}, Item{0, {}, 0}, Item{-1, {m.suffix_ids[0], m.suffix_ids[0]}, 0},
                         Item{1, {}, 0}, Item{-1, m.suffix_ids, 0}};
  } else if (type == "TemplateProcessing") {
    if (!j.contains("single") || !j["single"].is_array()) L.bad(where, "\"single\" must be an array");
    const json& specials = j.contains("special_tokens") ? j["special_tokens"] : json::object();
    bool seen_sequence = false;
    m.prefix_ids.clear();
    m.suffix_ids.clear();
    for (const json& item : j["single"]) {
      if (item.contains("Sequence")) {
        seen_sequence = true;
        continue;
      }
      if (!item.contains("SpecialToken") || !item["SpecialToken"].contains("id")) L.bad(where, "unknown template item");
      std::string name = item["SpecialToken"]["id"].get<std::string>();
      if (!specials.contains(name) || !specials[name].contains("ids") || !specials[name]["ids"].is_array())
        L.bad(where, "special token '" + name + "' has no ids");
      for (const json& id : specials[name]["ids"]) (seen_sequence ? m.suffix_ids : m.prefix_ids).push_back(id.get<TokenId>());
    }
    m.pair_template.clear();
    if (j.contains("pair") && j["pair"].is_array()) {
      for (const json& item : j["pair"]) {
        Tokenizer::Impl::PairItem p;
        if (item.contains("Sequence")) {
          const json& sq = item["Sequence"];
          p.sequence = sq.value("id", std::string("A")) == "B" ? 1 : 0;
          p.type_id = sq.value("type_id", 0);
        } else if (item.contains("SpecialToken") && item["SpecialToken"].contains("id")) {
          std::string name = item["SpecialToken"]["id"].get<std::string>();
          if (!specials.contains(name) || !specials[name].contains("ids") || !specials[name]["ids"].is_array())
            L.bad(where, "special token '" + name + "' has no ids");
          for (const json& id : specials[name]["ids"]) p.ids.push_back(id.get<TokenId>());
          p.type_id = item["SpecialToken"].value("type_id", 0);
        } else {
          L.bad(where, "unknown pair template item");
        }
        m.pair_template.push_back(std::move(p));
      }
    }
  } else {
    L.bad("post_processor", "type '" + type + "' is not supported");
  }
}

}  // namespace

std::shared_ptr<Tokenizer::Impl> load_hf_json(std::string_view text, std::string_view config_text, const std::string& name) {
  Loader L{name};
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) fail(name, ": not valid JSON");
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object()) fail(name, ": no \"model\" object (is this a tokenizer.json?)");
  json config = config_text.empty() ? json::object() : json::parse(config_text, nullptr, false);
  if (config.is_discarded() || !config.is_object()) fail(name, ": tokenizer_config.json is not a JSON object");

  auto impl = std::make_shared<Tokenizer::Impl>();
  Tokenizer::Impl& m = *impl;
  m.name = name;
  const json& model = j["model"];
  std::string type = L.str(model, "type", "model");
  if (type.empty()) {
    if (model.contains("merges"))
      type = "BPE";
    else if (model.contains("vocab") && model["vocab"].is_array())
      type = "Unigram";
    else
      type = "WordPiece";
  }

  // ---- vocabulary (model vocab, then added tokens that extend it)
  auto place = [&](TokenId id, const std::string& piece, const std::string& where) {
    if (id < 0 || id > 16'000'000) L.bad(where, "token id " + std::to_string(id) + " is out of range");
    if (size_t(id) >= m.vocab.pieces.size()) m.vocab.pieces.resize(size_t(id) + 1);
    m.vocab.pieces[size_t(id)] = piece;
  };
  if (!model.contains("vocab")) L.bad("model", "no \"vocab\"");
  const json& vocab = model["vocab"];
  if (type == "Unigram") {
    if (!vocab.is_array()) L.bad("model.vocab", "must be an array of [piece, score]");
    m.vocab.scores.reserve(vocab.size());
    for (size_t i = 0; i < vocab.size(); ++i) {
      const json& e = vocab[i];
      if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number())
        L.bad("model.vocab[" + std::to_string(i) + "]", "must be [piece, score]");
      m.vocab.pieces.push_back(e[0].get<std::string>());
      m.vocab.scores.push_back(e[1].get<float>());
    }
  } else {
    if (!vocab.is_object()) L.bad("model.vocab", "must be an object {token: id}");
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      if (!it.value().is_number_integer()) L.bad("model.vocab", "id of '" + it.key() + "' is not an integer");
      place(it.value().get<TokenId>(), it.key(), "model.vocab");
    }
  }
  if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
    if (!j["added_tokens"].is_array()) L.bad("added_tokens", "must be an array");
    for (const json& a : j["added_tokens"]) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
          !a["content"].is_string())
        L.bad("added_tokens", "each entry needs an integer \"id\" and a string \"content\"");
      AddedToken t;
      t.id = a["id"].get<TokenId>();
      t.content = a["content"].get<std::string>();
      t.special = L.boolean(a, "special", false);
      t.lstrip = L.boolean(a, "lstrip", false);
      t.rstrip = L.boolean(a, "rstrip", false);
      t.single_word = L.boolean(a, "single_word", false);
      if (size_t(t.id) >= m.vocab.pieces.size() || m.vocab.pieces[size_t(t.id)].empty())
        place(t.id, t.content, "added_tokens");
      m.added.push_back(std::move(t));
    }
  }
  m.vocab.scores.resize(m.vocab.pieces.size(), 0.0f);
  m.vocab.build_index();

  L.normalizer(j.value("normalizer", json()), m.normalizers);
  L.pre_tokenizer(j.value("pre_tokenizer", json()), m.pre_tokenizers);
  L.decoder(j.value("decoder", json()), m.decoders);
  post_processor(L, j.value("post_processor", json()), m);

  // ---- model
  std::string unk_token = L.str(model, "unk_token", "model");
  if (!unk_token.empty()) m.unk_id = m.vocab.find(unk_token);
  bool byte_level = false;
  for (const PreStep& p : m.pre_tokenizers) byte_level |= p.kind == PreStep::Kind::ByteLevel;
  for (const DecodeStep& d : m.decoders) byte_level |= d.kind == DecodeStep::Kind::ByteLevel;
  if (type == "BPE") {
    m.algorithm = TokenizerAlgorithm::BytePairEncoding;
    if (!L.str(model, "continuing_subword_prefix", "model").empty() || !L.str(model, "end_of_word_suffix", "model").empty())
      L.bad("model", "BPE with continuing_subword_prefix / end_of_word_suffix is not supported");
    if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"].get<double>() > 0)
      L.bad("model", "BPE dropout is not supported (tokenization would not be deterministic)");
    std::vector<std::pair<std::string, std::string>> merges;
    if (!model.contains("merges") || !model["merges"].is_array()) L.bad("model", "\"merges\" must be an array");
    for (const json& mg : model["merges"]) {
      if (mg.is_string()) {
        const std::string& s = mg.get_ref<const std::string&>();
        size_t space = s.find(' ', 1);
        if (space == std::string::npos) L.bad("model.merges", "merge '" + s + "' is not 'left right'");
        merges.emplace_back(s.substr(0, space), s.substr(space + 1));
      } else if (mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string()) {
        merges.emplace_back(mg[0].get<std::string>(), mg[1].get<std::string>());
      } else {
        L.bad("model.merges", "each merge must be \"left right\" or [left, right]");
      }
    }
    BpeModel::Options o;
    o.byte_level = byte_level;
    o.byte_fallback = L.boolean(model, "byte_fallback", false);
    o.ignore_merges = L.boolean(model, "ignore_merges", false);
    o.fuse_unk = L.boolean(model, "fuse_unk", false);
    o.unk = m.unk_id;
    m.model = std::make_unique<BpeModel>(m.vocab, merges, o, name);
    // A Metaspace that does not split leaves the whole text as one word;
    // when no merge can cross a word's U+2581 the result is the same word by word.
    bool one_word = false;
    for (const PreStep& p : m.pre_tokenizers) one_word |= p.kind == PreStep::Kind::Metaspace && !p.split;
    m.segment_at_spaces = one_word && !byte_level && SpmModel(m.vocab, -1).segmentable();
  } else if (type == "WordPiece") {
    m.algorithm = TokenizerAlgorithm::WordPiece;
    if (m.unk_id < 0) L.bad("model", "WordPiece needs an unk_token that is in the vocabulary");
    size_t max_chars = model.value("max_input_chars_per_word", size_t(100));
    m.model = std::make_unique<WordPieceModel>(m.vocab, L.str(model, "continuing_subword_prefix", "model", "##"), m.unk_id,
                                               max_chars);
  } else if (type == "Unigram") {
    m.algorithm = TokenizerAlgorithm::Unigram;
    UnigramModel::Options o;
    if (model.contains("unk_id") && model["unk_id"].is_number_integer()) o.unk = model["unk_id"].get<TokenId>();
    m.unk_id = o.unk;
    o.byte_fallback = L.boolean(model, "byte_fallback", false);
    m.model = std::make_unique<UnigramModel>(m.vocab, o);
  } else {
    L.bad("model", "type '" + type + "' is not supported");
  }
  // ---- named special tokens (tokenizer_config.json, else the template)
  auto named = [&](const char* key) -> TokenId {
    if (config.contains(key)) return lookup_named(m, config[key]);
    return -1;
  };
  m.bos_id = named("bos_token");
  m.eos_id = named("eos_token");
  if (m.unk_id < 0) m.unk_id = named("unk_token");
  if (m.bos_id < 0) {
    if (TokenId cls = named("cls_token"); cls >= 0) m.bos_id = cls;
  }
  if (m.eos_id < 0) {
    if (TokenId sep = named("sep_token"); sep >= 0) m.eos_id = sep;
  }
  m.finalize();
  return impl;
}

std::string merge_special_tokens_map(const std::string& config_text, const std::string& map_text) {
  json config = config_text.empty() ? json::object() : json::parse(config_text, nullptr, false);
  json map = json::parse(map_text, nullptr, false);
  if (!config.is_object() || !map.is_object()) return config_text;
  for (auto it = map.begin(); it != map.end(); ++it)
    if (!config.contains(it.key())) config[it.key()] = it.value();
  return config.dump();
}

}  // namespace tf::tok

namespace tf {

Tokenizer Tokenizer::from_hf_json(std::string_view tokenizer_json, std::string_view config_json, const std::string& name) {
  return Tokenizer(tok::load_hf_json(tokenizer_json, config_json, name));
}

}  // namespace tf
