// The op catalogue as the command line shows it, from op_info.h (ops.def).
#pragma once

#include <kiln/plugin/op_info.h>

#include <string_view>
#include <vector>

namespace kiln::cli {

struct CatalogueOp {
  std::string_view name;  // "add"
  int num_inputs;
  int num_outputs;
  std::string_view kind;  // "BINARY"
};

// Every op, in catalogue order, from op_info.h.
inline const std::vector<CatalogueOp>& catalogue() {
  static const std::vector<CatalogueOp> ops = [] {
    std::vector<CatalogueOp> out;
    for (int32_t op = 0; op < KILN_OP_COUNT; ++op) {
      const struct kiln_op_info* info = kiln_op_info(op);
      out.push_back({info->name, info->num_inputs, info->num_outputs, info->kind_name});
    }
    return out;
  }();
  return ops;
}

}  // namespace kiln::cli
