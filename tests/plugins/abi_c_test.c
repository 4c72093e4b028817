/* The plugin ABI headers compile as strict C99 (-std=c99 -Wall -Wextra -pedantic -Werror) and hold
 * the layout and values a plugin built by another compiler relies on. Exits 0 when every check
 * passes; prints each failed check otherwise. */
#include <kiln/plugin/kiln_backend.h>
#include <kiln/plugin/philox.h>

#include <stddef.h>
#include <stdio.h>

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

  CHECK(KILN_ABI_VERSION == 1u);
  CHECK(KILN_MAX_DIMS == 8);

  /* Every versioned struct starts with struct_size then abi_version. */
  CHECK(offsetof(kiln_host_api, struct_size) == 0 && offsetof(kiln_host_api, abi_version) == 4);
  CHECK(offsetof(kiln_device_props, struct_size) == 0 && offsetof(kiln_device_props, abi_version) == 4);
  CHECK(offsetof(kiln_backend_api, struct_size) == 0 && offsetof(kiln_backend_api, abi_version) == 4);
  /* The tensor descriptor's layout is fixed: pointer, two int32, offset, then shape and strides. */
  CHECK(sizeof(kiln_tensor_desc) == 24 + 2 * 8 * KILN_MAX_DIMS);
  CHECK(offsetof(kiln_tensor_desc, offset) == 16 && offsetof(kiln_tensor_desc, shape) == 24);
  CHECK(sizeof(kiln_status) == sizeof(int));

  /* The catalogue: the numbering is ABI, entries are appended only. */
  CHECK(sizeof(op_names) / sizeof(op_names[0]) == KILN_OP_COUNT);
  CHECK(KILN_OP_NEG == 0);
  CHECK(op_inputs[KILN_OP_ADD] == 2 && op_inputs[KILN_OP_FILL] == 0 && op_inputs[KILN_OP_WHERE] == 3);
  CHECK(op_names[KILN_OP_MATMUL][0] == 'm');

  CHECK(kiln_dtype_size(KILN_DTYPE_FLOAT32) == 4 && kiln_dtype_size(KILN_DTYPE_FLOAT64) == 8);
  CHECK(kiln_dtype_size(KILN_DTYPE_INT64) == 8 && kiln_dtype_size(KILN_DTYPE_BOOL) == 1);
  CHECK(kiln_dtype_size(KILN_DTYPE_COUNT) == 0 && kiln_dtype_size(-1) == 0);

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
