#include "cdc_common.h"

#include <stdio.h>
#include <charls/charls.h>
#include <openjpeg.h>
#include <jpeglib.h>

const char *cdc_library_versions(void) {
    static char text[128];
    int32_t major = 0, minor = 0, patch = 0;
    charls_get_version_number(&major, &minor, &patch);
    snprintf(text, sizeof text, "charls %d.%d.%d, openjpeg %s, libjpeg %d", (int)major, (int)minor, (int)patch,
             opj_version(), JPEG_LIB_VERSION);
    return text;
}
