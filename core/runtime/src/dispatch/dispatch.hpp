// Private: storage, tensor construction and op dispatch with host fallback.
#pragma once

#include <kiln/tensor.hpp>
#include <kiln/plugin/kiln_backend.h>

#include <initializer_list>
#include <memory>
#include <vector>

#include "dispatch/allocator.hpp"
#include "plugin_host/registry.hpp"

namespace kiln::detail {

struct Storage {
  BackendEntry* backend = nullptr;
  DeviceEntry* device = nullptr;
  CachingAllocator::Block block;
  size_t bytes = 0;
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();
  void* data() const { return block.data; }
};

std::shared_ptr<Storage> allocate_storage(const Device& device, size_t bytes);
// Note [Allocation budget]: kiln::load builds layers from a file's config before it can compare
// their sizes with the file's tensors. While an AllocationBudget lives on a thread, make_tensor on
// that thread refuses (DataError) to allocate more than `bytes` in total, so a hostile config
// cannot ask for terabytes (or overflow a shape's element count).
class AllocationBudget {
 public:
  explicit AllocationBudget(uint64_t bytes);
  ~AllocationBudget();
  AllocationBudget(const AllocationBudget&) = delete;
  AllocationBudget& operator=(const AllocationBudget&) = delete;

 private:
  uint64_t left_;
  uint64_t* previous_;
};

// A new contiguous tensor, contents uninitialized.
Tensor make_tensor(const Shape& shape, DType dtype, const Device& device);
Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);
kiln_tensor_desc describe(const Tensor& t);

const char* op_name(kiln_op op);
int op_num_inputs(kiln_op op);
int op_num_outputs(kiln_op op);
// The dtypes (inputs then outputs) an op takes when its main dtype is `dtype` (op_info.h's
// signature; CAST's output is float32).
std::vector<int32_t> op_signature(kiln_op op, DType dtype);
// A v2 attribute struct as a v1 plugin reads it (past its struct_size header), or NULL.
const void* attrs_v1(const void* attrs);
// The backend's dtype-level answer (its supports slot; attrs in the v2 layout, converted).
bool backend_claims(BackendEntry* b, kiln_op op, const std::vector<int32_t>& dtypes, const void* attrs);
// Throws the exception a failing status maps to: IndexError for INDEX_OUT_OF_RANGE, DeviceError
// for OUT_OF_MEMORY and NO_DEVICE, BackendError otherwise.
[[noreturn]] void throw_status_error(kiln_status status, const std::string& message);

// Runs op on device's backend; falls back along the host chain, or through the host for a
// device backend (Note [Fallback] in dispatch.cpp). Throws BackendError / DeviceError.
void run(kiln_op op, const Device& device, std::initializer_list<Tensor> inputs,
         std::initializer_list<Tensor> outputs, const void* attrs = nullptr);
// As run, but only where no copy is needed: on device's backend, or for host memory on another
// host backend (blas hands its non-GEMM ops to tbb). False, with nothing launched, otherwise: the
// caller then composes the op (MUL_ADD from MUL and ADD) instead of taking the copying fallback.
bool run_without_copy(kiln_op op, const Device& device, std::initializer_list<Tensor> inputs,
                      std::initializer_list<Tensor> outputs, const void* attrs = nullptr);
// As run, but on one specific backend with no fallback (the conformance suite uses it).
void run_exact(BackendEntry* backend, kiln_op op, const std::vector<Tensor>& inputs,
               const std::vector<Tensor>& outputs, const void* attrs);
// Blocks until the device's queued work is done.
void synchronize(const Device& device);
// The KILN_PROFILE table (Note [Op profile] in dispatch.cpp); no-ops when profiling is off.
void reset_op_profile();
void print_op_profile();
// Note [Deferred errors] (dispatch.cpp): throws IndexError or DeviceError naming the failed op.
[[noreturn]] void throw_deferred_error(BackendEntry* b, DeviceEntry& dev, const std::string& where, kiln_status s,
                                       uint64_t failed_launch);
// Copies `bytes` between two storages on any devices, in stream order (Note [Transfers] in
// transfer.cpp). With side_stream, a copy to a device runs on the device's copy stream and the
// device's main stream waits for it (Tensor::to(device, true)).
void copy_storage(const Storage& src, size_t src_offset, const Storage& dst, size_t dst_offset, size_t bytes,
                  bool side_stream = false);
// Copies bytes out of (into) a tensor's storage, in stream order with its device's work.
void read_bytes(const Tensor& t, size_t byte_offset, void* dst, size_t bytes);
void write_bytes(const Tensor& t, size_t byte_offset, const void* src, size_t bytes);

// Checks that all tensors are on devices an op may mix (the same device, or host memory only).
void check_same_device(const char* op, std::initializer_list<Tensor> tensors);

}  // namespace kiln::detail
