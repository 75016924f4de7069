// GGUF tokenizer.ggml.* metadata -> Tokenizer::Impl, with llama.cpp's
// defaults for whatever the file leaves out (src/llama-vocab.cpp, load()).
// The behaviour is driven by the metadata (model, pre, flags, token types),
// never by the file's name.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tf/error.h"
#include "tf/gguf.h"
#include "tokenizer/gguf_pretypes.h"
#include "tokenizer/impl.h"

namespace tf::tok {
namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";

DecodeStep step(DecodeStep::Kind kind, std::string pattern = "", std::string content = "", size_t start = 0) {
  DecodeStep st;
  st.kind = kind;
  st.pattern = std::move(pattern);
  st.content = std::move(content);
  st.start = start;
  return st;
}

std::vector<std::string> strings(const gguf::File& f, const char* key, bool required) {
  const gguf::Value* v = f.find(key);
  if (!v) {
    if (required) fail(f.path(), ": no ", key, " (not a model with a vocabulary?)");
    return {};
  }
  if (!v->is_array() || v->element_type() != gguf::ValueType::STRING) fail(f.path(), ": ", key, " must be an array of strings");
  return v->as_strings();
}

TokenId id_key(const gguf::File& f, const char* key, TokenId fallback, size_t n) {
  const gguf::Value* v = f.find(key);
  if (!v) return fallback;
  if (!v->is_integer()) fail(f.path(), ": ", key, " must be an integer");
  int64_t id = v->as_i64();
  // llama.cpp ignores an out-of-range special id (with a warning); so do we.
  if (id < 0 || uint64_t(id) >= n) return -1;
  return TokenId(id);
}

}  // namespace

