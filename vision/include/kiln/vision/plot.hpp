// Plots drawn with OpenCV and saved as PNG (or any format write_image knows, by extension): the
// training curves of a fit and a confusion matrix. Needs kiln_vision built with OpenCV.
//
//   auto history = model.fit(train, {.epochs = 10, .validation = &test});
//   vision::plot_training_curves(history.history, "curves.png");
//   metrics::ConfusionMatrix cm(10);  ... cm.update(pred, target) ...
//   vision::plot_confusion_matrix(cm.matrix(), vision::CIFAR10::classes(), "confusion.png");
#pragma once

#include <kiln/tensor.hpp>
#include <map>
#include <string>
#include <vector>

namespace kiln::vision {

struct TrainingCurvesOptions {
  std::string title;      // drawn above the panels when not empty
  int panel_width = 520;  // pixels per panel
  int panel_height = 380;
  int panels_per_row = 3;
};

// One panel per metric: "loss" first, then "accuracy", then the others by name. "x" and "val_x"
// share the panel of x (train solid, validation dashed), with the epoch (1-based) on the x axis,
// ticks, grid lines and a legend. Non-finite values leave gaps. ValueError when history is empty
// or holds only empty series.
Tensor render_training_curves(const std::map<std::string, std::vector<double>>& history,
                              const TrainingCurvesOptions& options = {});  // uint8 [3, H, W]
void plot_training_curves(const std::map<std::string, std::vector<double>>& history, const std::string& path,
                          const TrainingCurvesOptions& options = {});

struct ConfusionMatrixPlotOptions {
  bool normalize = false;  // colour (and label) by each row's fraction instead of the counts
  std::string title = "Confusion matrix";
};

// A heat map of matrix [C, C] (rows = true class, columns = predicted, as
// metrics::ConfusionMatrix::matrix()), with the count in each cell (and the row fraction when
// normalize is set; cells too small for text are left bare), class names on both axes and a colour
// bar. class_names may be empty (then 0..C-1) or hold C names; ShapeError otherwise.
Tensor render_confusion_matrix(const Tensor& matrix, const std::vector<std::string>& class_names = {},
                               const ConfusionMatrixPlotOptions& options = {});  // uint8 [3, H, W]
void plot_confusion_matrix(const Tensor& matrix, const std::vector<std::string>& class_names,
                           const std::string& path, const ConfusionMatrixPlotOptions& options = {});

}  // namespace kiln::vision
