/* Deliberately broken backend plugins for the loader tests. One source, built once per defect with
 * KILN_TEST_VARIANT set (tests/plugins/CMakeLists.txt); every variant except its defect is a
 * complete, valid function table, so the host's refusal can only come from that defect. The table
 * declares ABI version 1 (its v2 slots stay NULL, which a v1 table may do): the oldest ABI the host
 * loads, so a refusal is never about a missing v2 slot. */
#include <kiln/plugin/kiln_backend.h>

#include <stddef.h>

#define VARIANT_NEWER_ABI 1   /* declares ABI version KILN_ABI_VERSION + 1 */
#define VARIANT_INIT_ERROR 2  /* init returns DEVICE_ERROR with a message */
#define VARIANT_NULL_TABLE 3  /* init returns OK but no table */
#define VARIANT_SHORT_TABLE 4 /* struct_size ends before the required slots */
#define VARIANT_NULL_SLOT 5   /* launch is NULL */
#define VARIANT_EMPTY_NAME 6  /* name is "" */
#define VARIANT_DUPLICATE 7   /* a valid plugin named like the good test plugin, "testgood" */
#define VARIANT_SCORE_ZERO 8  /* kiln_backend_score() returns 0: cannot run here */
#define VARIANT_SCORED_LOW 9  /* a valid plugin "scored", score 1 */
#define VARIANT_SCORED_HIGH 10 /* a valid plugin "scored", score 5: supersedes the low one */
#define VARIANT_BAD_NAME 11   /* name has a space */
#define VARIANT_V2_NULL_SLOTS 12 /* declares ABI version 2 with its v2 slots NULL */

#ifndef KILN_TEST_VARIANT
#error "build with -DKILN_TEST_VARIANT=<n>"
#endif

static const char* stub_last_error(kiln_backend_t backend) {
  (void)backend;
  return "test: no frobnicator on this machine";
}
static const char* stub_status_note(kiln_backend_t backend) {
  (void)backend;
  return "test stub: no device";
}
static int32_t stub_device_count(kiln_backend_t backend) {
  (void)backend;
  return 0;
}
static kiln_status stub_device_get(kiln_backend_t backend, int32_t index, kiln_device_t* out) {
  (void)backend, (void)index, (void)out;
  return KILN_STATUS_INVALID_ARGUMENT;
}
static kiln_status stub_device_props(kiln_device_t device, kiln_device_props* out) {
  (void)device, (void)out;
  return KILN_STATUS_INVALID_ARGUMENT;
}
static kiln_status stub_buffer_alloc(kiln_device_t device, uint64_t bytes, kiln_buffer_t* out) {
  (void)device, (void)bytes, (void)out;
  return KILN_STATUS_NO_DEVICE;
}
static void stub_buffer_free(kiln_buffer_t buffer) { (void)buffer; }
static void* stub_buffer_data(kiln_buffer_t buffer) {
  (void)buffer;
  return NULL;
}
static kiln_status stub_buffer_write(kiln_buffer_t buffer, uint64_t offset, const void* src, uint64_t bytes) {
  (void)buffer, (void)offset, (void)src, (void)bytes;
  return KILN_STATUS_NO_DEVICE;
}
static kiln_status stub_buffer_read(kiln_buffer_t buffer, uint64_t offset, void* dst, uint64_t bytes) {
  (void)buffer, (void)offset, (void)dst, (void)bytes;
  return KILN_STATUS_NO_DEVICE;
}
static kiln_status stub_stream_create(kiln_device_t device, kiln_stream_t* out) {
  (void)device, (void)out;
  return KILN_STATUS_NO_DEVICE;
}
static void stub_stream_destroy(kiln_stream_t stream) { (void)stream; }
static kiln_status stub_stream_synchronize(kiln_stream_t stream) {
  (void)stream;
  return KILN_STATUS_OK;
}
static int32_t stub_supports(kiln_backend_t backend, kiln_op op, const int32_t* dtypes, int32_t num_dtypes,
                             const void* attrs) {
  (void)backend, (void)op, (void)dtypes, (void)num_dtypes, (void)attrs;
  return 0;
}
static kiln_status stub_launch(kiln_stream_t stream, kiln_op op, const kiln_tensor_desc_v1* inputs,
                               int32_t num_inputs, const kiln_tensor_desc_v1* outputs, int32_t num_outputs,
                               const void* attrs) {
  (void)stream, (void)op, (void)inputs, (void)num_inputs, (void)outputs, (void)num_outputs, (void)attrs;
  return KILN_STATUS_UNSUPPORTED;
}

