#pragma once

namespace plad {

/** The release of PLaD Workbench (kept equal to project(VERSION) in CMakeLists.txt; a configure check enforces it). */
constexpr const char *pladVersion = "0.1.0";

} // namespace plad
