#pragma once
// normlab::plot's drawing layer: a cairo surface written as SVG or PNG, text with cairo's toy API
// ("Sans", DejaVu Sans on most systems, matplotlib's default font too), and the ggplot look that
// Optuna's matplotlib plots use (grey panel, white grid, grey ticks and labels) drawn with it. No
// LibTorch. What needs no cairo is beside it, and included here: colormap.hpp (Rgb, the
// colormaps), axis.hpp (Rect, Axis) and ticks.hpp (matplotlib's tick locators and formatters).
//
// Sizes follow matplotlib's figsize and dpi: a picture of W x H pixels at D dpi is a figure of
// W/D x H/D inches, a point is D/72 pixels. 640x480 at 100 dpi is matplotlib's default 6.4x4.8 in
// figure; 1280x960 at 200 dpi is the same figure (text as large relative to the picture), 1280x960
// at 100 dpi a larger figure with the same 10 pt text. Callers always draw in pixels: the PNG has
// W x H of them (and its pHYs chunk says D dpi, so a paper includes it at W/D inches), the SVG
// is W*72/D x H*72/D points (as matplotlib's SVGs) with the drawing scaled to fit.
//
// SVG: cairo draws text as glyph outlines, which no search or screen reader can read. So that an
// SVG still says what it shows, Canvas::save() adds a <title> and, over every text it drew, the
// same words as an invisible (fill-opacity 0) <text> element: selectable, searchable, accessible.

#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <numbers>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "normlab/detail/xml_escape.hpp"
#include "normlab/plot/axis.hpp"
#include "normlab/plot/colormap.hpp"
#include "normlab/plot/ticks.hpp"

namespace normlab::plot {

// ---- the canvas ----------------------------------------------------------------------------------

enum class ImageFormat { Svg, Png };

/// The format a path asks for by its extension (.svg or .png, any case); anything else is a
/// std::invalid_argument naming the path.
inline ImageFormat image_format(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".svg") return ImageFormat::Svg;
  if (ext == ".png") return ImageFormat::Png;
  throw std::invalid_argument("normlab::plot: cannot tell the image format of '" + path.string() +
                              "': the file name must end in .svg or .png");
}

enum class HAlign { Left, Center, Right };
/// Top: the top of digits and capitals; Center: their middle; Baseline; Bottom: the font's descent.
enum class VAlign { Top, Center, Baseline, Bottom };

/// Width and height (pixels) of a drawn or measured text.
struct TextSize {
  double w = 0, h = 0;
};

/// Pixels for a length in inches at `dpi` (rounded), for figures sized as matplotlib's figsize.
inline int inches_to_pixels(double inches, double dpi) { return static_cast<int>(std::lround(inches * dpi)); }

