#pragma once
// An 8-bit RGB image in memory, and decoding of JPEG (libjpeg) and PNG (libpng) files into one
// with exactly the pixels that torchvision 0.14's ImageFolder gets from
// `PIL.Image.open(path).convert("RGB")` under Pillow 9.4:
//
// - JPEG: the same libjpeg(-turbo) that Debian's Pillow links, with the settings Pillow's decoder
//   uses (JpegDecode.c): everything at libjpeg's defaults (JDCT_ISLOW, fancy upsampling, block
//   smoothing), out_color_space JCS_RGB for 3-component files, JCS_GRAYSCALE for 1-component files
//   (then replicated into R, G, B like Pillow's "L" -> "RGB"), JCS_CMYK for 4-component files (then
//   inverted, Adobe's convention, and converted as Pillow's cmyk2rgb). No EXIF rotation, no colour
//   management: Pillow does neither when it opens a file. A file that ends before its last
//   scanline is an error, like Pillow's "image file is truncated"; warnings are ignored, as Pillow
//   ignores them.
// - PNG: every colour type and bit depth, converted as Pillow's modes and .convert("RGB") do:
//   palette -> looked up (entries past the PLTE chunk are Pillow's grey ramp), grey -> replicated
//   (1/2/4-bit scaled to 0..255), alpha dropped (never composited), 8 bits kept from 16-bit samples
//   by their high byte, except 16-bit grey, which Pillow opens as mode "I" and clips to 0..255.
//   gAMA, iCCP, sRGB and tRNS do not change the pixels (Pillow ignores them for "RGB").
//
// Every failure throws ImageError whose message names the file: missing, unreadable, empty,
// truncated, corrupt, or a format other than JPEG/PNG (recognised by content, not by extension).
//
// Files from elsewhere: as Pillow, an image of more than twice kMaxImagePixels (Pillow's
// Image.MAX_IMAGE_PIXELS) is refused as a decompression bomb from its header, before its pixels
// are allocated, and one above kMaxImagePixels is warned about once; the `max_pixels` arguments
// raise or (<= 0) lift the limit. decode_image(path) reads only regular files, and checks the
// format from the first bytes before reading the rest.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>     // before jpeglib.h, which needs FILE
#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace normlab::image {

/// A file that cannot be decoded; what() names it and says why.
struct ImageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/**
 * An 8-bit RGB image, row-major, channels interleaved (HWC): the layout of a PIL "RGB" image and of
 * `np.array(img)`. Pixel (x, y) channel c is `pixels[(y * width + x) * 3 + c]`.
 */
struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;

  Image() = default;
  /// An image of the given size, every byte zero.
  Image(int w, int h) : width(w), height(h), pixels(static_cast<std::size_t>(w) * h * 3, 0) {}

  /// Resizes the storage (keeping its capacity, so a decoder can reuse one Image).
  void reset(int w, int h) {
    width = w;
    height = h;
    pixels.resize(static_cast<std::size_t>(w) * h * 3);
  }

  bool empty() const noexcept { return width == 0 || height == 0; }
  std::size_t row_bytes() const noexcept { return static_cast<std::size_t>(width) * 3; }
  uint8_t* data() noexcept { return pixels.data(); }
  const uint8_t* data() const noexcept { return pixels.data(); }
  uint8_t* row(int y) noexcept { return pixels.data() + y * row_bytes(); }
  const uint8_t* row(int y) const noexcept { return pixels.data() + y * row_bytes(); }
  uint8_t at(int y, int x, int c) const noexcept { return pixels[(y * row_bytes()) + x * 3 + c]; }
};

/// The formats decode_image() reads, recognised by their first bytes.
enum class ImageFormat { Jpeg, Png, Unknown };

inline ImageFormat sniff_format(std::span<const uint8_t> bytes) noexcept {
  static constexpr uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), png_magic, 8) == 0) return ImageFormat::Png;
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF)
    return ImageFormat::Jpeg;
  return ImageFormat::Unknown;
}

