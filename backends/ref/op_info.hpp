// The op table of ops.def, expanded once for the reference backend: name, arity, kind, attrs.
#ifndef KILN_BACKENDS_REF_OP_INFO_HPP
#define KILN_BACKENDS_REF_OP_INFO_HPP

#include <kiln/plugin/kiln_backend.h>

namespace kiln::ref {

enum class Kind {
  UNARY,
  SCALAR_UNARY,
  BINARY,
  COMPARE,
  TERNARY,
  REDUCE,
  ARGREDUCE,
  MATMUL,
  CONV,
  POOL,
  SOFTMAX,
  INDEX,
  CAST,
  FILL,
  COPY,
  RANDOM
};
enum class Attrs { NONE, SCALAR, REDUCE, CONV2D, POOL2D, AXIS, EMBEDDING, RANDOM };

struct OpInfo {
  const char* name;
  int32_t num_inputs;
  int32_t num_outputs;
  Attrs attrs;
  Kind kind;
};

inline constexpr OpInfo kOpInfo[] = {
#define KILN_OP(id, name, nin, nout, attrs, kind) {name, nin, nout, Attrs::attrs, Kind::kind},
#include <kiln/plugin/ops.def>
#undef KILN_OP
};
static_assert(sizeof(kOpInfo) / sizeof(kOpInfo[0]) == KILN_OP_COUNT);

inline bool is_known_op(kiln_op op) {
  return op >= 0 && op < KILN_OP_COUNT;
}
inline const OpInfo& op_info(kiln_op op) {
  return kOpInfo[op];
}
inline const char* op_name(kiln_op op) {
  return is_known_op(op) ? kOpInfo[op].name : "unknown op";
}

}  // namespace kiln::ref

#endif  // KILN_BACKENDS_REF_OP_INFO_HPP