/// A picture being drawn: a cairo surface and context, written to `path` by save() as SVG or PNG
/// (by the extension). Drawn in pixels of a `width` x `height` picture at `dpi`; see the top of
/// this file for what the SVG's size is. The picture starts white. Not copyable; movable.
class Canvas {
 public:
  Canvas(std::filesystem::path path, int width, int height, double dpi = 100)
      : path_(std::move(path)), format_(image_format(path_)), width_(width), height_(height), dpi_(dpi) {
    if (width < 16 || height < 16 || width > 20000 || height > 20000)
      throw std::invalid_argument("normlab::plot: picture size " + std::to_string(width) + "x" +
                                  std::to_string(height) + " for '" + path_.string() +
                                  "' is out of range (16..20000 pixels a side)");
    if (!(dpi >= 10 && dpi <= 2400)) {
      char given[32];
      std::snprintf(given, sizeof given, "%g", dpi);
      throw std::invalid_argument("normlab::plot: dpi " + std::string(given) + " for '" + path_.string() +
                                  "' is out of range (10..2400)");
    }
    if (format_ == ImageFormat::Svg) {
      const double pt = 72.0 / dpi;  // points per pixel
      surface_ = cairo_svg_surface_create_for_stream(&Canvas::append, svg_.get(), width * pt, height * pt);
#if CAIRO_VERSION >= CAIRO_VERSION_ENCODE(1, 16, 0)
      if (cairo_surface_status(surface_) == CAIRO_STATUS_SUCCESS)
        cairo_svg_surface_set_document_unit(surface_, CAIRO_SVG_UNIT_PT);
#endif
    } else {
      surface_ = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height);
    }
    check(cairo_surface_status(surface_), "create the surface");
    cr_ = cairo_create(surface_);
    check(cairo_status(cr_), "create the drawing context");
    if (format_ == ImageFormat::Svg) cairo_scale(cr_, 72.0 / dpi, 72.0 / dpi);
    cairo_select_font_face(cr_, "Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_source_rgb(cr_, 1, 1, 1);
    cairo_paint(cr_);
  }
  Canvas(const Canvas&) = delete;
  Canvas& operator=(const Canvas&) = delete;
  Canvas(Canvas&& o) noexcept { *this = std::move(o); }
  Canvas& operator=(Canvas&& o) noexcept {
    if (this != &o) {
      release();
      path_ = std::move(o.path_);
      format_ = o.format_;
      width_ = o.width_;
      height_ = o.height_;
      dpi_ = o.dpi_;
      title_ = std::move(o.title_);
      texts_ = std::move(o.texts_);
      saved_ = o.saved_;
      svg_ = std::move(o.svg_);  // the SVG surface writes through this (heap) buffer's address
      surface_ = std::exchange(o.surface_, nullptr);
      cr_ = std::exchange(o.cr_, nullptr);
    }
    return *this;
  }
  ~Canvas() { release(); }

  cairo_t* cr() const { return cr_; }
  int width() const { return width_; }
  int height() const { return height_; }
  double dpi() const { return dpi_; }
  ImageFormat format() const { return format_; }
  const std::filesystem::path& path() const { return path_; }

  /// The SVG's <title> (also a good one-line description of the picture).
  void set_title(std::string title) { title_ = std::move(title); }

  void set_color(Rgb c, double alpha = 1) { cairo_set_source_rgba(cr_, c.r, c.g, c.b, alpha); }

  void fill_rect(const Rect& r, Rgb c, double alpha = 1) {
    cairo_rectangle(cr_, r.x, r.y, r.w, r.h);
    set_color(c, alpha);
    cairo_fill(cr_);
  }

  /// A straight line; `dashes` (pixels, on/off) empty for solid.
  void line(double x0, double y0, double x1, double y1, Rgb c, double width,
            const std::vector<double>& dashes = {}, double alpha = 1) {
    cairo_move_to(cr_, x0, y0);
    cairo_line_to(cr_, x1, y1);
    stroke(c, width, dashes, alpha);
  }

  /// Strokes the current path.
  void stroke(Rgb c, double width, const std::vector<double>& dashes = {}, double alpha = 1) {
    set_color(c, alpha);
    cairo_set_line_width(cr_, width);
    cairo_set_dash(cr_, dashes.empty() ? nullptr : dashes.data(), static_cast<int>(dashes.size()), 0);
    cairo_stroke(cr_);
    cairo_set_dash(cr_, nullptr, 0, 0);
  }

  /// A disc of diameter `d` filled with `fill`, its outline `edge_width` wide (centred on the edge,
  /// as matplotlib strokes markers); no outline when edge_width is 0.
  void marker(double x, double y, double d, Rgb fill, Rgb edge, double edge_width,
              double alpha = 1) {
    cairo_new_path(cr_);
    cairo_arc(cr_, x, y, d / 2, 0, 2 * std::numbers::pi);
    set_color(fill, alpha);
    if (edge_width > 0) {
      cairo_fill_preserve(cr_);
      cairo_set_line_width(cr_, edge_width);
      set_color(edge, alpha);
      cairo_stroke(cr_);
    } else {
      cairo_fill(cr_);
    }
  }

