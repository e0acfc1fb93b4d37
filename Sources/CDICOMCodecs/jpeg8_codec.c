#include "cdc_jpeg8.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <jpeglib.h>

// The error manager jumps back into cdc_jpeg8_decode; no longjmp ever leaves this file.
struct cdc_jpeg_error {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char *message;
    size_t message_size;
    int warned;
};

static void cdc_jpeg_error_exit(j_common_ptr cinfo) {
    struct cdc_jpeg_error *err = (struct cdc_jpeg_error *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    snprintf(err->message, err->message_size, "libjpeg: %s", text);
    longjmp(err->jump, 1);
}

static void cdc_jpeg_emit_message(j_common_ptr cinfo, int level) {
    struct cdc_jpeg_error *err = (struct cdc_jpeg_error *)cinfo->err;
    if (level < 0 && !err->warned) {
        // A warning: corrupt or truncated data that libjpeg would paper over. Keep the first one.
        char text[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)(cinfo, text);
        snprintf(err->message, err->message_size, "libjpeg: %s", text);
        err->warned = 1;
    }
}

static void cdc_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

int cdc_jpeg8_decode(const uint8_t *data, size_t size, int colour, uint8_t *out, size_t out_size, int *width,
                     int *height, int *components, char *message, size_t message_size) {
    struct jpeg_decompress_struct cinfo;
    struct cdc_jpeg_error err;
    memset(&cinfo, 0, sizeof cinfo);
    memset(&err, 0, sizeof err);
    if (message && message_size) message[0] = 0;
    err.message = message;
    err.message_size = message_size;
    cinfo.err = jpeg_std_error(&err.base);
    err.base.error_exit = cdc_jpeg_error_exit;
    err.base.emit_message = cdc_jpeg_emit_message;
    err.base.output_message = cdc_jpeg_output_message;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return CDC_ERROR;
    }
    jpeg_create_decompress(&cinfo);
    if (size == 0 || size > (size_t)0xFFFFFFFFu) {
        snprintf(message, message_size, "stream size %zu is out of range", size);
        jpeg_destroy_decompress(&cinfo);
        return CDC_ERROR;
    }
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.data_precision != 8) {
        snprintf(message, message_size, "%d-bit samples (this path decodes 8-bit only)", cinfo.data_precision);
        jpeg_destroy_decompress(&cinfo);
        return CDC_ERROR;
    }
    if (cinfo.num_components == 1) {
        cinfo.out_color_space = JCS_GRAYSCALE;
    } else if (colour == CDC_JPEG8_RGB && (cinfo.jpeg_color_space == JCS_YCbCr || cinfo.jpeg_color_space == JCS_RGB)) {
        cinfo.out_color_space = JCS_RGB;
    } else {
        cinfo.out_color_space = cinfo.jpeg_color_space;  // no colour conversion
    }
    jpeg_start_decompress(&cinfo);
    size_t row = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    if ((size_t)cinfo.output_height > 0 && row > out_size / (size_t)cinfo.output_height) {
        snprintf(message, message_size, "image %ux%u with %d components does not fit the %zu-byte buffer",
                 cinfo.output_width, cinfo.output_height, cinfo.output_components, out_size);
        jpeg_destroy_decompress(&cinfo);
        return CDC_ERROR;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW line = out + (size_t)cinfo.output_scanline * row;
        if (jpeg_read_scanlines(&cinfo, &line, 1) != 1) {
            snprintf(message, message_size, "libjpeg returned no scanline at row %u", cinfo.output_scanline);
            jpeg_destroy_decompress(&cinfo);
            return CDC_ERROR;
        }
        if (err.warned) break;
    }
    if (!err.warned) jpeg_finish_decompress(&cinfo);
    *width = (int)cinfo.output_width;
    *height = (int)cinfo.output_height;
    *components = cinfo.output_components;
    jpeg_destroy_decompress(&cinfo);
    return err.warned ? CDC_ERROR : CDC_OK;
}