/// Pillow's Image.MAX_IMAGE_PIXELS (1024 * 1024 * 1024 // 4 // 3): above it a warning, above
/// twice it an error (DecompressionBombWarning / DecompressionBombError).
inline constexpr int64_t kMaxImagePixels = 89'478'485;

namespace detail {

/// Why a width x height image is refused under max_pixels ("" when it is not); warns once per
/// process above max_pixels, as Python shows a warning once. max_pixels <= 0: no limit.
inline std::string pixel_limit(uint64_t width, uint64_t height, int64_t max_pixels) {
  if (max_pixels <= 0) return {};
  const uint64_t pixels = width * height;  // each < 2^32: no overflow
  const auto limit = static_cast<uint64_t>(max_pixels);
  if (pixels > 2 * limit) {
    char text[256];
    std::snprintf(text, sizeof text,
                  "%llux%llu = %llu pixels, more than twice the limit of %llu: a decompression bomb? "
                  "(raise max_pixels, Pillow's Image.MAX_IMAGE_PIXELS, if you trust the file)",
                  static_cast<unsigned long long>(width), static_cast<unsigned long long>(height),
                  static_cast<unsigned long long>(pixels), static_cast<unsigned long long>(limit));
    return text;
  }
  static std::atomic<bool> warned{false};
  if (pixels > limit && !warned.exchange(true))
    std::cerr << "normlab: warning: an image of " << pixels << " pixels exceeds the limit of " << limit
              << " pixels (Pillow's DecompressionBombWarning); twice that is refused\n";
  return {};
}

// ---- JPEG --------------------------------------------------------------------------------------
// libjpeg reports errors through callbacks; they longjmp back to decode_jpeg, in whose frame every
// object with a destructor is constructed before the setjmp (so none is skipped).

struct JpegContext {
  jpeg_error_mgr err;         // first member: libjpeg hands us &err as cinfo->err
  jpeg_source_mgr src;
  std::jmp_buf jump;
  const uint8_t* data;
  std::size_t size;
  bool scanlines_done;        // all rows read: a missing EOI is then harmless, as in Pillow
  bool truncated;
  char message[JMSG_LENGTH_MAX];
};

inline JpegContext* jpeg_context(j_common_ptr cinfo) {
  return reinterpret_cast<JpegContext*>(cinfo->err);
}

extern "C" inline void normlab_jpeg_error_exit(j_common_ptr cinfo) {
  auto* ctx = jpeg_context(cinfo);
  (*cinfo->err->format_message)(cinfo, ctx->message);
  std::longjmp(ctx->jump, 1);
}
extern "C" inline void normlab_jpeg_output_message(j_common_ptr) {}  // Pillow prints nothing
extern "C" inline void normlab_jpeg_init_source(j_decompress_ptr) {}
extern "C" inline void normlab_jpeg_term_source(j_decompress_ptr) {}

extern "C" inline boolean normlab_jpeg_fill_input_buffer(j_decompress_ptr cinfo) {
  auto* ctx = jpeg_context(reinterpret_cast<j_common_ptr>(cinfo));
  if (!ctx->scanlines_done) {
    ctx->truncated = true;
    std::snprintf(ctx->message, sizeof ctx->message, "the file is truncated");
    std::longjmp(ctx->jump, 1);
  }
  static const JOCTET eoi[2] = {0xFF, JPEG_EOI};  // after the last row: end it, as Pillow does
  cinfo->src->next_input_byte = eoi;
  cinfo->src->bytes_in_buffer = 2;
  return TRUE;
}

extern "C" inline void normlab_jpeg_skip_input_data(j_decompress_ptr cinfo, long count) {
  if (count <= 0) return;
  auto* src = cinfo->src;
  while (count > static_cast<long>(src->bytes_in_buffer)) {
    count -= static_cast<long>(src->bytes_in_buffer);
    src->bytes_in_buffer = 0;
    (void)(*src->fill_input_buffer)(cinfo);
  }
  src->next_input_byte += count;
  src->bytes_in_buffer -= static_cast<std::size_t>(count);
}

struct JpegDestroyer {
  jpeg_decompress_struct* cinfo;
  bool created = false;
  ~JpegDestroyer() {
    if (created) jpeg_destroy_decompress(cinfo);
  }
};

/// Decodes into `out`; returns an empty string on success, else why it failed.
inline std::string decode_jpeg(std::span<const uint8_t> bytes, Image& out, int64_t max_pixels = kMaxImagePixels) {
  jpeg_decompress_struct cinfo;
  JpegContext ctx;
  std::memset(&ctx, 0, sizeof ctx);
  ctx.data = bytes.data();
  ctx.size = bytes.size();
  JpegDestroyer guard{&cinfo};
  std::vector<uint8_t> row_buffer;  // for grey and CMYK rows, converted after reading
  row_buffer.reserve(4096);

  cinfo.err = jpeg_std_error(&ctx.err);
  ctx.err.error_exit = normlab_jpeg_error_exit;
  ctx.err.output_message = normlab_jpeg_output_message;
  if (setjmp(ctx.jump)) return ctx.message;  // only PODs from here on

  jpeg_create_decompress(&cinfo);
  guard.created = true;
  ctx.src.init_source = normlab_jpeg_init_source;
  ctx.src.fill_input_buffer = normlab_jpeg_fill_input_buffer;
  ctx.src.skip_input_data = normlab_jpeg_skip_input_data;
  ctx.src.resync_to_restart = jpeg_resync_to_restart;
  ctx.src.term_source = normlab_jpeg_term_source;
  ctx.src.next_input_byte = ctx.data;
  ctx.src.bytes_in_buffer = ctx.size;
  cinfo.src = &ctx.src;

  jpeg_read_header(&cinfo, TRUE);
  {
    const auto bomb = pixel_limit(cinfo.image_width, cinfo.image_height, max_pixels);
    if (!bomb.empty()) {
      std::snprintf(ctx.message, sizeof ctx.message, "%s", bomb.c_str());
      return ctx.message;
    }
  }
  const int components = cinfo.num_components;
  if (components == 1) {
    cinfo.out_color_space = JCS_GRAYSCALE;
  } else if (components == 3) {
    cinfo.out_color_space = JCS_RGB;
  } else if (components == 4) {
    cinfo.out_color_space = JCS_CMYK;
  } else {
    std::snprintf(ctx.message, sizeof ctx.message, "a JPEG with %d components is not supported",
                  components);
    return ctx.message;
  }
  jpeg_start_decompress(&cinfo);
  const int w = static_cast<int>(cinfo.output_width), h = static_cast<int>(cinfo.output_height);
  out.reset(w, h);
  if (components != 3) row_buffer.resize(static_cast<std::size_t>(w) * components);
  while (static_cast<int>(cinfo.output_scanline) < h) {
    const int y = static_cast<int>(cinfo.output_scanline);
    JSAMPROW row = components == 3 ? out.row(y) : row_buffer.data();
    if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) {
      std::snprintf(ctx.message, sizeof ctx.message, "the file is truncated");
      return ctx.message;
    }
    uint8_t* dst = out.row(y);
    if (components == 1) {
      for (int x = 0; x < w; ++x) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row[x];
    } else if (components == 4) {
      // Pillow: rawmode "CMYK;I" (inverted bytes), then cmyk2rgb with MULDIV255.
      for (int x = 0; x < w; ++x) {
        const int k = 255 - row[4 * x + 3];
        const int nk = 255 - k;
        for (int c = 0; c < 3; ++c) {
          const int v = 255 - row[4 * x + c];
          const int tmp = v * nk + 128;
          const int value = nk - (((tmp >> 8) + tmp) >> 8);
          dst[3 * x + c] = static_cast<uint8_t>(std::clamp(value, 0, 255));
        }
      }
    }
  }
  ctx.scanlines_done = true;
  jpeg_finish_decompress(&cinfo);
  return {};
}

