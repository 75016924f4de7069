// Trainers shared between train.cpp and train_unigram.cpp.
#pragma once
#include <string>
#include <string_view>

#include "tf/tokenizer.h"

namespace tf::tok {

std::string train_unigram(std::string_view corpus, const TrainOptions& options);

}  // namespace tf::tok
