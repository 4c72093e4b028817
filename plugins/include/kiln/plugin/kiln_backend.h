/* Kiln backend plugin ABI, version 2 (hosts load plugins of version 1 and 2).
 *
 * A backend plugin is a shared library exporting
 *
 *   kiln_status kiln_backend_init(const kiln_host_api* host, uint32_t host_abi_version,
 *                                 const kiln_backend_api** out_api);
 *   int32_t kiln_backend_score(void);            (optional)
 *
 * Plain C (C99), no dependency. Nothing crosses the boundary but PODs, opaque handles and
 * function pointers: no exception, no STL type, no allocation whose ownership moves.
 *
 * Versioning: the host, device-props and backend-table structs start with
 * `uint32_t struct_size; uint32_t abi_version;`; every tensor descriptor, launch descriptor and
 * attribute struct starts with `uint32_t struct_size;` (the writer's sizeof). A reader reads a field
 * only when struct_size covers it. Tables only ever grow at the end; the host never calls a slot
 * past the plugin's struct_size, and never a v2 slot of a plugin that declares abi_version 1.
 * A plugin whose abi_version is newer than the host's is refused with a message naming both.
 *
 * What changed from v1 (tests/plugins/v1/kiln_backend_v1.h is the frozen v1 header):
 *  - kiln_tensor_desc starts with struct_size and names its buffer and byte offset; the v1 layout
 *    is kept as kiln_tensor_desc_v1, which is what the v1 slots `launch` receives.
 *  - every attribute struct starts with `uint32_t struct_size; uint32_t reserved;`, then the v1
 *    fields unchanged: the v1 layout begins at KILN_ATTRS_V1_OFFSET (8), and the host passes
 *    (const char*)attrs + 8 to a v1 plugin.
 *  - kiln_launch_desc carries one launch; launch_v2 and device_supports take it.
 *  - events, stream-ordered and peer copies, pinned host memory, host-memory import, deferred
 *    error attribution (stream_failed_launch); device props caches_memory/async/max_streams.
 *  - dtypes FLOAT16 and BFLOAT16; statuses INDEX_OUT_OF_RANGE and NOT_READY.
 *
 * Errors: calls return a kiln_status; on failure the backend's last_error() returns a message
 * (thread-local in the plugin, valid until the next call on that thread).
 *
 * Threading contract (the host obeys it; a plugin may rely on it and must allow what it permits):
 *  - Any thread, concurrently: device_count, device_get, device_props, buffer_alloc/free/data,
 *    host_alloc/free, buffer_import_host, event_create/destroy, event_query, event_synchronize,
 *    supports, device_supports, last_error (thread-local), stream_create/destroy (of distinct
 *    streams), buffer_read/buffer_write on distinct buffers (or disjoint ranges of one buffer).
 *  - One thread at a time per stream: launch, launch_v2, buffer_write_async, buffer_read_async,
 *    buffer_copy, buffer_copy_peer, event_record, stream_wait_event, stream_synchronize and
 *    stream_failed_launch on that stream. The host serializes them per stream; distinct streams
 *    may be driven from distinct threads at once.
 *  - Kernels may run concurrently with host calls on other streams; a plugin must not keep
 *    unsynchronized global mutable state.
 */
#ifndef KILN_PLUGIN_KILN_BACKEND_H
#define KILN_PLUGIN_KILN_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_ABI_VERSION 2u
#define KILN_ABI_VERSION_MIN 1u /* the oldest plugin ABI the host loads */
#define KILN_MAX_DIMS 8

#if defined(_WIN32)
#define KILN_PLUGIN_EXPORT __declspec(dllexport)
#else
#define KILN_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* Compile-time layout checks that work in C99, C11 and C++. */
#if defined(__cplusplus)
#define KILN_STATIC_ASSERT(cond, name) static_assert(cond, #name)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define KILN_STATIC_ASSERT(cond, name) _Static_assert(cond, #name)
#else
#define KILN_STATIC_ASSERT(cond, name) typedef char kiln_static_assert_##name[(cond) ? 1 : -1]
#endif

