/* drbdd-call: raw D-Bus calls to drbdd for tests. Arguments are a JSON array
 * marshalled by the given signature (so wrong signatures can be sent on
 * purpose); prints the reply as JSON, or "ERROR <name>: <message>". */
#include <stdio.h>

#include "drbdd/client/client.h"
#include "fileio.h"
#include "json-util.h"
#include "macro.h"

int main(int argc, char **argv) {
        if (argc < 3 || argc > 5) {
                fprintf(stderr, "Usage: drbdd-call METHOD SIGNATURE [JSON-ARGS|-] [OBJECT-PATH]\n"
                                "JSON-ARGS is a JSON array; '-' reads it from stdin.\n");
                return 2;
        }
        _cleanup_free_ char *text = NULL;
        const char *args_text = argc > 3 ? argv[3] : "[]";
        if (streq(args_text, "-")) {
                if (fileio_read_full("/dev/stdin", 64u << 20, &text, NULL) < 0)
                        return 2;
                args_text = text;
        }
        _cleanup_(json_decrefp) json_t *args = json_parse(args_text, strlen(args_text), NULL);
        if (!json_is_array(args)) {
                fprintf(stderr, "drbdd-call: arguments must be a JSON array\n");
                return 2;
        }
        DrbddClient *c = NULL;
        if (drbdd_client_open(NULL, &c) < 0) {
                puts("ERROR connect");
                return 1;
        }
        _cleanup_(json_decrefp) json_t *ret = NULL;
        _cleanup_free_ char *msg = NULL, *name = NULL;
        int r = drbdd_client_call(c, argc > 4 ? argv[4] : NULL, argv[1], argv[2], args, &ret, &msg, &name);
        drbdd_client_free(c);
        if (r < 0) {
                printf("ERROR %s: %s\n", name ? name : "(none)", msg ? msg : strerror(-r));
                return 1;
        }
        _cleanup_free_ char *out = json_dumps(ret, JSON_COMPACT);
        puts(out ? out : "[]");
        return 0;
}
