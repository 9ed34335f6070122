/* Fuzz target for the events2 splitter/parser/state and the /proc/drbd version parser (libFuzzer entry point, plus a corpus replay main for make check). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"
#include "kmod/drbd-version.h"
#include "kmod/events2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_string(const char *s, size_t size, bool may_be_empty) {
        size_t n = strnlen(s, size);
        if (n >= size || (!may_be_empty && n == 0))
                abort();
        for (size_t i = 0; i < n; i++)
                if (s[i] <= ' ' || s[i] > '~')
                        abort();
}

/* What the parser promises about an accepted line. */
static void check_event(const Events2Event *e) {
        if ((unsigned) e->action >= _EVENTS2_ACTION_MAX || (unsigned) e->object >= _EVENTS2_OBJECT_MAX)
                abort();
        if ((unsigned) e->role >= _DRBD_ROLE_MAX || (unsigned) e->connection >= _DRBD_CONN_MAX ||
            (unsigned) e->disk >= _DRBD_DISK_MAX || (unsigned) e->peer_disk >= _DRBD_DISK_MAX ||
            (unsigned) e->replication >= _DRBD_REPL_MAX)
                abort();
        check_string(e->name, sizeof(e->name), !(e->fields & EVENTS2_F_NAME));
        check_string(e->conn_name, sizeof(e->conn_name), true);
        check_string(e->new_name, sizeof(e->new_name), true);
        check_string(e->helper, sizeof(e->helper), true);
        check_string(e->suspended, sizeof(e->suspended), true);
        check_string(e->resync_suspended, sizeof(e->resync_suspended), true);
        check_string(e->timestamp, sizeof(e->timestamp), true);
        if (e->peer_node_id > 31 || e->volume > 65535 || e->minor >= (1u << 20))
                abort();
        if (e->done < 0.0 || e->done > 100.0)
                abort();
        if (e->object == EVENTS2_END_OF_DUMP && e->fields & ~(uint32_t) EVENTS2_F_TIMESTAMP)
                abort();
}

typedef struct Run {
        DrbdState *state;
        uint64_t lines;
        uint64_t hash; /* of all lines seen, to compare chunkings */
} Run;

static int on_line(const char *line, size_t len, void *userdata) {
        Run *run = userdata;
        Events2Event e;
        int r;

        if (len == 0 || len > EVENTS2_LINE_MAX || strlen(line) != len || memchr(line, '\n', len))
                abort();
        run->lines++;
        for (size_t i = 0; i < len; i++)
                run->hash = (run->hash ^ (uint8_t) line[i]) * 1099511628211u;
        run->hash = (run->hash ^ '\n') * 1099511628211u;

        r = events2_parse_line(line, &e);
        if (r == 0)
                check_event(&e);
        else if (r != -EINVAL)
                abort();
        if (r == 0 && run->state) {
                r = drbd_state_apply(run->state, &e);
                if (r != 0 && r != -EINVAL && r != -ENOSPC && r != -ENOMEM)
                        abort();
        }
        return 0;
}

static void check_state(const DrbdState *s) {
        const DrbdResource *prev = NULL;
        for (size_t i = 0; i < drbd_state_n_resources(s); i++) {
                const DrbdResource *r = drbd_state_resource(s, i);
                check_string(r->name, sizeof(r->name), false);
                if (prev && strcmp(prev->name, r->name) >= 0)
                        abort();
                if (drbd_state_find_resource(s, r->name) != r)
                        abort();
                for (size_t k = 0; k < r->n_connections; k++) {
                        const DrbdConnection *c = &r->connections[k];
                        if (k > 0 && r->connections[k - 1].peer_node_id >= c->peer_node_id)
                                abort();
                        if (c->n_peer_devices > DRBD_STATE_VOLUMES_MAX)
                                abort();
                        for (size_t v = 0; v < c->n_peer_devices; v++) {
                                double p;
                                if (drbd_peer_device_sync_progress(r, &c->peer_devices[v], &p) == 0 &&
                                    (p < 0.0 || p > 100.0))
                                        abort();
                        }
                }
                if (r->n_devices > DRBD_STATE_VOLUMES_MAX)
                        abort();
                prev = r;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        DrbdKernelInfo info;
        Events2Splitter sp;
        Run whole = {}, chunked = {};
        json_t *j = NULL;

        /* /proc/drbd and sysfs parsers. */
        if (drbd_version_parse_proc((const char *) data, size, &info) == 0 ||
            drbd_version_parse_sysfs((const char *) data, size, &info) == 0) {
                check_string(info.version, sizeof(info.version), false);
                check_string(info.srcversion, sizeof(info.srcversion), true);
                if ((unsigned) info.dialect >= _DRBD_DIALECT_MAX || info.max_peers == 0 || info.max_peers > 31)
                        abort();
                if (info.has_proto && info.proto_min > info.proto_max)
                        abort();
                if (drbd_kernel_info_to_json(&info, &j) < 0)
                        abort();
                json_decref(j);
        }

        /* The stream in one piece, with state. */
        if (drbd_state_new(&whole.state) < 0)
                return 0;
        events2_splitter_init(&sp);
        events2_splitter_feed(&sp, data, size, on_line, &whole);
        events2_splitter_finish(&sp, on_line, &whole);
        uint64_t dropped = events2_splitter_dropped(&sp);
        check_state(whole.state);
        if (drbd_state_to_json(whole.state, &j) == 0) {
                char *s = json_dumps(j, JSON_COMPACT);
                if (!s)
                        abort();
                free(s);
                json_decref(j);
        }
        drbd_state_free(whole.state);

        /* The same bytes in chunks whose sizes come from the data itself
         * must give the same lines. */
        events2_splitter_init(&sp);
        for (size_t off = 0, k = 0; off < size; k++) {
                size_t n = MIN(size - off, (size_t) (data[k % size] % 97) + 1);
                events2_splitter_feed(&sp, data + off, n, on_line, &chunked);
                off += n;
        }
        events2_splitter_finish(&sp, on_line, &chunked);
        if (chunked.lines != whole.lines || chunked.hash != whole.hash || events2_splitter_dropped(&sp) != dropped)
                abort();
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
                for (int k = 0; k < n; k++) {
                        if (r == 0 && names[k]->d_name[0] != '.') {
                                char path[4096];
                                snprintf(path, sizeof path, "%s/%s", argv[i], names[k]->d_name);
                                r = replay_file(path);
                                count++;
                        }
                        free(names[k]);
                }
                free(names);
                if (r < 0)
                        return EXIT_FAILURE;
        }
        printf("%s: %u inputs replayed\n", argv[0], count);
        return EXIT_SUCCESS;
}
#endif
