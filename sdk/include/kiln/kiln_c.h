/* Kiln's C API: load a model saved with kiln::save and run it on caller-owned buffers.
 *
 *   #include <kiln/kiln_c.h>
 *
 *   kiln_model_t model;
 *   if (kiln_model_load("mlp.kiln", &model) != KILN_RESULT_OK) {
 *     fprintf(stderr, "%s\n", kiln_last_error());
 *     return 1;
 *   }
 *   int64_t shape[2] = {4, 2}, out_shape[KILN_C_MAX_DIMS];
 *   float input[8] = {...}, output[64];
 *   int out_ndim;
 *   kiln_model_run(model, input, shape, 2, output, 64, out_shape, &out_ndim);
 *   kiln_model_free(model);
 *
 * Plain C (C99); link with libkiln_c (CMake: Kiln::c; pkg-config: kiln-c). No C++ exception
 * crosses this boundary: every function that can fail returns a kiln_result, and on failure
 * kiln_last_error() says what went wrong (what was expected, what was found, where).
 *
 * Backends are shared-library plugins loaded on first use from the folder kiln/backends beside
 * libkiln and from KILN_PLUGIN_PATH; layer plugins (custom layers a model may use) from the same
 * places and kiln/layers. KILN_BACKEND chooses the default device, as kiln_set_backend does.
 *
 * Threads: the library is safe to call from several threads, but one model handle must not be
 * used by two threads at once (load one handle per thread, or serialize the calls).
 */
#ifndef KILN_KILN_C_H
#define KILN_KILN_C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(KILN_C_BUILDING)
#define KILN_C_API __declspec(dllexport)
#elif defined(_WIN32)
#define KILN_C_API __declspec(dllimport)
#elif defined(__GNUC__)
#define KILN_C_API __attribute__((visibility("default")))
#else
#define KILN_C_API
#endif

/* The version of this header; kiln_version() gives the library's. */
#define KILN_C_VERSION_MAJOR 0
#define KILN_C_VERSION_MINOR 1
#define KILN_C_VERSION_PATCH 0

/* The most axes a tensor has; size shape arrays with it. */
#define KILN_C_MAX_DIMS 8

typedef enum kiln_result {
  KILN_RESULT_OK = 0,
  KILN_RESULT_INVALID_ARGUMENT = 1,  /* a null pointer, a negative extent, ndim out of range */
  KILN_RESULT_FILE_ERROR = 2,        /* the model file is missing, unreadable, corrupt or hostile */
  KILN_RESULT_SHAPE_ERROR = 3,       /* the input's shape or dtype does not suit the model */
  KILN_RESULT_BUFFER_TOO_SMALL = 4,  /* output_capacity too small: out_shape tells the size needed */
  KILN_RESULT_BACKEND_ERROR = 5,     /* no such backend or device, a plugin failed, an op failed */
  KILN_RESULT_UNKNOWN = 6,           /* the answer cannot be determined (see the function) */
  KILN_RESULT_OUT_OF_MEMORY = 7,
  KILN_RESULT_INTERNAL_ERROR = 8     /* a bug in Kiln */
} kiln_result;

/* A loaded model. Opaque; create with kiln_model_load, destroy with kiln_model_free. */
typedef struct kiln_model_s* kiln_model_t;

/* ---- library ---- */

/* The library's version, "0.1.0". Never fails; the string is static. */
KILN_C_API const char* kiln_version(void);
/* The library's version as numbers; any pointer may be NULL. */
KILN_C_API void kiln_version_numbers(int* major, int* minor, int* patch);

/* The message of the last failed call on this thread ("" if none yet). Valid until the next
 * failing call on the same thread; never NULL. */
KILN_C_API const char* kiln_last_error(void);
/* A short name for a result code ("KILN_RESULT_SHAPE_ERROR"). Never NULL. */
KILN_C_API const char* kiln_result_name(kiln_result result);