  /// A five-pointed star of outer diameter `d`.
  void star(double x, double y, double d, Rgb fill, Rgb edge, double edge_width) {
    cairo_new_path(cr_);
    for (int k = 0; k < 10; ++k) {
      const double r = (k % 2 == 0 ? d / 2 : d / 2 * 0.42);
      const double a = -std::numbers::pi / 2 + k * std::numbers::pi / 5;
      if (k == 0) cairo_move_to(cr_, x + r * std::cos(a), y + r * std::sin(a));
      else cairo_line_to(cr_, x + r * std::cos(a), y + r * std::sin(a));
    }
    cairo_close_path(cr_);
    set_color(fill);
    cairo_fill_preserve(cr_);
    cairo_set_line_width(cr_, edge_width);
    cairo_set_line_join(cr_, CAIRO_LINE_JOIN_MITER);
    set_color(edge);
    cairo_stroke(cr_);
  }

  /// Size of `text` (then `superscript`, smaller and raised) at font size `size` (pixels).
  TextSize measure(const std::string& text, double size, const std::string& superscript = "") {
    cairo_set_font_size(cr_, size);
    cairo_text_extents_t e;
    cairo_text_extents(cr_, text.c_str(), &e);
    double w = e.x_advance;
    double h = cap_height(size);
    if (!superscript.empty()) {
      cairo_set_font_size(cr_, size * kSuperscriptScale);
      cairo_text_extents(cr_, superscript.c_str(), &e);
      w += e.x_advance;
      h += kSuperscriptRaise * size;
    }
    return {w, h};
  }

  /// Draws `text` (and `superscript`) anchored at (x, y) with the given alignment, rotated by
  /// `angle_deg` counter-clockwise about the anchor. Returns its size.
  TextSize text(const std::string& text, double x, double y, double size, Rgb color,
                HAlign ha = HAlign::Left, VAlign va = VAlign::Baseline, double angle_deg = 0,
                const std::string& superscript = "") {
    const TextSize s = measure(text, size, superscript);
    cairo_font_extents_t fe;
    cairo_set_font_size(cr_, size);
    cairo_font_extents(cr_, &fe);
    const double cap = cap_height(size);
    double dx = ha == HAlign::Left ? 0 : ha == HAlign::Center ? -s.w / 2 : -s.w;
    double dy = 0;  // baseline offset, y down
    switch (va) {
      case VAlign::Top: dy = cap + (superscript.empty() ? 0 : kSuperscriptRaise * size); break;
      case VAlign::Center: dy = (cap + (superscript.empty() ? 0 : kSuperscriptRaise * size)) / 2; break;
      case VAlign::Baseline: dy = 0; break;
      case VAlign::Bottom: dy = -fe.descent; break;
    }
    cairo_save(cr_);
    cairo_translate(cr_, x, y);
    cairo_rotate(cr_, -angle_deg * std::numbers::pi / 180);
    set_color(color);
    cairo_set_font_size(cr_, size);
    cairo_move_to(cr_, dx, dy);
    cairo_show_text(cr_, text.c_str());
    double adv = measure(text, size).w;
    if (!superscript.empty()) {
      cairo_set_font_size(cr_, size * kSuperscriptScale);
      cairo_move_to(cr_, dx + adv, dy - kSuperscriptRaise * size);
      cairo_show_text(cr_, superscript.c_str());
    }
    cairo_restore(cr_);
    texts_.push_back({x, y, dx, dy, size, angle_deg, text, superscript});
    return s;
  }