#if KILN_TEST_VARIANT == VARIANT_DUPLICATE
#define TEST_NAME "testgood"
#elif KILN_TEST_VARIANT == VARIANT_SCORED_LOW || KILN_TEST_VARIANT == VARIANT_SCORED_HIGH
#define TEST_NAME "scored"
#elif KILN_TEST_VARIANT == VARIANT_EMPTY_NAME
#define TEST_NAME ""
#elif KILN_TEST_VARIANT == VARIANT_BAD_NAME
#define TEST_NAME "has space"
#else
#define TEST_NAME "broken"
#endif

static const kiln_backend_api table = {
#if KILN_TEST_VARIANT == VARIANT_SHORT_TABLE
    .struct_size = offsetof(kiln_backend_api, last_error),
#elif KILN_TEST_VARIANT == VARIANT_V2_NULL_SLOTS
    .struct_size = sizeof(kiln_backend_api),
#else
    .struct_size = KILN_BACKEND_API_V1_SIZE,
#endif
#if KILN_TEST_VARIANT == VARIANT_NEWER_ABI
    .abi_version = KILN_ABI_VERSION + 1,
#elif KILN_TEST_VARIANT == VARIANT_V2_NULL_SLOTS
    .abi_version = 2u,
#else
    .abi_version = 1u,
#endif
    .name = TEST_NAME,
    .version = "0.0.1",
    .priority = 0,
    .backend = NULL,
    .last_error = stub_last_error,
    .status_note = stub_status_note,
    .device_count = stub_device_count,
    .device_get = stub_device_get,
    .device_props = stub_device_props,
    .buffer_alloc = stub_buffer_alloc,
    .buffer_free = stub_buffer_free,
    .buffer_data = stub_buffer_data,
    .buffer_write = stub_buffer_write,
    .buffer_read = stub_buffer_read,
    .stream_create = stub_stream_create,
    .stream_destroy = stub_stream_destroy,
    .stream_synchronize = stub_stream_synchronize,
    .supports = stub_supports,
#if KILN_TEST_VARIANT == VARIANT_NULL_SLOT
    .launch = NULL,
#else
    .launch = stub_launch,
#endif
};

#if KILN_TEST_VARIANT == VARIANT_SCORE_ZERO
KILN_PLUGIN_EXPORT int32_t kiln_backend_score(void) { return 0; }
#elif KILN_TEST_VARIANT == VARIANT_SCORED_LOW
KILN_PLUGIN_EXPORT int32_t kiln_backend_score(void) { return 1; }
#elif KILN_TEST_VARIANT == VARIANT_SCORED_HIGH
KILN_PLUGIN_EXPORT int32_t kiln_backend_score(void) { return 5; }
#endif

KILN_PLUGIN_EXPORT kiln_status kiln_backend_init(const kiln_host_api* host, uint32_t host_abi_version,
                                                 const kiln_backend_api** out_api) {
  (void)host, (void)host_abi_version;
  (void)stub_launch; /* referenced here too, for the variant whose table leaves it out */
#if KILN_TEST_VARIANT == VARIANT_NULL_TABLE
  (void)table;
  *out_api = NULL;
  return KILN_STATUS_OK;
#elif KILN_TEST_VARIANT == VARIANT_INIT_ERROR
  *out_api = &table; /* so the host can fetch the message through last_error */
  return KILN_STATUS_DEVICE_ERROR;
#else
  *out_api = &table;
  return KILN_STATUS_OK;
#endif
}
