// JPEG decoding through libjpeg(-turbo). libjpeg's error_exit would normally exit the process; ours records the
// message and longjmps back to the setjmp in the public function that called into libjpeg.
#include "CImageCodecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>  // after jpeglib.h: its message list depends on jpeglib's configuration

typedef struct {
    struct jpeg_error_mgr base;  // first member: libjpeg hands us a pointer to it
    jmp_buf jump;
    char *message;
    size_t capacity;
    // Set when libjpeg warned that the compressed data is damaged or cut short; it would otherwise fill in the
    // missing blocks silently.
    int damaged;
} cic_jpeg_errors;

static void cic_jpeg_set_message(char *message, size_t capacity, const char *text) {
    if (message != NULL && capacity > 0) {
        snprintf(message, capacity, "%s", text);
    }
}

static void cic_jpeg_error_exit(j_common_ptr cinfo) {
    cic_jpeg_errors *errors = (cic_jpeg_errors *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    cic_jpeg_set_message(errors->message, errors->capacity, text);
    longjmp(errors->jump, 1);
}

static int cic_jpeg_is_damage_warning(int code) {
    switch (code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
#if JPEG_LIB_VERSION >= 70 || defined(C_ARITH_CODING_SUPPORTED) || defined(D_ARITH_CODING_SUPPORTED)
    case JWRN_ARITH_BAD_CODE:
#endif
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
        return 1;
    default:
        return 0;
    }
}

static void cic_jpeg_emit_message(j_common_ptr cinfo, int msg_level) {
    if (msg_level >= 0) {
        return;  // trace output
    }
    cic_jpeg_errors *errors = (cic_jpeg_errors *)cinfo->err;
    cinfo->err->num_warnings++;
    if (!errors->damaged && cic_jpeg_is_damage_warning(cinfo->err->msg_code)) {
        char text[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)(cinfo, text);
        cic_jpeg_set_message(errors->message, errors->capacity, text);
        errors->damaged = 1;
    }
}

static void cic_jpeg_output_message(j_common_ptr cinfo) {
    (void)cinfo;  // never print to stderr
}

static void cic_jpeg_install_errors(struct jpeg_decompress_struct *cinfo, cic_jpeg_errors *errors, char *message,
                                    size_t capacity) {
    memset(cinfo, 0, sizeof(*cinfo));  // so that jpeg_destroy_decompress is safe even if creation fails
    memset(errors, 0, sizeof(*errors));
    cinfo->err = jpeg_std_error(&errors->base);
    errors->base.error_exit = cic_jpeg_error_exit;
    errors->base.emit_message = cic_jpeg_emit_message;
    errors->base.output_message = cic_jpeg_output_message;
    errors->message = message;
    errors->capacity = capacity;
    errors->damaged = 0;
}

// Pillow asks for gray from 1-component files, RGB from 3-component ones and CMYK from 4-component ones.
static int cic_jpeg_choose_output(struct jpeg_decompress_struct *cinfo) {
    switch (cinfo->num_components) {
    case 1:
        cinfo->out_color_space = JCS_GRAYSCALE;
        return 1;
    case 3:
        cinfo->out_color_space = JCS_RGB;
        return 3;
    case 4:
        cinfo->out_color_space = JCS_CMYK;
        return 4;
    default:
        return 0;
    }
}

static void cic_jpeg_fill_info(struct jpeg_decompress_struct *cinfo, cic_jpeg_info *info, int out_channels) {
    memset(info, 0, sizeof(*info));
    info->width = cinfo->image_width;
    info->height = cinfo->image_height;
    info->components = cinfo->num_components;
    info->jpeg_color_space = (int)cinfo->jpeg_color_space;
    info->out_channels = out_channels;
    info->progressive = cinfo->progressive_mode ? 1 : 0;
    info->data_precision = cinfo->data_precision;
}

int cic_jpeg_read_info(const uint8_t *data, size_t size, cic_jpeg_info *info, char *message, size_t message_capacity) {
    cic_jpeg_set_message(message, message_capacity, "");
    if (data == NULL || size < 4) {
        cic_jpeg_set_message(message, message_capacity, "too short for a JPEG file");
        return CIC_ERROR;
    }
    struct jpeg_decompress_struct cinfo;
    cic_jpeg_errors errors;
    cic_jpeg_install_errors(&cinfo, &errors, message, message_capacity);
    if (setjmp(errors.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return CIC_ERROR;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (const unsigned char *)data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    int channels = cic_jpeg_choose_output(&cinfo);
    cic_jpeg_fill_info(&cinfo, info, channels);
    int damaged = errors.damaged;
    jpeg_destroy_decompress(&cinfo);
    return damaged ? CIC_ERROR : CIC_OK;
}

int cic_jpeg_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_capacity, cic_jpeg_info *info,
                    char *message, size_t message_capacity) {
    cic_jpeg_set_message(message, message_capacity, "");
    if (data == NULL || size < 4) {
        cic_jpeg_set_message(message, message_capacity, "too short for a JPEG file");
        return CIC_ERROR;
    }
    struct jpeg_decompress_struct cinfo;
    cic_jpeg_errors errors;
    cic_jpeg_install_errors(&cinfo, &errors, message, message_capacity);
    if (setjmp(errors.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return CIC_ERROR;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (const unsigned char *)data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    int channels = cic_jpeg_choose_output(&cinfo);
    cic_jpeg_fill_info(&cinfo, info, channels);
    if (channels == 0) {
        cic_jpeg_set_message(message, message_capacity, "unsupported number of colour components");
        jpeg_destroy_decompress(&cinfo);
        return CIC_ERROR;
    }
    jpeg_start_decompress(&cinfo);
    const size_t row = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    if (cinfo.output_width != info->width || cinfo.output_height != info->height ||
        cinfo.output_components != channels || cinfo.output_height == 0 ||
        row > SIZE_MAX / cinfo.output_height || out_capacity != row * cinfo.output_height) {
        cic_jpeg_set_message(message, message_capacity, "output buffer size does not match the image");
        jpeg_destroy_decompress(&cinfo);
        return CIC_ERROR;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW line = (JSAMPROW)(out + (size_t)cinfo.output_scanline * row);
        if (jpeg_read_scanlines(&cinfo, &line, 1) != 1) {
            cic_jpeg_set_message(message, message_capacity, "the decoder stopped before the last row");
            jpeg_destroy_decompress(&cinfo);
            return CIC_ERROR;
        }
        if (errors.damaged) {
            break;
        }
    }
    if (!errors.damaged) {
        jpeg_finish_decompress(&cinfo);
    }
    int damaged = errors.damaged;
    jpeg_destroy_decompress(&cinfo);
    return damaged ? CIC_ERROR : CIC_OK;
}