// ---- PNG ---------------------------------------------------------------------------------------

struct PngContext {
  std::span<const uint8_t> bytes;
  std::size_t offset;
  char message[256];
};

extern "C" inline void normlab_png_error(png_structp png, png_const_charp message) {
  auto* ctx = static_cast<PngContext*>(png_get_error_ptr(png));
  std::snprintf(ctx->message, sizeof ctx->message, "%s", message);
  png_longjmp(png, 1);
}
extern "C" inline void normlab_png_warning(png_structp, png_const_charp) {}

extern "C" inline void normlab_png_read(png_structp png, png_bytep out, png_size_t count) {
  auto* ctx = static_cast<PngContext*>(png_get_io_ptr(png));
  if (ctx->bytes.size() - ctx->offset < count) png_error(png, "the file is truncated");
  std::memcpy(out, ctx->bytes.data() + ctx->offset, count);
  ctx->offset += count;
}

struct PngDestroyer {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngDestroyer() {
    if (png) png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
  }
};

/// Decodes into `out`; returns an empty string on success, else why it failed.
/// Pillow's PngImageFile._open checks the CRC of every chunk before the first IDAT and refuses the
/// file on a mismatch ("broken PNG file (bad header checksum in b'IHDR')"); libpng, told to ignore
/// CRCs as Pillow does for the image data, would not. Returns why, or "".
inline std::string png_header_crc_error(std::span<const uint8_t> bytes) {
  std::size_t at = 8;
  while (at + 12 <= bytes.size()) {
    const uint32_t length = (uint32_t{bytes[at]} << 24) | (uint32_t{bytes[at + 1]} << 16) |
                            (uint32_t{bytes[at + 2]} << 8) | bytes[at + 3];
    const std::string type(reinterpret_cast<const char*>(bytes.data() + at + 4), 4);
    if (type == "IDAT") return {};
    if (length > bytes.size() - at - 12) return {};  // truncated: libpng says so
    const uint8_t* p = bytes.data() + at + 8 + length;
    const uint32_t stored = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    const auto computed = crc32(crc32(0, nullptr, 0), bytes.data() + at + 4, length + 4);
    if (computed != stored) return "broken PNG file (bad header checksum in " + type + ")";
    at += 12 + std::size_t{length};
  }
  return {};
}