typedef enum kiln_status {
  KILN_STATUS_OK = 0,
  KILN_STATUS_UNSUPPORTED = 1,      /* op/dtype/attrs not implemented by this backend */
  KILN_STATUS_INVALID_ARGUMENT = 2, /* bad shapes, counts, attributes, ... */
  KILN_STATUS_OUT_OF_MEMORY = 3,
  KILN_STATUS_DEVICE_ERROR = 4,     /* driver or runtime failure */
  KILN_STATUS_NO_DEVICE = 5,
  KILN_STATUS_INTERNAL = 6,
  /* v2 */
  KILN_STATUS_INDEX_OUT_OF_RANGE = 7, /* an index tensor holds a value outside its dimension; the
                                         message names the value, its position and the valid range
                                         (the host raises kiln::IndexError) */
  KILN_STATUS_NOT_READY = 8           /* event_query: the recorded work has not finished (not an error) */
} kiln_status;

typedef enum kiln_dtype {
  KILN_DTYPE_FLOAT32 = 0,
  KILN_DTYPE_FLOAT64 = 1,
  KILN_DTYPE_INT32 = 2,
  KILN_DTYPE_INT64 = 3,
  KILN_DTYPE_UINT8 = 4,
  KILN_DTYPE_BOOL = 5,     /* one byte, 0 or 1 */
  /* v2 */
  KILN_DTYPE_FLOAT16 = 6,  /* IEEE 754 binary16, stored as uint16_t (see kiln_f16_to_f32) */
  KILN_DTYPE_BFLOAT16 = 7, /* the upper half of a float32, stored as uint16_t (kiln_bf16_to_f32) */
  KILN_DTYPE_COUNT = 8
} kiln_dtype;

typedef enum kiln_op {
#define KILN_OP(id, name, nin, nout, attrs, kind) KILN_OP_##id,
#include "ops.def"
#undef KILN_OP
  KILN_OP_COUNT
} kiln_op;

typedef enum kiln_device_kind { KILN_DEVICE_CPU = 0, KILN_DEVICE_GPU = 1, KILN_DEVICE_OTHER = 2 } kiln_device_kind;

typedef enum kiln_log_level { KILN_LOG_DEBUG = 0, KILN_LOG_INFO = 1, KILN_LOG_WARN = 2, KILN_LOG_ERROR = 3 } kiln_log_level;

/* Opaque handles. */
typedef struct kiln_backend_s* kiln_backend_t;
typedef struct kiln_device_s* kiln_device_t;
typedef struct kiln_buffer_s* kiln_buffer_t;
typedef struct kiln_stream_s* kiln_stream_t;
typedef struct kiln_event_s* kiln_event_t; /* v2 */

/* A view of memory. Element (i0..in) lives at data + (offset + sum ik * strides[k]) * elsize.
 * Strides and offset are in elements; a stride may be 0 (broadcast) on inputs. */
typedef struct kiln_tensor_desc {
  uint32_t struct_size;   /* sizeof(kiln_tensor_desc) as the writer knows it */
  int32_t dtype;          /* kiln_dtype */
  int32_t ndim;           /* 0..KILN_MAX_DIMS; 0 is a scalar with one element */
  int32_t flags;          /* 0; reserved */
  void* data;             /* address of element 0 of the buffer region: buffer_data(buffer) +
                             byte_offset (NULL if the device has no addresses) */
  kiln_buffer_t buffer;   /* the buffer holding the elements; NULL only for host memory outside
                             any buffer */
  uint64_t byte_offset;   /* where `data` starts inside `buffer`, in bytes */
  int64_t offset;         /* in elements, from data (as v1) */
  int64_t shape[KILN_MAX_DIMS];
  int64_t strides[KILN_MAX_DIMS];
} kiln_tensor_desc;

/* The v1 descriptor, for the host's v1 path: what the `launch` slot of a v1 plugin receives.
 * `data` is the base address of the view (v2's data), offset in elements as above. */
typedef struct kiln_tensor_desc_v1 {
  void* data;
  int32_t dtype;
  int32_t ndim;
  int64_t offset;
  int64_t shape[KILN_MAX_DIMS];
  int64_t strides[KILN_MAX_DIMS];
} kiln_tensor_desc_v1;

/* ---- attribute structs (named by the attrs column of ops.def) ----
 * Each starts with `uint32_t struct_size; uint32_t reserved;` (the writer's sizeof, 0), then the
 * v1 fields unchanged and in the same order, so the v1 layout begins at byte KILN_ATTRS_V1_OFFSET.
 * kiln_<x>_attrs_init() returns a zeroed struct with struct_size set; KILN_ATTRS_HEAD(type) fills
 * the header in an initializer list. */
#define KILN_ATTRS_V1_OFFSET 8u

typedef struct kiln_scalar_attrs {
  uint32_t struct_size;
  uint32_t reserved;
  double a;
  double b;
} kiln_scalar_attrs;

