// The CUDA backend plugin's C table: devices, buffers, streams, supports() and launch dispatch.
// Kernels are in the .cu files, cuBLAS in matmul.cpp, cuDNN in conv.cpp.
#include "device.hpp"
#include "ops.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>
#include <vector>

namespace kiln::cuda {

// ---------------------------------------------------------------------------------------------
// The op catalogue, expanded from ops.def.
namespace {

enum class Kind { UNARY, SCALAR_UNARY, BINARY, COMPARE, TERNARY, REDUCE, ARGREDUCE, MATMUL, CONV, POOL, SOFTMAX, INDEX, CAST, FILL, COPY, RANDOM };
// Whether an op's attribute struct is required (every attrs column but NONE).
constexpr bool kAttrs_NONE = false, kAttrs_SCALAR = true, kAttrs_REDUCE = true, kAttrs_AXIS = true,
               kAttrs_CONV2D = true, kAttrs_POOL2D = true, kAttrs_EMBEDDING = true, kAttrs_RANDOM = true;

struct OpInfo {
  const char* name;
  int32_t num_inputs;
  int32_t num_outputs;
  Kind kind;
  bool needs_attrs;
};

constexpr OpInfo kOps[] = {
#define KILN_OP(id, name, nin, nout, attrs, kind) {name, nin, nout, Kind::kind, kAttrs_##attrs},
#include <kiln/plugin/ops.def>
#undef KILN_OP
};
static_assert(sizeof(kOps) / sizeof(kOps[0]) == KILN_OP_COUNT);

bool is_float(int32_t t) { return t == KILN_DTYPE_FLOAT32 || t == KILN_DTYPE_FLOAT64; }
bool is_numeric(int32_t t) { return t >= KILN_DTYPE_FLOAT32 && t <= KILN_DTYPE_UINT8; }
bool is_any(int32_t t) { return t >= 0 && t < KILN_DTYPE_COUNT; }
bool all_same(const int32_t* d, int32_t n) {
  for (int32_t i = 1; i < n; ++i)
    if (d[i] != d[0]) return false;
  return true;
}

// Exactly what launch() runs. dtypes are the inputs' then the outputs'.
bool supports_impl(kiln_op op, const int32_t* d, int32_t n, const void* attrs) {
  if (op < 0 || op >= KILN_OP_COUNT) return false;
  const OpInfo& info = kOps[op];
  if (n != info.num_inputs + info.num_outputs || (n > 0 && d == nullptr)) return false;
  for (int32_t i = 0; i < n; ++i)
    if (!is_any(d[i])) return false;
  switch (op) {
    // numeric (int32, int64, uint8, float32, float64), one dtype in and out
    case KILN_OP_NEG: case KILN_OP_ABS: case KILN_OP_SIGN: case KILN_OP_FLOOR: case KILN_OP_RELU:
    case KILN_OP_ADD_SCALAR: case KILN_OP_MUL_SCALAR: case KILN_OP_CLAMP: case KILN_OP_LEAKY_RELU:
    case KILN_OP_ADD: case KILN_OP_SUB: case KILN_OP_MUL: case KILN_OP_DIV: case KILN_OP_MAXIMUM: case KILN_OP_MINIMUM:
    case KILN_OP_SUM: case KILN_OP_PROD: case KILN_OP_MAX: case KILN_OP_MIN:
      return all_same(d, n) && is_numeric(d[0]);
    // floating point only
    case KILN_OP_EXP: case KILN_OP_LOG: case KILN_OP_SQRT: case KILN_OP_RSQRT: case KILN_OP_SIN: case KILN_OP_COS:
    case KILN_OP_SIGMOID: case KILN_OP_TANH: case KILN_OP_GELU: case KILN_OP_ERF: case KILN_OP_POW_SCALAR:
    case KILN_OP_POW: case KILN_OP_GELU_BACKWARD: case KILN_OP_RELU_BACKWARD: case KILN_OP_MEAN: case KILN_OP_LOGSUMEXP: case KILN_OP_VAR:
    case KILN_OP_MATMUL:  // integer matmul: the host falls back to a host backend
    case KILN_OP_CONV2D: case KILN_OP_CONV2D_BACKWARD_INPUT: case KILN_OP_CONV2D_BACKWARD_WEIGHT:
    case KILN_OP_AVGPOOL2D: case KILN_OP_AVGPOOL2D_BACKWARD:
    case KILN_OP_SOFTMAX: case KILN_OP_LOG_SOFTMAX: case KILN_OP_SOFTMAX_BACKWARD: case KILN_OP_LOG_SOFTMAX_BACKWARD:
    case KILN_OP_NORMAL: case KILN_OP_MUL_ADD:
      if (op == KILN_OP_CONV2D || op == KILN_OP_CONV2D_BACKWARD_INPUT || op == KILN_OP_CONV2D_BACKWARD_WEIGHT) {
        const auto* c = static_cast<const kiln_conv2d_attrs*>(attrs);
        if (c && (c->groups < 1 || c->stride[0] < 1 || c->stride[1] < 1 || c->dilation[0] < 1 ||
                  c->dilation[1] < 1 || c->padding[0] < 0 || c->padding[1] < 0))
          return false;
      }
      return all_same(d, n) && is_float(d[0]);
    case KILN_OP_LOGICAL_NOT: return d[1] == KILN_DTYPE_BOOL;
    case KILN_OP_EQ: case KILN_OP_NE: case KILN_OP_LT: case KILN_OP_LE: case KILN_OP_GT: case KILN_OP_GE:
      return d[0] == d[1] && d[2] == KILN_DTYPE_BOOL;
    case KILN_OP_WHERE: return d[0] == KILN_DTYPE_BOOL && d[1] == d[2] && d[2] == d[3];
    case KILN_OP_ARGMAX: case KILN_OP_ARGMIN: return is_numeric(d[0]) && d[1] == KILN_DTYPE_INT64;
    case KILN_OP_MAXPOOL2D: return is_float(d[0]) && d[1] == d[0] && d[2] == KILN_DTYPE_INT64;
    case KILN_OP_MAXPOOL2D_BACKWARD: return is_float(d[0]) && d[1] == KILN_DTYPE_INT64 && d[2] == d[0];
    case KILN_OP_GATHER: case KILN_OP_INDEX_SELECT: case KILN_OP_EMBEDDING:
      return d[1] == KILN_DTYPE_INT64 && d[2] == d[0];
    case KILN_OP_SCATTER_ADD: return is_numeric(d[0]) && d[1] == KILN_DTYPE_INT64 && d[2] == d[0] && d[3] == d[0];
    case KILN_OP_EMBEDDING_BACKWARD: return is_float(d[0]) && d[1] == KILN_DTYPE_INT64 && d[2] == d[0];
    case KILN_OP_CAST: return true;
    case KILN_OP_FILL: return true;
    case KILN_OP_COPY: return d[0] == d[1];
    case KILN_OP_UNIFORM: return is_numeric(d[0]);
    case KILN_OP_BERNOULLI: return true;
    default: return false;  // an op appended to ops.def after this backend was written
  }
}

// ---------------------------------------------------------------------------------------------
// The backend object behind the C table.
class Backend {
 public:
  void initialize(const kiln_host_api* host) {
    host_ = host;
    std::call_once(devices_once_, [&] { find_devices(); });
  }
  int32_t device_count() const { return static_cast<int32_t>(devices_.size()); }
  Device* device(int32_t i) const { return devices_[static_cast<size_t>(i)].get(); }
  const char* status_note() const { return devices_.empty() ? note_.c_str() : nullptr; }
  void log(kiln_log_level level, const std::string& message) const {
    if (host_ && host_->struct_size >= offsetof(kiln_host_api, log) + sizeof(host_->log) && host_->log)
      host_->log(level, message.c_str());
  }
  kiln_backend_api api{};

