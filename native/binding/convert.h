// Argument checks and conversions between JavaScript values and the core's types. Anyone can load
// the addon directly, so every argument is re-checked here (types, lengths, finite options); data
// values themselves may be non-finite, as invalid records are part of the contract.
#pragma once

#include <napi.h>

#include <Eigen/Dense>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "error.h"
#include "size_limits.h"

namespace tads::binding {

// A typed array's elements, viewed in place.
template <typename T>
struct View {
  T* data;
  size_t length;
};

template <typename T>
constexpr napi_typedarray_type kTypedArrayType = napi_float64_array;
template <>
constexpr napi_typedarray_type kTypedArrayType<int32_t> = napi_int32_array;
template <>
constexpr napi_typedarray_type kTypedArrayType<uint8_t> = napi_uint8_array;

template <typename T>
constexpr const char* kTypedArrayName = "a Float64Array";
template <>
constexpr const char* kTypedArrayName<int32_t> = "an Int32Array";
template <>
constexpr const char* kTypedArrayName<uint8_t> = "a Uint8Array";

// Views value as a typed array of T, or throws a TypeError naming the parameter. One Node-API
// call: this runs several times per scoring call, so it stays cheap.
template <typename T>
View<T> typed_array(const Napi::Value& value, const char* name) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t offset = 0;
  if (napi_get_typedarray_info(value.Env(), value, &type, &length, &data, &buffer, &offset) !=
          napi_ok ||
      type != kTypedArrayType<T>) {
    throw_type(std::string(name) + " must be " + kTypedArrayName<T>);
  }
  return {static_cast<T*>(data), length};
}

// A finite number, or a TypeError/RangeError naming the parameter.
inline double finite_number(const Napi::Value& value, const char* name) {
  if (!value.IsNumber()) throw_type(std::string(name) + " must be a number");
  const double v = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v)) throw_range(std::string(name) + " must be finite");
  return v;
}

// An integer in [lo, hi], or a TypeError/RangeError naming the parameter.
inline int64_t integer_in(const Napi::Value& value, const char* name, int64_t lo, int64_t hi) {
  const double v = finite_number(value, name);
  if (v != std::floor(v) || v < static_cast<double>(lo) || v > static_cast<double>(hi)) {
    char got[32];
    std::snprintf(got, sizeof got, "%.17g", v);
    throw_range(std::string(name) + " must be an integer in [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "]; got " + got);
  }
  return static_cast<int64_t>(v);
}

// data.length must equal rows * cols, computed without overflow; throws a RangeError naming the
// array otherwise. `what` names the product, e.g. "rows * cols".
inline void check_length(size_t length, int64_t rows, int64_t cols, const char* name,
                         const char* what) {
  uint64_t need = 0;
  if (!checked_mul(static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), &need)) {
    throw_range(std::string(name) + ".length must equal " + what + ", which exceeds 2^64; got " +
                std::to_string(length));
  }
  if (need != length) {
    throw_range(std::string(name) + ".length must equal " + what + " = " + std::to_string(need) +
                "; got " + std::to_string(length));
  }
}

// A row-major matrix argument triple (data, rows, cols): checks rows * cols == data.length.
struct MatrixArg {
  const double* data;
  int64_t rows;
  int cols;
};

inline MatrixArg matrix_arg(const Napi::CallbackInfo& info, size_t first, const char* name) {
  const View<double> data = typed_array<double>(info[first], name);
  const int64_t rows = integer_in(info[first + 1], "rows", 0, kMaxRows);
  const int64_t cols = integer_in(info[first + 2], "cols", 1, kMaxFeatures);
  check_length(data.length, rows, cols, name, "rows * cols");
  return {data.data, rows, static_cast<int>(cols)};
}

// Copies an Eigen vector into a new Float64Array.
inline Napi::Float64Array to_float64(Napi::Env env, const double* v, size_t n) {
  auto arr = Napi::Float64Array::New(env, n);
  std::copy(v, v + n, arr.Data());
  return arr;
}

inline Napi::Float64Array to_float64(Napi::Env env, const Eigen::VectorXd& v) {
  return to_float64(env, v.data(), static_cast<size_t>(v.size()));
}

// Turns a core error into the matching JavaScript error: TypeError, RangeError, or an Error whose
// `code` is the core's code prefixed with PCA_.
inline Napi::Error to_js_error(Napi::Env env, const tads::Error& e) {
  switch (e.kind()) {
    case ErrorKind::kType:
      return Napi::TypeError::New(env, e.what());
    case ErrorKind::kRange:
      return Napi::RangeError::New(env, e.what());
    case ErrorKind::kPca:
      break;
  }
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Value().Set("code", Napi::String::New(env, "PCA_" + e.code()));
  return err;
}

}  // namespace tads::binding
