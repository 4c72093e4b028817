/* FROZEN: a byte-for-byte copy of plugins/include/kiln/plugin/kiln_backend.h as ABI v1 shipped it
 * (commit 96361a4), with only the include guard renamed. Never edit it: the v1 test plugin is
 * compiled against it alone, to prove that a plugin built for v1 keeps loading and running. */
/* Kiln backend plugin ABI, version 1.
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
 * Versioning: every struct that crosses starts with `uint32_t struct_size; uint32_t abi_version;`.
 * Tables only ever grow at the end; the host never calls a slot past the plugin's struct_size.
 * A plugin whose abi_version is newer than the host's is refused with a message naming both.
 *
 * Errors: calls return a kiln_status; on failure the backend's last_error() returns a message
 * (thread-local in the plugin, valid until the next call on that thread).
 */
#ifndef KILN_PLUGIN_KILN_BACKEND_V1_H
#define KILN_PLUGIN_KILN_BACKEND_V1_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_ABI_VERSION 1u
#define KILN_MAX_DIMS 8

#if defined(_WIN32)
#define KILN_PLUGIN_EXPORT __declspec(dllexport)
#else
#define KILN_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

typedef enum kiln_status {
  KILN_STATUS_OK = 0,
  KILN_STATUS_UNSUPPORTED = 1,      /* op/dtype/attrs not implemented by this backend */
  KILN_STATUS_INVALID_ARGUMENT = 2, /* bad shapes, index out of range, ... */
  KILN_STATUS_OUT_OF_MEMORY = 3,
  KILN_STATUS_DEVICE_ERROR = 4,     /* driver or runtime failure */
  KILN_STATUS_NO_DEVICE = 5,
  KILN_STATUS_INTERNAL = 6
} kiln_status;

typedef enum kiln_dtype {
  KILN_DTYPE_FLOAT32 = 0,
  KILN_DTYPE_FLOAT64 = 1,
  KILN_DTYPE_INT32 = 2,
  KILN_DTYPE_INT64 = 3,
  KILN_DTYPE_UINT8 = 4,
  KILN_DTYPE_BOOL = 5, /* one byte, 0 or 1 */
  KILN_DTYPE_COUNT = 6
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

/* A view of memory. `data` is the base address of the buffer (host or device address, as the
 * device reports); element (i0..in) lives at data + (offset + sum ik * strides[k]) * elsize.
 * Strides and offset are in elements; a stride may be 0 (broadcast) on inputs. */
typedef struct kiln_tensor_desc {
  void* data;
  int32_t dtype; /* kiln_dtype */
  int32_t ndim;  /* 0..KILN_MAX_DIMS; 0 is a scalar with one element */
  int64_t offset;
  int64_t shape[KILN_MAX_DIMS];
  int64_t strides[KILN_MAX_DIMS];
} kiln_tensor_desc;

/* ---- attribute structs (named by the attrs column of ops.def) ---- */
typedef struct kiln_scalar_attrs {
  double a;
  double b;
} kiln_scalar_attrs;

typedef struct kiln_reduce_attrs {
  int32_t num_axes;               /* 1..ndim; axes are distinct and in [0, ndim) */
  int32_t axes[KILN_MAX_DIMS];
  double correction;              /* VAR only: divisor n - correction */
} kiln_reduce_attrs;

typedef struct kiln_axis_attrs {
  int32_t axis; /* in [0, ndim) */
} kiln_axis_attrs;

typedef struct kiln_conv2d_attrs {
  int64_t stride[2];
  int64_t padding[2];
  int64_t dilation[2];
  int64_t groups;
} kiln_conv2d_attrs;

typedef struct kiln_pool2d_attrs {
  int64_t kernel[2];
  int64_t stride[2];
  int64_t padding[2];
  int64_t dilation[2];      /* max pool only; 1 for avg pool */
  int32_t ceil_mode;        /* already reflected in the output shape the host passes */
  int32_t count_include_pad; /* avg pool: divisor counts padded cells (PyTorch's default: 1) */
} kiln_pool2d_attrs;

typedef struct kiln_embedding_attrs {
  int64_t padding_idx; /* -1 = none; rows equal to it get no gradient */
} kiln_embedding_attrs;

/* Random fills. Element i of the output (row-major logical order) takes Philox4x32-10 with
 * key = (seed & 0xffffffff, seed >> 32) and counter = (c & 0xffffffff, c >> 32, 0, 0) where
 * c = offset + i, and maps the four words r0..r3 exactly as kiln_philox_* in philox.h do, so
 * every backend draws the same numbers for the same seed and offset. */
typedef struct kiln_random_attrs {
  uint64_t seed;
  uint64_t offset;
  double a;
  double b;
} kiln_random_attrs;

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

  /* 1 if launch(op) would run for these dtypes (inputs then outputs) and attrs (may be NULL). */
  int32_t (*supports)(kiln_backend_t backend, kiln_op op, const int32_t* dtypes, int32_t num_dtypes,
                      const void* attrs);
  /* Runs one op. Descriptors follow ops.def; attrs points to the op's attribute struct or NULL. */
  kiln_status (*launch)(kiln_stream_t stream, kiln_op op, const kiln_tensor_desc* inputs,
                        int32_t num_inputs, const kiln_tensor_desc* outputs, int32_t num_outputs,
                        const void* attrs);
} kiln_backend_api;

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

#ifdef __cplusplus
}
#endif

#endif /* KILN_PLUGIN_KILN_BACKEND_V1_H */
