/* A backend plugin written for ABI v1 and compiled against the frozen v1 header only (not the
 * current one): it proves that a v2 host keeps loading and running v1 plugins. It runs ADD, MUL,
 * FILL and COPY on float32 with any strides, on one host-accessible device, and declares
 * abi_version 1. kiln_test_v1_launch_count() lets a test see that its ops ran here. */
#include "kiln_backend_v1.h"

#include <stdlib.h>
#include <string.h>

#if KILN_ABI_VERSION != 1u
#error "the v1 test plugin must see the v1 header"
#endif

static uint64_t launches = 0; /* read by the test after its launches; the host calls one stream at a time */

static const char* v1_last_error(kiln_backend_t backend) {
  (void)backend;
  return "v1 test plugin: unsupported op or dtype";
}
static const char* v1_status_note(kiln_backend_t backend) {
  (void)backend;
  return NULL;
}
static int32_t v1_device_count(kiln_backend_t backend) {
  (void)backend;
  return 1;
}
static kiln_status v1_device_get(kiln_backend_t backend, int32_t index, kiln_device_t* out) {
  static int device;
  (void)backend;
  if (index != 0) return KILN_STATUS_INVALID_ARGUMENT;
  *out = (kiln_device_t)(void*)&device;
  return KILN_STATUS_OK;
}
static kiln_status v1_device_props(kiln_device_t device, kiln_device_props* out) {
  (void)device;
  memset(out, 0, sizeof *out);
  out->struct_size = sizeof *out;
  out->abi_version = 1u;
  strcpy(out->name, "v1 test device");
  out->kind = KILN_DEVICE_CPU;
  out->host_accessible = 1;
  out->compute_units = 1;
  return KILN_STATUS_OK;
}
static kiln_status v1_buffer_alloc(kiln_device_t device, uint64_t bytes, kiln_buffer_t* out) {
  void* p;
  (void)device;
  p = malloc(bytes == 0 ? 64 : (size_t)((bytes + 63) / 64 * 64) + 64);
  if (p == NULL) return KILN_STATUS_OUT_OF_MEMORY;
  *out = (kiln_buffer_t)p;
  return KILN_STATUS_OK;
}
static void v1_buffer_free(kiln_buffer_t buffer) { free(buffer); }
static void* v1_buffer_data(kiln_buffer_t buffer) { return buffer; }
static kiln_status v1_buffer_write(kiln_buffer_t buffer, uint64_t offset, const void* src, uint64_t bytes) {
  if (bytes) memcpy((char*)buffer + offset, src, (size_t)bytes);
  return KILN_STATUS_OK;
}
static kiln_status v1_buffer_read(kiln_buffer_t buffer, uint64_t offset, void* dst, uint64_t bytes) {
  if (bytes) memcpy(dst, (const char*)buffer + offset, (size_t)bytes);
  return KILN_STATUS_OK;
}
static kiln_status v1_stream_create(kiln_device_t device, kiln_stream_t* out) {
  *out = (kiln_stream_t)(void*)device;
  return KILN_STATUS_OK;
}
static void v1_stream_destroy(kiln_stream_t stream) { (void)stream; }
static kiln_status v1_stream_synchronize(kiln_stream_t stream) {
  (void)stream;
  return KILN_STATUS_OK;
}

static int is_handled(kiln_op op) {
  return op == KILN_OP_ADD || op == KILN_OP_MUL || op == KILN_OP_FILL || op == KILN_OP_COPY;
}

static int32_t v1_supports(kiln_backend_t backend, kiln_op op, const int32_t* dtypes, int32_t num_dtypes,
                           const void* attrs) {
  int32_t i;
  (void)backend, (void)attrs;
  if (!is_handled(op)) return 0;
  for (i = 0; i < num_dtypes; ++i)
    if (dtypes[i] != KILN_DTYPE_FLOAT32) return 0;
  return 1;
}

/* Element offset of row-major position `linear` of `shape` in descriptor d. */
static int64_t offset_of(const kiln_tensor_desc* d, const int64_t* shape, int32_t ndim, int64_t linear) {
  int64_t off = d->offset;
  int32_t k;
  for (k = ndim - 1; k >= 0; --k) {
    off += (linear % shape[k]) * d->strides[k];
    linear /= shape[k];
  }
  return off;
}

static kiln_status v1_launch(kiln_stream_t stream, kiln_op op, const kiln_tensor_desc* inputs, int32_t num_inputs,
                             const kiln_tensor_desc* outputs, int32_t num_outputs, const void* attrs) {
  const kiln_tensor_desc* out = outputs;
  float* dst;
  int64_t n, i;
  (void)stream;
  if (!is_handled(op) || num_outputs != 1 || out->dtype != KILN_DTYPE_FLOAT32) return KILN_STATUS_UNSUPPORTED;
  if (num_inputs != (op == KILN_OP_FILL ? 0 : op == KILN_OP_COPY ? 1 : 2)) return KILN_STATUS_INVALID_ARGUMENT;
  if (op == KILN_OP_FILL && attrs == NULL) return KILN_STATUS_INVALID_ARGUMENT;
  dst = (float*)out->data;
  n = kiln_desc_numel(out);
  for (i = 0; i < n; ++i) {
    float value;
    if (op == KILN_OP_FILL) {
      value = (float)((const kiln_scalar_attrs*)attrs)->a; /* v1 layout: a, b */
    } else {
      const float a = ((const float*)inputs[0].data)[offset_of(&inputs[0], out->shape, out->ndim, i)];
      if (op == KILN_OP_COPY) {
        value = a;
      } else {
        const float b = ((const float*)inputs[1].data)[offset_of(&inputs[1], out->shape, out->ndim, i)];
        value = op == KILN_OP_ADD ? a + b : a * b;
      }
    }
    dst[offset_of(out, out->shape, out->ndim, i)] = value;
  }
  ++launches;
  return KILN_STATUS_OK;
}

static const kiln_backend_api table = {
    .struct_size = sizeof(kiln_backend_api), /* the v1 table's size */
    .abi_version = 1u,
    .name = "testv1",
    .version = "1.0.0",
    .priority = 2,
    .backend = NULL,
    .last_error = v1_last_error,
    .status_note = v1_status_note,
    .device_count = v1_device_count,
    .device_get = v1_device_get,
    .device_props = v1_device_props,
    .buffer_alloc = v1_buffer_alloc,
    .buffer_free = v1_buffer_free,
    .buffer_data = v1_buffer_data,
    .buffer_write = v1_buffer_write,
    .buffer_read = v1_buffer_read,
    .stream_create = v1_stream_create,
    .stream_destroy = v1_stream_destroy,
    .stream_synchronize = v1_stream_synchronize,
    .supports = v1_supports,
    .launch = v1_launch,
};

KILN_PLUGIN_EXPORT kiln_status kiln_backend_init(const kiln_host_api* host, uint32_t host_abi_version,
                                                 const kiln_backend_api** out_api) {
  (void)host;
  if (host_abi_version < 1u) return KILN_STATUS_UNSUPPORTED;
  *out_api = &table;
  return KILN_STATUS_OK;
}

KILN_PLUGIN_EXPORT uint64_t kiln_test_v1_launch_count(void) { return launches; }