typedef struct kiln_reduce_attrs {
  uint32_t struct_size;
  uint32_t reserved;
  int32_t num_axes;               /* 1..ndim; axes are distinct and in [0, ndim) */
  int32_t axes[KILN_MAX_DIMS];
  double correction;              /* VAR only: divisor n - correction */
} kiln_reduce_attrs;

typedef struct kiln_axis_attrs {
  uint32_t struct_size;
  uint32_t reserved;
  int32_t axis; /* in [0, ndim) */
} kiln_axis_attrs;

typedef struct kiln_conv2d_attrs {
  uint32_t struct_size;
  uint32_t reserved;
  int64_t stride[2];
  int64_t padding[2];
  int64_t dilation[2];
  int64_t groups;
} kiln_conv2d_attrs;

typedef struct kiln_pool2d_attrs {
  uint32_t struct_size;
  uint32_t reserved;
  int64_t kernel[2];
  int64_t stride[2];
  int64_t padding[2];
  int64_t dilation[2];      /* max pool only; 1 for avg pool */
  int32_t ceil_mode;        /* already reflected in the output shape the host passes */
  int32_t count_include_pad; /* avg pool: divisor counts padded cells (PyTorch's default: 1) */
} kiln_pool2d_attrs;

typedef struct kiln_embedding_attrs {
  uint32_t struct_size;
  uint32_t reserved;
  int64_t padding_idx; /* -1 = none; rows equal to it get no gradient */
} kiln_embedding_attrs;

/* Random fills. Element i of the output (row-major logical order) takes Philox4x32-10 with
 * key = (seed & 0xffffffff, seed >> 32) and counter = (c & 0xffffffff, c >> 32, 0, 0) where
 * c = offset + i, and maps the four words r0..r3 exactly as kiln_philox_* in philox.h do, so
 * every backend draws the same numbers for the same seed and offset. */
typedef struct kiln_random_attrs {
  uint32_t struct_size;
  uint32_t reserved;
  uint64_t seed;
  uint64_t offset;
  double a;
  double b;
} kiln_random_attrs;

/* The v1 fields start at byte 8 in every attribute struct (checked here, at compile time). */
KILN_STATIC_ASSERT(offsetof(kiln_scalar_attrs, a) == KILN_ATTRS_V1_OFFSET, kiln_scalar_attrs_v1_offset);
KILN_STATIC_ASSERT(offsetof(kiln_reduce_attrs, num_axes) == KILN_ATTRS_V1_OFFSET, kiln_reduce_attrs_v1_offset);
KILN_STATIC_ASSERT(offsetof(kiln_axis_attrs, axis) == KILN_ATTRS_V1_OFFSET, kiln_axis_attrs_v1_offset);
KILN_STATIC_ASSERT(offsetof(kiln_conv2d_attrs, stride) == KILN_ATTRS_V1_OFFSET, kiln_conv2d_attrs_v1_offset);
KILN_STATIC_ASSERT(offsetof(kiln_pool2d_attrs, kernel) == KILN_ATTRS_V1_OFFSET, kiln_pool2d_attrs_v1_offset);
KILN_STATIC_ASSERT(offsetof(kiln_embedding_attrs, padding_idx) == KILN_ATTRS_V1_OFFSET,
                   kiln_embedding_attrs_v1_offset);
KILN_STATIC_ASSERT(offsetof(kiln_random_attrs, seed) == KILN_ATTRS_V1_OFFSET, kiln_random_attrs_v1_offset);

/* The two header fields, for an initializer: kiln_scalar_attrs a = {KILN_ATTRS_HEAD(kiln_scalar_attrs), 2.5, 0}; */
#define KILN_ATTRS_HEAD(type) (uint32_t)sizeof(type), 0u

#define KILN_DEFINE_ATTRS_INIT(x)                      \
  static inline kiln_##x##_attrs kiln_##x##_attrs_init(void) { \
    kiln_##x##_attrs a;                                \
    memset(&a, 0, sizeof a);                           \
    a.struct_size = (uint32_t)sizeof a;                \
    return a;                                          \
  }
KILN_DEFINE_ATTRS_INIT(scalar)
KILN_DEFINE_ATTRS_INIT(reduce)
KILN_DEFINE_ATTRS_INIT(axis)
KILN_DEFINE_ATTRS_INIT(conv2d)
KILN_DEFINE_ATTRS_INIT(pool2d)
KILN_DEFINE_ATTRS_INIT(embedding)
KILN_DEFINE_ATTRS_INIT(random)
#undef KILN_DEFINE_ATTRS_INIT

