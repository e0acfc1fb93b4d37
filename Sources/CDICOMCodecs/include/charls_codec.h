// JPEG-LS decoding through CharLS's C API, in two steps: header, then decode into the caller's buffer.
#ifndef CDC_CHARLS_CODEC_H
#define CDC_CHARLS_CODEC_H

#include "cdc_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint32_t width;
    uint32_t height;
    int32_t bits_per_sample;
    int32_t component_count;
    /// 0: one scan per component (planes), 1: line interleaved, 2: sample interleaved.
    int32_t interleave_mode;
    int32_t near_lossless;
} cdc_jls_info;

/// Reads the frame header of a JPEG-LS stream.
int cdc_jls_read_header(const uint8_t *src, size_t src_size, cdc_jls_info *info, char *error, size_t error_size);

/// Decodes the stream into `dst`: one byte per sample up to 8 bits, two (native endian) above, rows packed,
/// components interleaved per pixel except for interleave mode 0, which gives one plane per component.
/// `dst_size` must be exactly width × height × components × bytes per sample.
int cdc_jls_decode(const uint8_t *src, size_t src_size, void *dst, size_t dst_size, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
