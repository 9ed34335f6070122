/* Fuzz target for the etcd reply parsers (libFuzzer entry point, plus a corpus replay main for make check). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"
#include "drbdd/store/store-etcd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What every parser promises about what it returns; a violation aborts so the fuzzer reports it. */
static void check_kv(const StoreKV *kv, bool deleted) {
        if (!kv->key || !kv->key[0] || strlen(kv->key) > STORE_KEY_MAX || kv->mod_rev <= 0)
                abort();
        if (deleted) {
                if (kv->value)
                        abort();
                return;
        }
        if (!kv->value || kv->value_len > STORE_VALUE_MAX || kv->value[kv->value_len] != 0)
                abort();
        if (kv->create_rev < 0 || kv->version < 0 || kv->lease < 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *buf = (const char *) data;
        int64_t a, b;
        int r;

        StoreKVList l = {};
        if (etcd_parse_range(buf, size, &l) == 0) {
                for (size_t i = 0; i < l.n; i++) {
                        check_kv(l.items + i, false);
                        if (i > 0 && strcmp(l.items[i - 1].key, l.items[i].key) > 0)
                                abort();
                }
                if (l.revision < 0)
                        abort();
                store_kv_list_done(&l);
        }

        r = etcd_parse_txn(buf, size, &a);
        if (r == 0 && a <= 0)
                abort();
        if (etcd_parse_header(buf, size, &a) == 0 && a < 0)
                abort();
        r = etcd_parse_lease(buf, size, &a, &b);
        if (r == 0 && (a < 0 || b <= 0))
                abort();
        r = etcd_parse_error(buf, size);
        if (r >= 0)
                abort();

        char *token = NULL;
        if (etcd_parse_auth(buf, size, &token) == 0) {
                if (!token || strpbrk(token, "\r\n "))
                        abort();
                free(token);
        }

        EtcdWatchReply w = {};
        if (etcd_parse_watch(buf, size, &w) == 0) {
                for (size_t i = 0; i < w.events.n; i++) {
                        const StoreEvent *e = w.events.items + i;
                        check_kv(&e->kv, e->type == STORE_EVENT_DELETE);
                        if (i > 0 && e->kv.mod_rev < e[-1].kv.mod_rev)
                                abort();
                }
                if (w.error > 0 || w.compact_revision < 0)
                        abort();
                etcd_watch_reply_done(&w);
        }
        return 0;
}

#ifndef FUZZ_LIBFUZZER
/* Replays files, or every file of directories, given as arguments. */
static int replay_file(const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        struct stat st;
        if (!f || fstat(fileno(f), &st) < 0) {
                fprintf(stderr, "%s: cannot open: %m\n", path);
                return -1;
        }
        size_t n = (size_t) st.st_size;
        _cleanup_free_ uint8_t *data = malloc(n ? n : 1);
        if (!data || fread(data, 1, n, f) != n) {
                fprintf(stderr, "%s: cannot read\n", path);
                return -1;
        }
        LLVMFuzzerTestOneInput(data, n);
        return 0;
}

int main(int argc, char *argv[]) {
        unsigned count = 0;
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %m\n", argv[i]);
                        return EXIT_FAILURE;
                }
                if (!S_ISDIR(st.st_mode)) {
                        if (replay_file(argv[i]) < 0)
                                return EXIT_FAILURE;
                        count++;
                        continue;
                }
                struct dirent **names;
                int n = scandir(argv[i], &names, NULL, alphasort);
                if (n < 0) {
                        fprintf(stderr, "%s: %m\n", argv[i]);
                        return EXIT_FAILURE;
                }
                int r = 0;
                for (int j = 0; j < n; j++) {
                        if (r == 0 && names[j]->d_name[0] != '.') {
                                char path[4096];
                                snprintf(path, sizeof path, "%s/%s", argv[i], names[j]->d_name);
                                r = replay_file(path);
                                count++;
                        }
                        free(names[j]);
                }
                free(names);
                if (r < 0)
                        return EXIT_FAILURE;
        }
        printf("%s: %u inputs replayed\n", argv[0], count);
        return EXIT_SUCCESS;
}
#endif
