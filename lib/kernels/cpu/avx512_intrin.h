// <immintrin.h> for *_avx512.cpp files. GCC 12's AVX-512 intrinsics feed
// _mm512_undefined_*() (a self-initialised variable) into masked builtins,
// which -Wuninitialized reports wherever they get inlined into loops (GCC bug
// 105593); the build's -Wno-maybe-uninitialized covers only the "maybe" form.
// The pragma is scoped to the header's own lines, so our code stays checked.
#pragma once
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
