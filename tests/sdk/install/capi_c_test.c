/* The C API from C99: values on caller-owned buffers and every error path, on the model
 * sdk_capi_save_fixture saved (Linear(3, 2) with W = [[1, -2, 3], [-4, 5, -6]], b = [0.5, -0.5],
 * then ReLU). */
#include <kiln/kiln_c.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;

#define EXPECT(cond)                                                                    \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      fprintf(stderr, "%s:%d: expected %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
              kiln_last_error());                                                       \
      ++failures;                                                                       \
    }                                                                                   \
  } while (0)

static const float kW[2][3] = {{1, -2, 3}, {-4, 5, -6}};
static const float kB[2] = {0.5f, -0.5f};

static float expected(const float* x, int row, int out) {
  float v = kB[out];
  int k;
  for (k = 0; k < 3; ++k) v += kW[out][k] * x[row * 3 + k];
  return v > 0 ? v : 0;
}

int main(int argc, char** argv) {
  kiln_model_t model = NULL, bad = NULL;
  int64_t shape[KILN_C_MAX_DIMS], out_shape[KILN_C_MAX_DIMS];
  int ndim = 0, out_ndim = 0, major = -1, minor = -1, patch = -1, r, c;
  float x[4 * 3] = {1, 1, 1, 0, 1, 0, -1, 0.5f, 2, 0.25f, -3, 1};
  float y[4 * 2];
  char text[4096];
  size_t needed = 0;
  if (argc != 2) {
    fprintf(stderr, "usage: sdk_capi_c_test MODEL.kiln\n");
    return 2;
  }

  /* version */
  EXPECT(strcmp(kiln_version(), "0.1.0") == 0);
  kiln_version_numbers(&major, &minor, &patch);
  EXPECT(major == KILN_C_VERSION_MAJOR && minor == KILN_C_VERSION_MINOR && patch == KILN_C_VERSION_PATCH);
  EXPECT(kiln_last_error() != NULL && kiln_last_error()[0] == '\0');
  EXPECT(strcmp(kiln_result_name(KILN_RESULT_SHAPE_ERROR), "KILN_RESULT_SHAPE_ERROR") == 0);

  /* loading */
  EXPECT(kiln_model_load("/no/such/dir/model.kiln", &bad) == KILN_RESULT_FILE_ERROR);
  EXPECT(bad == NULL);
  EXPECT(strstr(kiln_last_error(), "/no/such/dir/model.kiln") != NULL);
  EXPECT(kiln_model_load(argv[1], NULL) == KILN_RESULT_INVALID_ARGUMENT);
  EXPECT(kiln_model_load(NULL, &bad) == KILN_RESULT_INVALID_ARGUMENT);
  EXPECT(kiln_model_load(argv[1], &model) == KILN_RESULT_OK);
  if (model == NULL) return 1;

  /* queries */
  EXPECT(kiln_model_num_parameters(model) == 8);
  EXPECT(kiln_model_num_parameters(NULL) == -1);
  EXPECT(kiln_model_input_shape(model, shape, KILN_C_MAX_DIMS, &ndim) == KILN_RESULT_OK);
  EXPECT(ndim == 2 && shape[0] == -1 && shape[1] == 3);
  EXPECT(kiln_model_input_shape(model, shape, 1, &ndim) == KILN_RESULT_BUFFER_TOO_SMALL);
  shape[0] = 5;
  shape[1] = 3;
  EXPECT(kiln_model_output_shape(model, shape, 2, out_shape, &out_ndim) == KILN_RESULT_OK);
  EXPECT(out_ndim == 2 && out_shape[0] == 5 && out_shape[1] == 2);
  shape[1] = 4;
  EXPECT(kiln_model_output_shape(model, shape, 2, out_shape, &out_ndim) == KILN_RESULT_SHAPE_ERROR);
  EXPECT(strstr(kiln_last_error(), "3") != NULL && strstr(kiln_last_error(), "4") != NULL);
  EXPECT(kiln_model_describe(model, text, sizeof text, &needed) == KILN_RESULT_OK);
  EXPECT(strstr(text, "Linear") != NULL && strstr(text, "ReLU") != NULL && needed == strlen(text) + 1);
  EXPECT(kiln_model_describe(model, text, 4, &needed) == KILN_RESULT_BUFFER_TOO_SMALL && needed > 4);

  /* running */
  shape[0] = 4;
  shape[1] = 3;
  EXPECT(kiln_model_run(model, x, shape, 2, y, 8, out_shape, &out_ndim) == KILN_RESULT_OK);
  EXPECT(out_ndim == 2 && out_shape[0] == 4 && out_shape[1] == 2);
  for (r = 0; r < 4; ++r)
    for (c = 0; c < 2; ++c) EXPECT(fabsf(y[r * 2 + c] - expected(x, r, c)) < 1e-5f);
  EXPECT(y[0] == 2.5f && y[1] == 0.0f); /* [1, 1, 1] -> relu([2.5, -5.5]) */
  out_ndim = 0;
  EXPECT(kiln_model_run(model, x, shape, 2, y, 7, out_shape, &out_ndim) == KILN_RESULT_BUFFER_TOO_SMALL);
  EXPECT(out_ndim == 2 && out_shape[0] == 4 && out_shape[1] == 2);
  EXPECT(strstr(kiln_last_error(), "output_capacity is 7") != NULL);
  shape[0] = 0; /* an empty batch: input and output may be NULL */
  EXPECT(kiln_model_run(model, NULL, shape, 2, NULL, 0, out_shape, &out_ndim) == KILN_RESULT_OK);
  EXPECT(out_ndim == 2 && out_shape[0] == 0 && out_shape[1] == 2);
  shape[0] = 4;
  EXPECT(kiln_model_run(model, NULL, shape, 2, y, 8, out_shape, &out_ndim) == KILN_RESULT_INVALID_ARGUMENT);
  EXPECT(kiln_model_run(model, x, shape, KILN_C_MAX_DIMS + 1, y, 8, out_shape, &out_ndim) ==
         KILN_RESULT_INVALID_ARGUMENT);
  shape[0] = -4;
  EXPECT(kiln_model_run(model, x, shape, 2, y, 8, out_shape, &out_ndim) == KILN_RESULT_INVALID_ARGUMENT);
  EXPECT(strstr(kiln_last_error(), "-4") != NULL);
  shape[0] = 2;
  shape[1] = 6;
  EXPECT(kiln_model_run(model, x, shape, 2, y, 8, out_shape, &out_ndim) == KILN_RESULT_SHAPE_ERROR);
  EXPECT(kiln_model_run(NULL, x, shape, 2, y, 8, out_shape, &out_ndim) == KILN_RESULT_INVALID_ARGUMENT);

  /* backends */
  EXPECT(kiln_set_backend("no-such-backend") == KILN_RESULT_BACKEND_ERROR);
  EXPECT(strstr(kiln_last_error(), "no-such-backend") != NULL);
  EXPECT(kiln_set_backend(NULL) == KILN_RESULT_INVALID_ARGUMENT);
  EXPECT(kiln_set_backend("ref") == KILN_RESULT_OK);
  EXPECT(kiln_get_backend(text, sizeof text) == KILN_RESULT_OK && strcmp(text, "ref:0") == 0);
  EXPECT(kiln_get_backend(text, 2) == KILN_RESULT_BUFFER_TOO_SMALL);
  shape[0] = 4;
  shape[1] = 3;
  EXPECT(kiln_model_run(model, x, shape, 2, y, 8, out_shape, &out_ndim) == KILN_RESULT_OK);
  EXPECT(fabsf(y[7] - expected(x, 3, 1)) < 1e-5f);
  EXPECT(kiln_load_plugin("/no/such/plugin.so") == KILN_RESULT_BACKEND_ERROR);
  EXPECT(strstr(kiln_last_error(), "/no/such/plugin.so") != NULL);

  kiln_model_free(model);
  kiln_model_free(NULL);
  if (failures == 0) printf("sdk_capi_c_test: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
