// C shim over the codec libraries used for DICOM: CharLS (JPEG-LS),
// OpenJPEG (JPEG 2000) and libjpeg(-turbo) (8-bit DCT JPEG) for encapsulated pixel data, zlib for
// deflated datasets.
//
// Every entry point returns CDC_OK or CDC_ERROR and never exits, aborts or longjmps out of the shim;
// on error a message is written into the caller's buffer. Decoding is two-step where the library allows:
// read the header, let the caller check sizes and allocate, then decode into the caller's buffer.
#ifndef CDC_COMMON_H
#define CDC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CDC_OK 0
#define CDC_ERROR 1

/// Versions of the linked codec libraries, for diagnostics ("charls 2.4.1, openjpeg 2.5.0, libjpeg 62").
const char *cdc_library_versions(void);

#ifdef __cplusplus
}
#endif

#endif
