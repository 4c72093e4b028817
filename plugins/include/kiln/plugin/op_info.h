/* The op catalogue as data: what ops.def says about each op, one table for every user (core's
 * dispatch, the conformance suite, `kiln plugins`, and every backend), and the launch validator
 * they share.
 *
 * Plain C99, header only (static inline), no link dependency: a plugin built by another compiler
 * includes it as it is. Nothing here allocates; kiln_validate_launch is a few comparisons per
 * tensor and formats a message only when it fails.
 *
 *   const struct kiln_op_info* kiln_op_info(int32_t op);      NULL for an unknown op
 *   int32_t kiln_op_signature(int32_t op, int32_t main_dtype, int32_t* dtypes, int32_t max);
 *   int32_t kiln_op_takes(int32_t op, const int32_t* dtypes, int32_t num_dtypes);
 *   kiln_status kiln_validate_launch(const kiln_launch_desc* launch, char* message, size_t size);
 *
 * The struct and the function share the name kiln_op_info, as POSIX's `struct stat` and stat()
 * do (a typedef of that name would clash with the function in C): write `struct kiln_op_info`.
 */
#ifndef KILN_PLUGIN_OP_INFO_H
#define KILN_PLUGIN_OP_INFO_H

#include <stdio.h>

#include "kiln_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The kind column of ops.def. */
typedef enum kiln_op_kind {
  KILN_OP_KIND_UNARY = 0,
  KILN_OP_KIND_SCALAR_UNARY,
  KILN_OP_KIND_BINARY,
  KILN_OP_KIND_COMPARE,
  KILN_OP_KIND_TERNARY,
  KILN_OP_KIND_REDUCE,
  KILN_OP_KIND_ARGREDUCE,
  KILN_OP_KIND_MATMUL,
  KILN_OP_KIND_CONV,
  KILN_OP_KIND_POOL,
  KILN_OP_KIND_SOFTMAX,
  KILN_OP_KIND_INDEX,
  KILN_OP_KIND_CAST,
  KILN_OP_KIND_FILL,
  KILN_OP_KIND_COPY,
  KILN_OP_KIND_RANDOM,
  KILN_OP_KIND_COUNT
} kiln_op_kind;

/* The attrs column of ops.def: which attribute struct the op takes. */
typedef enum kiln_attrs_kind {
  KILN_ATTRS_NONE = 0,
  KILN_ATTRS_SCALAR,    /* kiln_scalar_attrs */
  KILN_ATTRS_REDUCE,    /* kiln_reduce_attrs */
  KILN_ATTRS_AXIS,      /* kiln_axis_attrs */
  KILN_ATTRS_CONV2D,    /* kiln_conv2d_attrs */
  KILN_ATTRS_POOL2D,    /* kiln_pool2d_attrs */
  KILN_ATTRS_EMBEDDING, /* kiln_embedding_attrs */
  KILN_ATTRS_RANDOM,    /* kiln_random_attrs */
  KILN_ATTRS_COUNT
} kiln_attrs_kind;

/* Dtype masks (bit d set: dtype d allowed), the dtypes column of ops.def. */
#define KILN_DTYPE_BIT(d) (1u << (unsigned)(d))
#define KILN_DTYPES_FLOAT                                                                          \
  (KILN_DTYPE_BIT(KILN_DTYPE_FLOAT32) | KILN_DTYPE_BIT(KILN_DTYPE_FLOAT64) | KILN_DTYPE_BIT(KILN_DTYPE_FLOAT16) | \
   KILN_DTYPE_BIT(KILN_DTYPE_BFLOAT16))
#define KILN_DTYPES_HALF (KILN_DTYPE_BIT(KILN_DTYPE_FLOAT16) | KILN_DTYPE_BIT(KILN_DTYPE_BFLOAT16))
#define KILN_DTYPES_INT \
  (KILN_DTYPE_BIT(KILN_DTYPE_INT32) | KILN_DTYPE_BIT(KILN_DTYPE_INT64) | KILN_DTYPE_BIT(KILN_DTYPE_UINT8))
#define KILN_DTYPES_NUMERIC (KILN_DTYPES_FLOAT | KILN_DTYPES_INT)
#define KILN_DTYPES_ALL (KILN_DTYPES_NUMERIC | KILN_DTYPE_BIT(KILN_DTYPE_BOOL))

