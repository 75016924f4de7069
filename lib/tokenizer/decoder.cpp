// Ids -> text: the decoder chain of Hugging Face tokenizers (each step maps
// the list of token strings), and the streaming decoder on top of it.
#include <algorithm>

#include "tf/error.h"
#include "tokenizer/impl.h"
#include "tokenizer/unicode.h"

namespace tf::tok {
namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(text);
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = text.find(from, pos)) != std::string_view::npos; pos = hit + from.size()) {
    out.append(text, pos, hit - pos);
    out.append(to);
  }
  out.append(text, pos);
  return out;
}

bool parse_byte_token(std::string_view t, uint8_t& byte) {
  if (t.size() != 6 || !t.starts_with("<0x") || t[5] != '>') return false;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  int hi = hex(t[3]), lo = hex(t[4]);
  if (hi < 0 || lo < 0) return false;
  byte = uint8_t(hi * 16 + lo);
  return true;
}

// HF's WordPiece decoder clean-up of tokenization spaces.
std::string cleanup(std::string s) {
  static const std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},   {" ?", "?"},   {" !", "!"},   {" ,", ","},          {" ' ", "'"}, {" n't", "n't"},
      {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
  };
  for (auto [from, to] : kRules) s = replace_all(s, from, to);
  return s;
}

void apply(const DecodeStep& st, std::vector<std::string>& tokens, bool raw) {
  switch (st.kind) {
    case DecodeStep::Kind::ByteLevel: {
      std::string bytes;
      for (const std::string& t : tokens) {
        std::string mapped;
        bool all = true;
        for (size_t i = 0; i < t.size();) {
          auto d = unicode::decode(t.data(), i, t.size());
          uint8_t b;
          if (!d.valid || !unicode_to_byte(d.cp, b)) {
            all = false;
            break;
          }
          mapped += char(b);
          i += d.len;
        }
        bytes += all ? mapped : t;  // tokens outside the byte map (added tokens) pass through
      }
      tokens.assign(1, std::move(bytes));
      break;
    }
    case DecodeStep::Kind::Metaspace:
      for (size_t i = 0; i < tokens.size(); ++i) {
        tokens[i] = replace_all(tokens[i], kSpace, " ");
        if (i == 0 && st.prepend_first && !tokens[i].empty() && tokens[i][0] == ' ') tokens[i].erase(0, 1);
      }
      break;
    case DecodeStep::Kind::WordPiece:
      for (size_t i = 0; i < tokens.size(); ++i) {
        if (i != 0) {
          if (tokens[i].starts_with(st.content))
            tokens[i].erase(0, st.content.size());
          else
            tokens[i].insert(0, 1, ' ');
        }
        if (st.cleanup) tokens[i] = cleanup(std::move(tokens[i]));
      }
      break;
    case DecodeStep::Kind::Replace:
      for (std::string& t : tokens) t = replace_all(t, st.pattern, st.content);
      break;
    case DecodeStep::Kind::ByteFallback: {
      std::vector<std::string> out;
      std::string run;
      bool in_run = false;
      auto flush = [&] {
        if (!in_run) return;
        if (raw || unicode::is_valid_utf8(run)) {
          out.push_back(run);
        } else {
          std::string repl;
          for (size_t k = 0; k < run.size(); ++k) unicode::append_utf8(repl, unicode::kReplacement);
          out.push_back(repl);
        }
        run.clear();
        in_run = false;
      };
      for (std::string& t : tokens) {
        uint8_t b;
        if (parse_byte_token(t, b)) {
          run += char(b);
          in_run = true;
        } else {
          flush();
          out.push_back(std::move(t));
        }
      }
      flush();
      tokens.swap(out);
      break;
    }
    case DecodeStep::Kind::Fuse: {
      std::string all;
      for (const std::string& t : tokens) all += t;
      tokens.assign(1, std::move(all));
      break;
    }
    case DecodeStep::Kind::Strip:
      for (std::string& t : tokens) {
        size_t b = 0, e = t.size();
        for (size_t k = 0; k < st.start && t.compare(b, st.content.size(), st.content) == 0 && b < e; ++k)
          b += st.content.size();
        for (size_t k = 0; k < st.stop && e >= b + st.content.size() &&
                           t.compare(e - st.content.size(), st.content.size(), st.content) == 0;
             ++k)
          e -= st.content.size();
        t = t.substr(b, e - b);
      }
      break;
    case DecodeStep::Kind::BpeSuffix:
      for (size_t i = 0; i < tokens.size(); ++i)
        tokens[i] = replace_all(tokens[i], st.content, i + 1 == tokens.size() ? "" : " ");
      break;
    case DecodeStep::Kind::Ctc: {
      // Collapse repeats, drop the pad token, the word delimiter becomes a space.
      std::vector<std::string> out;
      for (size_t i = 0; i < tokens.size(); ++i) {
        if (i > 0 && tokens[i] == tokens[i - 1]) continue;
        if (tokens[i] == st.pattern) continue;
        out.push_back(tokens[i] == st.content ? " " : tokens[i]);
      }
      tokens.swap(out);
      break;
    }
  }
}

}  // namespace