std::shared_ptr<Tokenizer::Impl> load_gguf(const gguf::File& f) {
  auto impl = std::make_shared<Tokenizer::Impl>();
  Tokenizer::Impl& m = *impl;
  m.name = f.path();
  std::string model = f.get_string("tokenizer.ggml.model", "");
  if (model.empty()) fail(f.path(), ": no tokenizer.ggml.model (not a model with a vocabulary?)");

  m.vocab.pieces = strings(f, "tokenizer.ggml.tokens", true);
  size_t n = m.vocab.pieces.size();
  if (n == 0) fail(f.path(), ": tokenizer.ggml.tokens is empty");
  if (const gguf::Value* v = f.find("tokenizer.ggml.scores")) {
    if (!v->is_array()) fail(f.path(), ": tokenizer.ggml.scores must be an array");
    m.vocab.scores = v->as_f32s();
    if (m.vocab.scores.size() < n)
      fail(f.path(), ": tokenizer.ggml.scores has ", m.vocab.scores.size(), " entries for ", n, " tokens");
    m.vocab.scores.resize(n);
  }
  m.types.assign(n, TokenType::Normal);
  if (const gguf::Value* v = f.find("tokenizer.ggml.token_type")) {
    if (!v->is_array()) fail(f.path(), ": tokenizer.ggml.token_type must be an array");
    std::vector<int64_t> t = v->as_i64s();
    if (t.size() < n) fail(f.path(), ": tokenizer.ggml.token_type has ", t.size(), " entries for ", n, " tokens");
    for (size_t i = 0; i < n; ++i) {
      if (t[i] < 1 || t[i] > 6) fail(f.path(), ": tokenizer.ggml.token_type[", i, "] = ", t[i], " is not a token type");
      m.types[i] = TokenType(t[i]);
    }
  }

  // llama.cpp's per-model defaults, then the file's keys.
  TokenId bos = -1, eos = -1, unk = -1, sep = -1, cls = -1;
  bool add_bos = false, add_eos = false, add_sep = false, add_space_prefix = false;
  const PreType* pre = nullptr;
  if (model == "llama") {
    m.algorithm = TokenizerAlgorithm::SentencePieceBpe;
    bos = 1, eos = 2, unk = 0;
    add_bos = true, add_space_prefix = true;
  } else if (model == "gpt2") {
    m.algorithm = TokenizerAlgorithm::BytePairEncoding;
    bos = 11, eos = 11;
    std::string name = f.get_string("tokenizer.ggml.pre", "");
    if (name.empty()) name = "default";  // llama.cpp warns that quality degrades
    pre = find_pre_type(name);
    if (!pre) fail(f.path(), ": tokenizer.ggml.pre '", name, "' is not a pre-tokenizer llama.cpp knows");
    add_bos = pre->add_bos;
    add_sep = pre->add_sep;
  } else if (model == "bert") {
    m.algorithm = TokenizerAlgorithm::WordPiece;
    unk = 100, sep = 102, cls = 101;
    add_bos = true, add_sep = true;
  } else if (model == "t5") {
    m.algorithm = TokenizerAlgorithm::Unigram;
    eos = 1, unk = 2;
    add_eos = true;
  } else {
    fail(f.path(), ": tokenizer.ggml.model '", model, "' is not supported (gpt2, llama, bert, t5)");
  }
  bos = id_key(f, "tokenizer.ggml.bos_token_id", bos, n);
  eos = id_key(f, "tokenizer.ggml.eos_token_id", eos, n);
  unk = id_key(f, "tokenizer.ggml.unknown_token_id", unk, n);
  sep = id_key(f, "tokenizer.ggml.seperator_token_id", sep, n);
  cls = id_key(f, "tokenizer.ggml.cls_token_id", cls, n);
  if (bos < 0 || size_t(bos) >= n) bos = -1;
  if (eos < 0 || size_t(eos) >= n) eos = -1;
  if (unk < 0 || size_t(unk) >= n) unk = -1;
  add_bos = f.get_bool("tokenizer.ggml.add_bos_token", add_bos);
  add_eos = f.get_bool("tokenizer.ggml.add_eos_token", add_eos);
  add_sep = f.get_bool("tokenizer.ggml.add_sep_token", add_sep);
  add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix", add_space_prefix);
  bool remove_extra_whitespace = f.get_bool("tokenizer.ggml.remove_extra_whitespaces", false);
  m.bos_id = bos, m.eos_id = eos, m.unk_id = unk;

  // Control and unknown tokens are parsed from text only on request; user-defined ones always.
  m.special.assign(n, false);
  for (size_t i = 0; i < n; ++i) {
    TokenType t = m.types[i];
    // Unigram matches user-defined tokens inside its own lattice, as SentencePiece does.
    bool user_in_model = t == TokenType::UserDefined && m.algorithm == TokenizerAlgorithm::Unigram;
    if ((t == TokenType::Control || t == TokenType::Unknown || t == TokenType::UserDefined) && !user_in_model) {
      AddedToken a;
      a.content = m.vocab.pieces[i];
      a.id = TokenId(i);
      a.special = t != TokenType::UserDefined;
      m.added.push_back(std::move(a));
    }
    if (t == TokenType::Control) m.special[i] = true;
  }

  using DK = DecodeStep::Kind;
  switch (m.algorithm) {
    case TokenizerAlgorithm::SentencePieceBpe: {
      m.vocab.build_index();
      // llama.cpp splits the raw bytes, so invalid UTF-8 reaches the byte tokens unchanged.
      m.sanitize_input = false;
      NormStep escape;
      escape.kind = NormStep::Kind::SpmEscape;
      escape.add_prefix = add_space_prefix;
      m.normalizers.push_back(escape);
      auto spm = std::make_unique<SpmModel>(m.vocab, unk);
      m.segment_at_spaces = spm->segmentable();
      m.model = std::move(spm);
      m.decoders = {step(DK::Replace, std::string(kSpace), " "), step(DK::ByteFallback), step(DK::Fuse)};
      if (add_space_prefix) m.decoders.push_back(step(DK::Strip, "", " ", 1));
      break;
    }
    case TokenizerAlgorithm::BytePairEncoding: {
      m.vocab.build_index();
      std::vector<std::pair<std::string, std::string>> merges;
      for (const std::string& line : strings(f, "tokenizer.ggml.merges", true)) {
        size_t space = line.find(' ', 1);
        if (space == std::string::npos) fail(f.path(), ": tokenizer.ggml.merges: '", line, "' is not 'left right'");
        merges.emplace_back(line.substr(0, space), line.substr(space + 1));
      }
      for (std::string_view re : pre->regexes) {
        PreStep st;
        st.kind = PreStep::Kind::Split;
        st.regex = compile_regex(std::string(re), f.path());
        st.behavior = SplitBehavior::Isolated;
        m.pre_tokenizers.push_back(std::move(st));
      }
      BpeModel::Options o;
      o.byte_level = true;
      o.ignore_merges = pre->ignore_merges;
      m.model = std::make_unique<BpeModel>(m.vocab, merges, o, f.path());
      m.decoders = {step(DK::ByteLevel)};
      break;
    }
    case TokenizerAlgorithm::WordPiece: {
      // llama.cpp marks a word start with U+2581 and leaves continuations
      // bare; rewrite to BERT's convention ("##" on continuations).
      for (size_t i = 0; i < n; ++i) {
        std::string& p = m.vocab.pieces[i];
        if (p.size() >= 2 && p.front() == '[' && p.back() == ']') continue;
        if (p.starts_with(kSpace))
          p.erase(0, kSpace.size());
        else
          p.insert(0, "##");
      }
      for (AddedToken& a : m.added) a.content = m.vocab.pieces[size_t(a.id)];
      m.vocab.build_index();
      NormStep bert;
      bert.kind = NormStep::Kind::Bert;
      m.normalizers.push_back(bert);
      PreStep split;
      split.kind = PreStep::Kind::Bert;
      m.pre_tokenizers.push_back(split);
      if (unk < 0) fail(f.path(), ": a WordPiece vocabulary needs an unknown token");
      // llama.cpp has no per-word length limit.
      m.model = std::make_unique<WordPieceModel>(m.vocab, "##", unk, SIZE_MAX);
      m.decoders = {step(DK::WordPiece, "", "##")};
      if (cls >= 0) m.bos_id = cls;
      if (sep >= 0) m.eos_id = sep;
      break;
    }
    case TokenizerAlgorithm::Unigram: {
      m.vocab.build_index();
      NormStep escape;
      escape.kind = NormStep::Kind::UgmEscape;
      escape.add_prefix = add_space_prefix;
      escape.remove_extra_whitespace = remove_extra_whitespace;
      if (const gguf::Value* v = f.find("tokenizer.ggml.precompiled_charsmap")) {
        if (!v->is_array()) fail(f.path(), ": tokenizer.ggml.precompiled_charsmap must be an array of bytes");
        std::string blob = v->packed();
        if (!blob.empty()) escape.charsmap = make_charsmap(std::move(blob), f.path());
      }
      for (size_t i = 0; i < n; ++i)
        if (m.types[i] == TokenType::UserDefined && !m.vocab.pieces[i].empty()) escape.protected_pieces.push_back(m.vocab.pieces[i]);
      std::stable_sort(escape.protected_pieces.begin(), escape.protected_pieces.end(),
                       [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
      m.normalizers.push_back(escape);
      UnigramModel::Options o;
      o.unk = unk;
      o.user_defined.assign(n, false);
      o.excluded.assign(n, false);
      for (size_t i = 0; i < n; ++i) {
        o.user_defined[i] = m.types[i] == TokenType::UserDefined;
        o.excluded[i] = m.types[i] == TokenType::Control || m.types[i] == TokenType::Byte || m.types[i] == TokenType::Unknown;
      }
      m.model = std::make_unique<UnigramModel>(m.vocab, o);
      m.decoders = {step(DK::Replace, std::string(kSpace), " "), step(DK::ByteFallback), step(DK::Fuse)};
      if (add_space_prefix) m.decoders.push_back(step(DK::Strip, "", " ", 1));
      break;
    }
  }

  if (m.algorithm == TokenizerAlgorithm::WordPiece) {
    if (add_bos && cls >= 0) m.prefix_ids.push_back(cls);
    if (add_sep && sep >= 0) m.suffix_ids.push_back(sep);
  } else {
    if (add_bos && bos >= 0) m.prefix_ids.push_back(bos);
    if (add_eos && eos >= 0) m.suffix_ids.push_back(eos);
    if (add_sep && sep >= 0) m.suffix_ids.push_back(sep);
  }
  m.finalize();
  return impl;
}

std::shared_ptr<Tokenizer::Impl> load_hf_json(std::string_view text, std::string_view config_text, const std::string& name);
std::string merge_special_tokens_map(const std::string& config_text, const std::string& map_text);

}  // namespace tf::tok

namespace tf {

Tokenizer Tokenizer::from_gguf(const gguf::File& file) { return Tokenizer(tok::load_gguf(file)); }

namespace {

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) fail(p.string(), ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool has_gguf_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && std::string_view(magic, 4) == "GGUF";
}

}  // namespace

Tokenizer Tokenizer::load(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    fs::path dir(path);
    if (!fs::exists(dir / "tokenizer.json"))
      fail(path, ": no tokenizer.json in this folder (a GGUF file or a Hugging Face folder was expected)");
    std::string config = fs::exists(dir / "tokenizer_config.json") ? read_text(dir / "tokenizer_config.json") : "";
    // special_tokens_map.json names what tokenizer_config.json leaves out.
    if (fs::exists(dir / "special_tokens_map.json"))
      config = tok::merge_special_tokens_map(config, read_text(dir / "special_tokens_map.json"));
    return from_hf_json(read_text(dir / "tokenizer.json"), config, (dir / "tokenizer.json").string());
  }
  if (!fs::exists(path, ec)) fail(path, ": no such file or folder");
  if (has_gguf_magic(path)) return from_gguf(gguf::File::open(path));
  fs::path config_path = fs::path(path).parent_path() / "tokenizer_config.json";
  std::string config = fs::exists(config_path, ec) ? read_text(config_path) : "";
  return from_hf_json(read_text(path), config, path);
}

}  // namespace tf