/* Chooses the device models run on: "cpu" (the best host backend), "ref", "tbb:0", "cuda:1"...
 * Applies to models loaded afterwards and to later kiln_model_run calls (a model on another
 * device is moved there). KILN_RESULT_BACKEND_ERROR when no loaded backend has that device. */
KILN_C_API kiln_result kiln_set_backend(const char* device);
/* The current default device into buf ("ref:0"), NUL-terminated; KILN_RESULT_BUFFER_TOO_SMALL
 * when it does not fit in capacity bytes. */
KILN_C_API kiln_result kiln_get_backend(char* buf, size_t capacity);
/* Loads one more plugin file now: a backend plugin or a layer plugin. Plugins on the search path
 * load by themselves; this is for a file elsewhere. KILN_RESULT_BACKEND_ERROR with the file and
 * reason when it is refused. */
KILN_C_API kiln_result kiln_load_plugin(const char* path);

/* ---- models ---- */

/* Loads a .kiln file saved by kiln::save / Model::save and puts it in inference (eval) mode.
 * On success *out is a new handle; on failure *out is NULL and the result is
 * KILN_RESULT_FILE_ERROR (the message names the file and byte offset and, for a layer type no
 * loaded plugin provides, which plugin to install). */
KILN_C_API kiln_result kiln_model_load(const char* path, kiln_model_t* out);
/* Frees a model; NULL is allowed. */
KILN_C_API void kiln_model_free(kiln_model_t model);

/* The input shape the model expects, read from its first layer: [-1, in_features] for a Linear,
 * [-1, channels, -1, -1] for a Conv2d; -1 means any extent (always the batch axis). Writes ndim
 * extents into shape (capacity >= KILN_C_MAX_DIMS is always enough) and the count into *ndim.
 * KILN_RESULT_UNKNOWN when the first layer does not tell (give a shape to
 * kiln_model_output_shape, or read the model's documentation). */
KILN_C_API kiln_result kiln_model_input_shape(kiln_model_t model, int64_t* shape, int capacity, int* ndim);
/* The output shape for an input of the given shape (every extent >= 0), found by running the
 * model once on zeros; KILN_RESULT_SHAPE_ERROR (with the layer and shapes in the message) when
 * the model cannot take that input. out_shape needs room for KILN_C_MAX_DIMS extents. */
KILN_C_API kiln_result kiln_model_output_shape(kiln_model_t model, const int64_t* input_shape, int input_ndim,
                                               int64_t* out_shape, int* out_ndim);

/* Runs the model on a float32 input of the given shape (row-major, contiguous, ndim extents) and
 * writes its output, converted to float32, row-major, into output, which holds output_capacity
 * floats. out_shape (room for KILN_C_MAX_DIMS extents) and *out_ndim receive the output's shape.
 * No gradient is recorded. When the output does not fit, the result is
 * KILN_RESULT_BUFFER_TOO_SMALL, out_shape/out_ndim still say how big it is, and output is not
 * written. input may be NULL only when the shape has no element. */
KILN_C_API kiln_result kiln_model_run(kiln_model_t model, const float* input, const int64_t* shape, int ndim,
                                      float* output, size_t output_capacity, int64_t* out_shape, int* out_ndim);

/* Number of parameter scalars (weights and biases) in the model; -1 if model is NULL. */
KILN_C_API int64_t kiln_model_num_parameters(kiln_model_t model);
/* A multi-line description of the model's layers (like printing it in PyTorch) into buf, NUL-
 * terminated; KILN_RESULT_BUFFER_TOO_SMALL when it does not fit (then *needed, if not NULL,
 * is the capacity required, counting the NUL). */
KILN_C_API kiln_result kiln_model_describe(kiln_model_t model, char* buf, size_t capacity, size_t* needed);

#ifdef __cplusplus
}
#endif

#endif /* KILN_KILN_C_H */
