// Private to the CUDA backend: the launch context every op receives, error helpers, workspaces.
// Host-only C++ (included by .cpp and .cu files alike); device helpers live in kernels.cuh.
#ifndef KILN_BACKENDS_CUDA_COMMON_HPP
#define KILN_BACKENDS_CUDA_COMMON_HPP

#include <kiln/plugin/kiln_backend.h>

#include "error.hpp"
#include "index_check.hpp"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::cuda {

class Device;
class Stream;
struct Block;

// Everything an op implementation needs: where to run and what to call itself in messages.
struct Context {
  Device* device;
  Stream* stream;
  cudaStream_t cu_stream;
  kiln_op op;
  const char* op_name;
  uint64_t launch_id;  // the host's number for this launch (0 from the v1 launch slot)
};

// Throws a Failure naming the op and what failed (a kernel, a cuBLAS call, ...) if err is an error.
void check_cuda(cudaError_t err, const Context& ctx, const char* what);
// Call right after a <<<...>>> launch.
inline void check_launch(const Context& ctx, const char* kernel) { check_cuda(cudaGetLastError(), ctx, kernel); }

// Scratch device memory from the caching allocator, returned to it (stream-ordered) at scope end.
class Workspace {
 public:
  Workspace(const Context& ctx, size_t bytes);
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  void* data() const;
  template <typename T>
  T* as() const {
    return static_cast<T*>(data());
  }

 private:
  Block* block_;
};

// What an index kernel of ctx's launch records an out-of-range index with (Note [Deferred index
// errors] in index_check.hpp): valid values are [0, bound) along dimension `dim` of the indexed
// tensor; the kernel's row-major element `linear` is position (linear / pos_inner) % pos_extent
// of `index`.
IndexCheck index_check(const Context& ctx, int32_t dim, int64_t bound, const kiln_tensor_desc& index,
                       int64_t pos_inner, int64_t pos_extent);

// ---- descriptors ----
inline int64_t numel(const kiln_tensor_desc& d) { return kiln_desc_numel(&d); }
inline bool is_contiguous(const kiln_tensor_desc& d) { return kiln_desc_is_contiguous(&d) != 0; }
// Address of element 0 (data + offset), as the kernels take it.
inline void* base_ptr(const kiln_tensor_desc& d) {
  return static_cast<char*>(d.data) + d.offset * static_cast<int64_t>(kiln_dtype_size(d.dtype));
}
template <typename T>
inline T* base_ptr_as(const kiln_tensor_desc& d) {
  return static_cast<T*>(d.data) + d.offset;
}
const char* dtype_name(int32_t dtype);
// The op's catalogue name ("gather"), or "unknown op".
const char* op_name(int32_t op);
// Every device of the backend (backend.cpp).
std::vector<Device*> all_devices();
// "[2, 3, 4]"
std::string shape_string(const kiln_tensor_desc& d);
bool same_shape(const kiln_tensor_desc& a, const kiln_tensor_desc& b);

}  // namespace kiln::cuda

#endif  // KILN_BACKENDS_CUDA_COMMON_HPP
