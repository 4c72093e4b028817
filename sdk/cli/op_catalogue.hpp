// The op catalogue as the command line shows it, generated from ops.def.
#pragma once

#include <kiln/plugin/kiln_backend.h>

#include <array>
#include <string_view>

namespace kiln::cli {

struct CatalogueOp {
  std::string_view name;  // "add"
  int num_inputs;
  int num_outputs;
  std::string_view kind;  // "BINARY"
};

inline constexpr std::array<CatalogueOp, KILN_OP_COUNT> kCatalogue = {{
#define KILN_OP(id, name, nin, nout, attrs, kind) {name, nin, nout, #kind},
#include <kiln/plugin/ops.def>
#undef KILN_OP
}};

}  // namespace kiln::cli