  /// Finishes the picture and writes the file (replacing it). Throws std::runtime_error naming the
  /// path when cairo fails or the file cannot be written. A canvas is saved once.
  void save() {
    if (saved_) throw std::logic_error("normlab::plot: '" + path_.string() + "' was already saved");
    if (!surface_) throw std::logic_error("normlab::plot: this Canvas was moved from");
    std::string bytes;
    if (format_ == ImageFormat::Png) {
      cairo_surface_flush(surface_);
      check(cairo_surface_write_to_png_stream(surface_, &Canvas::append, &bytes), "encode the PNG");
      bytes = with_png_dpi(bytes, dpi_);
    } else {
      cairo_destroy(cr_);
      cr_ = nullptr;
      cairo_surface_finish(surface_);
      check(cairo_surface_status(surface_), "write the SVG");
      bytes = annotate_svg(*svg_);
    }
    saved_ = true;
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("normlab::plot: cannot open '" + path_.string() + "' for writing");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw std::runtime_error("normlab::plot: could not write '" + path_.string() + "'");
  }

 private:
  static constexpr double kSuperscriptScale = 0.7;
  static constexpr double kSuperscriptRaise = 0.42;

  struct TextItem {
    double x, y, dx, dy, size, angle;
    std::string text, superscript;
  };

  static cairo_status_t append(void* closure, const unsigned char* data, unsigned int length) {
    static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
    return CAIRO_STATUS_SUCCESS;
  }

  double cap_height(double size) {
    cairo_set_font_size(cr_, size);
    cairo_text_extents_t e;
    cairo_text_extents(cr_, "0", &e);
    return -e.y_bearing;
  }

  void check(cairo_status_t status, const char* what) const {
    if (status != CAIRO_STATUS_SUCCESS)
      throw std::runtime_error("normlab::plot: cannot " + std::string(what) + " for '" +
                               path_.string() + "': " + cairo_status_to_string(status));
  }

  /// The PNG with a pHYs chunk (pixels per metre) after IHDR, as matplotlib writes: cairo writes
  /// none, and without it LaTeX and word processors assume 72 or 96 dpi and misjudge the size.
  static std::string with_png_dpi(const std::string& png, double dpi) {
    constexpr std::size_t after_ihdr = 8 + 4 + 4 + 13 + 4;  // signature, IHDR length, type, data, CRC
    if (png.size() < after_ihdr || png.compare(12, 4, "IHDR") != 0) return png;
    const auto ppm = static_cast<uint32_t>(std::lround(dpi / 0.0254));
    std::string chunk = "pHYs";
    for (int k = 0; k < 2; ++k)
      for (int shift = 24; shift >= 0; shift -= 8) chunk += static_cast<char>((ppm >> shift) & 0xff);
    chunk += '\1';  // unit: metre
    uint32_t crc = 0xffffffffu;  // PNG's CRC-32 over type and data
    for (unsigned char c : chunk) {
      crc ^= c;
      for (int b = 0; b < 8; ++b) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    crc ^= 0xffffffffu;
    std::string out = png.substr(0, after_ihdr);
    out += std::string("\0\0\0\x09", 4) + chunk;
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((crc >> shift) & 0xff);
    return out + png.substr(after_ihdr);
  }

  std::string annotate_svg(const std::string& svg) const {
    const auto open = svg.find("<svg");
    const auto open_end = open == std::string::npos ? open : svg.find('>', open);
    const auto close = svg.rfind("</svg>");
    if (open_end == std::string::npos || close == std::string::npos || close < open_end) return svg;
    std::string head = "\n<title>" + normlab::detail::xml_escape(title_) + "</title>\n";
    // The text layer is in pixels, as drawn; the SVG is in points.
    char scale[96];
    std::snprintf(scale, sizeof scale, " transform=\"scale(%.6g)\"", 72.0 / dpi_);
    std::string body = std::string("<g id=\"normlab-text\"") + scale +
                       " fill-opacity=\"0\" font-family=\"DejaVu Sans, sans-serif\">\n";
    char buf[256];
    for (const auto& t : texts_) {
      char rot[48] = "";
      if (t.angle != 0) std::snprintf(rot, sizeof rot, " rotate(%.2f)", -t.angle);
      std::snprintf(buf, sizeof buf,
                    "<text transform=\"translate(%.2f %.2f)%s\" x=\"%.2f\" y=\"%.2f\" font-size=\"%.2f\">",
                    t.x, t.y, rot, t.dx, t.dy, t.size);
      body += buf + normlab::detail::xml_escape(t.text);
      if (!t.superscript.empty()) {
        std::snprintf(buf, sizeof buf, "<tspan dy=\"%.2f\" font-size=\"%.2f\">", -kSuperscriptRaise * t.size,
                      t.size * kSuperscriptScale);
        body += buf + normlab::detail::xml_escape(t.superscript) + "</tspan>";
      }
      body += "</text>\n";
    }
    body += "</g>\n";
    return svg.substr(0, open_end + 1) + head + svg.substr(open_end + 1, close - open_end - 1) +
           body + svg.substr(close);
  }

  void release() {
    if (cr_) cairo_destroy(cr_);
    if (surface_) cairo_surface_destroy(surface_);
    cr_ = nullptr;
    surface_ = nullptr;
  }

  std::filesystem::path path_;
  ImageFormat format_ = ImageFormat::Png;
  int width_ = 0, height_ = 0;
  double dpi_ = 100;
  std::string title_;
  std::vector<TextItem> texts_;
  bool saved_ = false;
  std::unique_ptr<std::string> svg_ = std::make_unique<std::string>();
  cairo_surface_t* surface_ = nullptr;
  cairo_t* cr_ = nullptr;
};

// ---- the ggplot look and axes --------------------------------------------------------------------

/// matplotlib's 'ggplot' style (what Optuna's matplotlib plots switch to), in pixels: `pt` is the
/// number of pixels per point, dpi / 72.
struct Theme {
  double pt = 100.0 / 72.0;
  Rgb panel = rgb_hex(0xE5E5E5);
  Rgb grid = rgb_hex(0xFFFFFF);
  Rgb ink = rgb_hex(0x555555);  // ticks, tick labels, axis labels
  Rgb title_ink = rgb_hex(0x000000);
  double font = 10;         // tick labels (pt)
  double label_font = 12;   // axis labels: 'large'
  double title_font = 14.4; // 'x-large'
  double major_len = 3.5, minor_len = 2, major_width = 0.8, minor_width = 0.6, tick_pad = 3.5;
  double label_pad = 4, title_pad = 6, grid_width = 0.8;