/* ---- one launch (v2) ---- */
typedef struct kiln_launch_desc {
  uint32_t struct_size;
  int32_t op;                      /* kiln_op */
  int32_t num_inputs;
  int32_t num_outputs;
  uint32_t tensor_desc_size;       /* stride in bytes of the inputs/outputs arrays (the host's
                                      sizeof(kiln_tensor_desc)) */
  uint32_t reserved;
  const kiln_tensor_desc* inputs;
  const kiln_tensor_desc* outputs;
  const void* attrs;               /* the op's attribute struct (ops.def) or NULL */
  uint64_t launch_id;              /* host sequence number; stream_failed_launch names it again */
} kiln_launch_desc;

/* Input i / output i of a launch, honouring the writer's tensor_desc_size (a newer host's
 * descriptors are longer; only the fields this header knows are read through the result). */
static inline const kiln_tensor_desc* kiln_launch_input(const kiln_launch_desc* l, int32_t i) {
  return (const kiln_tensor_desc*)(const void*)((const char*)l->inputs + (size_t)i * l->tensor_desc_size);
}
static inline const kiln_tensor_desc* kiln_launch_output(const kiln_launch_desc* l, int32_t i) {
  return (const kiln_tensor_desc*)(const void*)((const char*)l->outputs + (size_t)i * l->tensor_desc_size);
}

/* ---- what the host gives the plugin ---- */
typedef struct kiln_host_api {
  uint32_t struct_size;
  uint32_t abi_version;
  const char* host_version; /* "0.1.0" */
  void (*log)(kiln_log_level level, const char* message);
} kiln_host_api;

typedef struct kiln_device_props {
  uint32_t struct_size;
  uint32_t abi_version;
  char name[128];             /* "Intel Xeon (2 threads)", "NVIDIA H200" */
  int32_t kind;               /* kiln_device_kind */
  int32_t host_accessible;    /* 1: buffer data pointers are host addresses any host backend may use */
  uint64_t total_memory;      /* bytes; 0 = unknown */
  uint64_t free_memory;       /* bytes; 0 = unknown */
  int32_t compute_units;      /* threads or SMs */
  /* v2 (read only when struct_size covers them; a v1 plugin's props end above) */
  int32_t caches_memory;      /* 1: the plugin keeps its own cache behind buffer_alloc/free and the
                                 host does not cache on top (cuda); 0: the host caches (host backends) */
  int32_t async;              /* 1: launches and *_async copies may return before the work is done */
  int32_t max_streams;        /* how many streams the device can usefully run; 0 = unlimited */
} kiln_device_props;

