// `tf-convert info`: a description of any model file as one JSON record.
#pragma once
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace tf {

// {"type":"info","path","format","arch","params","bytes","bytes_per_dtype":{…},
//  "n_tensors","metadata":{…}} plus "tensors":[{"name","dtype","shape","bytes"}]
// when list_tensors. GGUF arrays longer than 8 elements are summarized as
// {"array":"<element type>","n":…,"head":[first 8]}.
nlohmann::json model_info(const std::string& path, bool list_tensors);

}  // namespace tf
