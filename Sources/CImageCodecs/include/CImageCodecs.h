// C shim over libpng and libjpeg(-turbo) for the Imaging module.
//
// Every entry point returns CIC_OK or CIC_ERROR and never exits, aborts or longjmps out: library errors are
// caught inside the shim (setjmp/longjmp stays within one shim function) and come back as a message.
// Decoding is two-step so that the caller can check the image size before allocating: read the header with
// *_read_info, check it, allocate the output, then *_decode into it.
#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CIC_OK 0
#define CIC_ERROR 1

/// What a PNG header says and how cic_png_decode lays the samples out.
typedef struct {
    uint32_t width;
    uint32_t height;
    /// Bits per sample (per palette index for palette images) in the file: 1, 2, 4, 8 or 16.
    int bit_depth;
    /// PNG colour type: 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA.
    int color_type;
    int interlaced;
    /// Samples per pixel in the decoded buffer: gray 1, gray+alpha 2, RGB 3, RGBA 4; palette 3, or 4 with tRNS.
    int channels;
    /// Bits per decoded sample: 16 for 16-bit files (native-endian uint16), else 8 (1/2/4-bit gray scaled).
    int out_bit_depth;
    /// A tRNS chunk is present (a colour key for gray/RGB, per-entry alpha for palette images).
    int has_trns;
    /// The tRNS colour key in file units: gray in [0], RGB in [0..2]. Only for colour types 0 and 2.
    uint16_t trns_color[3];
    int num_palette;
    int num_trans;
} cic_png_info;

int cic_png_read_info(const uint8_t *data, size_t size, cic_png_info *info, char *message, size_t message_capacity);

/// Decodes the whole image (interlaced or not) into `out`, which must hold exactly
/// width * height * channels * (out_bit_depth / 8) bytes. Palette images are expanded here: an index past the
/// palette gives black, its alpha comes from tRNS when tRNS covers it, else 255.
int cic_png_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_capacity, cic_png_info *info,
                   char *message, size_t message_capacity);

/// What a JPEG header says.
typedef struct {
    uint32_t width;
    uint32_t height;
    /// Components in the frame header: 1, 3 or 4.
    int components;
    /// libjpeg's J_COLOR_SPACE guess for the file (1 gray, 2 RGB, 3 YCbCr, 4 CMYK, 5 YCCK).
    int jpeg_color_space;
    /// Samples per pixel cic_jpeg_decode writes: 1 (gray), 3 (RGB) or 4 (CMYK as libjpeg outputs it).
    int out_channels;
    int progressive;
    int data_precision;
} cic_jpeg_info;

int cic_jpeg_read_info(const uint8_t *data, size_t size, cic_jpeg_info *info, char *message, size_t message_capacity);

/// Decodes with libjpeg's defaults (islow IDCT, fancy upsampling, block smoothing), as Pillow does.
/// Warnings that mean the entropy-coded data is damaged or cut short are reported as errors.
int cic_jpeg_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_capacity, cic_jpeg_info *info,
                    char *message, size_t message_capacity);

/// A malloc'ed byte buffer handed to the caller; release with cic_buffer_free.
typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
} cic_buffer;

/// Encodes 8-bit gray (1), gray+alpha (2), RGB (3) or RGBA (4) pixels, rows top to bottom, as a PNG.
int cic_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int compression_level,
                   cic_buffer *out, char *message, size_t message_capacity);

void cic_buffer_free(cic_buffer *buffer);

#ifdef __cplusplus
}
#endif

#endif
