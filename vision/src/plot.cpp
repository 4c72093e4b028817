// Training curves and confusion matrices drawn with OpenCV's drawing functions.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <kiln/error.hpp>
#include <kiln/vision/plot.hpp>
#include <limits>
#include <opencv2/imgproc.hpp>

#include "image_io_impl.hpp"

namespace kiln::vision {

namespace {

const cv::Scalar kBlack(0, 0, 0), kGrid(225, 225, 225), kAxis(60, 60, 60), kWhite(255, 255, 255);
// matplotlib's tab10 blue, orange, green, red, purple (BGR).
const cv::Scalar kColors[] = {{180, 119, 31}, {14, 127, 255}, {44, 160, 44}, {40, 39, 214}, {189, 103, 148}};
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

cv::Size text_size(const std::string& s, double scale, int thickness = 1) {
  int baseline = 0;
  return cv::getTextSize(s, kFont, scale, thickness, &baseline);
}

// Text with its anchor at (x, y): align 0 = left, 1 = centre, 2 = right; y is the vertical centre.
void text(cv::Mat& img, const std::string& s, cv::Point at, double scale, int align = 0,
          const cv::Scalar& color = kBlack, int thickness = 1) {
  cv::Size sz = text_size(s, scale, thickness);
  cv::Point org(at.x - (align == 1 ? sz.width / 2 : align == 2 ? sz.width : 0), at.y + sz.height / 2);
  cv::putText(img, s, org, kFont, scale, color, thickness, cv::LINE_AA);
}

// Text turned 90 degrees counter-clockwise, centred at `at`.
void vertical_text(cv::Mat& img, const std::string& s, cv::Point at, double scale,
                   const cv::Scalar& color = kBlack) {
  cv::Size sz = text_size(s, scale);
  cv::Mat patch(sz.height + 8, sz.width + 4, CV_8UC3, kWhite);
  cv::putText(patch, s, cv::Point(2, sz.height + 3), kFont, scale, color, 1, cv::LINE_AA);
  cv::rotate(patch, patch, cv::ROTATE_90_COUNTERCLOCKWISE);
  cv::Rect r(at.x - patch.cols / 2, at.y - patch.rows / 2, patch.cols, patch.rows);
  r &= cv::Rect(0, 0, img.cols, img.rows);
  if (r.area() > 0) patch(cv::Rect(0, 0, r.width, r.height)).copyTo(img(r));
}

// A "nice" step (1, 2 or 5 times a power of ten) for about `count` intervals over span.
double nice_step(double span, int count) {
  double raw = span / count;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double f = raw / mag;
  return (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * mag;
}

std::string tick_label(double v, double step) {
  int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  if (std::abs(v) < step * 1e-6) v = 0.0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 6), v);
  return buf;
}

struct Series {
  std::string label;
  const std::vector<double>* values;
  cv::Scalar color;
  bool dashed;
};

void dashed_line(cv::Mat& img, cv::Point2d a, cv::Point2d b, const cv::Scalar& color, int thickness) {
  double len = std::hypot(b.x - a.x, b.y - a.y);
  const double dash = 8.0, gap = 5.0;
  for (double t = 0; t < len; t += dash + gap) {
    double t1 = std::min(t + dash, len);
    cv::Point2d p = a + (b - a) * (t / len), q = a + (b - a) * (t1 / len);
    cv::line(img, cv::Point(cvRound(p.x), cvRound(p.y)), cv::Point(cvRound(q.x), cvRound(q.y)), color,
             thickness, cv::LINE_AA);
  }
}

void draw_panel(cv::Mat& canvas, cv::Rect area, const std::string& title, const std::vector<Series>& series) {
  const int left = 68, right = 18, top = 40, bottom = 52;
  cv::Rect plot(area.x + left, area.y + top, area.width - left - right, area.height - top - bottom);
  size_t epochs = 0;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const Series& s : series) {
    epochs = std::max(epochs, s.values->size());
    for (double v : *s.values)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (hi - lo < 1e-12) {
    double pad = std::max(std::abs(lo) * 0.1, 0.5);
    lo -= pad, hi += pad;
  }
  // Margins (as matplotlib's 5%) keep points off the frame.
  double span = hi - lo;
  lo -= 0.05 * span, hi += 0.05 * span;
  double ystep = nice_step(hi - lo, 5);
  double y0 = std::floor(lo / ystep) * ystep, y1 = std::ceil(hi / ystep) * ystep;
  double x0 = 1.0, x1 = std::max<double>(static_cast<double>(epochs), 2.0);
  double xmargin = std::max(0.15, 0.04 * (x1 - x0));
  x0 -= xmargin, x1 += xmargin;
  if (epochs <= 1) x0 = 0.5, x1 = 1.5;
  auto px = [&](double e) { return plot.x + (e - x0) / (x1 - x0) * plot.width; };
  auto py = [&](double v) { return plot.y + plot.height - (v - y0) / (y1 - y0) * plot.height; };

  // Grid, ticks and their labels.
  for (double v = y0; v <= y1 + ystep * 1e-6; v += ystep) {
    int y = cvRound(py(v));
    cv::line(canvas, {plot.x, y}, {plot.x + plot.width, y}, kGrid, 1);
    cv::line(canvas, {plot.x - 5, y}, {plot.x, y}, kAxis, 1);
    text(canvas, tick_label(v, ystep), {plot.x - 8, y}, 0.42, 2);
  }
  double xstep = std::max(1.0, nice_step(x1 - x0, 8));
  for (double e = std::ceil(x0); e <= x1 + 1e-9; e += xstep) {
    int x = cvRound(px(e));
    cv::line(canvas, {x, plot.y}, {x, plot.y + plot.height}, kGrid, 1);
    cv::line(canvas, {x, plot.y + plot.height}, {x, plot.y + plot.height + 5}, kAxis, 1);
    text(canvas, tick_label(e, 1.0), {x, plot.y + plot.height + 16}, 0.42, 1);
  }
  cv::rectangle(canvas, plot, kAxis, 1);
  text(canvas, title, {plot.x + plot.width / 2, area.y + 20}, 0.6, 1, kBlack, 1);
  text(canvas, "epoch", {plot.x + plot.width / 2, plot.y + plot.height + 38}, 0.5, 1);
  vertical_text(canvas, title, {area.x + 14, plot.y + plot.height / 2}, 0.5);

  // The series: lines between finite neighbours, a marker on each point.
  cv::Mat clip = canvas(plot);
  cv::Point2d offset(plot.x, plot.y);
  for (const Series& s : series) {
    const std::vector<double>& v = *s.values;
    for (size_t i = 0; i < v.size(); ++i) {
      if (!std::isfinite(v[i])) continue;
      cv::Point2d p(px(static_cast<double>(i) + 1.0), py(v[i]));
      if (i + 1 < v.size() && std::isfinite(v[i + 1])) {
        cv::Point2d q(px(static_cast<double>(i) + 2.0), py(v[i + 1]));
        if (s.dashed)
          dashed_line(clip, p - offset, q - offset, s.color, 2);
        else
          cv::line(clip, cv::Point(p - offset), cv::Point(q - offset), s.color, 2, cv::LINE_AA);
      }
      cv::circle(clip, cv::Point(p - offset), 3, s.color, cv::FILLED, cv::LINE_AA);
    }
  }

  // Legend in the corner with the fewest points.
  int lw = 0;
  for (const Series& s : series) lw = std::max(lw, text_size(s.label, 0.45).width);
  cv::Size box(lw + 52, 10 + 20 * static_cast<int>(series.size()));
  cv::Rect corners[4] = {
      {plot.x + plot.width - box.width - 8, plot.y + 8, box.width, box.height},
      {plot.x + plot.width - box.width - 8, plot.y + plot.height - box.height - 8, box.width, box.height},
      {plot.x + 8, plot.y + 8, box.width, box.height},
      {plot.x + 8, plot.y + plot.height - box.height - 8, box.width, box.height}};
  int best = 0, best_hits = std::numeric_limits<int>::max();
  for (int c = 0; c < 4; ++c) {
    int hits = 0;
    for (const Series& s : series)
      for (size_t i = 0; i < s.values->size(); ++i)
        if (std::isfinite((*s.values)[i]) &&
            corners[c].contains(
                cv::Point(cvRound(px(static_cast<double>(i) + 1.0)), cvRound(py((*s.values)[i])))))
          ++hits;
    if (hits < best_hits) best = c, best_hits = hits;
  }
  cv::Rect lg = corners[best];
  cv::rectangle(canvas, lg, kWhite, cv::FILLED);
  cv::rectangle(canvas, lg, cv::Scalar(180, 180, 180), 1);
  for (size_t i = 0; i < series.size(); ++i) {
    int y = lg.y + 15 + 20 * static_cast<int>(i);
    cv::Point2d a(lg.x + 8, y), b(lg.x + 38, y);
    if (series[i].dashed)
      dashed_line(canvas, a, b, series[i].color, 2);
    else
      cv::line(canvas, cv::Point(a), cv::Point(b), series[i].color, 2, cv::LINE_AA);
    cv::circle(canvas, cv::Point((a + b) * 0.5), 3, series[i].color, cv::FILLED, cv::LINE_AA);
    text(canvas, series[i].label, {lg.x + 44, y}, 0.45);
  }
}

Tensor bgr_to_tensor(const cv::Mat& bgr) {
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return detail::mat_to_chw_uint8(rgb);
}

// Blues: from near-white to dark blue (BGR), t in [0, 1].
cv::Scalar heat(double t) {
  static const double stops[][3] = {
      {255, 251, 247}, {225, 208, 198}, {214, 174, 107}, {189, 130, 49}, {107, 48, 8}};
  t = std::clamp(t, 0.0, 1.0) * 4.0;
  int i = std::min(static_cast<int>(t), 3);
  double f = t - i;
  return {stops[i][0] + f * (stops[i + 1][0] - stops[i][0]),
          stops[i][1] + f * (stops[i + 1][1] - stops[i][1]),
          stops[i][2] + f * (stops[i + 1][2] - stops[i][2])};
}

}  // namespace

