// Lattice codebooks of the i-quants (IQ2_*, IQ3_*, IQ1_*), in two forms:
// - *Points: ggml's packed definition, one level per coordinate (what the
//   quantizers search; iq_grids.cpp),
// - *Grid: ggml-common.h's expanded tables, byte i of an entry = the value
//   of coordinate i as the dequantizers and dot kernels multiply it.
// quant_grids_test.cpp checks the expanded tables against hashes of ggml's.
#pragma once
#include <array>
#include <cstdint>

namespace tf::quant {

extern const uint16_t kIQ2XXSPoints[256];
extern const uint16_t kIQ2XSPoints[512];
extern const uint16_t kIQ2SPoints[1024];
extern const uint16_t kIQ1SPoints[2048];
extern const uint16_t kIQ3XXSPoints[256];
extern const uint16_t kIQ3SPoints[512];

extern const std::array<uint64_t, 256> kIQ2XXSGrid;  // levels 8, 25, 43
extern const std::array<uint64_t, 512> kIQ2XSGrid;
extern const std::array<uint64_t, 1024> kIQ2SGrid;
extern const std::array<uint64_t, 2048> kIQ1SGrid;   // int8 levels -1, 0, 1
extern const std::array<uint32_t, 256> kIQ3XXSGrid;  // levels 4, 12, ..., 52, 62
extern const std::array<uint32_t, 512> kIQ3SGrid;    // levels 1, 3, ..., 15

// 7 sign bits -> 8 with an even number of minus signs (bit 7 = parity);
// ggml's ksigns_iq2xs. IQ2_XXS / IQ2_XS / IQ3_XXS store only the 7.
extern const std::array<uint8_t, 128> kIQ2EvenSigns;

// Offset of the IQ1_S / IQ1_M grid values (grid +- delta, sign in the block).
constexpr float kIQ1Delta = 0.125f;

}  // namespace tf::quant
