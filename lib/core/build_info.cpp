#include "tf/build_info.h"

#ifndef TF_BUILD_COMMIT
#define TF_BUILD_COMMIT TF_VERSION
#endif

namespace tf {

const char* build_version() { return TF_VERSION; }
const char* build_commit() { return TF_BUILD_COMMIT; }

}  // namespace tf