 private:
  void find_devices() {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      int runtime = 0, driver = 0;
      cudaRuntimeGetVersion(&runtime);
      cudaDriverGetVersion(&driver);
      std::ostringstream os;
      if (err == cudaErrorNoDevice)
        os << "no CUDA device";
      else if (driver == 0)
        os << "no CUDA driver found";
      else if (err == cudaErrorInsufficientDriver)
        os << "the CUDA driver is too old for this plugin";
      else
        os << "CUDA is unavailable";
      os << " (cudaGetDeviceCount: " << cudaGetErrorName(err) << ": " << cudaGetErrorString(err)
         << "; runtime " << runtime << ", driver " << driver << ")";
      note_ = os.str();
      (void)cudaGetLastError();
      return;
    }
    if (count == 0) {
      note_ = "no CUDA device (cudaGetDeviceCount returned 0)";
      return;
    }
    for (int i = 0; i < count; ++i) devices_.push_back(std::make_unique<Device>(i));
  }

  const kiln_host_api* host_ = nullptr;
  std::once_flag devices_once_;
  std::vector<std::unique_ptr<Device>> devices_;
  std::string note_;
};

Backend& backend() {
  // Never destroyed: plugins stay loaded for the life of the process, and freeing CUDA objects
  // from a static destructor after the driver has shut down crashes.
  static Backend* instance = new Backend;
  return *instance;
}

kiln_status set_error(kiln_status status, const std::string& message) {
  plugin::last_error_slot() = message;
  return status;
}

template <typename Fn>
kiln_status guard(Fn&& fn) noexcept {
  return plugin::HostBackend::guard(static_cast<Fn&&>(fn));
}

std::string describe_dtypes(const kiln_tensor_desc* in, int32_t nin, const kiln_tensor_desc* out, int32_t nout) {
  std::string s = "(";
  for (int32_t i = 0; i < nin; ++i) s += std::string(i ? ", " : "") + dtype_name(in[i].dtype);
  s += ") -> (";
  for (int32_t i = 0; i < nout; ++i) s += std::string(i ? ", " : "") + dtype_name(out[i].dtype);
  return s + ")";
}

void validate(kiln_op op, const kiln_tensor_desc* in, int32_t nin, const kiln_tensor_desc* out, int32_t nout,
              const void* attrs) {
  const OpInfo& info = kOps[op];
  if (nin != info.num_inputs || nout != info.num_outputs)
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", info.name, " takes ", info.num_inputs, " inputs and ",
         info.num_outputs, " outputs, got ", nin, " and ", nout);
  if ((nin > 0 && in == nullptr) || (nout > 0 && out == nullptr))
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", info.name, ": null tensor descriptor array");
  if (info.needs_attrs && attrs == nullptr)
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", info.name, ": attributes are required but attrs is NULL");
  int32_t dtypes[16] = {};
  for (int32_t i = 0; i < nin + nout; ++i) {
    const kiln_tensor_desc& t = i < nin ? in[i] : out[i - nin];
    if (t.ndim < 0 || t.ndim > KILN_MAX_DIMS)
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", info.name, ": tensor ", i, " has ndim ", t.ndim, ", expected 0..",
           KILN_MAX_DIMS);
    for (int32_t k = 0; k < t.ndim; ++k)
      if (t.shape[k] < 0) fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", info.name, ": negative extent in tensor ", i);
    if (t.data == nullptr && numel(t) > 0)
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", info.name, ": tensor ", i, " has no data pointer");
    dtypes[i] = t.dtype;
  }
  if (!supports_impl(op, dtypes, nin + nout, attrs))
    fail(KILN_STATUS_UNSUPPORTED, "cuda: ", info.name, " is not supported for dtypes ",
         describe_dtypes(in, nin, out, nout));
}

