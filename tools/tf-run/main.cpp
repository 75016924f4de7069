// tf-run: inference. Each subcommand lives in its own file and registers
// itself here.
#include "common/tool.h"
#include "tf-run/commands.h"

int main(int argc, char** argv) {
  return tf::tool::run("tf-run", "trustformers inference: generate, forward, perplexity, tokenize, detokenize, train-tokenizer, embed, fill-mask, classify, token-classify, qa, zero-shot; train", argc, argv,
                       [](CLI::App& app) {
                         app.require_subcommand(1);
                         tf::run::add_generate(app);
                         tf::run::add_forward(app);
                         tf::run::add_perplexity(app);
                         tf::run::add_tokenize(app);
                         tf::run::add_detokenize(app);
                         tf::run::add_train_tokenizer(app);
                         tf::run::add_pipelines(app);
                         tf::run::add_imatrix(app);
                         tf::run::add_train(app);
                       });
}
