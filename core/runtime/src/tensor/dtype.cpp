// DType names and type promotion (declared in kiln/dtype.hpp).
#include <kiln/dtype.hpp>

#include <string>

namespace kiln {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::UInt8: return "uint8";
    case DType::Bool: return "bool";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
  }
  return "unknown";
}

DType dtype_from_name(std::string_view name) {
  if (name == "float32" || name == "float") return DType::Float32;
  if (name == "float64" || name == "double") return DType::Float64;
  if (name == "int32" || name == "int") return DType::Int32;
  if (name == "int64" || name == "long") return DType::Int64;
  if (name == "uint8") return DType::UInt8;
  if (name == "bool") return DType::Bool;
  if (name == "float16" || name == "half") return DType::Float16;
  if (name == "bfloat16") return DType::BFloat16;
  throw DTypeError("unknown dtype '" + std::string(name) +
                   "': expected one of float32, float64, int32, int64, uint8, bool, float16, bfloat16");
}

DType promote_types(DType a, DType b) {
  auto rank = [](DType t) {
    switch (t) {
      case DType::Bool: return 0;
      case DType::UInt8: return 1;
      case DType::Int32: return 2;
      case DType::Int64: return 3;
      case DType::Float16: return 4;
      case DType::BFloat16: return 4;
      case DType::Float32: return 5;
      case DType::Float64: return 6;
    }
    return 0;
  };
  if (a != b && is_half(a) && is_half(b)) return DType::Float32;  // neither holds the other
  return rank(a) >= rank(b) ? a : b;
}

}  // namespace kiln