/* ---- what the plugin gives the host ---- */
typedef struct kiln_backend_api {
  uint32_t struct_size;
  uint32_t abi_version;
  const char* name;    /* short, lower-case, unique: "ref", "tbb", "blas", "cuda" */
  const char* version; /* the plugin's own version */
  int32_t priority;    /* among host backends, the higher runs an op first (ref 10, tbb 20, blas 30) */
  kiln_backend_t backend;

  const char* (*last_error)(kiln_backend_t backend);
  /* NULL when all is well, else why the backend has no usable device ("no CUDA driver found"). */
  const char* (*status_note)(kiln_backend_t backend);

  int32_t (*device_count)(kiln_backend_t backend);
  kiln_status (*device_get)(kiln_backend_t backend, int32_t index, kiln_device_t* out);
  kiln_status (*device_props)(kiln_device_t device, kiln_device_props* out);

  /* Memory. Alignment is a power of two >= 64 bytes. A zero-byte allocation returns a valid
   * buffer. buffer_write/read copy between host memory and the buffer and complete before return. */
  kiln_status (*buffer_alloc)(kiln_device_t device, uint64_t bytes, kiln_buffer_t* out);
  void (*buffer_free)(kiln_buffer_t buffer);
  void* (*buffer_data)(kiln_buffer_t buffer);
  kiln_status (*buffer_write)(kiln_buffer_t buffer, uint64_t offset, const void* src, uint64_t bytes);
  kiln_status (*buffer_read)(kiln_buffer_t buffer, uint64_t offset, void* dst, uint64_t bytes);

  /* Streams order launches on a device. Host backends may run synchronously. */
  kiln_status (*stream_create)(kiln_device_t device, kiln_stream_t* out);
  void (*stream_destroy)(kiln_stream_t stream);
  kiln_status (*stream_synchronize)(kiln_stream_t stream);

  /* v1: 1 if launch(op) would run for these dtypes (inputs then outputs) and attrs (may be NULL).
   * attrs has the v1 layout (no struct_size header). A v2 host asks device_supports instead. */
  int32_t (*supports)(kiln_backend_t backend, kiln_op op, const int32_t* dtypes, int32_t num_dtypes,
                      const void* attrs);
  /* v1: runs one op. Descriptors follow ops.def; attrs points to the op's attribute struct in its
   * v1 layout (the v2 struct + KILN_ATTRS_V1_OFFSET) or NULL. A v2 host calls launch_v2 instead
   * and calls this slot only on plugins that declare abi_version 1. */
  kiln_status (*launch)(kiln_stream_t stream, kiln_op op, const kiln_tensor_desc_v1* inputs,
                        int32_t num_inputs, const kiln_tensor_desc_v1* outputs, int32_t num_outputs,
                        const void* attrs);

  /* ---- v2: a plugin declaring abi_version 2 fills every slot below; what the hardware cannot do
   *      returns KILN_STATUS_UNSUPPORTED ---- */

  /* Events mark a point in a stream's work. */
  kiln_status (*event_create)(kiln_device_t device, kiln_event_t* out);
  void (*event_destroy)(kiln_event_t event);
  /* Captures the work submitted to `stream` so far (re-recording moves the mark). */
  kiln_status (*event_record)(kiln_event_t event, kiln_stream_t stream);
  /* Later work on `stream` waits for `event` (the host does not block). */
  kiln_status (*stream_wait_event)(kiln_stream_t stream, kiln_event_t event);
  /* The host blocks until the recorded work is done; returns its error if it failed. */
  kiln_status (*event_synchronize)(kiln_event_t event);
  /* KILN_STATUS_OK when done, KILN_STATUS_NOT_READY when not yet, or an error. */
  kiln_status (*event_query)(kiln_event_t event);

  /* Stream-ordered copies between host memory and a buffer. Host memory must stay valid (and, for
   * a write, unchanged) until the stream passes the copy; offsets and sizes are in bytes. */
  kiln_status (*buffer_write_async)(kiln_stream_t stream, kiln_buffer_t dst, uint64_t dst_offset, const void* src,
                                    uint64_t bytes);
  kiln_status (*buffer_read_async)(kiln_stream_t stream, kiln_buffer_t src, uint64_t src_offset, void* dst,
                                   uint64_t bytes);
  /* Device to device on one device, ordered on `stream`. Ranges must not overlap. */
  kiln_status (*buffer_copy)(kiln_stream_t stream, kiln_buffer_t src, uint64_t src_offset, kiln_buffer_t dst,
                             uint64_t dst_offset, uint64_t bytes);
  /* 1 if buffer_copy_peer may copy from `device`'s buffers to `peer`'s directly, else 0. */
  int32_t (*device_can_access_peer)(kiln_device_t device, kiln_device_t peer);
  /* Between two devices of this backend, ordered on `stream` (the dst device's). */
  kiln_status (*buffer_copy_peer)(kiln_stream_t stream, kiln_buffer_t src, uint64_t src_offset, kiln_buffer_t dst,
                                  uint64_t dst_offset, uint64_t bytes);

  /* Pinned host memory: page-locked staging for async host<->device copies (host backends: plain
   * aligned host memory). host_free takes NULL. */
  kiln_status (*host_alloc)(kiln_device_t device, uint64_t bytes, void** out);
  void (*host_free)(kiln_device_t device, void* ptr);
  /* Wraps caller-owned host memory (memory-mapped weights, say) as a buffer, no copy; UNSUPPORTED
   * when the device cannot address it. buffer_free releases the wrapper, never the memory. */
  kiln_status (*buffer_import_host)(kiln_device_t device, void* ptr, uint64_t bytes, kiln_buffer_t* out);

  /* 1 if launch_v2 would run this launch on `device` (full descriptors: dtypes, shapes, strides,
   * attrs); the host asks once per launch and then launches (or falls back). Descriptor data
   * pointers may be NULL here. */
  int32_t (*device_supports)(kiln_device_t device, const kiln_launch_desc* launch);
  /* Runs one op on `stream`; on an async device it may return before the op completes, and an
   * error found later is reported by stream_synchronize/event_synchronize. */
  kiln_status (*launch_v2)(kiln_stream_t stream, const kiln_launch_desc* launch);
  /* After stream_synchronize/event_synchronize failed with an error found late (deferred): the
   * launch_id of the launch that failed, 0 if unknown; reading clears it. */
  uint64_t (*stream_failed_launch)(kiln_stream_t stream);
} kiln_backend_api;

