// tokenize / detokenize / train-tokenizer: records as in docs/tokenizers.md.
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tf-run/commands.h"
#include "tf-run/common.h"
#include "tf/atomic_file.h"
#include "tf/error.h"
#include "tf/records.h"
#include "tf/tokenizer.h"

namespace tf::run {
namespace {

using json = nlohmann::json;

json tokens_record(const Tokenizer& t, const std::vector<TokenId>& ids) {
  json pieces = json::array();
  for (TokenId id : ids) pieces.push_back(t.piece(id));
  return {{"type", "tokens"}, {"n", ids.size()}, {"ids", ids}, {"pieces", std::move(pieces)}};
}

}  // namespace

void add_tokenize(CLI::App& app) {
  struct Options {
    std::string model, prompt, file, jsonl;
    bool no_special = false, parse_special = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("tokenize", "text -> token ids: {\"type\":\"tokens\",\"n\",\"ids\",\"pieces\"}");
  cmd->add_option("-m,--model", o->model, "GGUF file, Hugging Face folder or tokenizer.json ('-': last model record on stdin)")
      ->required();
  auto* input = cmd->add_option_group("input", "exactly one of -p, -f, --jsonl-in");
  input->add_option("-p,--prompt", o->prompt, "text to tokenize");
  input->add_option("-f,--file", o->file, "file whose whole content is tokenized ('-' = stdin)");
  input->add_option("--jsonl-in", o->jsonl, "one {\"text\":…} per line ('-' = stdin), one record per line");
  input->require_option(1);
  cmd->add_flag("--no-special", o->no_special, "add no BOS/EOS/CLS/SEP");
  cmd->add_flag("--parse-special", o->parse_special, "recognise special tokens written in the text");
  cmd->callback([o] {
    if (o->model == "-" && (o->file == "-" || o->jsonl == "-"))
      throw CLI::ValidationError("-m - and input from stdin cannot both read stdin");
    Tokenizer t = Tokenizer::load(model_path(o->model));
    EncodeOptions options{!o->no_special, o->parse_special};
    if (!o->jsonl.empty()) {
      for_each_jsonl(o->jsonl, [&](const json& j, size_t line_no) {
        if (!j.contains("text") || !j["text"].is_string()) fail(o->jsonl, ":", line_no, ": no string \"text\"");
        io::emit(tokens_record(t, t.encode(j["text"].get<std::string>(), options)));
      });
      return;
    }
    std::string text = o->file.empty() ? o->prompt : read_all(o->file);
    io::emit(tokens_record(t, t.encode(text, options)));
  });
}

void add_detokenize(CLI::App& app) {
  struct Options {
    std::string model, jsonl;
    std::vector<int64_t> ids;
    bool skip_special = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("detokenize", "token ids -> text: {\"type\":\"text\",\"text\"}");
  cmd->add_option("-m,--model", o->model, "GGUF file, Hugging Face folder or tokenizer.json")->required();
  auto* input = cmd->add_option_group("input", "exactly one of --ids, --jsonl-in");
  input->add_option("--ids", o->ids, "comma-separated ids")->delimiter(',');
  input->add_option("--jsonl-in", o->jsonl, "one {\"ids\":[…]} per line ('-' = stdin)");
  input->require_option(1);
  cmd->add_flag("--skip-special", o->skip_special, "leave special tokens out of the text");
  cmd->callback([o] {
    if (o->model == "-" && o->jsonl == "-") throw CLI::ValidationError("-m - and --jsonl-in - cannot both read stdin");
    Tokenizer t = Tokenizer::load(model_path(o->model));
    DecodeOptions options{o->skip_special};
    auto emit_text = [&](const std::vector<int64_t>& ids) {
      std::vector<TokenId> checked;
      for (int64_t id : ids) {
        if (id < 0 || uint64_t(id) >= t.vocab_size())
          fail("token id ", id, " is out of range (vocabulary of ", t.vocab_size(), ")");
        checked.push_back(TokenId(id));
      }
      io::emit({{"type", "text"}, {"text", t.decode(checked, options)}});
    };
    if (!o->jsonl.empty()) {
      for_each_jsonl(o->jsonl, [&](const json& j, size_t line_no) {
        if (!j.contains("ids") || !j["ids"].is_array()) fail(o->jsonl, ":", line_no, ": no array \"ids\"");
        std::vector<int64_t> ids;
        for (const json& id : j["ids"]) {
          if (!id.is_number_integer()) fail(o->jsonl, ":", line_no, ": ids must be integers");
          ids.push_back(id.get<int64_t>());
        }
        emit_text(ids);
      });
      return;
    }
    emit_text(o->ids);
  });
}

void add_train_tokenizer(CLI::App& app) {
  struct Options {
    std::string type = "bpe", file, output;
    size_t vocab_size = 8000, min_frequency = 2;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("train-tokenizer", "train a tokenizer.json on a text corpus");
  cmd->add_option("--type", o->type, "bpe (byte-level), wordpiece or unigram")
      ->check(CLI::IsMember({"bpe", "wordpiece", "unigram"}));
  cmd->add_option("--vocab-size", o->vocab_size, "vocabulary size, special tokens included")->check(CLI::Range(16, 1 << 22));
  cmd->add_option("--min-frequency", o->min_frequency, "BPE/WordPiece: least count of a merged pair");
  cmd->add_option("-f,--file", o->file, "training text ('-' = stdin)")->required();
  cmd->add_option("-o,--output", o->output, "tokenizer.json to write")->required();
  cmd->callback([o] {
    TrainOptions options;
    options.algorithm = o->type == "bpe"         ? TokenizerAlgorithm::BytePairEncoding
                        : o->type == "wordpiece" ? TokenizerAlgorithm::WordPiece
                                                 : TokenizerAlgorithm::Unigram;
    options.vocab_size = o->vocab_size;
    options.min_frequency = o->min_frequency;
    std::string json_text = train_tokenizer(read_all(o->file), options);
    Tokenizer trained = Tokenizer::from_hf_json(json_text, "", o->output);  // what we write must load
    AtomicFile out(o->output);
    out.write(json_text.data(), json_text.size());
    std::string sha = out.commit();
    io::emit({{"type", "tokenizer"},
              {"path", o->output},
              {"algorithm", o->type},
              {"vocab_size", trained.vocab_size()},
              {"bytes", json_text.size()},
              {"sha256", sha}});
  });
}

}  // namespace tf::run
