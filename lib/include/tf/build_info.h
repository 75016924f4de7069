// What build this is, for benchmark records: the version and the commit the
// build was configured from (`git describe --always --dirty` at cmake time;
// stale until the next configure, so records also carry the version).
#pragma once

namespace tf {

const char* build_version();  // "0.1.0"
const char* build_commit();   // "3ac2845-dirty", or the version when git was unavailable

}  // namespace tf