  /// The theme for a picture at `dpi` (pixels per inch).
  static Theme for_dpi(double dpi) {
    Theme t;
    t.pt = dpi / 72.0;
    return t;
  }
  double px(double points) const { return points * pt; }
};

/// matplotlib's Axis.get_tick_space(): how many tick labels fit along an axis of `length_px`.
inline int tick_space(const Theme& th, double length_px, bool vertical) {
  const double size = th.font * (vertical ? 2 : 3);
  return std::max(1, static_cast<int>(std::floor(length_px / th.pt / size)));
}

/// The ticks an axis of `length_px` draws, with its labels. Where labelled minor ticks would
/// overlap their neighbours (2, 3, 4, 6 x 10^k on a short log axis), only 2 and 5 x 10^k keep a
/// label, and if those still overlap, none: matplotlib would print them over each other.
inline std::vector<Tick> axis_ticks(Canvas& c, const Axis& axis, const Theme& th, double length_px,
                                    bool vertical) {
  auto ticks = axis.ticks(tick_space(th, length_px, vertical));
  const double font = th.px(th.font), gap = th.px(2);
  const auto crowded = [&] {
    double prev_end = -std::numeric_limits<double>::infinity();
    for (const auto& t : ticks) {  // increasing values
      if (t.text.empty()) continue;
      const auto size = c.measure(t.text, font, t.superscript);
      const double extent = vertical ? size.h : size.w;
      const double at = vertical ? -axis.to_px(t.value) : axis.to_px(t.value);  // increasing along the axis
      if (at - extent / 2 < prev_end + gap) return true;
      prev_end = at + extent / 2;
    }
    return false;
  };
  if (!crowded()) return ticks;
  const auto labelled = [&](bool minor_only) {
    return std::count_if(ticks.begin(), ticks.end(),
                         [&](const Tick& t) { return !t.text.empty() && !(minor_only && t.major); });
  };
  if (labelled(true) == 0) return ticks;  // crowded major labels are the locator's business
  const auto original = ticks;
  for (auto& t : ticks)
    if (!t.major) std::tie(t.text, t.superscript) = detail::log_label(t.value, {2, 5});
  if (labelled(false) >= 2 && !crowded()) return ticks;
  for (auto& t : ticks)
    if (!t.major) t.text.clear(), t.superscript.clear();
  if (labelled(false) >= 1) return ticks;
  return original;  // no power of ten in view: crowded labels rather than none
}

/// Room (pixels) that draw_axes takes below the panel: the x ticks, their labels (raised
/// exponents on a log axis) and the x label. A small figure gets at least this much, so that its
/// x label is not cut off (matplotlib's fixed 11% margin cuts it in a 3.5 in figure).
inline double room_below(Canvas& c, const Theme& th, bool x_log) {
  const double depth = c.measure("0", th.px(th.font), x_log ? "0" : "").h;
  return th.px(th.major_len + th.tick_pad + th.label_pad + 3) + depth + 0.25 * th.px(th.font) +
         th.px(th.label_font);  // the label: cap height and descent
}

/// Room (pixels) that draw_title takes above the panel.
inline double room_above(const Theme& th, bool has_title) {
  return has_title ? th.px(th.title_pad + th.title_font + 3) : th.px(3);
}

/// The panel's top and height for a picture `height` pixels high: matplotlib's subplot box
/// (0.12 to 0.89 of the height), made smaller where the title or the x axis would not fit.
inline std::pair<double, double> panel_rows(Canvas& c, const Theme& th, bool has_title, bool x_log) {
  const double H = c.height();
  const double top = std::max(0.12 * H, room_above(th, has_title));
  const double bottom = std::min(0.89 * H, H - room_below(c, th, x_log));
  return {top, std::max(0.2 * H, bottom - top)};
}

/// The grey panel and its white grid lines at the major ticks.
inline void draw_panel(Canvas& c, const Rect& area, const Axis& x, const Axis& y, const Theme& th,
                       bool grid = true) {
  c.fill_rect(area, th.panel);
  if (!grid) return;
  for (const auto& t : x.ticks(tick_space(th, area.w, false)))
    if (t.major) c.line(x.to_px(t.value), area.y, x.to_px(t.value), area.bottom(), th.grid, th.px(th.grid_width));
  for (const auto& t : y.ticks(tick_space(th, area.h, true)))
    if (t.major) c.line(area.x, y.to_px(t.value), area.right(), y.to_px(t.value), th.grid, th.px(th.grid_width));
}

/// Ticks (outwards) and tick labels of the bottom x axis and the left y axis, and the axis labels.
/// Returns the widest y tick label (pixels), which the y label was placed beside.
inline double draw_axes(Canvas& c, const Rect& area, const Axis& x, const Axis& y, const Theme& th,
                        const std::string& x_label, const std::string& y_label) {
  const double font = th.px(th.font);
  double x_label_depth = 0;
  for (const auto& t : axis_ticks(c, x, th, area.w, false)) {
    const double px = x.to_px(t.value), len = th.px(t.major ? th.major_len : th.minor_len);
    c.line(px, area.bottom(), px, area.bottom() + len, th.ink, th.px(t.major ? th.major_width : th.minor_width));
    if (!t.text.empty()) {
      const auto s = c.text(t.text, px, area.bottom() + len + th.px(th.tick_pad), font, th.ink,
                            HAlign::Center, VAlign::Top, 0, t.superscript);
      x_label_depth = std::max(x_label_depth, s.h);
    }
  }
  double widest = 0;
  for (const auto& t : axis_ticks(c, y, th, area.h, true)) {
    const double py = y.to_px(t.value), len = th.px(t.major ? th.major_len : th.minor_len);
    c.line(area.x - len, py, area.x, py, th.ink, th.px(t.major ? th.major_width : th.minor_width));
    if (!t.text.empty()) {
      const auto s = c.text(t.text, area.x - len - th.px(th.tick_pad), py, font, th.ink,
                            HAlign::Right, VAlign::Center, 0, t.superscript);
      widest = std::max(widest, s.w);
    }
  }
  const double label_font = th.px(th.label_font);
  if (!x_label.empty())
    c.text(x_label, area.x + area.w / 2,
           area.bottom() + th.px(th.major_len + th.tick_pad + th.label_pad) + x_label_depth + font * 0.25,
           label_font, th.ink, HAlign::Center, VAlign::Top);
  if (!y_label.empty())
    c.text(y_label, area.x - th.px(th.major_len + th.tick_pad + th.label_pad) - widest,
           area.y + area.h / 2, label_font, th.ink, HAlign::Center, VAlign::Bottom, 90);
  return widest;
}

/// The title centred above the panel; moved, then made smaller (down to 60%), to stay inside the
/// picture: a long study name must not lose its ends.
inline void draw_title(Canvas& c, const Rect& area, const Theme& th, const std::string& title) {
  if (title.empty()) return;
  const double margin = th.px(4), room = c.width() - 2 * margin;
  double size = th.px(th.title_font);
  const double w = c.measure(title, size).w;
  if (w > room) size *= std::max(0.6, room / w);
  const double half = c.measure(title, size).w / 2;
  const double x =
      std::clamp(area.x + area.w / 2, margin + half, std::max(margin + half, c.width() - margin - half));
  c.text(title, x, area.y - th.px(th.title_pad), size, th.title_ink, HAlign::Center, VAlign::Baseline);
}

/// A vertical colour bar over `area`: one band per pair of consecutive `levels` (increasing, the
/// bottom band first) in `colors` (levels.size() - 1 of them); ticks on the right at the levels,
/// every k-th so that at most 11 show (the phase holding the value nearest 0, as matplotlib's
/// FixedLocator(levels, nbins=10) does); `label` rotated along the right side.
inline void draw_colorbar(Canvas& c, const Rect& area, const std::vector<double>& levels,
                          const std::vector<Rgb>& colors, const std::string& label, const Theme& th) {
  if (levels.size() < 2 || colors.size() + 1 != levels.size())
    throw std::invalid_argument("normlab::plot::draw_colorbar: needs n + 1 levels for n colours");
  const Axis v(levels.front(), levels.back(), false, area.bottom(), area.y);
  for (std::size_t i = 0; i + 1 < levels.size(); ++i) {
    const double y0 = v.to_px(levels[i]), y1 = v.to_px(levels[i + 1]);
    // Reach half a pixel into the next band (drawn over it next) so antialiasing leaves no seam.
    const double top = i + 2 < levels.size() ? std::max(area.y, y1 - 0.5) : y1;
    c.fill_rect({area.x, top, area.w, y0 - top}, colors[i]);
  }
  const std::vector<double> shown = fixed_locator(levels, 10);
  const auto labels = format_ticks(shown);
  double widest = 0;
  const double font = th.px(th.font), len = th.px(th.major_len);
  for (std::size_t i = 0; i < shown.size(); ++i) {
    const double py = v.to_px(shown[i]);
    c.line(area.right(), py, area.right() + len, py, th.ink, th.px(th.major_width));
    const auto s = c.text(labels[i], area.right() + len + th.px(th.tick_pad), py, font, th.ink,
                          HAlign::Left, VAlign::Center);
    widest = std::max(widest, s.w);
  }
  if (!label.empty())
    c.text(label, area.right() + len + th.px(th.tick_pad + th.label_pad) + widest + th.px(th.label_font) * 0.25,
           area.y + area.h / 2, th.px(th.label_font), th.ink, HAlign::Center, VAlign::Top, 90);
}

}  // namespace normlab::plot
