// The message of the tf::Error a call throws, or "(no error)": tests match
// on it to check that bad input fails with the one-line error it should.
#pragma once
#include <string>

#include "tf/error.h"

namespace tf::test {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace tf::test