/* Signature letters (ops.def's signature column): one per tensor, inputs then outputs. */
#define KILN_SIG_MAIN 'T'  /* the op's main dtype */
#define KILN_SIG_INDEX 'I' /* int64 */
#define KILN_SIG_BOOL 'B'  /* bool */
#define KILN_SIG_ANY '*'   /* any dtype (CAST's output) */

#define KILN_OP_MAX_TENSORS 8 /* no op has more inputs + outputs */

struct kiln_op_info {
  const char* id;          /* "ADD": the enum suffix */
  const char* name;        /* "add" */
  int32_t num_inputs;
  int32_t num_outputs;
  kiln_op_kind kind;
  const char* kind_name;   /* "BINARY" */
  kiln_attrs_kind attrs;
  uint32_t attrs_size;     /* sizeof the v2 attribute struct; 0 for KILN_ATTRS_NONE */
  uint32_t dtypes;         /* mask of the main dtypes the op is defined for (KILN_DTYPES_*) */
  const char* signature;   /* "TTB": see the letters above */
};

/* Column tokens -> values. */
#define KILN_OP_INFO_ATTRS_NONE KILN_ATTRS_NONE, 0u
#define KILN_OP_INFO_ATTRS_SCALAR KILN_ATTRS_SCALAR, (uint32_t)sizeof(kiln_scalar_attrs)
#define KILN_OP_INFO_ATTRS_REDUCE KILN_ATTRS_REDUCE, (uint32_t)sizeof(kiln_reduce_attrs)
#define KILN_OP_INFO_ATTRS_AXIS KILN_ATTRS_AXIS, (uint32_t)sizeof(kiln_axis_attrs)
#define KILN_OP_INFO_ATTRS_CONV2D KILN_ATTRS_CONV2D, (uint32_t)sizeof(kiln_conv2d_attrs)
#define KILN_OP_INFO_ATTRS_POOL2D KILN_ATTRS_POOL2D, (uint32_t)sizeof(kiln_pool2d_attrs)
#define KILN_OP_INFO_ATTRS_EMBEDDING KILN_ATTRS_EMBEDDING, (uint32_t)sizeof(kiln_embedding_attrs)
#define KILN_OP_INFO_ATTRS_RANDOM KILN_ATTRS_RANDOM, (uint32_t)sizeof(kiln_random_attrs)