void dispatch(const Context& ctx, const kiln_tensor_desc* in, int32_t nin, const kiln_tensor_desc* out,
              const void* attrs) {
  switch (kOps[ctx.op].kind) {
    case Kind::UNARY: case Kind::SCALAR_UNARY: case Kind::BINARY: case Kind::COMPARE: case Kind::TERNARY:
      return run_pointwise(ctx, in, nin, out[0], attrs);
    case Kind::REDUCE: return run_reduce(ctx, in[0], out[0], *static_cast<const kiln_reduce_attrs*>(attrs));
    case Kind::ARGREDUCE: return run_argreduce(ctx, in[0], out[0], *static_cast<const kiln_reduce_attrs*>(attrs));
    case Kind::MATMUL: return run_matmul(ctx, in[0], in[1], out[0]);
    case Kind::CONV: return run_conv(ctx, in[0], in[1], out[0], *static_cast<const kiln_conv2d_attrs*>(attrs));
    case Kind::POOL: return run_pool(ctx, in, out, *static_cast<const kiln_pool2d_attrs*>(attrs));
    case Kind::SOFTMAX: return run_softmax(ctx, in, nin, out[0], *static_cast<const kiln_axis_attrs*>(attrs));
    case Kind::INDEX: return run_index(ctx, in, out[0], attrs);
    case Kind::CAST: return run_cast(ctx, in[0], out[0]);
    case Kind::FILL: return run_fill(ctx, out[0], *static_cast<const kiln_scalar_attrs*>(attrs));
    case Kind::COPY: return run_copy(ctx, in[0], out[0]);
    case Kind::RANDOM: return run_random(ctx, out[0], *static_cast<const kiln_random_attrs*>(attrs));
  }
  fail(KILN_STATUS_INTERNAL, "cuda: ", ctx.op_name, ": no implementation (this is a bug in the cuda backend)");
}