inline std::string decode_png(std::span<const uint8_t> bytes, Image& out, int64_t max_pixels = kMaxImagePixels) {
  if (auto why = png_header_crc_error(bytes); !why.empty()) return why;
  PngContext ctx{bytes, 0, {}};
  PngDestroyer guard;
  std::vector<uint8_t> raw;                    // the decoded rows before conversion to RGB
  std::vector<png_bytep> rows;
  std::array<uint8_t, 256 * 3> palette;        // Pillow: a grey ramp, then the PLTE entries

  guard.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, normlab_png_error,
                                     normlab_png_warning);
  if (!guard.png) return "libpng could not start";
  guard.info = png_create_info_struct(guard.png);
  if (!guard.info) return "libpng could not start";
  if (setjmp(png_jmpbuf(guard.png))) return ctx.message;

  png_set_read_fn(guard.png, &ctx, normlab_png_read);
  // Pillow never checks the CRCs of image data chunks nor zlib's Adler-32, and stops reading once
  // it has every row (no IEND needed): so does this decoder. (The chunks before the image data
  // are checked above, as Pillow checks them.)
  png_set_crc_action(guard.png, PNG_CRC_QUIET_USE, PNG_CRC_DEFAULT);
#ifdef PNG_IGNORE_ADLER32
  png_set_option(guard.png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
  png_read_info(guard.png, guard.info);
  png_uint_32 w = 0, h = 0;
  int depth = 0, type = 0, interlace = 0;
  png_get_IHDR(guard.png, guard.info, &w, &h, &depth, &type, &interlace, nullptr, nullptr);
  {
    const auto bomb = pixel_limit(w, h, max_pixels);
    if (!bomb.empty()) {
      std::snprintf(ctx.message, sizeof ctx.message, "%s", bomb.c_str());
      return ctx.message;
    }
  }
  if (depth < 8) png_set_packing(guard.png);  // one byte per sample, values unscaled
  png_set_interlace_handling(guard.png);
  png_read_update_info(guard.png, guard.info);
  const std::size_t row_bytes = png_get_rowbytes(guard.png, guard.info);
  raw.resize(row_bytes * h);
  rows.resize(h);
  for (png_uint_32 y = 0; y < h; ++y) rows[y] = raw.data() + y * row_bytes;
  png_read_image(guard.png, rows.data());

  for (int i = 0; i < 256; ++i)
    palette[3 * i] = palette[3 * i + 1] = palette[3 * i + 2] = static_cast<uint8_t>(i);
  if (type == PNG_COLOR_TYPE_PALETTE) {
    png_colorp entries = nullptr;
    int count = 0;
    if (png_get_PLTE(guard.png, guard.info, &entries, &count) & PNG_INFO_PLTE) {
      for (int i = 0; i < std::min(count, 256); ++i) {
        palette[3 * i] = entries[i].red;
        palette[3 * i + 1] = entries[i].green;
        palette[3 * i + 2] = entries[i].blue;
      }
    }
  }

  out.reset(static_cast<int>(w), static_cast<int>(h));
  const int width = static_cast<int>(w);
  const bool wide = depth == 16;
  for (png_uint_32 y = 0; y < h; ++y) {
    const uint8_t* src = rows[y];
    uint8_t* dst = out.row(static_cast<int>(y));
    switch (type) {
      case PNG_COLOR_TYPE_GRAY: {
        if (wide) {  // Pillow: mode "I", and "I" -> "RGB" clips to 0..255
          for (int x = 0; x < width; ++x) {
            const int v = (src[2 * x] << 8) | src[2 * x + 1];
            dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = static_cast<uint8_t>(std::min(v, 255));
          }
        } else {
          const int scale = depth == 1 ? 255 : depth == 2 ? 85 : depth == 4 ? 17 : 1;
          for (int x = 0; x < width; ++x)
            dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = static_cast<uint8_t>(src[x] * scale);
        }
        break;
      }
      case PNG_COLOR_TYPE_GRAY_ALPHA: {
        const int step = wide ? 4 : 2;
        for (int x = 0; x < width; ++x)
          dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = src[step * x];
        break;
      }
      case PNG_COLOR_TYPE_RGB:
      case PNG_COLOR_TYPE_RGB_ALPHA: {
        const int channels = type == PNG_COLOR_TYPE_RGB ? 3 : 4;
        if (!wide && channels == 3) {
          std::memcpy(dst, src, static_cast<std::size_t>(width) * 3);
        } else {
          const int step = channels * (wide ? 2 : 1), sample = wide ? 2 : 1;
          for (int x = 0; x < width; ++x)
            for (int c = 0; c < 3; ++c) dst[3 * x + c] = src[step * x + sample * c];
        }
        break;
      }
      case PNG_COLOR_TYPE_PALETTE: {
        for (int x = 0; x < width; ++x) std::memcpy(dst + 3 * x, &palette[3 * src[x]], 3);
        break;
      }
      default:
        std::snprintf(ctx.message, sizeof ctx.message, "unsupported PNG colour type %d", type);
        return ctx.message;
    }
  }
  return {};
}

}  // namespace detail

