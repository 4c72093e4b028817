/* Loads a model saved by the C++ API and runs it from C through kiln/kiln_c.h.
 *
 *   infer MODEL.kiln [PROBE.txt]
 *
 * Prints the model, its input shape and the class it predicts for a few inputs. With a probe
 * file written by train_mlp ("n in out", then per row: inputs, expected outputs, label), it runs
 * the probe inputs and exits 1 unless every output matches the C++ program's within 1e-4.
 * A model using a plugin layer needs that plugin on KILN_PLUGIN_PATH (or in lib/kiln/layers). */
#include <kiln/kiln_c.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check(kiln_result r, const char* what) {
  if (r != KILN_RESULT_OK) {
    fprintf(stderr, "infer: %s failed (%s): %s\n", what, kiln_result_name(r), kiln_last_error());
    return 0;
  }
  return 1;
}

static int argmax(const float* v, int64_t n) {
  int64_t best = 0, i;
  for (i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  return (int)best;
}

static int run_probe(kiln_model_t model, const char* path) {
  FILE* f = fopen(path, "r");
  int64_t rows = 0, in = 0, out = 0, r, k, shape[2], out_shape[KILN_C_MAX_DIMS];
  int out_ndim = 0, ok = 1, correct = 0;
  float *x, *expected, *y;
  double worst = 0.0;
  if (f == NULL) {
    fprintf(stderr, "infer: cannot open probe %s\n", path);
    return 0;
  }
  if (fscanf(f, "%lld %lld %lld", (long long*)&rows, (long long*)&in, (long long*)&out) != 3 || rows <= 0 ||
      in <= 0 || out <= 0) {
    fprintf(stderr, "infer: %s: bad header\n", path);
    fclose(f);
    return 0;
  }
  x = malloc(sizeof(float) * (size_t)(rows * in));
  expected = malloc(sizeof(float) * (size_t)(rows * out));
  y = malloc(sizeof(float) * (size_t)(rows * out));
  for (r = 0; r < rows && ok; ++r) {
    long long label = 0;
    for (k = 0; k < in; ++k) ok = ok && fscanf(f, "%f", &x[r * in + k]) == 1;
    for (k = 0; k < out; ++k) ok = ok && fscanf(f, "%f", &expected[r * out + k]) == 1;
    ok = ok && fscanf(f, "%lld", &label) == 1;
  }
  fclose(f);
  if (!ok) fprintf(stderr, "infer: %s: truncated\n", path);

  shape[0] = rows;
  shape[1] = in;
  /* A deliberately small buffer first: the call says how big the output is. */
  if (ok && kiln_model_run(model, x, shape, 2, y, 1, out_shape, &out_ndim) != KILN_RESULT_BUFFER_TOO_SMALL) {
    fprintf(stderr, "infer: expected KILN_RESULT_BUFFER_TOO_SMALL for a 1-float buffer\n");
    ok = 0;
  }
  ok = ok && check(kiln_model_run(model, x, shape, 2, y, (size_t)(rows * out), out_shape, &out_ndim), "kiln_model_run");
  if (ok && (out_ndim != 2 || out_shape[0] != rows || out_shape[1] != out)) {
    fprintf(stderr, "infer: output shape is not [%lld, %lld]\n", (long long)rows, (long long)out);
    ok = 0;
  }
  for (r = 0; ok && r < rows; ++r) {
    for (k = 0; k < out; ++k) {
      double d = fabs((double)y[r * out + k] - (double)expected[r * out + k]);
      if (d > worst) worst = d;
    }
    correct += argmax(&y[r * out], out) == argmax(&expected[r * out], out);
    printf("input (%6.3f, %6.3f) -> class %d\n", x[r * in], x[r * in + 1], argmax(&y[r * out], out));
  }
  if (ok) {
    printf("probe: %lld rows, largest difference from the C++ outputs %.3g, %d/%lld same class\n", (long long)rows,
           worst, correct, (long long)rows);
    ok = worst <= 1e-4 && correct == rows;
  }
  free(x);
  free(expected);
  free(y);
  return ok;
}

int main(int argc, char** argv) {
  kiln_model_t model = NULL;
  int64_t in_shape[KILN_C_MAX_DIMS], out_shape[KILN_C_MAX_DIMS];
  int in_ndim = 0, out_ndim = 0, i, ok = 1;
  char device[64], description[4096];
  const char* backend = getenv("KILN_BACKEND");
  if (argc < 2) {
    fprintf(stderr, "usage: infer MODEL.kiln [PROBE.txt]\n");
    return 2;
  }
  printf("Kiln C API %s\n", kiln_version());
  if (backend != NULL && !check(kiln_set_backend(backend), "kiln_set_backend")) return 1;
  if (!check(kiln_model_load(argv[1], &model), "kiln_model_load")) return 1;
  if (check(kiln_get_backend(device, sizeof device), "kiln_get_backend")) printf("device %s\n", device);
  if (check(kiln_model_describe(model, description, sizeof description, NULL), "kiln_model_describe"))
    printf("%s\n%lld parameters\n", description, (long long)kiln_model_num_parameters(model));

  if (check(kiln_model_input_shape(model, in_shape, KILN_C_MAX_DIMS, &in_ndim), "kiln_model_input_shape")) {
    printf("input shape [");
    for (i = 0; i < in_ndim; ++i) printf("%s%lld", i ? ", " : "", (long long)in_shape[i]);
    in_shape[0] = 4; /* a batch of 4 */
    ok = check(kiln_model_output_shape(model, in_shape, in_ndim, out_shape, &out_ndim), "kiln_model_output_shape");
    printf("], output shape for a batch of 4 [");
    for (i = 0; ok && i < out_ndim; ++i) printf("%s%lld", i ? ", " : "", (long long)out_shape[i]);
    printf("]\n");
  }
  if (ok && argc > 2) ok = run_probe(model, argv[2]);
  kiln_model_free(model);
  printf("%s\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
