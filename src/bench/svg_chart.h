#pragma once
// A small SVG chart writer (our own output; no plotting library needed): one or more panels,
// each with linear axes, "nice" ticks (1, 2, 5 x 10^k), a grid, a legend, and series drawn as
// lines, steps (CDFs) or markers. The SVG is self-contained and opens in any browser.
#include <string>
#include <utility>
#include <vector>

namespace ax::bench {

enum class SeriesStyle { Line, Step, Markers, LineMarkers };

struct Series {
  std::string label;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in the given order
  SeriesStyle style = SeriesStyle::Line;
};

struct Chart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  bool y_from_zero = true;  // the y axis starts at 0 (else at the data's minimum)
};

// Tick positions covering [lo, hi] with about `target` steps of 1, 2 or 5 x 10^k.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);
// Panels stacked vertically, each width x panel_height pixels.
std::string render_svg(const std::vector<Chart>& panels, int width = 760, int panel_height = 420);
std::string xml_escape(const std::string& s);

}  // namespace ax::bench
