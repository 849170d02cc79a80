#pragma once
// `bench plot ARTIFACT...`: SVG charts of one or more artifact folders, one series per folder:
//   ttft_cdf.svg, itl_cdf.svg, e2e_cdf.svg   latency CDFs (every repeat's requests pooled)
//   throughput_vs_concurrency.svg           median output tok/s against the scenario's
//                                           concurrency (one line per manifest family and target;
//                                           a matrix over shape.concurrency makes the points)
//   ttft_over_time.svg                      each request's TTFT at its submit time (run 0)
//   step_trace_<n>.svg                      per in-process artifact n: prefill and decode rows of
//                                           every engine step, and each step's time (run 0)
//   index.html                              all of them on one page
#include <string>
#include <vector>

#include "bench/artifacts.h"

namespace ax::bench {

struct PlotFile {
  std::string name;
  std::string svg;
};

std::vector<PlotFile> make_plots(const std::vector<Artifact>& artifacts);
// Writes the plots and index.html into dir; returns the file names written.
std::vector<std::string> write_plots(const std::string& dir, const std::vector<Artifact>& artifacts);

}  // namespace ax::bench
