/* Fuzz target for the parsers of untrusted names and configfs reads: IQNs, initiator names, volume names, CHAP values, device paths, portals, attribute values. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "iscsi-export/lio-names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *s = malloc(size + 1), *msg = NULL, *iqn = NULL;
        char portal[LIO_PORTAL_MAX], portal2[LIO_PORTAL_MAX], serial[LIO_SERIAL_LEN + 1];

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';

#define TRY(call)                                  \
        do {                                       \
                free(msg);                         \
                msg = NULL;                        \
                if ((call) < 0 && !msg)            \
                        abort();                   \
        } while (0)
        TRY(lio_iqn_validate("IQN", s, &msg));
        TRY(lio_initiator_validate(s, &msg));
        TRY(lio_volume_validate(s, &msg));
        TRY(lio_chap_user_validate("CHAP user", s, &msg));
        TRY(lio_chap_secret_validate("CHAP password", s, &msg));
        TRY(lio_device_validate(s, &msg));
        /* Whatever passes must be a safe configfs name. */
        if (lio_volume_validate(s, NULL) >= 0 || lio_initiator_validate(s, NULL) >= 0)
                if (strchr(s, '/') || strstr(s, "..") || strchr(s, '\n'))
                        abort();
        /* Canonical portals are a fixed point. */
        if (lio_portal_canonical(s, portal, NULL) >= 0) {
                if (lio_portal_canonical(portal, portal2, NULL) < 0 || !streq(portal, portal2))
                        abort();
        }
        if (lio_target_iqn("iqn.2026-11.org.drbd.drbdd", s, &iqn, NULL) >= 0) {
                if (!streq_ptr(lio_target_iqn_volume("iqn.2026-11.org.drbd.drbdd", iqn), s))
                        abort();
                lio_serial_from_iqn(iqn, serial);
                if (strlen(serial) != LIO_SERIAL_LEN)
                        abort();
        }
        (void) lio_target_iqn_volume("iqn.2026-11.org.drbd.drbdd", s);
        {
                _cleanup_free_ char *dev = NULL;
                if (lio_info_udev_path(s, &dev) >= 0 && lio_device_validate(dev, NULL) < 0)
                        abort();
        }
        lio_attr_strip(s);
        return 0;
}

#ifndef LIO_LIBFUZZER
/* Without libFuzzer: replay the files given (the corpus). */
int main(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                _cleanup_fclose_ FILE *f = fopen(argv[i], "re");
                uint8_t buf[8192];
                size_t n;
                if (!f) {
                        perror(argv[i]);
                        return 1;
                }
                n = fread(buf, 1, sizeof buf, f);
                LLVMFuzzerTestOneInput(buf, n);
        }
        return 0;
}
#endif
