/* drbdd-kmod-probe: load drbdd's kernel modules, report the DRBD version, turn an events2 stream into JSON state. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drbd-version.h"
#include "events2.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "modules.h"

static const char *arg_modules_dir = NULL;
static const char *arg_root = NULL;
static const char *arg_drbd_options = NULL;
static unsigned arg_sets = KMOD_SET_DRBD | KMOD_SET_STORAGE;
static bool arg_each = false;
static bool arg_strict = false;

static void help(void) {
        printf("Usage: drbdd-kmod-probe [OPTIONS] COMMAND\n\n"
               "Commands:\n"
               "  load [MODULE...]   load MODULEs, or drbdd's set (drbd, dm_thin_pool,\n"
               "                     dm_snapshot, loop; --iscsi adds LIO), print JSON\n"
               "  version            print the DRBD kernel version and capabilities as JSON\n"
               "  events2            read `drbdsetup events2` output on stdin, print the state\n\n"
               "Options:\n"
               "  --modules-dir DIR  modules directory (default $%s or /lib/modules/`uname -r`)\n"
               "  --root DIR         read /proc and /sys below DIR (version)\n"
               "  --drbd-options S   module options for drbd, e.g. usermode_helper=/bin/true\n"
               "  --iscsi            also load target_core_mod, iscsi_target_mod, target_core_iblock\n"
               "  --each             events2: print the state after every line (compact JSON)\n"
               "  --strict           events2: exit 1 if any line was malformed or dropped\n"
               "  -v, --verbose      debug logging\n"
               "  -h, --help         this text\n",
               KMOD_MODULES_DIR_ENV);
}

static int print_json(json_t *j, bool compact) {
        _cleanup_free_ char *s = json_dumps(j, (compact ? JSON_COMPACT : JSON_INDENT(2)) | JSON_SORT_KEYS);
        if (!s)
                return log_error_errno(-ENOMEM, "Failed to format JSON");
        printf("%s\n", s);
        fflush(stdout);
        return 0;
}

static const char *load_result_string(int r) {
        return r == 0 ? "inserted" : r > 0 ? "already-loaded" : "failed";
}

static int add_version(json_t *o) {
        DrbdKernelInfo info;
        json_t *v = NULL;
        int r = drbd_kernel_info_detect(arg_root, &info);

        if (r < 0)
                return json_object_set_new(o, "drbd_error", json_string(strerror(-r))) < 0 ? -ENOMEM : 0;
        r = drbd_kernel_info_to_json(&info, &v);
        if (r < 0)
                return r;
        return json_object_set_new(o, "drbd", v) < 0 ? -ENOMEM : 0;
}

static int cmd_load(int argc, char **argv) {
        _cleanup_(json_decrefp) json_t *out = json_object(), *mods = json_array();
        KmodLoader *l = NULL;
        KmodResult results[KMOD_DRBDD_MODULES_MAX];
        _cleanup_free_ char *err = NULL;
        size_t n = 0;
        int r, failed = 0;

        if (!out || !mods)
                return log_error_errno(-ENOMEM, "Out of memory");
        r = kmod_loader_new(arg_modules_dir, NULL, &l);
        if (r < 0)
                return log_error_errno(r, "Failed to set up libkmod (modules dir %s): %s", strna(arg_modules_dir),
                                       strerror(-r));

        if (argc > 0) {
                for (int i = 0; i < argc; i++) {
                        _cleanup_free_ char *e = NULL;
                        r = kmod_loader_load(l, argv[i], streq(argv[i], "drbd") ? arg_drbd_options : NULL, &e);
                        json_array_append_new(mods, json_pack("{s:s, s:s, s:s*}", "name", argv[i], "result",
                                                              load_result_string(r), "error", r < 0 ? e : NULL));
                        if (r < 0) {
                                log_error("%s", strna(e));
                                failed = 1;
                        }
                }
        } else {
                r = kmod_load_drbdd_modules(l, arg_sets, arg_drbd_options, results, &n, &err);
                for (size_t i = 0; i < n; i++)
                        json_array_append_new(mods, json_pack("{s:s, s:s, s:s*}", "name", results[i].name, "result",
                                                              load_result_string(results[i].r), "error",
                                                              results[i].r < 0 ? strerror(-results[i].r) : NULL));
                if (r < 0) {
                        log_error("%s", strna(err));
                        failed = 1;
                }
        }
        kmod_loader_free(l);

        json_object_set_new(out, "modules", TAKE_PTR(mods));
        r = add_version(out);
        if (r < 0)
                return log_error_errno(r, "Failed to describe DRBD: %s", strerror(-r));
        r = print_json(out, false);
        return r < 0 ? r : failed ? -EIO : 0;
}

static int cmd_version(void) {
        _cleanup_(json_decrefp) json_t *j = NULL;
        DrbdKernelInfo info;
        int r;

        r = drbd_kernel_info_detect(arg_root, &info);
        if (r == -ENOENT)
                return log_error_errno(r, "DRBD is not loaded (no %s/proc/drbd, no %s/sys/module/drbd/version)",
                                       arg_root ?: "", arg_root ?: "");
        if (r < 0)
                return log_error_errno(r, "Failed to detect the DRBD version: %s", strerror(-r));
        r = drbd_kernel_info_to_json(&info, &j);
        if (r < 0)
                return log_error_errno(r, "Out of memory");
        return print_json(j, false);
}

typedef struct Events2Ctx {
        DrbdState *state;
        uint64_t lines, invalid, rejected;
} Events2Ctx;

static int on_line(const char *line, size_t len, void *userdata) {
        Events2Ctx *c = userdata;
        Events2Event e;
        int r;

        c->lines++;
        r = events2_parse_line(line, &e);
        if (r < 0) {
                c->invalid++;
                log_warning("Ignoring malformed events2 line %" PRIu64 " (%zu bytes)", c->lines, len);
                return 0;
        }
        r = drbd_state_apply(c->state, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                c->rejected++;
                log_warning("Event on line %" PRIu64 " not applied: %s", c->lines, strerror(-r));
                return 0;
        }
        if (arg_each) {
                _cleanup_(json_decrefp) json_t *j = NULL;
                r = drbd_state_to_json(c->state, &j);
                if (r < 0)
                        return r;
                return print_json(j, true);
        }
        return 0;
}

static int cmd_events2(void) {
        _cleanup_(json_decrefp) json_t *j = NULL, *out = NULL;
        Events2Splitter sp;
        Events2Ctx c = {};
        char buf[4096];
        int r;

        r = drbd_state_new(&c.state);
        if (r < 0)
                return log_error_errno(r, "Out of memory");
        events2_splitter_init(&sp);
        for (;;) {
                ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = log_error_errno(-errno, "Failed to read stdin: %m");
                        goto finish;
                }
                if (n == 0)
                        break;
                r = events2_splitter_feed(&sp, buf, (size_t) n, on_line, &c);
                if (r < 0)
                        goto finish;
        }
        r = events2_splitter_finish(&sp, on_line, &c);
        if (r < 0)
                goto finish;

        if (!arg_each) {
                r = drbd_state_to_json(c.state, &j);
                if (r >= 0) {
                        out = json_pack("{s:I, s:I, s:I, s:I, s:O}", "lines", (json_int_t) c.lines, "invalid",
                                        (json_int_t) c.invalid, "rejected", (json_int_t) c.rejected, "dropped",
                                        (json_int_t) events2_splitter_dropped(&sp), "state", j);
                        r = out ? print_json(out, false) : -ENOMEM;
                }
        }
        if (r >= 0 && arg_strict && (c.invalid || c.rejected || events2_splitter_dropped(&sp)))
                r = log_error_errno(-EINVAL, "%" PRIu64 " malformed, %" PRIu64 " rejected, %" PRIu64 " dropped lines",
                                    c.invalid, c.rejected, events2_splitter_dropped(&sp));
finish:
        drbd_state_free(c.state);
        return r;
}

int main(int argc, char **argv) {
        enum { ARG_MODULES_DIR = 0x100, ARG_ROOT, ARG_DRBD_OPTIONS, ARG_ISCSI, ARG_EACH, ARG_STRICT };
        static const struct option opts[] = {
                { "modules-dir", required_argument, NULL, ARG_MODULES_DIR },
                { "root", required_argument, NULL, ARG_ROOT },
                { "drbd-options", required_argument, NULL, ARG_DRBD_OPTIONS },
                { "iscsi", no_argument, NULL, ARG_ISCSI },
                { "each", no_argument, NULL, ARG_EACH },
                { "strict", no_argument, NULL, ARG_STRICT },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        const char *cmd;
        int o, r;

        log_set_prefix("drbdd-kmod-probe");
        while ((o = getopt_long(argc, argv, "vh", opts, NULL)) >= 0) {
                switch (o) {
                case ARG_MODULES_DIR: arg_modules_dir = optarg; break;
                case ARG_ROOT: arg_root = optarg; break;
                case ARG_DRBD_OPTIONS: arg_drbd_options = optarg; break;
                case ARG_ISCSI: arg_sets |= KMOD_SET_ISCSI; break;
                case ARG_EACH: arg_each = true; break;
                case ARG_STRICT: arg_strict = true; break;
                case 'v': log_set_max_level(LOG_DEBUG); break;
                case 'h': help(); return EXIT_SUCCESS;
                default: return EXIT_FAILURE;
                }
        }
        if (optind >= argc) {
                help();
                return EXIT_FAILURE;
        }
        cmd = argv[optind++];
        if (streq(cmd, "load"))
                r = cmd_load(argc - optind, argv + optind);
        else if (streq(cmd, "version"))
                r = cmd_version();
        else if (streq(cmd, "events2"))
                r = cmd_events2();
        else {
                log_error("Unknown command '%s'; see --help", cmd);
                return EXIT_FAILURE;
        }
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
