/* The plugin ABI headers compile as strict C99 (-std=c99 -Wall -Wextra -pedantic -Werror) and hold
 * the layout and values a plugin built by another compiler relies on. Exits 0 when every check
 * passes; prints each failed check otherwise. */
#include <kiln/plugin/kiln_backend.h>
#include <kiln/plugin/op_info.h>
#include <kiln/plugin/philox.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond)                                                  \
  do {                                                               \
    if (!(cond)) {                                                   \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                    \
    }                                                                \
  } while (0)

/* The catalogue expanded a second time, in C: names and arities line up with the enum. */
static const char* const op_names[] = {
#define KILN_OP(id, name, nin, nout, attrs, kind) name,
#include <kiln/plugin/ops.def>
#undef KILN_OP
};
static const int op_inputs[] = {
#define KILN_OP(id, name, nin, nout, attrs, kind) nin,
#include <kiln/plugin/ops.def>
#undef KILN_OP
};

int main(void) {
  kiln_tensor_desc d;
  kiln_philox_words w;
  double u;
  int i;

  kiln_launch_desc launch;
  kiln_tensor_desc io[3];
  kiln_scalar_attrs scalar;
  int32_t dtypes[KILN_OP_MAX_TENSORS];
  char message[256];
  const struct kiln_op_info* info;

  CHECK(KILN_ABI_VERSION == 2u && KILN_ABI_VERSION_MIN == 1u);
  CHECK(KILN_MAX_DIMS == 8);

  /* Every versioned struct starts with struct_size then abi_version. */
  CHECK(offsetof(kiln_host_api, struct_size) == 0 && offsetof(kiln_host_api, abi_version) == 4);
  CHECK(offsetof(kiln_device_props, struct_size) == 0 && offsetof(kiln_device_props, abi_version) == 4);
  CHECK(offsetof(kiln_backend_api, struct_size) == 0 && offsetof(kiln_backend_api, abi_version) == 4);
  /* The v2 tensor descriptor: struct_size, dtype, ndim, flags, data, buffer, byte_offset, offset,
   * shape, strides. The v1 one: pointer, two int32, offset, then shape and strides. */
  CHECK(offsetof(kiln_tensor_desc, struct_size) == 0 && offsetof(kiln_tensor_desc, data) == 16);
  CHECK(offsetof(kiln_tensor_desc, buffer) == 24 && offsetof(kiln_tensor_desc, byte_offset) == 32);
  CHECK(offsetof(kiln_tensor_desc, offset) == 40 && offsetof(kiln_tensor_desc, shape) == 48);
  CHECK(sizeof(kiln_tensor_desc) == 48 + 2 * 8 * KILN_MAX_DIMS);
  CHECK(sizeof(kiln_tensor_desc_v1) == 24 + 2 * 8 * KILN_MAX_DIMS);
  CHECK(offsetof(kiln_tensor_desc_v1, offset) == 16 && offsetof(kiln_tensor_desc_v1, shape) == 24);
  /* Attribute structs: the v1 layout starts at byte 8. */
  CHECK(offsetof(kiln_scalar_attrs, a) == KILN_ATTRS_V1_OFFSET && sizeof(kiln_scalar_attrs) == 8 + 16);
  CHECK(offsetof(kiln_random_attrs, seed) == 8 && sizeof(kiln_axis_attrs) == 12);
  scalar = kiln_scalar_attrs_init();
  CHECK(scalar.struct_size == sizeof(kiln_scalar_attrs) && scalar.a == 0.0);
  /* The launch descriptor, and the v1 slots' place in the table (unchanged from v1). */
  CHECK(offsetof(kiln_launch_desc, inputs) == 24 && offsetof(kiln_launch_desc, launch_id) == 48);
  CHECK(offsetof(kiln_backend_api, launch) == 8 * 19 && KILN_BACKEND_API_V1_SIZE == 8 * 20);
  CHECK(offsetof(kiln_device_props, caches_memory) == offsetof(kiln_device_props, compute_units) + 4);
  CHECK(sizeof(kiln_status) == sizeof(int));

  /* The catalogue: the numbering is ABI, entries are appended only. */
  CHECK(sizeof(op_names) / sizeof(op_names[0]) == KILN_OP_COUNT);
  CHECK(KILN_OP_NEG == 0);
  CHECK(op_inputs[KILN_OP_ADD] == 2 && op_inputs[KILN_OP_FILL] == 0 && op_inputs[KILN_OP_WHERE] == 3);
  CHECK(op_names[KILN_OP_MATMUL][0] == 'm');

  CHECK(kiln_dtype_size(KILN_DTYPE_FLOAT32) == 4 && kiln_dtype_size(KILN_DTYPE_FLOAT64) == 8);
  CHECK(kiln_dtype_size(KILN_DTYPE_INT64) == 8 && kiln_dtype_size(KILN_DTYPE_BOOL) == 1);
  CHECK(kiln_dtype_size(KILN_DTYPE_COUNT) == 0 && kiln_dtype_size(-1) == 0);
  CHECK(kiln_dtype_size(KILN_DTYPE_FLOAT16) == 2 && kiln_dtype_size(KILN_DTYPE_BFLOAT16) == 2);
  CHECK(KILN_STATUS_INDEX_OUT_OF_RANGE == 7 && KILN_STATUS_NOT_READY == 8 && KILN_DTYPE_COUNT == 8);

  /* Half conversions: exact both ways for every representable value, RNE, overflow to inf. */
  for (i = 0; i < 0x10000; ++i) {
    const float f = kiln_f16_to_f32((uint16_t)i), b = kiln_bf16_to_f32((uint16_t)i);
    if (f == f) CHECK(kiln_f32_to_f16(f) == (uint16_t)i);
    if (b == b) CHECK(kiln_f32_to_bf16(b) == (uint16_t)i);
  }
  CHECK(kiln_f32_to_f16(65520.0f) == 0x7c00 && kiln_f32_to_f16(1.0f + 1.0f / 2048) == 0x3c00);

  /* op_info.h: the catalogue as data, in C. */
  info = kiln_op_info(KILN_OP_WHERE);
  CHECK(info != NULL && info->num_inputs == 3 && info->kind == KILN_OP_KIND_TERNARY && info->signature[0] == 'B');
  CHECK(kiln_op_info(KILN_OP_COUNT) == NULL && kiln_op_info(-1) == NULL);
  CHECK(kiln_op_info(KILN_OP_CONV2D)->attrs == KILN_ATTRS_CONV2D &&
        kiln_op_info(KILN_OP_CONV2D)->attrs_size == sizeof(kiln_conv2d_attrs));
  CHECK(kiln_op_signature(KILN_OP_ARGMAX, KILN_DTYPE_FLOAT16, dtypes, KILN_OP_MAX_TENSORS) == 2 &&
        dtypes[0] == KILN_DTYPE_FLOAT16 && dtypes[1] == KILN_DTYPE_INT64);
  CHECK(kiln_op_signature(KILN_OP_EXP, KILN_DTYPE_INT32, dtypes, KILN_OP_MAX_TENSORS) == -1);
  CHECK(kiln_op_takes(KILN_OP_EQ, (const int32_t[]){KILN_DTYPE_INT32, KILN_DTYPE_INT32, KILN_DTYPE_BOOL}, 3));
  CHECK(!kiln_op_takes(KILN_OP_EQ, (const int32_t[]){KILN_DTYPE_INT32, KILN_DTYPE_INT64, KILN_DTYPE_BOOL}, 3));
  for (i = 0; i < KILN_OP_COUNT; ++i) CHECK(kiln_op_info(i)->name == op_names[i]);

  /* The launch validator. */
  memset(io, 0, sizeof io);
  for (i = 0; i < 3; ++i) {
    io[i].struct_size = sizeof(kiln_tensor_desc);
    io[i].dtype = KILN_DTYPE_FLOAT32;
    io[i].ndim = 1;
    io[i].shape[0] = 4;
    io[i].strides[0] = 1;
  }
  memset(&launch, 0, sizeof launch);
  launch.struct_size = sizeof launch;
  launch.op = KILN_OP_ADD;
  launch.num_inputs = 2;
  launch.num_outputs = 1;
  launch.tensor_desc_size = sizeof(kiln_tensor_desc);
  launch.inputs = io;
  launch.outputs = io + 2;
  CHECK(kiln_validate_launch(&launch, message, sizeof message) == KILN_STATUS_OK);
  io[1].shape[0] = 3;
  CHECK(kiln_validate_launch(&launch, message, sizeof message) == KILN_STATUS_INVALID_ARGUMENT);
  CHECK(strstr(message, "add") != NULL && strstr(message, "[3]") != NULL && strstr(message, "[4]") != NULL);
  io[1].shape[0] = 4;
  io[1].dtype = KILN_DTYPE_INT32;
  CHECK(kiln_validate_launch(&launch, message, sizeof message) == KILN_STATUS_UNSUPPORTED);
  io[1].dtype = KILN_DTYPE_FLOAT32;
  launch.op = KILN_OP_ADD_SCALAR;
  launch.num_inputs = 1;
  launch.inputs = io + 1;
  CHECK(kiln_validate_launch(&launch, message, sizeof message) == KILN_STATUS_INVALID_ARGUMENT); /* no attrs */
  launch.attrs = &scalar;
  CHECK(kiln_validate_launch(&launch, message, sizeof message) == KILN_STATUS_OK);
  launch.op = KILN_OP_COUNT;
  CHECK(kiln_validate_launch(&launch, message, sizeof message) == KILN_STATUS_UNSUPPORTED);

  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.data = NULL;
  d.dtype = KILN_DTYPE_FLOAT32;
  d.ndim = 2;
  d.offset = 0;
  for (i = 0; i < KILN_MAX_DIMS; ++i) d.shape[i] = 1, d.strides[i] = 0;
  d.shape[0] = 3, d.shape[1] = 4, d.strides[0] = 4, d.strides[1] = 1;
  CHECK(kiln_desc_numel(&d) == 12);
  CHECK(kiln_desc_is_contiguous(&d));
  d.strides[0] = 1, d.strides[1] = 3; /* a transposed view */
  CHECK(!kiln_desc_is_contiguous(&d));
  d.ndim = 0;
  CHECK(kiln_desc_numel(&d) == 1);

  /* Philox4x32-10 known answer (Random123's kat_vectors: counter 0, key 0). */
  w = kiln_philox4x32_10(0, 0);
  CHECK(w.r[0] == 0x6627e8d5u && w.r[1] == 0xe169c58du && w.r[2] == 0xbc57ac4cu && w.r[3] == 0x9b00dbd8u);
  u = kiln_random_uniform(0, 0, 0, 0.0, 1.0);
  CHECK(u == (double)(0x6627e8d5u >> 8) / 16777216.0);
  for (i = 0; i < 1000; ++i) {
    u = kiln_random_uniform(42, (uint64_t)i, i & 1, 0.0, 1.0);
    CHECK(u >= 0.0 && u < 1.0);
    u = kiln_random_bernoulli(42, (uint64_t)i, 0.5);
    CHECK(u == 0.0 || u == 1.0);
  }

  if (failures == 0) printf("abi_c_test: all checks passed (%d ops in the catalogue)\n", (int)KILN_OP_COUNT);
  return failures == 0 ? 0 : 1;
}
