// Element types.
#pragma once

#include <kiln/error.hpp>
#include <kiln/plugin/kiln_backend.h>

#include <cstdint>
#include <string_view>

namespace kiln {

enum class DType : int32_t {
  Float32 = KILN_DTYPE_FLOAT32,
  Float64 = KILN_DTYPE_FLOAT64,
  Int32 = KILN_DTYPE_INT32,
  Int64 = KILN_DTYPE_INT64,
  UInt8 = KILN_DTYPE_UINT8,
  Bool = KILN_DTYPE_BOOL,
  Float16 = KILN_DTYPE_FLOAT16,   // IEEE binary16; computed through float32 (on ref)
  BFloat16 = KILN_DTYPE_BFLOAT16, // bfloat16; computed through float32 (on ref)
};

inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt32 = DType::Int32;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kUInt8 = DType::UInt8;
inline constexpr DType kBool = DType::Bool;
inline constexpr DType kFloat16 = DType::Float16;
inline constexpr DType kBFloat16 = DType::BFloat16;

// The element types of float16 and bfloat16: the stored bits, converted through float with
// round-to-nearest-even (kiln_backend.h's helpers). Arithmetic happens in float.
struct Half {
  uint16_t bits = 0;
  Half() = default;
  explicit Half(float value) : bits(kiln_f32_to_f16(value)) {}
  explicit Half(double value) : Half(static_cast<float>(value)) {}
  operator float() const { return kiln_f16_to_f32(bits); }
};
struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  explicit BFloat16(float value) : bits(kiln_f32_to_bf16(value)) {}
  explicit BFloat16(double value) : BFloat16(static_cast<float>(value)) {}
  operator float() const { return kiln_bf16_to_f32(bits); }
};

// Bytes per element.
inline size_t dtype_size(DType t) { return kiln_dtype_size(static_cast<int32_t>(t)); }
// "float32", "int64", ...
std::string_view dtype_name(DType t);
// Parses the names dtype_name returns (and "float", "double", "long", "int"); throws DTypeError.
DType dtype_from_name(std::string_view name);
inline bool is_floating(DType t) {
  return t == DType::Float32 || t == DType::Float64 || t == DType::Float16 || t == DType::BFloat16;
}
inline bool is_half(DType t) { return t == DType::Float16 || t == DType::BFloat16; }
inline bool is_integral(DType t, bool include_bool = false) {
  return t == DType::Int32 || t == DType::Int64 || t == DType::UInt8 || (include_bool && t == DType::Bool);
}
// NumPy/PyTorch-style promotion of two tensor dtypes:
// bool < uint8 < int32 < int64 < float16, bfloat16 < float32 < float64 (float16 with bfloat16: float32).
DType promote_types(DType a, DType b);

// The C++ type of each dtype, and back.
template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::Int32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::UInt8; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };
template <> struct dtype_of<Half> { static constexpr DType value = DType::Float16; };
template <> struct dtype_of<BFloat16> { static constexpr DType value = DType::BFloat16; };
template <typename T> inline constexpr DType dtype_of_v = dtype_of<T>::value;

// Calls fn(T{}) with T the C++ type of dtype t.
template <typename Fn>
decltype(auto) visit_dtype(DType t, Fn&& fn) {
  switch (t) {
    case DType::Float32: return fn(float{});
    case DType::Float64: return fn(double{});
    case DType::Int32: return fn(int32_t{});
    case DType::Int64: return fn(int64_t{});
    case DType::UInt8: return fn(uint8_t{});
    case DType::Bool: return fn(bool{});
    case DType::Float16: return fn(Half{});
    case DType::BFloat16: return fn(BFloat16{});
  }
  throw DTypeError("unknown dtype code " + std::to_string(static_cast<int>(t)));
}

}  // namespace kiln