kiln_status launch(kiln_stream_t handle, kiln_op op, const kiln_tensor_desc* in, int32_t nin,
                   const kiln_tensor_desc* out, int32_t nout, const void* attrs) {
  return guard([&] {
    auto* stream = reinterpret_cast<Stream*>(handle);
    if (stream == nullptr) fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: launch on a null stream");
    if (op < 0 || op >= KILN_OP_COUNT) fail(KILN_STATUS_UNSUPPORTED, "cuda: unknown op ", static_cast<int>(op));
    report_index_errors(stream);
    validate(op, in, nin, out, nout, attrs);
    Device* device = stream->device;
    device->make_current();
    Allocator& allocator = device->allocator();
    if (allocator.multi_stream()) {
      for (int32_t i = 0; i < nin; ++i) allocator.touch(in[i].data, stream, stream->stream);
      for (int32_t i = 0; i < nout; ++i) allocator.touch(out[i].data, stream, stream->stream);
    }
    Context ctx{device, stream, stream->stream, op, kOps[op].name};
    dispatch(ctx, in, nin, out, attrs);
  });
}

// ---- devices, buffers, streams ----
kiln_status device_get(kiln_backend_t, int32_t index, kiln_device_t* out) {
  if (out == nullptr) return set_error(KILN_STATUS_INVALID_ARGUMENT, "cuda: device_get: out is NULL");
  if (index < 0 || index >= backend().device_count())
    return set_error(backend().device_count() ? KILN_STATUS_INVALID_ARGUMENT : KILN_STATUS_NO_DEVICE,
                     "cuda: device index " + std::to_string(index) + " out of range (" +
                         std::to_string(backend().device_count()) + " devices" +
                         (backend().status_note() ? std::string(": ") + backend().status_note() : "") + ")");
  *out = reinterpret_cast<kiln_device_t>(backend().device(index));
  return KILN_STATUS_OK;
}

kiln_status device_props(kiln_device_t handle, kiln_device_props* p) {
  return guard([&] {
    auto* device = reinterpret_cast<Device*>(handle);
    if (device == nullptr || p == nullptr) fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: device_props: null argument");
    cudaDeviceProp prop{};
    cudaError_t err = cudaGetDeviceProperties(&prop, device->index());
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      fail(KILN_STATUS_DEVICE_ERROR, "cuda: cudaGetDeviceProperties(", device->index(), "): ", cudaGetErrorString(err));
    }
    std::memset(p, 0, sizeof(*p));
    p->struct_size = sizeof(kiln_device_props);
    p->abi_version = KILN_ABI_VERSION;
    std::memcpy(p->name, prop.name, std::min(std::strlen(prop.name), sizeof(p->name) - 1));
    p->kind = KILN_DEVICE_GPU;
    p->host_accessible = 0;
    p->total_memory = prop.totalGlobalMem;
    device->make_current();
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
      p->free_memory = free_bytes;
      p->total_memory = total_bytes;
    }
    (void)cudaGetLastError();
    p->compute_units = prop.multiProcessorCount;
  });
}

