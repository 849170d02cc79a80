#include "bench/svg_chart.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace ax::bench {
namespace {

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::string tick_label(double v, double step) {
  if (v == 0) return "0";
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  if (std::abs(v) >= 1e5) return fmt::format("{:.3g}", v);
  return fmt::format("{:.{}f}", v, decimals);
}

struct Box {
  double left, top, width, height;
};

void render_panel(std::string& out, const Chart& c, double y0, int width, int height, int palette_start) {
  const Box plot{70, y0 + 40, width - 70.0 - 20, height - 40.0 - 55};
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  for (const Series& s : c.series)
    for (const auto& [x, y] : s.points)
      if (std::isfinite(x) && std::isfinite(y)) {
        xmin = std::min(xmin, x), xmax = std::max(xmax, x), ymin = std::min(ymin, y), ymax = std::max(ymax, y);
      }
  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"16\" font-weight=\"bold\">{}</text>\n", plot.left, y0 + 24,
                     xml_escape(c.title));
  if (!std::isfinite(xmin)) {
    out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"13\">no data</text>\n", plot.left + 10, plot.top + 30);
    return;
  }
  if (c.y_from_zero) ymin = std::min(0.0, ymin);
  if (xmax == xmin) xmin -= 1, xmax += 1;
  if (ymax == ymin) ymax = ymin + 1;
  const std::vector<double> xt = nice_ticks(xmin, xmax), yt = nice_ticks(ymin, ymax);
  xmin = std::min(xmin, xt.front()), xmax = std::max(xmax, xt.back());
  ymin = std::min(ymin, yt.front()), ymax = std::max(ymax, yt.back());
  auto px = [&](double x) { return plot.left + (x - xmin) / (xmax - xmin) * plot.width; };
  auto py = [&](double y) { return plot.top + plot.height - (y - ymin) / (ymax - ymin) * plot.height; };
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1, ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
  for (double x : xt) {
    out += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#e5e5e5\"/>\n", px(x),
                       plot.top, plot.top + plot.height);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"middle\">{}</text>\n", px(x),
                       plot.top + plot.height + 16, tick_label(x, xstep));
  }
  for (double y : yt) {
    out += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#e5e5e5\"/>\n",
                       plot.left, py(y), plot.left + plot.width);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"end\">{}</text>\n", plot.left - 6,
                       py(y) + 4, tick_label(y, ystep));
  }
  out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", plot.left,
                     plot.top, plot.width, plot.height);
  out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"12\" text-anchor=\"middle\">{}</text>\n",
                     plot.left + plot.width / 2, plot.top + plot.height + 36, xml_escape(c.x_label));
  out += fmt::format(
      "<text x=\"{0:.1f}\" y=\"{1:.1f}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 {0:.1f} {1:.1f})\">{2}</text>\n",
      plot.left - 50, plot.top + plot.height / 2, xml_escape(c.y_label));
  for (size_t i = 0; i < c.series.size(); ++i) {
    const Series& s = c.series[i];
    const char* color = kColors[(palette_start + i) % std::size(kColors)];
    std::string path;
    double last_y = 0;
    bool first = true;
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      if (s.style == SeriesStyle::Step && !first) path += fmt::format(" L{:.1f},{:.1f}", px(x), py(last_y));
      path += fmt::format("{}{:.1f},{:.1f}", first ? "M" : " L", px(x), py(y));
      last_y = y;
      first = false;
    }
    if (s.style != SeriesStyle::Markers && !path.empty())
      out += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\"/>\n", path, color);
    if (s.style == SeriesStyle::Markers || s.style == SeriesStyle::LineMarkers)
      for (const auto& [x, y] : s.points)
        if (std::isfinite(x) && std::isfinite(y))
          out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.6\" fill=\"{}\" fill-opacity=\"0.75\"/>\n", px(x),
                             py(y), color);
  }
  // Legend, top right inside the plot, after every series, on a translucent white band so it stays
  // readable over the lines.
  for (size_t i = 0; i < c.series.size(); ++i) {
    const Series& s = c.series[i];
    const char* color = kColors[(palette_start + i) % std::size(kColors)];
    const double ly = plot.top + 14 + 16 * static_cast<double>(i), lx = plot.left + plot.width - 12;
    const double text_w = 6.2 * static_cast<double>(s.label.size());
    out += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"16\" fill=\"white\" fill-opacity=\"0.8\"/>\n",
                       lx - 26 - text_w, ly - 12, text_w + 30);
    out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"3\"/>\n",
                       lx - 18, ly - 4, lx, ly - 4, color);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"end\">{}</text>\n", lx - 22, ly,
                       xml_escape(s.label));
  }
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (double v = std::floor(lo / step) * step; v <= hi + step * 0.5 && t.size() < 100; v += step)
    t.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  if (t.back() < hi) t.push_back(t.back() + step);
  return t;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string render_svg(const std::vector<Chart>& panels, int width, int panel_height) {
  const int height = panel_height * static_cast<int>(std::max<size_t>(1, panels.size()));
  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      width, height);
  for (size_t i = 0; i < panels.size(); ++i)
    render_panel(out, panels[i], static_cast<double>(i) * panel_height, width, panel_height, 0);
  out += "</svg>\n";
  return out;
}

}  // namespace ax::bench