/* The size of a v1 backend table: a host accepts a v1 plugin whose struct_size covers it. */
#define KILN_BACKEND_API_V1_SIZE (offsetof(kiln_backend_api, launch) + sizeof(void (*)(void)))

/* Entry points a plugin exports. */
typedef kiln_status (*kiln_backend_init_fn)(const kiln_host_api* host, uint32_t host_abi_version,
                                            const kiln_backend_api** out_api);
/* Higher wins among plugins of the same name; <= 0 means "cannot run on this machine". */
typedef int32_t (*kiln_backend_score_fn)(void);

#define KILN_BACKEND_INIT_SYMBOL "kiln_backend_init"
#define KILN_BACKEND_SCORE_SYMBOL "kiln_backend_score"

/* ---- small helpers every backend needs ---- */
static inline size_t kiln_dtype_size(int32_t dtype) {
  switch (dtype) {
    case KILN_DTYPE_FLOAT32: return 4;
    case KILN_DTYPE_FLOAT64: return 8;
    case KILN_DTYPE_INT32: return 4;
    case KILN_DTYPE_INT64: return 8;
    case KILN_DTYPE_UINT8: return 1;
    case KILN_DTYPE_BOOL: return 1;
    case KILN_DTYPE_FLOAT16: return 2;
    case KILN_DTYPE_BFLOAT16: return 2;
    default: return 0;
  }
}

static inline int64_t kiln_desc_numel(const kiln_tensor_desc* d) {
  int64_t n = 1;
  for (int32_t i = 0; i < d->ndim; ++i) n *= d->shape[i];
  return n;
}

static inline int kiln_desc_is_contiguous(const kiln_tensor_desc* d) {
  int64_t expected = 1;
  for (int32_t i = d->ndim - 1; i >= 0; --i) {
    if (d->shape[i] != 1 && d->strides[i] != expected) return 0;
    expected *= d->shape[i];
  }
  return 1;
}

/* ---- half-precision conversions (bit patterns held in uint16_t) ----
 * To float32: exact. From float32: round to nearest, ties to even; overflow gives +-inf, values
 * below the smallest subnormal round to +-0, subnormals are produced, NaN stays a (quiet) NaN. */
static inline uint32_t kiln_f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}
static inline float kiln_f32_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static inline float kiln_f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1fu) return kiln_f32_from_bits(sign | 0x7f800000u | (mantissa << 13)); /* inf, NaN */
  if (exponent == 0) {
    if (mantissa == 0) return kiln_f32_from_bits(sign); /* +-0 */
    exponent = 113;                                     /* subnormal: normalize */
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    return kiln_f32_from_bits(sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13));
  }
  return kiln_f32_from_bits(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

static inline uint16_t kiln_f32_to_f16(float f) {
  const uint32_t x = kiln_f32_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs_x = x & 0x7fffffffu;
  uint32_t exponent, mantissa, shift, rest, halfway, h;
  if (abs_x > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((abs_x >> 13) & 0x3ffu)); /* NaN, quiet */
  if (abs_x >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 (or inf): inf */
  exponent = abs_x >> 23;
  if (exponent < 113) { /* below 2^-14: a half subnormal (units of 2^-24) or zero */
    if (exponent < 102) return (uint16_t)sign; /* below 2^-25 (and float subnormals): +-0 */
    mantissa = (abs_x & 0x7fffffu) | 0x800000u;
    shift = 126 - exponent; /* 14..24 */
    h = mantissa >> shift;
    rest = mantissa & ((1u << shift) - 1u);
    halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (h & 1u))) ++h;
    return (uint16_t)(sign | h);
  }
  h = ((exponent - 112) << 10) | ((abs_x >> 13) & 0x3ffu);
  rest = abs_x & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h; /* a carry moves into the exponent */
  return (uint16_t)(sign | h);
}

static inline float kiln_bf16_to_f32(uint16_t b) {
  return kiln_f32_from_bits((uint32_t)b << 16);
}

static inline uint16_t kiln_f32_to_bf16(float f) {
  const uint32_t x = kiln_f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u); /* NaN, quiet */
  return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);                /* overflow gives inf */
}

#ifdef __cplusplus
}
#endif

#endif /* KILN_PLUGIN_KILN_BACKEND_H */