kiln_status buffer_alloc(kiln_device_t handle, uint64_t bytes, kiln_buffer_t* out) {
  return guard([&] {
    auto* device = reinterpret_cast<Device*>(handle);
    if (device == nullptr || out == nullptr) fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: buffer_alloc: null argument");
    *out = reinterpret_cast<kiln_buffer_t>(device->allocator().allocate(bytes));
  });
}

void buffer_free(kiln_buffer_t handle) {
  auto* block = reinterpret_cast<Block*>(handle);
  if (block == nullptr) return;
  (void)guard([&] { block->device->allocator().release(block); });
}

void* buffer_data(kiln_buffer_t handle) {
  auto* block = reinterpret_cast<Block*>(handle);
  return block ? block->ptr : nullptr;
}

kiln_status buffer_copy(kiln_buffer_t handle, uint64_t offset, void* host, uint64_t bytes, bool to_device) {
  return guard([&] {
    auto* block = reinterpret_cast<Block*>(handle);
    const char* what = to_device ? "buffer_write" : "buffer_read";
    if (block == nullptr || (bytes > 0 && host == nullptr))
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", what, ": null argument");
    if (offset > block->requested || bytes > block->requested - offset)
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", what, " of ", bytes, " bytes at offset ", offset,
           " overruns a buffer of ", block->requested, " bytes");
    if (bytes == 0) return;
    block->device->make_current();
    char* device_ptr = static_cast<char*>(block->ptr) + offset;
    // The legacy default stream: ordered after (and before) the work of every blocking stream,
    // so a read sees every kernel launched before it. Pageable host memory makes it synchronous.
    if (to_device && block->device->staging.upload(device_ptr, host, bytes)) return;  // Note [Pinned staging]
    cudaError_t err = to_device ? cudaMemcpy(device_ptr, host, bytes, cudaMemcpyHostToDevice)
                                : cudaMemcpy(host, device_ptr, bytes, cudaMemcpyDeviceToHost);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      fail(KILN_STATUS_DEVICE_ERROR, "cuda: ", what, " of ", bytes, " bytes: ", cudaGetErrorName(err), ": ",
           cudaGetErrorString(err));
    }
  });
}

kiln_status stream_create(kiln_device_t handle, kiln_stream_t* out) {
  return guard([&] {
    auto* device = reinterpret_cast<Device*>(handle);
    if (device == nullptr || out == nullptr) fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: stream_create: null argument");
    std::lock_guard<std::mutex> lock(device->stream_mutex);
    device->make_current();
    auto check = [](cudaError_t err, const char* what) {
      if (err != cudaSuccess) {
        (void)cudaGetLastError();
        fail(err == cudaErrorMemoryAllocation ? KILN_STATUS_OUT_OF_MEMORY : KILN_STATUS_DEVICE_ERROR,
             "cuda: stream_create: ", what, ": ", cudaGetErrorName(err), ": ", cudaGetErrorString(err));
      }
    };
    if (device->live_streams.load() >= 1 && !device->allocator().multi_stream()) {
      // See Note [Stream ordering of reused blocks]: start tracking with nothing in flight.
      check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
      device->allocator().enter_multi_stream();
    }
    auto stream = std::make_unique<Stream>();
    stream->device = device;
    check(cudaStreamCreate(&stream->stream), "cudaStreamCreate");
    // Note [Deferred index errors]
    cudaError_t err = cudaHostAlloc(reinterpret_cast<void**>(&stream->index_errors), KILN_OP_COUNT * sizeof(int),
                                    cudaHostAllocMapped);
    if (err == cudaSuccess) {
      std::memset(stream->index_errors, 0, KILN_OP_COUNT * sizeof(int));
      err = cudaHostGetDevicePointer(reinterpret_cast<void**>(&stream->index_errors_device), stream->index_errors, 0);
    }
    if (err != cudaSuccess) {
      if (stream->index_errors) cudaFreeHost(stream->index_errors);
      cudaStreamDestroy(stream->stream);
      check(err, "allocating the stream's index error flags");
    }
    ++device->live_streams;
    *out = reinterpret_cast<kiln_stream_t>(stream.release());
  });
}