namespace detail {

/// Opens `path` for reading if it is a regular file (after symlinks). O_NONBLOCK first, so that a
/// FIFO named like an image fails here instead of blocking until a writer comes; regular files
/// ignore the flag, which is cleared anyway.
inline int open_regular_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) throw ImageError("normlab: cannot open image '" + path.string() + "': it does not exist");
    throw ImageError("normlab: cannot open image '" + path.string() + "': " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw ImageError("normlab: image '" + path.string() + "' is " +
                     (S_ISDIR(st.st_mode) ? "a folder, not a file" : "not a regular file (a FIFO, socket or device)"));
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

/// Reads up to n bytes at `at` into `out`; returns how many (fewer only at the end of the file).
inline std::size_t read_at(int fd, uint8_t* out, std::size_t n, const std::filesystem::path& path) {
  std::size_t done = 0;
  while (done < n) {
    const auto got = ::read(fd, out + done, n - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw ImageError("normlab: cannot read image '" + path.string() + "': " + std::strerror(errno));
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}

}  // namespace detail

/// Reads a whole regular file into `bytes` (reusing its capacity).
inline void read_file(const std::filesystem::path& path, std::vector<uint8_t>& bytes) {
  detail::FdCloser file{detail::open_regular_file(path)};
  struct stat st {};
  ::fstat(file.fd, &st);
  bytes.resize(static_cast<std::size_t>(st.st_size));
  bytes.resize(detail::read_at(file.fd, bytes.data(), bytes.size(), path));
}

/**
 * Decodes an in-memory JPEG or PNG file into `out` (its storage is reused).
 * @param bytes the whole file
 * @param name  the file's name, for error messages
 * @param max_pixels images above twice this are refused from their header (default: Pillow's
 *        kMaxImagePixels); <= 0: no limit
 */
inline void decode_image(std::span<const uint8_t> bytes, Image& out, const std::string& name,
                         int64_t max_pixels = kMaxImagePixels) {
  if (bytes.empty()) throw ImageError("normlab: image '" + name + "' is empty");
  std::string why;
  switch (sniff_format(bytes)) {
    case ImageFormat::Jpeg:
      why = detail::decode_jpeg(bytes, out, max_pixels);
      if (!why.empty()) throw ImageError("normlab: cannot decode JPEG image '" + name + "': " + why);
      return;
    case ImageFormat::Png:
      why = detail::decode_png(bytes, out, max_pixels);
      if (!why.empty()) throw ImageError("normlab: cannot decode PNG image '" + name + "': " + why);
      return;
    case ImageFormat::Unknown:
      break;
  }
  throw ImageError("normlab: image '" + name +
                   "' is neither a JPEG nor a PNG file (the only formats normlab decodes)");
}

/// Decodes the JPEG or PNG file at `path` into `out`, reusing `buffer` for the file's bytes. The
/// format is checked from the first bytes before the rest is read (a large file that is no image
/// costs nothing).
inline void decode_image(const std::filesystem::path& path, Image& out, std::vector<uint8_t>& buffer,
                         int64_t max_pixels = kMaxImagePixels) {
  detail::FdCloser file{detail::open_regular_file(path)};
  struct stat st {};
  ::fstat(file.fd, &st);
  const auto size = static_cast<std::size_t>(st.st_size);
  buffer.resize(std::min<std::size_t>(size, 16));
  buffer.resize(detail::read_at(file.fd, buffer.data(), buffer.size(), path));
  if (buffer.empty()) throw ImageError("normlab: image '" + path.string() + "' is empty");
  if (sniff_format(buffer) == ImageFormat::Unknown)
    throw ImageError("normlab: image '" + path.string() +
                     "' is neither a JPEG nor a PNG file (the only formats normlab decodes)");
  const std::size_t head = buffer.size();
  buffer.resize(std::max(size, head));
  buffer.resize(head + detail::read_at(file.fd, buffer.data() + head, buffer.size() - head, path));
  decode_image(std::span<const uint8_t>(buffer), out, path.string(), max_pixels);
}

/// Decodes the JPEG or PNG file at `path`: `PIL.Image.open(path).convert("RGB")`.
inline Image decode_image(const std::filesystem::path& path, int64_t max_pixels = kMaxImagePixels) {
  Image out;
  std::vector<uint8_t> buffer;
  decode_image(path, out, buffer, max_pixels);
  return out;
}

}  // namespace normlab::image
