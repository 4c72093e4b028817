// The per-stream record of the first out-of-range index a kernel found; shared by the index
// kernels (index.cu) and the synchronize calls that report it (stream.cpp).
//
// Note [Deferred index errors]: gather, scatter_add, index_select, embedding and its backward
// check every index on the GPU. Waiting for each such kernel to learn whether an index was out of
// range would stop the host from running ahead of the device at every cross-entropy, so a kernel
// that finds one records it and the op's launch returns OK; stream_synchronize and
// event_synchronize report it (KILN_STATUS_INDEX_OUT_OF_RANGE, naming the op, the value, its
// position in the index tensor and the valid range) and stream_failed_launch names its launch.
//
// The record lives in mapped pinned host memory, so the host reads it after a synchronize with a
// plain memory load and no copy. Which thread writes it is decided by an atomicCAS on a claim
// word in device memory (device atomics on host memory are not something to rely on over PCIe):
// the first violating thread of the first violating launch wins and writes the fields, then
// `set`. Threads of other launches that lose set `more`, so a second bad launch is never silent
// even though its details are not kept. The claim word holds the winning launch's sequence
// number; the host clears it (cudaMemsetAsync, stream-ordered) once the record has been reported.
#ifndef KILN_BACKENDS_CUDA_INDEX_CHECK_HPP
#define KILN_BACKENDS_CUDA_INDEX_CHECK_HPP

#include <kiln/plugin/kiln_backend.h>

#include <cstdint>

namespace kiln::cuda {

struct IndexErrorRecord {
  int32_t set;       // 1 once the fields below are written (the host reads it first)
  int32_t more;      // 1: a later launch also found an out-of-range index (not recorded)
  int32_t op;        // kiln_op
  int32_t dim;       // the indexed dimension of the indexed tensor
  int64_t value;     // the offending index value
  int64_t position;  // row-major element number in the index tensor
  int64_t bound;     // valid range [0, bound)
  uint64_t launch_id;
  uint64_t seq;      // the stream's launch sequence number (events compare against it)
  int32_t index_ndim;
  int32_t reserved;
  int64_t index_shape[KILN_MAX_DIMS];
};

// What an index kernel needs to record a violation: passed by value in the kernel's parameters.
struct IndexCheck {
  unsigned int* claim;       // device memory, 0 = free
  IndexErrorRecord* record;  // the mapped record's device address
  uint64_t launch_id;
  uint64_t seq;
  unsigned int claim_tag;    // non-zero tag of this launch (low bits of seq)
  int32_t op;
  int32_t dim;
  int32_t index_ndim;
  int64_t bound;
  // position = (linear / pos_inner) % pos_extent, linear being the kernel's row-major element
  int64_t pos_inner;
  int64_t pos_extent;
  int64_t index_shape[KILN_MAX_DIMS];
};  // report_index_error (index.cu) writes the record

}  // namespace kiln::cuda

#endif  // KILN_BACKENDS_CUDA_INDEX_CHECK_HPP