void stream_destroy(kiln_stream_t handle) {
  auto* stream = reinterpret_cast<Stream*>(handle);
  if (stream == nullptr) return;
  Device* device = stream->device;
  std::lock_guard<std::mutex> lock(device->stream_mutex);
  device->make_current();
  cudaStreamSynchronize(stream->stream);
  device->allocator().forget_stream(stream);
  cudaFreeHost(stream->index_errors);
  cudaStreamDestroy(stream->stream);
  (void)cudaGetLastError();
  --device->live_streams;
  delete stream;
}

kiln_status stream_synchronize(kiln_stream_t handle) {
  auto* stream = reinterpret_cast<Stream*>(handle);
  if (stream == nullptr) return set_error(KILN_STATUS_INVALID_ARGUMENT, "cuda: stream_synchronize: null stream");
  stream->device->make_current();
  cudaError_t err = cudaStreamSynchronize(stream->stream);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    return set_error(KILN_STATUS_DEVICE_ERROR,
                     std::string("cuda: stream_synchronize: an earlier kernel failed: ") + cudaGetErrorName(err) +
                         ": " + cudaGetErrorString(err));
  }
  return guard([&] { report_index_errors(stream); });
}

int32_t supports(kiln_backend_t, kiln_op op, const int32_t* dtypes, int32_t n, const void* attrs) {
  try {
    return supports_impl(op, dtypes, n, attrs) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Helpers declared in common.hpp / device.hpp.
bool UploadStaging::upload(void* dst, const void* src, size_t bytes) {
  constexpr size_t kMaxUpload = size_t{64} << 20, kMaxTotal = size_t{256} << 20, kMinChunk = size_t{1} << 20;
  if (bytes > kMaxUpload) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  Chunk* pick = nullptr;
  for (Chunk& c : chunks_)  // the smallest free chunk that fits (a never-recorded event counts as done)
    if (c.size >= bytes && (pick == nullptr || c.size < pick->size) && cudaEventQuery(c.done) == cudaSuccess) pick = &c;
  if (pick == nullptr) {
    size_t size = kMinChunk;
    while (size < bytes) size *= 2;
    if (total_ + size > kMaxTotal) return false;
    Chunk c{nullptr, size, nullptr};
    if (cudaHostAlloc(&c.host, size, cudaHostAllocDefault) != cudaSuccess) {
      (void)cudaGetLastError();
      return false;  // no pinned memory to be had: copy synchronously
    }
    if (cudaEventCreateWithFlags(&c.done, cudaEventDisableTiming) != cudaSuccess) {
      (void)cudaGetLastError();
      cudaFreeHost(c.host);
      return false;
    }
    chunks_.push_back(c);
    total_ += size;
    pick = &chunks_.back();
  }
  std::memcpy(pick->host, src, bytes);
  cudaError_t err = cudaMemcpyAsync(dst, pick->host, bytes, cudaMemcpyHostToDevice, nullptr);
  if (err == cudaSuccess) err = cudaEventRecord(pick->done, nullptr);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    fail(KILN_STATUS_DEVICE_ERROR, "cuda: buffer_write of ", bytes, " bytes (pinned staging): ", cudaGetErrorName(err),
         ": ", cudaGetErrorString(err));
  }
  return true;
}

void Device::make_current() {
  // Every launch calls this; cudaGetDevice is a thread-local read, cheaper than cudaSetDevice.
  int current = -1;
  if (cudaGetDevice(&current) == cudaSuccess && current == index_) return;
  cudaError_t err = cudaSetDevice(index_);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    fail(KILN_STATUS_DEVICE_ERROR, "cuda: cudaSetDevice(", index_, "): ", cudaGetErrorName(err), ": ",
         cudaGetErrorString(err));
  }
}

void check_cuda(cudaError_t err, const Context& ctx, const char* what) {
  if (err == cudaSuccess) return;
  (void)cudaGetLastError();
  const bool oom = err == cudaErrorMemoryAllocation;
  fail(oom ? KILN_STATUS_OUT_OF_MEMORY : KILN_STATUS_DEVICE_ERROR, "cuda: ", ctx.op_name, ": ", what,
       " failed: ", cudaGetErrorName(err), ": ", cudaGetErrorString(err),
       oom ? "" : " (an asynchronous error may come from an earlier launch on this device)");
}