Tensor render_training_curves(const std::map<std::string, std::vector<double>>& history,
                              const TrainingCurvesOptions& options) {
  // Group "x" and "val_x" under x.
  std::map<std::string, std::vector<std::string>> groups;
  for (const auto& [key, values] : history) {
    if (values.empty()) continue;
    std::string base = key.rfind("val_", 0) == 0 ? key.substr(4) : key;
    groups[base].push_back(key);
  }
  KILN_CHECK(!groups.empty(), ValueError, "plot_training_curves: the history holds no values (",
             history.size(), " keys, all empty)");
  std::vector<std::string> order;
  for (const char* first : {"loss", "accuracy"})
    if (groups.count(first)) order.push_back(first);
  for (const auto& [base, keys] : groups)
    if (base != "loss" && base != "accuracy") order.push_back(base);

  KILN_CHECK(options.panel_width >= 200 && options.panel_height >= 150 && options.panels_per_row > 0,
             ValueError, "plot_training_curves: panels must be at least 200x150 pixels, got ",
             options.panel_width, "x", options.panel_height);
  const int n = static_cast<int>(order.size());
  const int cols = std::min(n, options.panels_per_row), rows = (n + cols - 1) / cols;
  const int title_h = options.title.empty() ? 0 : 36;
  cv::Mat canvas(title_h + rows * options.panel_height, cols * options.panel_width, CV_8UC3, kWhite);
  if (!options.title.empty()) text(canvas, options.title, {canvas.cols / 2, 20}, 0.7, 1, kBlack, 2);
  for (int p = 0; p < n; ++p) {
    std::vector<std::string> keys = groups[order[p]];
    // Training first, then validation.
    std::stable_sort(keys.begin(), keys.end(), [](const std::string& a, const std::string& b) {
      return (a.rfind("val_", 0) == 0) < (b.rfind("val_", 0) == 0);
    });
    std::vector<Series> series;
    for (size_t i = 0; i < keys.size(); ++i) {
      bool val = keys[i].rfind("val_", 0) == 0;
      series.push_back({keys[i], &history.at(keys[i]), kColors[i % 5], val});
    }
    cv::Rect area((p % cols) * options.panel_width, title_h + (p / cols) * options.panel_height,
                  options.panel_width, options.panel_height);
    draw_panel(canvas, area, order[p], series);
  }
  return bgr_to_tensor(canvas);
}

