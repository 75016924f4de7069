// Row-interleaved weights for the decode path of the commonest block types
// (Q4_0, Q8_0, Q4_K, Q6_K), built once at load.
//
// In the file's layout each weight row is a run of blocks, and a GEMV pays
// for every block of every row on its own: a scalar f16 scale to convert,
// an integer sum to widen and scale. Here 16 rows are interleaved so one
// 512-bit register holds 4 consecutive quantized bytes of each of the 16
// rows — what one vpdpbusd multiplies against 4 broadcast activation bytes —
// and the 16 rows' scales of a block sit side by side, converted and applied
// with one vector instruction. The integers and scales are the file's, only
// moved (Q8_0's signed bytes are stored biased by 128 as unsigned), so the
// products are the same integer dot products as the plain kernels compute;
// only the f32 summation order of the block results differs.
//
// Layout: groups of kRows rows, each group's sections one after the other
// (per block b, the 16 rows' values of a field side by side), then the
// N % 16 leftover rows in the file's own layout:
//   Q4_0: d[nb][16] f16 | q[nb][4][16][4]: chunk c, row r = the row's qs[4c..4c+3]
//   Q8_0: d[nb][16] f16 | q[nb][8][16][4]: chunk c, row r = qs[4c..4c+3] ^ 0x80
//   Q4_K: d[nb][16], dmin[nb][16] f16 | sc[nb][8][16] u8 | mnp[nb][4][16][2] u8
//         (mins of sub-blocks 2p, 2p+1 of row r) | q[nb][32][16][4] (chunk t = qs[4t..4t+3])
//   Q6_K: d[nb][16] f16 | sc[nb][16][16] i8 | ql[nb][32][16][4] | qh[nb][16][16][4]
// Every section is a multiple of 64 bytes for even nb, and of 32 otherwise.
#pragma once
#include <cstddef>
#include <cstdint>

#include "tf/dtype.h"

namespace tf::kernels::mm {

constexpr size_t kInterleaveRows = 16;

bool interleavable(DType t);
// Bytes of the interleaved form of an N x K matrix (equal to the file's
// bytes except for Q4_K, which keeps its 6-bit scales as bytes: +2.8%).
size_t interleaved_bytes(DType t, size_t N, size_t K);
// Bytes of one group of kInterleaveRows rows.
size_t interleaved_group_bytes(DType t, size_t K);
// Writes groups [g0, g1) of the interleaved form of W (rows w_stride bytes
// apart) into dst (the whole interleaved buffer); the group covering the
// last full rows also copies the leftover rows when g1 is the last group.
void interleave_groups(DType t, const void* w, size_t w_stride, size_t N, size_t K, size_t g0, size_t g1, void* dst);
// Groups interleave_groups() takes for N rows (the leftover rows count as one).
size_t interleave_tasks(size_t N);
// The inverse for whole groups [g0, g1) of src (the interleaved buffer): the
// file's bytes of rows 16·g0 .. 16·g1, one after the other, into dst (the
// prompt path unpacks W from the file's layout).
void deinterleave_groups(DType t, const void* src, size_t K, size_t g0, size_t g1, void* dst);

}  // namespace tf::kernels::mm