/* The whole row of `op`, or NULL for an op this header does not know. */
static inline const struct kiln_op_info* kiln_op_info(int32_t op) {
  static const struct kiln_op_info table[] = {
#define KILN_OP_ENTRY(id, name, nin, nout, attrs, kind, dtypes, signature) \
  {#id, name, nin, nout, KILN_OP_KIND_##kind, #kind, KILN_OP_INFO_ATTRS_##attrs, KILN_DTYPES_##dtypes, signature},
#include "ops.def"
#undef KILN_OP_ENTRY
  };
  (void)sizeof(char[sizeof(table) / sizeof(table[0]) == KILN_OP_COUNT ? 1 : -1]); /* one row per op */
  return op >= 0 && op < KILN_OP_COUNT ? &table[op] : NULL;
}

/* The op's name, or "unknown op". */
static inline const char* kiln_op_name(int32_t op) {
  const struct kiln_op_info* info = kiln_op_info(op);
  return info ? info->name : "unknown op";
}

/* The dtype's name ("float32", "bfloat16"), or "invalid dtype". */
static inline const char* kiln_dtype_name(int32_t dtype) {
  switch (dtype) {
    case KILN_DTYPE_FLOAT32: return "float32";
    case KILN_DTYPE_FLOAT64: return "float64";
    case KILN_DTYPE_INT32: return "int32";
    case KILN_DTYPE_INT64: return "int64";
    case KILN_DTYPE_UINT8: return "uint8";
    case KILN_DTYPE_BOOL: return "bool";
    case KILN_DTYPE_FLOAT16: return "float16";
    case KILN_DTYPE_BFLOAT16: return "bfloat16";
    default: return "invalid dtype";
  }
}

static inline int kiln_dtype_is_valid(int32_t dtype) { return dtype >= 0 && dtype < KILN_DTYPE_COUNT; }
static inline int kiln_dtype_is_half(int32_t dtype) {
  return dtype == KILN_DTYPE_FLOAT16 || dtype == KILN_DTYPE_BFLOAT16;
}

/* The dtypes (inputs then outputs) `op` takes when its main dtype is `main_dtype`, written to
 * dtypes[0..max). Returns the op's tensor count (writing only the first `max`), or -1 when the op
 * is unknown or not defined for `main_dtype`. An "any dtype" position (CAST's output) is written
 * as main_dtype, one valid choice among all. */
static inline int32_t kiln_op_signature(int32_t op, int32_t main_dtype, int32_t* dtypes, int32_t max) {
  const struct kiln_op_info* info = kiln_op_info(op);
  int32_t i, n;
  if (info == NULL || !kiln_dtype_is_valid(main_dtype) || (info->dtypes & KILN_DTYPE_BIT(main_dtype)) == 0) return -1;
  n = info->num_inputs + info->num_outputs;
  for (i = 0; i < n && i < max && dtypes != NULL; ++i) {
    const char c = info->signature[i];
    dtypes[i] = c == KILN_SIG_INDEX ? KILN_DTYPE_INT64 : c == KILN_SIG_BOOL ? KILN_DTYPE_BOOL : main_dtype;
  }
  return n;
}

/* The main dtype of a concrete dtype list (the dtype at the first T), or -1 if it has none. */
static inline int32_t kiln_op_main_dtype(int32_t op, const int32_t* dtypes, int32_t num_dtypes) {
  const struct kiln_op_info* info = kiln_op_info(op);
  int32_t i;
  if (info == NULL || dtypes == NULL) return -1;
  for (i = 0; i < num_dtypes && info->signature[i] != '\0'; ++i)
    if (info->signature[i] == KILN_SIG_MAIN) return dtypes[i];
  return -1;
}

/* 1 if the catalogue defines `op` for these dtypes (inputs then outputs), else 0. Backends start
 * their supports() from it and refuse what they do not run. */
static inline int32_t kiln_op_takes(int32_t op, const int32_t* dtypes, int32_t num_dtypes) {
  const struct kiln_op_info* info = kiln_op_info(op);
  int32_t i, main_dtype;
  if (info == NULL || dtypes == NULL || num_dtypes != info->num_inputs + info->num_outputs) return 0;
  main_dtype = kiln_op_main_dtype(op, dtypes, num_dtypes);
  if (!kiln_dtype_is_valid(main_dtype) || (info->dtypes & KILN_DTYPE_BIT(main_dtype)) == 0) return 0;
  for (i = 0; i < num_dtypes; ++i) {
    const char c = info->signature[i];
    const int32_t want = c == KILN_SIG_INDEX ? KILN_DTYPE_INT64 : c == KILN_SIG_BOOL ? KILN_DTYPE_BOOL : main_dtype;
    if (c == KILN_SIG_ANY ? !kiln_dtype_is_valid(dtypes[i]) : dtypes[i] != want) return 0;
  }
  return 1;
}

/* The dtypes of a launch, inputs then outputs, into dtypes[KILN_OP_MAX_TENSORS]; the count, or -1
 * when the launch has more tensors than that. The descriptors must be readable (counts checked). */
static inline int32_t kiln_launch_dtypes(const kiln_launch_desc* launch, int32_t* dtypes) {
  int32_t i, n = 0;
  if (launch->num_inputs < 0 || launch->num_outputs < 0 ||
      launch->num_inputs + launch->num_outputs > KILN_OP_MAX_TENSORS)
    return -1;
  for (i = 0; i < launch->num_inputs; ++i) dtypes[n++] = kiln_launch_input(launch, i)->dtype;
  for (i = 0; i < launch->num_outputs; ++i) dtypes[n++] = kiln_launch_output(launch, i)->dtype;
  return n;
}

/* "[2, 3]" into out (truncated to size). */
static inline void kiln_format_shape(const kiln_tensor_desc* d, char* out, size_t size) {
  size_t used = 0;
  int32_t k;
  if (size == 0) return;
  out[0] = '\0';
  for (k = 0; k <= d->ndim && k <= KILN_MAX_DIMS && used < size; ++k) {
    int w = k == d->ndim ? snprintf(out + used, size - used, "]")
                         : snprintf(out + used, size - used, "%s%lld", k == 0 ? "[" : ", ", (long long)d->shape[k]);
    if (w < 0) return;
    used += (size_t)w;
  }
  if (d->ndim == 0 && used < size) snprintf(out, size, "[]");
}

/* Writes the message of a failure (truncated to message_size) and returns `status`. */
#define KILN_VALIDATE_FAIL(status, ...)                                 \
  do {                                                                  \
    /* the result is used so that GCC does not warn about intended truncation */      \
    if (message != NULL && message_size > 0 && snprintf(message, message_size, __VA_ARGS__) < 0) \
      message[0] = '\0';                                                                  \
    return status;                                                      \
  } while (0)

/* The shared launch validator: checks what the catalogue and the host's rules fix, before a
 * backend reads a descriptor. KILN_STATUS_OK, or
 *  - KILN_STATUS_INVALID_ARGUMENT: NULL or short launch/tensor/attribute structs, wrong tensor
 *    counts, ndim outside 0..KILN_MAX_DIMS, a negative extent, missing attributes, pointwise
 *    (UNARY, SCALAR_UNARY, BINARY, COMPARE, TERNARY, CAST, COPY) shapes that differ from the
 *    output's, a reduction's output of another rank;
 *  - KILN_STATUS_UNSUPPORTED: an unknown op, or dtypes the catalogue does not define for the op;
 * with a message naming the op and what was expected and found. It reads no tensor data. */
static inline kiln_status kiln_validate_launch(const kiln_launch_desc* launch, char* message, size_t message_size) {
  const struct kiln_op_info* info;
  const kiln_tensor_desc* first_out;
  int32_t dtypes[KILN_OP_MAX_TENSORS];
  int32_t i, k, n;
  if (message != NULL && message_size > 0) message[0] = '\0';
  if (launch == NULL) KILN_VALIDATE_FAIL(KILN_STATUS_INVALID_ARGUMENT, "launch: NULL launch descriptor");
  if (launch->struct_size < sizeof(kiln_launch_desc))
    KILN_VALIDATE_FAIL(KILN_STATUS_INVALID_ARGUMENT, "launch: kiln_launch_desc.struct_size %u, expected at least %u",
                       (unsigned)launch->struct_size, (unsigned)sizeof(kiln_launch_desc));
  info = kiln_op_info(launch->op);
  if (info == NULL) KILN_VALIDATE_FAIL(KILN_STATUS_UNSUPPORTED, "launch: unknown op %d", (int)launch->op);
  if (launch->num_inputs != info->num_inputs || launch->num_outputs != info->num_outputs)
    KILN_VALIDATE_FAIL(KILN_STATUS_INVALID_ARGUMENT, "%s: expected %d inputs and %d outputs, got %d and %d", info->name,
                       (int)info->num_inputs, (int)info->num_outputs, (int)launch->num_inputs,
                       (int)launch->num_outputs);
  if ((info->num_inputs > 0 && launch->inputs == NULL) || launch->outputs == NULL)
    KILN_VALIDATE_FAIL(KILN_STATUS_INVALID_ARGUMENT, "%s: NULL tensor descriptor array", info->name);
  if (launch->tensor_desc_size < sizeof(kiln_tensor_desc))
    KILN_VALIDATE_FAIL(KILN_STATUS_INVALID_ARGUMENT, "%s: tensor_desc_size %u, expected at least %u", info->name,
                       (unsigned)launch->tensor_desc_size, (unsigned)sizeof(kiln_tensor_desc));
  n = info->num_inputs + info->num_outputs;
  for (i = 0; i < n; ++i) {
    const int is_input = i < info->num_inputs;
    const kiln_tensor_desc* d = is_input ? kiln_launch_input(launch, i) : kiln_launch_output(launch, i - info->num_inputs);
    const int32_t index = is_input ? i : i - info->num_inputs;
    if (d->struct_size < sizeof(kiln_tensor_desc))
      KILN_VALIDATE_FAIL(KILN_STATUS_INVALID_ARGUMENT, "%s: %s %d: kiln_tensor_desc.struct_size %u, expected at least %u",
                         info->name, is_input ? "input" : "output", (int)index, (unsigned)d->struct_size,
                         (unsigned)sizeof(kiln_tensor_desc));
    if (d->ndim < 0 || d->ndim > KILN_MAX_DIMS)
      KILN_VALIDATE_FAIL(KILN_STATUS_INVALID_ARGUMENT, "%s: %s %d: ndim %d not in [0, %d]", info->name,
                         is_input ? "input" : "output", (int)index, (int)d->ndim, KILN_MAX_DIMS);
    for (k = 0; k < d->ndim; ++k)
      if (d->shape[k] < 0)
        KILN_VALIDATE_FAIL(KILN_STATUS_INVALID_ARGUMENT, "%s: %s %d: extent %lld of dimension %d is negative",
                           info->name, is_input ? "input" : "output", (int)index, (long long)d->shape[k], (int)k);
    dtypes[i] = d->dtype;
  }
  if (!kiln_op_takes(launch->op, dtypes, n)) {
    char got[96];
    size_t used = 0;
    got[0] = '\0';
    for (i = 0; i < n && used + 12 < sizeof got; ++i) {
      int w = snprintf(got + used, sizeof got - used, "%s%s", i == 0 ? "" : i == info->num_inputs ? " -> " : ", ",
                       kiln_dtype_name(dtypes[i]));
      if (w < 0) break;
      used += (size_t)w;
    }
    KILN_VALIDATE_FAIL(KILN_STATUS_UNSUPPORTED, "%s: dtypes (%s) are not in the catalogue (signature %s, T %s)",
                       info->name, got, info->signature,
                       info->dtypes == KILN_DTYPES_FLOAT ? "float" : info->dtypes == KILN_DTYPES_NUMERIC ? "numeric" : "any");
  }
  if (info->attrs != KILN_ATTRS_NONE) {
    if (launch->attrs == NULL)
      KILN_VALIDATE_FAIL(KILN_STATUS_INVALID_ARGUMENT, "%s: expected an attribute struct, got NULL", info->name);
    if (*(const uint32_t*)launch->attrs < info->attrs_size)
      KILN_VALIDATE_FAIL(KILN_STATUS_INVALID_ARGUMENT, "%s: attribute struct_size %u, expected at least %u",
                         info->name, (unsigned)*(const uint32_t*)launch->attrs, (unsigned)info->attrs_size);
  }
  first_out = kiln_launch_output(launch, 0);
  switch (info->kind) {
    case KILN_OP_KIND_UNARY: case KILN_OP_KIND_SCALAR_UNARY: case KILN_OP_KIND_BINARY: case KILN_OP_KIND_COMPARE:
    case KILN_OP_KIND_TERNARY: case KILN_OP_KIND_CAST: case KILN_OP_KIND_COPY:
      for (i = 0; i < info->num_inputs; ++i) {
        const kiln_tensor_desc* d = kiln_launch_input(launch, i);
        int same = d->ndim == first_out->ndim;
        for (k = 0; same && k < d->ndim; ++k) same = d->shape[k] == first_out->shape[k];
        if (!same) {
          char in_shape[128], out_shape[128];
          kiln_format_shape(d, in_shape, sizeof in_shape);
          kiln_format_shape(first_out, out_shape, sizeof out_shape);
          KILN_VALIDATE_FAIL(KILN_STATUS_INVALID_ARGUMENT,
                             "%s: input %d has shape %s, expected the output's %s (the host broadcasts pointwise "
                             "inputs to the output shape)",
                             info->name, (int)i, in_shape, out_shape);
        }
      }
      break;
    case KILN_OP_KIND_REDUCE: case KILN_OP_KIND_ARGREDUCE:
      if (kiln_launch_input(launch, 0)->ndim != first_out->ndim)
        KILN_VALIDATE_FAIL(KILN_STATUS_INVALID_ARGUMENT, "%s: output has %d dims, expected the input's %d (keepdim)",
                           info->name, (int)first_out->ndim, (int)kiln_launch_input(launch, 0)->ndim);
      break;
    default:
      break;
  }
  return KILN_STATUS_OK;
}
#undef KILN_VALIDATE_FAIL

#ifdef __cplusplus
}
#endif

#endif /* KILN_PLUGIN_OP_INFO_H */