void plot_training_curves(const std::map<std::string, std::vector<double>>& history, const std::string& path,
                          const TrainingCurvesOptions& options) {
  write_image(render_training_curves(history, options), path);
}

Tensor render_confusion_matrix(const Tensor& matrix, const std::vector<std::string>& class_names,
                               const ConfusionMatrixPlotOptions& options) {
  KILN_CHECK(matrix.defined() && matrix.dim() == 2 && matrix.size(0) == matrix.size(1) && matrix.size(0) > 0,
             ShapeError, "plot_confusion_matrix: expected a square matrix [C, C], got ",
             matrix.defined() ? matrix.shape().str() : std::string("an undefined tensor"));
  const int c = static_cast<int>(matrix.size(0));
  KILN_CHECK(class_names.empty() || static_cast<int>(class_names.size()) == c, ShapeError,
             "plot_confusion_matrix: ", class_names.size(), " class names for a ", c, "x", c, " matrix");
  std::vector<double> counts = matrix.to_vector<double>();
  std::vector<std::string> names = class_names;
  for (int i = static_cast<int>(names.size()); i < c; ++i) names.push_back(std::to_string(i));

  std::vector<double> shade(counts.size());
  double vmax = 0;
  for (int r = 0; r < c; ++r) {
    double row_sum = 0;
    for (int k = 0; k < c; ++k) row_sum += counts[r * c + k];
    for (int k = 0; k < c; ++k) {
      double v = options.normalize ? (row_sum > 0 ? counts[r * c + k] / row_sum : 0.0) : counts[r * c + k];
      shade[r * c + k] = v;
      vmax = std::max(vmax, v);
    }
  }
  if (vmax <= 0) vmax = 1;

  const int cell = std::clamp(640 / c, 12, 72);
  const double label_scale = cell >= 28 ? 0.45 : 0.35;
  int name_w = 0;
  for (const std::string& s : names) name_w = std::max(name_w, text_size(s, label_scale).width);
  const bool rotate_cols = name_w > cell - 4;
  const int left = name_w + 52, top = 60, grid = cell * c;
  const int bottom = (rotate_cols ? name_w : 14) + 46;
  const int bar_w = 18, right = 90;
  cv::Mat canvas(top + grid + bottom, left + grid + right, CV_8UC3, kWhite);
  text(canvas, options.title, {left + grid / 2, 24}, 0.6, 1, kBlack, 1);

  for (int r = 0; r < c; ++r)
    for (int k = 0; k < c; ++k) {
      double t = shade[r * c + k] / vmax;
      cv::Rect box(left + k * cell, top + r * cell, cell, cell);
      cv::rectangle(canvas, box, heat(t), cv::FILLED);
      if (cell < 24) continue;
      const cv::Scalar ink = t > 0.55 ? kWhite : kBlack;
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.0f", counts[r * c + k]);
      if (options.normalize && cell >= 44) {
        text(canvas, buf, {box.x + cell / 2, box.y + cell / 2 - 8}, 0.4, 1, ink);
        std::snprintf(buf, sizeof buf, "%.2f", shade[r * c + k]);
        text(canvas, buf, {box.x + cell / 2, box.y + cell / 2 + 9}, 0.38, 1, ink);
      } else {
        double scale = std::min(0.45, 0.9 * cell / std::max(1, text_size(buf, 1.0).width));
        text(canvas, buf, {box.x + cell / 2, box.y + cell / 2}, scale, 1, ink);
      }
    }
  cv::rectangle(canvas, cv::Rect(left, top, grid, grid), kAxis, 1);

  // Class names: rows on the left, columns below (turned when they do not fit).
  for (int i = 0; i < c; ++i) {
    text(canvas, names[i], {left - 8, top + i * cell + cell / 2}, label_scale, 2);
    int x = left + i * cell + cell / 2;
    if (rotate_cols) {
      cv::Size sz = text_size(names[i], label_scale);
      vertical_text(canvas, names[i], {x, top + grid + 8 + sz.width / 2}, label_scale);
    } else {
      text(canvas, names[i], {x, top + grid + 12}, label_scale, 1);
    }
  }
  text(canvas, "predicted", {left + grid / 2, canvas.rows - 16}, 0.5, 1);
  vertical_text(canvas, "true", {14, top + grid / 2}, 0.5);

  // Colour bar with a few ticks.
  const int bx = left + grid + 16;
  for (int y = 0; y < grid; ++y)
    cv::line(canvas, {bx, top + y}, {bx + bar_w, top + y}, heat(1.0 - double(y) / grid), 1);
  cv::rectangle(canvas, cv::Rect(bx, top, bar_w, grid), kAxis, 1);
  double step = nice_step(vmax, 4);
  for (double v = 0; v <= vmax + step * 1e-6; v += step) {
    int y = top + grid - cvRound(v / vmax * grid);
    cv::line(canvas, {bx + bar_w, y}, {bx + bar_w + 4, y}, kAxis, 1);
    text(canvas, tick_label(v, options.normalize ? step : std::max(step, 1.0)), {bx + bar_w + 7, y}, 0.38);
  }
  return bgr_to_tensor(canvas);
}

void plot_confusion_matrix(const Tensor& matrix, const std::vector<std::string>& class_names,
                           const std::string& path, const ConfusionMatrixPlotOptions& options) {
  write_image(render_confusion_matrix(matrix, class_names, options), path);
}

}  // namespace kiln::vision
