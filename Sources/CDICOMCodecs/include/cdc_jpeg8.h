// 8-bit DCT JPEG (baseline, extended 8-bit, progressive) through libjpeg-turbo, for DICOM pixel data.
#ifndef CDC_JPEG8_H
#define CDC_JPEG8_H

#include "cdc_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Colour handling of a 3- or 4-component image.
enum {
    /// Components as stored (no colour transform), like Pillow with draft("YCbCr").
    CDC_JPEG8_RAW = 0,
    /// libjpeg converts to RGB as the stream's colour space says (YCbCr → RGB; RGB stays).
    CDC_JPEG8_RGB = 1,
};

/// Decodes one JPEG stream with 8-bit samples into `out` (interleaved, row-major).
/// Reads the header first and fails without writing when width × height × components exceeds `out_size`.
/// On success fills width, height and components (of the output). Warnings about corrupt data count as
/// errors. Returns CDC_OK or CDC_ERROR with a message.
int cdc_jpeg8_decode(const uint8_t *data, size_t size, int colour, uint8_t *out, size_t out_size, int *width,
                     int *height, int *components, char *message, size_t message_size);

#ifdef __cplusplus
}
#endif

#endif