int* device_error_flag(const Context& ctx) { return ctx.stream->index_errors_device + ctx.op; }

void note_index_launch(const Context& ctx, int64_t bound, const kiln_tensor_desc& indexed) {
  ctx.stream->last_index_launch[ctx.op] = IndexLaunch{bound, indexed};
}

void report_index_errors(Stream* stream) {
  volatile int* flags = stream->index_errors;
  for (int op = 0; op < KILN_OP_COUNT; ++op) {
    if (flags[op] == 0) continue;
    flags[op] = 0;
    const IndexLaunch& l = stream->last_index_launch[op];
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", kOps[op].name, ": index out of range [0, ", l.bound,
         ") for tensor of shape ", shape_string(l.indexed),
         " (found by the GPU's bounds check after the launch and reported at the next call on the stream)");
  }
}

const char* dtype_name(int32_t dtype) {
  switch (dtype) {
    case KILN_DTYPE_FLOAT32: return "float32";
    case KILN_DTYPE_FLOAT64: return "float64";
    case KILN_DTYPE_INT32: return "int32";
    case KILN_DTYPE_INT64: return "int64";
    case KILN_DTYPE_UINT8: return "uint8";
    case KILN_DTYPE_BOOL: return "bool";
    default: return "unknown dtype";
  }
}

std::string shape_string(const kiln_tensor_desc& d) {
  std::string s = "[";
  for (int32_t i = 0; i < d.ndim; ++i) s += (i ? ", " : "") + std::to_string(d.shape[i]);
  return s + "]";
}

bool same_shape(const kiln_tensor_desc& a, const kiln_tensor_desc& b) {
  if (a.ndim != b.ndim) return false;
  for (int32_t i = 0; i < a.ndim; ++i)
    if (a.shape[i] != b.shape[i]) return false;
  return true;
}

}  // namespace kiln::cuda

// ---------------------------------------------------------------------------------------------
extern "C" KILN_PLUGIN_EXPORT kiln_status kiln_backend_init(const kiln_host_api* host, uint32_t host_abi_version,
                                                            const kiln_backend_api** out_api) {
  using namespace kiln::cuda;
  if (out_api == nullptr) return KILN_STATUS_INVALID_ARGUMENT;
  if (host_abi_version < 1) return set_error(KILN_STATUS_UNSUPPORTED, "cuda: host ABI version 0 is not supported");
  return guard([&] {
    Backend& b = backend();
    b.initialize(host);
    kiln_backend_api& api = b.api;
    api = kiln_backend_api{
        .struct_size = sizeof(kiln_backend_api),
        .abi_version = KILN_ABI_VERSION,
        .name = "cuda",
        .version = "0.1.0",
        .priority = 100,
        .backend = reinterpret_cast<kiln_backend_t>(&b),
        .last_error = [](kiln_backend_t) -> const char* { return kiln::plugin::last_error_slot().c_str(); },
        .status_note = [](kiln_backend_t) -> const char* { return backend().status_note(); },
        .device_count = [](kiln_backend_t) -> int32_t { return backend().device_count(); },
        .device_get = device_get,
        .device_props = device_props,
        .buffer_alloc = buffer_alloc,
        .buffer_free = buffer_free,
        .buffer_data = buffer_data,
        .buffer_write = [](kiln_buffer_t buf, uint64_t offset, const void* src, uint64_t bytes) {
          return buffer_copy(buf, offset, const_cast<void*>(src), bytes, true);
        },
        .buffer_read = [](kiln_buffer_t buf, uint64_t offset, void* dst, uint64_t bytes) {
          return buffer_copy(buf, offset, dst, bytes, false);
        },
        .stream_create = stream_create,
        .stream_destroy = stream_destroy,
        .stream_synchronize = stream_synchronize,
        .supports = supports,
        .launch = launch,
    };
    if (b.device_count() == 0) b.log(KILN_LOG_INFO, std::string("cuda: ") + b.status_note());
    *out_api = &api;
  });
}
