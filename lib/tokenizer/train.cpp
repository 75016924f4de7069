#include "tf/error.h"
#include "tf/tokenizer.h"

namespace tf {
std::string train_tokenizer(std::string_view, const TrainOptions&) { fail("train-tokenizer: not implemented yet"); }
}  // namespace tf
