// JPEG 2000 (and HTJ2K where OpenJPEG supports it) decoding through OpenJPEG from memory, in two steps:
// header, then decode into the caller's buffer. Library messages go to the error text, never to stderr.
#ifndef CDC_OPENJPEG_CODEC_H
#define CDC_OPENJPEG_CODEC_H

#include "cdc_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    /// Size of the image area (x1 - x0, y1 - y0) and of component 0.
    uint32_t width;
    uint32_t height;
    int32_t components;
    /// Precision and signedness of component 0.
    int32_t precision;
    int32_t is_signed;
    /// 1 when every component has the same size, precision and signedness and no subsampling.
    int32_t uniform;
    /// 1 for a JP2 file, 0 for a bare codestream.
    int32_t is_jp2;
} cdc_j2k_info;

/// Reads the main header of a J2K codestream or JP2 file.
int cdc_j2k_read_header(const uint8_t *src, size_t src_size, cdc_j2k_info *info, char *error, size_t error_size);

/// Decodes the image into `dst` as 32-bit values, components interleaved per pixel; `dst_count` must be
/// exactly width × height × components of a uniform image.
int cdc_j2k_decode(const uint8_t *src, size_t src_size, int32_t *dst, size_t dst_count, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