// Invalid sequences become U+FFFD, one per maximal invalid subpart (Rust's
// String::from_utf8_lossy, which the HF decoders use).
std::string lossy_utf8(std::string_view s) {
  if (unicode::is_valid_utf8(s)) return std::string(s);
  std::string out;
  for (size_t i = 0; i < s.size();) {
    auto d = unicode::decode(s.data(), i, s.size());
    if (d.valid) {
      out.append(s, i, d.len);
      i += d.len;
      continue;
    }
    // Swallow the continuation bytes that still formed a valid prefix.
    size_t k = i + 1;
    auto lead = static_cast<unsigned char>(s[i]);
    if (lead >= 0xC2 && lead <= 0xF4) {
      size_t need = unicode::sequence_length(lead);
      for (; k < s.size() && k < i + need; ++k) {
        auto c = static_cast<unsigned char>(s[k]);
        bool ok = (c & 0xC0) == 0x80;
        if (k == i + 1) {
          if (lead == 0xE0) ok = c >= 0xA0 && c <= 0xBF;
          if (lead == 0xED) ok = c >= 0x80 && c <= 0x9F;
          if (lead == 0xF0) ok = c >= 0x90 && c <= 0xBF;
          if (lead == 0xF4) ok = c >= 0x80 && c <= 0x8F;
        }
        if (!ok) break;
      }
    }
    unicode::append_utf8(out, unicode::kReplacement);
    i = k;
  }
  return out;
}

std::string decode_tokens(const Tokenizer::Impl& m, std::span<const TokenId> ids, const DecodeOptions& options,
                          bool raw) {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (TokenId id : ids) {
    if (id < 0 || size_t(id) >= m.vocab.size()) fail(m.name, ": token id ", id, " is out of range (vocabulary of ", m.vocab.size(), ")");
    if (options.skip_special && m.special[size_t(id)]) continue;
    tokens.push_back(m.vocab.pieces[size_t(id)]);
  }
  for (const DecodeStep& st : m.decoders) apply(st, tokens, raw);
  std::string text;
  for (const std::string& t : tokens) text += t;
  return raw ? text : lossy_utf8(text);
}

}  // namespace tf::tok

namespace tf {

std::string Tokenizer::decode(std::span<const TokenId> ids, const DecodeOptions& options) const {
  return tok::decode_tokens(*impl_, ids, options, false);
}

std::string Tokenizer::decode_bytes(std::span<const TokenId> ids, const DecodeOptions& options) const {
  return tok::decode_tokens(*impl_, ids, options, true);
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, DecodeOptions options)
    : tokenizer_(&tokenizer), options_(options) {}

std::string StreamDecoder::push(TokenId id) {
  // Decode the new token after its predecessor so that rules about the first
  // token (a stripped leading space) and between tokens (WordPiece's joining
  // space) apply as in a whole decode; emit what the new token added.
  // A skipped token adds nothing and must not become the context: the next
  // token would then look like the first one.
  if (options_.skip_special && tokenizer_->is_special(id)) return "";
  context_.push_back(id);
  std::string both = tokenizer_->decode_bytes(context_, options_);
  std::string added = both.starts_with(decoded_context_) ? both.substr(decoded_context_.size()) : both;
  context_.erase(context_.begin(), context_.end() - 1);
  decoded_context_ = tokenizer_->decode_bytes(context_, options_);
  // The first token decodes differently alone than after others only at the
  // very start, which the context above already covers.
  pending_ += added;
  size_t complete = unicode::complete_prefix_length(pending_);
  std::string out = tok::lossy_utf8(std::string_view(pending_).substr(0, complete));
  pending_.erase(0, complete);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out = tok::lossy_utf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace tf
