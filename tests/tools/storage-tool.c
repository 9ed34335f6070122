/* drbdd-storage-tool: every operation of drbdd/storage/storage.h on the command line, with JSON output (lab tests). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>

#include "drbdd/storage/storage.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"

static void usage(FILE *f) {
        fputs("usage: drbdd-storage-tool --pool JSON [--pool JSON...] [--link-dir DIR] COMMAND [ARGS]\n"
              "\n"
              "  probe                     report all pools (one lvs + one vgs for all LVM pools)\n"
              "  create NAME SIZE          SIZE in KiB, or with a suffix K, M, G\n"
              "  remove NAME\n"
              "  resize NAME SIZE          grow (never shrinks)\n"
              "  attach NAME               activate / attach the device\n"
              "  path NAME                 the device path (runs nothing)\n"
              "  snapshot-create VOLUME SNAPSHOT\n"
              "  snapshot-remove SNAPSHOT\n"
              "  from-snapshot SNAPSHOT NAME\n"
              "  clone SOURCE NAME\n"
              "  revert VOLUME SNAPSHOT\n"
              "\n"
              "Operations act on the first pool. Output: one JSON object on stdout;\n"
              "exit 0 on success, 1 when the operation failed, 2 on usage errors.\n"
              "Pool JSON: {\"name\":\"p\",\"driver\":\"lvm|lvm-thin|file\",\"volume-group\":...,\n"
              "            \"thin-pool\":...,\"directory\":...}\n",
              f);
}

static int parse_size(const char *s, uint64_t *ret) {
        char *end;
        uint64_t mult = 1;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *s == '-')
                return -EINVAL;
        if (streq(end, "M"))
                mult = 1024;
        else if (streq(end, "G"))
                mult = 1024 * 1024;
        else if (*end && !streq(end, "K"))
                return -EINVAL;
        if (v > UINT64_MAX / mult)
                return -EINVAL;
        *ret = v * mult;
        return 0;
}

static json_t *report_json(const StoragePool *p, const StorageReport *r) {
        json_t *o = json_object(), *vols = json_array();
        json_object_set_new(o, "pool", json_string(p->name));
        json_object_set_new(o, "driver", json_string(storage_driver_to_string(p->driver)));
        if (r->error) {
                json_object_set_new(o, "errno", json_string(strerrorname_np(-r->error)));
                json_object_set_new(o, "message", json_string(strna(r->message)));
        }
        json_object_set_new(o, "total_kib", json_integer((json_int_t) r->total_kib));
        json_object_set_new(o, "free_kib", json_integer((json_int_t) r->free_kib));
        json_object_set_new(o, "extent_kib", json_integer((json_int_t) r->extent_kib));
        if (p->driver == STORAGE_DRIVER_LVM_THIN) {
                json_object_set_new(o, "data_percent", isnan(r->data_percent) ? json_null() : json_real(r->data_percent));
                json_object_set_new(o, "metadata_percent",
                                    isnan(r->metadata_percent) ? json_null() : json_real(r->metadata_percent));
                json_object_set_new(o, "virtual_kib", json_integer((json_int_t) r->virtual_kib));
                json_object_set_new(o, "zeroing", json_boolean(r->zeroing));
        }
        for (size_t i = 0; i < r->n_volumes; i++) {
                const StorageVolume *v = &r->volumes[i];
                json_array_append_new(vols, json_pack("{s:s, s:I, s:s?, s:b, s:b}", "name", v->name, "size_kib",
                                                      (json_int_t) v->size_kib, "origin", v->origin, "snapshot",
                                                      v->snapshot, "active", v->active));
        }
        json_object_set_new(o, "volumes", vols);
        return o;
}

static int print_json(json_t *o) {
        _cleanup_free_ char *s = json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(1));
        json_decref(o);
        if (!s)
                return -ENOMEM;
        puts(s);
        return 0;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "pool", required_argument, NULL, 'p' },
                { "link-dir", required_argument, NULL, 'l' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        StoragePool *pools[16];
        size_t n_pools = 0;
        _cleanup_free_ char *path = NULL, *msg = NULL;
        int c, r;

        log_set_max_level(getenv("DRBDD_LOG_LEVEL") ? log_level_from_string(getenv("DRBDD_LOG_LEVEL")) : LOG_WARNING);
        while ((c = getopt_long(argc, argv, "+p:l:h", options, NULL)) >= 0)
                switch (c) {
                case 'p': {
                        _cleanup_json_ json_t *j = json_loads(optarg, 0, NULL);
                        _cleanup_free_ char *m = NULL;
                        if (n_pools >= ELEMENTSOF(pools)) {
                                fprintf(stderr, "too many pools\n");
                                return 2;
                        }
                        if (!j || storage_pool_new(j, &pools[n_pools], &m) < 0) {
                                fprintf(stderr, "invalid --pool: %s\n", m ? m : "not JSON");
                                return 2;
                        }
                        n_pools++;
                        break;
                }
                case 'l':
                        storage_set_link_directory(optarg);
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        if (optind >= argc || n_pools == 0) {
                usage(stderr);
                return 2;
        }

        const char *cmd = argv[optind], *a = optind + 1 < argc ? argv[optind + 1] : NULL,
                   *b = optind + 2 < argc ? argv[optind + 2] : NULL;
        int nargs = argc - optind - 1;
        StoragePool *p = pools[0];
        uint64_t size = 0;

#define NEED(n)                                                              \
        do {                                                                 \
                if (nargs != (n)) {                                          \
                        fprintf(stderr, "%s: expected %d argument(s)\n", cmd, (n)); \
                        return 2;                                            \
                }                                                            \
        } while (0)

        if (streq(cmd, "probe")) {
                StorageReport reports[ELEMENTSOF(pools)];
                json_t *arr = json_array();
                bool failed = false;
                NEED(0);
                if (storage_probe_all(pools, n_pools, reports) < 0)
                        return 1;
                for (size_t i = 0; i < n_pools; i++) {
                        failed = failed || reports[i].error;
                        json_array_append_new(arr, report_json(pools[i], &reports[i]));
                        storage_report_done(&reports[i]);
                }
                print_json(arr);
                r = failed ? -EIO : 0;
                goto out_pools;
        } else if (streq(cmd, "create") || streq(cmd, "resize")) {
                NEED(2);
                if (parse_size(b, &size) < 0) {
                        fprintf(stderr, "invalid size '%s'\n", b);
                        return 2;
                }
                r = streq(cmd, "create") ? storage_create(p, a, size, &path, &msg) : storage_resize(p, a, size, &msg);
        } else if (streq(cmd, "remove")) {
                NEED(1);
                r = storage_remove(p, a, &msg);
        } else if (streq(cmd, "attach")) {
                NEED(1);
                r = storage_attach(p, a, &path, &msg);
        } else if (streq(cmd, "path")) {
                NEED(1);
                r = storage_device_path(p, a, &path);
        } else if (streq(cmd, "snapshot-create")) {
                NEED(2);
                r = storage_snapshot_create(p, a, b, &msg);
        } else if (streq(cmd, "snapshot-remove")) {
                NEED(1);
                r = storage_snapshot_remove(p, a, &msg);
        } else if (streq(cmd, "from-snapshot")) {
                NEED(2);
                r = storage_volume_from_snapshot(p, a, b, &path, &msg);
        } else if (streq(cmd, "clone")) {
                NEED(2);
                r = storage_clone(p, a, b, &path, &msg);
        } else if (streq(cmd, "revert")) {
                NEED(2);
                r = storage_revert(p, a, b, &msg);
        } else {
                fprintf(stderr, "unknown command '%s'\n", cmd);
                usage(stderr);
                return 2;
        }

        if (r < 0)
                print_json(json_pack("{s:b, s:s, s:s}", "ok", 0, "errno", strerrorname_np(-r), "message",
                                     msg ? msg : strerror(-r)));
        else
                print_json(json_pack("{s:b, s:s?}", "ok", 1, "device", path));
out_pools:
        for (size_t i = 0; i < n_pools; i++)
                storage_pool_free(pools[i]);
        return r < 0 ? 1 : 0;
}
