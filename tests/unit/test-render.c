/* Unit tests for drbdd/drbd/render.c: golden .res files checked by drbdadm, and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <limits.h>
#include <sys/stat.h>

#include "exec.h"
#include "fileio.h"
#include "macro.h"
#include "utf8.h"
#include "drbdd/drbd/render.h"

/* Where tests/golden lives: $DRBDD_SRCDIR, the current directory (make unit runs from the
 * repository root), or two levels above the directory of this binary (build/tests/). */
static char srcdir[PATH_MAX];

static bool has_golden(const char *dir) {
        char p[PATH_MAX + 64];
        snprintf(p, sizeof p, "%s/tests/golden/check-drbdadm.sh", dir);
        return access(p, X_OK) == 0;
}

static const char *find_srcdir(void) {
        const char *env = getenv("DRBDD_SRCDIR");
        char exe[PATH_MAX];
        ssize_t n;

        if (srcdir[0])
                return srcdir;
        if (env && has_golden(env)) {
                snprintf(srcdir, sizeof srcdir, "%s", env);
                return srcdir;
        }
        if (has_golden(".")) {
                snprintf(srcdir, sizeof srcdir, ".");
                return srcdir;
        }
        n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
                exe[n] = '\0';
                for (int i = 0; i < 3; i++) {
                        char *slash = strrchr(exe, '/');
                        if (!slash)
                                break;
                        *slash = '\0';
                }
                if (has_golden(exe)) {
                        snprintf(srcdir, sizeof srcdir, "%s", exe);
                        return srcdir;
                }
        }
        fail_msg("cannot find tests/golden; set DRBDD_SRCDIR to the repository root");
        return NULL;
}

/* Runs check-drbdadm.sh on text. Returns true if drbd-utils' parser accepts it; otherwise
 * *ret_msg (if given) gets drbdadm's complaint. A missing parser fails the test: drbd-utils
 * is in packages.txt, and a skipped check would prove nothing. */
static bool drbdadm_check(const char *dialect, const char *text, char **ret_msg) {
        char script[PATH_MAX + 64], file[] = "/tmp/test-render-XXXXXX.res";
        ExecResult res;
        bool ok;
        int fd, r;

        snprintf(script, sizeof script, "%s/tests/golden/check-drbdadm.sh", find_srcdir());
        fd = mkstemps(file, 4);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);

        char *argv[] = { script, (char *) dialect, file, NULL };
        r = exec_run(argv, &(ExecOptions) { .timeout_ms = 60000 }, &res);
        unlink(file);
        assert_int_equal(r, 0);
        if (res.status == 77)
                fail_msg("no drbdadm for DRBD %s (Debian package drbd-utils): %s", dialect, res.out);
        if (res.status != 0 && res.status != 1)
                fail_msg("check-drbdadm.sh failed (exit %d):\n%s\n%s", res.status, res.out, res.err);
        ok = res.status == 0;
        if (!ok && ret_msg)
                assert_true(asprintf(ret_msg, "%s%s", res.out, res.err) >= 0);
        exec_result_done(&res);
        return ok;
}

static void assert_drbdadm_accepts(const char *dialect, const char *text) {
        _cleanup_free_ char *msg = NULL;

        if (!drbdadm_check(dialect, text, &msg))
                fail_msg("drbdadm (%s) rejected:\n%s\n--- file:\n%s", dialect, msg, text);
}

static void test_checker_rejects(void **state) {
        /* The checker must fail on a broken file, or the golden checks prove nothing. */
        static const char broken[] = "resource \"bad\" {\n\tnet {\n\t\tprotocol D;\n\t}\n}\n";
        char script[PATH_MAX + 64], file[] = "/tmp/test-render-XXXXXX.res";
        ExecResult res;
        int fd;

        snprintf(script, sizeof script, "%s/tests/golden/check-drbdadm.sh", find_srcdir());
        fd = mkstemps(file, 4);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, broken, sizeof broken - 1), (ssize_t) sizeof broken - 1);
        close(fd);
        for (int i = 0; i < 2; i++) {
                char *argv[] = { script, (char *) (i ? "8.4" : "9"), file, NULL };
                assert_int_equal(exec_run(argv, NULL, &res), 0);
                if (res.status == 77)
                        fail_msg("no drbdadm for DRBD %s (Debian package drbd-utils)", argv[1]);
                assert_int_equal(res.status, 1);
                assert_non_null(strstr(res.out, "protocol"));
                exec_result_done(&res);
        }
        unlink(file);
}

static void assert_golden(const char *golden, const RenderResource *r) {
        _cleanup_free_ char *text = NULL, *msg = NULL, *expected = NULL;
        char path[PATH_MAX + 64];
        size_t len;
        int k;

        k = drbd_render_res(r, &text, &msg);
        if (k < 0)
                fail_msg("render failed: %s", msg);
        assert_null(msg);

        snprintf(path, sizeof path, "%s/tests/golden/%s", find_srcdir(), golden);
        if (getenv("DRBDD_UPDATE_GOLDEN"))
                assert_int_equal(fileio_write_atomic(path, text, strlen(text), 0644), 0);
        k = fileio_read_full(path, 1 << 20, &expected, &len);
        if (k < 0)
                fail_msg("cannot read %s (%s); DRBDD_UPDATE_GOLDEN=1 writes it", path, strerror(-k));
        if (!streq(text, expected))
                fail_msg("output differs from %s:\n%s", path, text);

        assert_drbdadm_accepts(drbd_dialect_to_string(r->dialect), text);
}

/* ---- fixtures ------------------------------------------------------------ */

static const char *const disks_a[] = { "/dev/drbdpool/r0_00000", "/dev/drbdpool/r0_00001", "/dev/drbdpool/r0_00002" };
static const char *const disks_b[] = { "/dev/vg-b/r0_00000", "/dev/vg-b/r0_00001", "/dev/vg-b/r0_00002" };
static const char *const disks_file[] = { "/dev/loop7", "/dev/mapper/vg--c-r0_00001", "/dev/disk/by-id/dm-name-x+y" };

static const RenderVolume vol1[] = { { .vnr = 0, .minor = 1000 } };
static const RenderVolume vol3[] = { { .vnr = 0, .minor = 1001 }, { .vnr = 1, .minor = 1002 }, { .vnr = 2, .minor = 1003 } };

#define SECRET "c2VjcmV0LXNlY3JldA+/="

static RenderResource two_node(DrbdDialect d) {
        static RenderHost hosts[2];
        hosts[0] = (RenderHost) { .name = "alpha", .address = "10.0.0.1", .port = 7000, .node_id = 0, .disks = disks_a };
        hosts[1] = (RenderHost) { .name = "beta", .address = "10.0.0.2", .port = 7000, .node_id = 1, .disks = disks_b };
        return (RenderResource) {
                .name = "r0", .dialect = d, .secret = SECRET, .peer_slots = 7,
                .volumes = vol1, .n_volumes = 1, .hosts = hosts, .n_hosts = 2,
        };
}

/* ---- golden tests ------------------------------------------------------ */

static void test_golden_9_two_node(void **state) {
        RenderResource r = two_node(DRBD_DIALECT_9);
        assert_golden("drbd9-two-node.res", &r);
}

static void test_golden_9_tiebreaker(void **state) {
        const RenderHost hosts[] = {
                { .name = "alpha", .address = "10.0.0.1", .port = 7001, .node_id = 0, .disks = disks_a },
                { .name = "beta", .address = "10.0.0.2", .port = 7001, .node_id = 1, .disks = disks_b },
                { .name = "gamma.example.com", .address = "10.0.0.3", .port = 7001, .node_id = 2, .diskless = true },
        };
        RenderResource r = {
                .name = "volume-2b9c", .dialect = DRBD_DIALECT_9, .secret = SECRET, .quorum = true,
                .volumes = vol1, .n_volumes = 1, .hosts = hosts, .n_hosts = 3,
        };
        assert_golden("drbd9-tiebreaker.res", &r);
}

static void test_golden_9_multi_volume(void **state) {
        const RenderHost hosts[] = {
                { .name = "alpha", .address = "10.0.0.1", .port = 7002, .node_id = 0, .disks = disks_a },
                { .name = "beta", .address = "10.0.0.2", .port = 7002, .node_id = 3, .disks = disks_b },
                { .name = "charlie", .address = "10.0.0.3", .port = 7002, .node_id = 1, .disks = disks_file },
                { .name = "compute-1", .address = "10.0.1.17", .port = 7002, .node_id = 2, .diskless = true },
        };
        RenderResource r = {
                .name = "_multi", .dialect = DRBD_DIALECT_9, .secret = NULL, .quorum = true,
                .volumes = vol3, .n_volumes = 3, .hosts = hosts, .n_hosts = 4,
        };
        assert_golden("drbd9-multi-volume.res", &r);
}

static void test_golden_9_ipv6(void **state) {
        const RenderHost hosts[] = {
                { .name = "alpha", .address = "fd00::1", .port = 7003, .node_id = 0, .disks = disks_a },
                { .name = "beta", .address = "fd00:0:0:1::a:2", .port = 7003, .node_id = 1, .disks = disks_b },
        };
        RenderResource r = {
                .name = "r6", .dialect = DRBD_DIALECT_9, .secret = SECRET,
                .volumes = vol1, .n_volumes = 1, .hosts = hosts, .n_hosts = 2,
        };
        assert_golden("drbd9-ipv6.res", &r);
}

static void test_golden_9_options(void **state) {
        /* Given out of order: rendered in whitelist order; operator values override the
         * defaults (protocol, quorum). */
        const RenderOption opts[] = {
                { "disk/on-io-error", "detach" },
                { "net/max-buffers", "8000" },
                { "options/quorum", "2" },
                { "net/protocol", "A" },
                { "net/on-congestion", "pull-ahead" },
                { "net/congestion-fill", "1G" },
                { "disk/c-max-rate", "400M" },
                { "disk/resync-rate", "100M" },
                { "disk/rs-discard-granularity", "65536" },
                { "net/fencing", "resource-only" },
                { "net/verify-alg", "crc32c" },
                { "options/auto-promote", "no" },
                { "options/on-no-quorum", "suspend-io" },
                { "net/allow-two-primaries", "yes" },
        };
        RenderResource r = two_node(DRBD_DIALECT_9);
        r.quorum = true;
        r.options = opts;
        r.n_options = ELEMENTSOF(opts);
        assert_golden("drbd9-options.res", &r);
}

static void test_golden_84_two_node(void **state) {
        const RenderOption opts[] = {
                { "net/fencing", "resource-only" }, /* into disk { } for 8.4 */
                { "disk/on-io-error", "detach" },
                { "net/max-buffers", "8000" },
                { "options/on-no-data-accessible", "suspend-io" },
        };
        RenderResource r = two_node(DRBD_DIALECT_84);
        r.options = opts;
        r.n_options = ELEMENTSOF(opts);
        assert_golden("drbd84-two-node.res", &r);
}

static void test_golden_84_ipv6_multi_volume(void **state) {
        const RenderHost hosts[] = {
                { .name = "alpha", .address = "fd00::1", .port = 7010, .disks = disks_a },
                { .name = "beta", .address = "fd00::2", .port = 7010, .disks = disks_b },
        };
        RenderResource r = {
                .name = "r84v", .dialect = DRBD_DIALECT_84,
                .volumes = vol3, .n_volumes = 3, .hosts = hosts, .n_hosts = 2,
        };
        assert_golden("drbd84-ipv6-multi-volume.res", &r);
}

static void test_deterministic(void **state) {
        RenderResource r = two_node(DRBD_DIALECT_9);
        _cleanup_free_ char *a = NULL, *b = NULL;

        assert_int_equal(drbd_render_res(&r, &a, NULL), 0);
        assert_int_equal(drbd_render_res(&r, &b, NULL), 0);
        assert_string_equal(a, b);
}

/* ---- every whitelisted option value reaches drbdadm intact ------------- */

typedef struct OptionSamples {
        const char *name;
        const char *values[12]; /* NULL-terminated; boundaries and every word */
} OptionSamples;

static const OptionSamples samples[] = {
        { "net/protocol", { "A", "B", "C" } },
        { "net/timeout", { "1", "600" } },
        { "net/max-epoch-size", { "1", "20000" } },
        { "net/max-buffers", { "32", "131072" } },
        { "net/connect-int", { "1", "120" } },
        { "net/ping-int", { "1", "120" } },
        { "net/ping-timeout", { "1", "300" } },
        { "net/ko-count", { "0", "200" } },
        { "net/sndbuf-size", { "0", "10485760", "10M", "512k" } },
        { "net/rcvbuf-size", { "0", "10485760", "10M", "512k" } },
        { "net/allow-two-primaries", { "yes", "no" } },
        { "net/always-asbp", { "yes", "no" } },
        { "net/tcp-cork", { "yes", "no" } },
        { "net/after-sb-0pri", { "disconnect", "discard-younger-primary", "discard-older-primary",
                                 "discard-zero-changes", "discard-least-changes", "discard-local", "discard-remote" } },
        { "net/after-sb-1pri", { "disconnect", "consensus", "violently-as0p", "discard-secondary", "call-pri-lost-after-sb" } },
        { "net/after-sb-2pri", { "disconnect", "violently-as0p", "call-pri-lost-after-sb" } },
        { "net/rr-conflict", { "disconnect", "call-pri-lost", "violently" } },
        { "net/verify-alg", { "crc32c", "sha1", "sha256", "md5" } },
        { "net/csums-alg", { "crc32c", "sha1", "sha256", "md5" } },
        { "net/data-integrity-alg", { "crc32c", "sha1", "sha256", "md5" } },
        { "net/on-congestion", { "block", "pull-ahead", "disconnect" } },
        { "net/congestion-fill", { "0", "20971520", "10G" } },
        { "net/congestion-extents", { "67", "65534" } },
        { "net/fencing", { "dont-care", "resource-only", "resource-and-stonith" } },
        { "disk/on-io-error", { "pass_on", "call-local-io-error", "detach" } },
        { "disk/disk-timeout", { "0", "6000" } },
        { "disk/resync-rate", { "1", "4194304", "4G", "100M" } },
        { "disk/c-plan-ahead", { "0", "300" } },
        { "disk/c-delay-target", { "1", "100" } },
        { "disk/c-fill-target", { "0", "1048576", "512M" } },
        { "disk/c-max-rate", { "250", "4194304", "4G" } },
        { "disk/c-min-rate", { "0", "4194304", "4G" } },
        { "disk/al-extents", { "67", "65534" } },
        { "disk/al-updates", { "yes", "no" } },
        { "disk/disk-barrier", { "yes", "no" } },
        { "disk/disk-flushes", { "yes", "no" } },
        { "disk/md-flushes", { "yes", "no" } },
        { "disk/disk-drain", { "yes", "no" } },
        { "disk/read-balancing", { "prefer-local", "prefer-remote", "round-robin", "least-pending",
                                   "when-congested-remote", "32K-striping", "64K-striping", "128K-striping",
                                   "256K-striping", "512K-striping", "1M-striping" } },
        { "disk/rs-discard-granularity", { "0", "1048576", "1M" } },
        { "disk/discard-zeroes-if-aligned", { "yes", "no" } },
        { "options/cpu-mask", { "1", "ff", "0123456789abcdefABCDEF" } },
        { "options/on-no-data-accessible", { "io-error", "suspend-io" } },
        { "options/auto-promote", { "yes", "no" } },
        { "options/quorum", { "off", "majority", "all", "1", "32" } },
        { "options/quorum-minimum-redundancy", { "off", "majority", "all", "1", "32" } },
        { "options/on-no-quorum", { "io-error", "suspend-io" } },
};

static void test_samples_cover_whitelist(void **state) {
        const char *name;

        for (unsigned i = 0; (name = drbd_option_name(i)); i++) {
                bool found = false;
                for (size_t j = 0; j < ELEMENTSOF(samples) && !found; j++)
                        found = streq(samples[j].name, name);
                if (!found)
                        fail_msg("option %s has no samples in test-render.c", name);
        }
        for (size_t j = 0; j < ELEMENTSOF(samples); j++)
                for (size_t v = 0; samples[j].values[v]; v++)
                        if (drbd_option_validate(samples[j].name, samples[j].values[v], NULL) < 0)
                                fail_msg("sample %s=%s is not valid", samples[j].name, samples[j].values[v]);
}

/* Renders resource "sN" for variant N (each option's N-th sample, wrapping around) into one
 * file per dialect, so that one drbdadm run checks every value. */
static void check_all_options(DrbdDialect d) {
        _cleanup_free_ char *all = NULL;
        size_t all_len = 0;
        _cleanup_fclose_ FILE *f = open_memstream(&all, &all_len);

        assert_non_null(f);
        for (unsigned variant = 0; variant < 11; variant++) {
                RenderOption opts[ELEMENTSOF(samples)];
                RenderVolume vol = { .vnr = 0, .minor = 2000 + variant };
                RenderHost hosts[2];
                char name[16];
                size_t n = 0;
                _cleanup_free_ char *text = NULL, *msg = NULL;

                for (size_t j = 0; j < ELEMENTSOF(samples); j++) {
                        size_t count = 0;
                        if (!drbd_option_supported(samples[j].name, d))
                                continue;
                        while (samples[j].values[count])
                                count++;
                        opts[n++] = (RenderOption) { samples[j].name, samples[j].values[variant % count] };
                }
                snprintf(name, sizeof name, "s%u", variant);
                hosts[0] = (RenderHost) { .name = "alpha", .address = "10.0.0.1", .port = (uint16_t) (7100 + variant),
                                          .node_id = 0, .disks = disks_a };
                hosts[1] = (RenderHost) { .name = "beta", .address = "10.0.0.2", .port = (uint16_t) (7100 + variant),
                                          .node_id = 1, .disks = disks_b };
                RenderResource r = {
                        .name = name, .dialect = d, .secret = SECRET, .volumes = &vol, .n_volumes = 1,
                        .hosts = hosts, .n_hosts = 2, .options = opts, .n_options = n,
                };
                if (drbd_render_res(&r, &text, &msg) < 0)
                        fail_msg("render failed: %s", msg);
                fputs(text, f);
        }
        assert_int_equal(fflush(f), 0);
        assert_drbdadm_accepts(drbd_dialect_to_string(d), all);
}

static void test_all_options_9(void **state) {
        check_all_options(DRBD_DIALECT_9);
}

static void test_all_options_84(void **state) {
        check_all_options(DRBD_DIALECT_84);
}

/* ---- every bound in the whitelist, checked against drbdadm ------------- */

/* Values derived from the table row itself, so a changed bound is checked without
 * touching this file: inside = at the lower and the upper bound (and every word);
 * outside = just beyond each bound, which drbdd must refuse. */
#define BOUND_VALUES_MAX 24

typedef struct BoundValues {
        char inside[BOUND_VALUES_MAX][72];
        size_t n_inside;
        char outside[BOUND_VALUES_MAX][72];
        size_t n_outside;
} BoundValues;

static void bound_push(BoundValues *b, bool inside, const char *v) {
        char (*list)[72] = inside ? b->inside : b->outside;
        size_t *n = inside ? &b->n_inside : &b->n_outside;

        assert_true(*n < BOUND_VALUES_MAX);
        assert_true(strlen(v) < sizeof list[0]);
        snprintf(list[(*n)++], sizeof list[0], "%s", v);
}

/* n hex digits, mixed case, so that the parser's idea of a digit is checked too. */
static void hex_digits(char *buf, size_t size, uint64_t n) {
        static const char digits[] = "fedcba9876543210ABCDEF";

        assert_true(n < size);
        for (uint64_t i = 0; i < n; i++)
                buf[i] = digits[i % (sizeof digits - 1)];
        buf[n] = '\0';
}

static void bound_values(const OptionDef *def, BoundValues *ret) {
        static const struct { char suffix; uint64_t bytes; } units[] = {
                { 'G', UINT64_C(1) << 30 }, { 'M', UINT64_C(1) << 20 }, { 'k', UINT64_C(1) << 10 },
        };
        char buf[72];

        *ret = (BoundValues) {};
        switch (def->type) {
        case OPT_BOOL:
                bound_push(ret, true, "yes");
                bound_push(ret, true, "no");
                bound_push(ret, false, "");
                bound_push(ret, false, "Yes");
                bound_push(ret, false, "1");
                break;
        case OPT_WORD:
        case OPT_INT_OR_WORD:
                assert_non_null(def->words);
                for (size_t i = 0; def->words[i]; i++) {
                        bound_push(ret, true, def->words[i]);
                        snprintf(buf, sizeof buf, "%sx", def->words[i]);
                        bound_push(ret, false, buf);
                }
                bound_push(ret, false, "");
                if (def->type == OPT_WORD)
                        break;
                __attribute__((fallthrough));
        case OPT_INT: {
                uint64_t base = def->scale == SCALE_KIB ? 1024 : def->scale == SCALE_SECTORS ? 512 : 1;

                assert_true(def->min <= def->max);
                snprintf(buf, sizeof buf, "%" PRIu64, def->min);
                bound_push(ret, true, buf);
                snprintf(buf, sizeof buf, "%" PRIu64, def->max);
                bound_push(ret, true, buf);
                if (def->min > 0) {
                        snprintf(buf, sizeof buf, "%" PRIu64, def->min - 1);
                        bound_push(ret, false, buf);
                }
                snprintf(buf, sizeof buf, "%" PRIu64, def->max + 1);
                bound_push(ret, false, buf);
                if (def->scale == SCALE_NONE)
                        break;
                /* The upper bound in the largest unit that states it exactly, and one
                 * unit more: drbdd and drbdadm must agree on what a suffix means. */
                for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                        uint64_t per = units[i].bytes / base;
                        if (def->max < per || def->max % per)
                                continue;
                        snprintf(buf, sizeof buf, "%" PRIu64 "%c", def->max / per, units[i].suffix);
                        bound_push(ret, true, buf);
                        snprintf(buf, sizeof buf, "%" PRIu64 "%c", def->max / per + 1, units[i].suffix);
                        bound_push(ret, false, buf);
                        break;
                }
                break;
        }
        case OPT_HEX:
                assert_true(def->min >= 1 && def->min <= def->max && def->max < sizeof buf - 1);
                hex_digits(buf, sizeof buf, def->min);
                bound_push(ret, true, buf);
                hex_digits(buf, sizeof buf, def->max);
                bound_push(ret, true, buf);
                hex_digits(buf, sizeof buf, def->min - 1);
                bound_push(ret, false, buf);
                hex_digits(buf, sizeof buf, def->max + 1);
                bound_push(ret, false, buf);
                bound_push(ret, false, "0x1");
                break;
        default:
                fail_msg("option %s: unknown type %d, teach test-render.c its bounds", def->name, (int) def->type);
        }
}

/* A two-node resource with one option set; the name, port and minor come from n so
 * that many of them fit in one file. */
static int render_with_option(DrbdDialect d, unsigned n, const char *name, const char *value, char **ret_text,
                              char **ret_msg) {
        RenderVolume vol = { .vnr = 0, .minor = 3000 + n };
        RenderOption opt = { name, value };
        uint16_t port = (uint16_t) (8000 + n);
        RenderHost hosts[2] = {
                { .name = "alpha", .address = "10.0.0.1", .port = port, .node_id = 0, .disks = disks_a },
                { .name = "beta", .address = "10.0.0.2", .port = port, .node_id = 1, .disks = disks_b },
        };
        char rname[16];

        assert_true(n < 20000);
        snprintf(rname, sizeof rname, "b%u", n);
        RenderResource r = {
                .name = rname, .dialect = d, .secret = SECRET, .volumes = &vol, .n_volumes = 1,
                .hosts = hosts, .n_hosts = 2, .options = &opt, .n_options = 1,
        };
        return drbd_render_res(&r, ret_text, ret_msg);
}

typedef struct BoundCase {
        const char *name;
        char value[72];
        char *text; /* rendered resource */
} BoundCase;

/* Every option the dialect knows, at each bound: drbdd accepts and renders it, and
 * drbdadm parses it. All resources go into one file; when drbdadm refuses it, each
 * resource is checked alone so that the message names every wrong bound. */
static void check_bounds(DrbdDialect d) {
        const char *dialect = drbd_dialect_to_string(d);
        BoundCase cases[512];
        size_t n = 0, failures = 0;
        _cleanup_free_ char *all = NULL, *report = NULL;
        size_t all_len = 0, report_len = 0;
        FILE *f = open_memstream(&all, &all_len);
        _cleanup_fclose_ FILE *rf = open_memstream(&report, &report_len);
        const OptionDef *def;

        assert_non_null(f);
        assert_non_null(rf);
        for (unsigned i = 0; (def = drbd_option_def(i)); i++) {
                BoundValues b;

                assert_string_equal(def->name, drbd_option_name(i));
                if (!drbd_option_supported(def->name, d))
                        continue;
                bound_values(def, &b);
                for (size_t k = 0; k < b.n_outside; k++) {
                        _cleanup_free_ char *text = NULL, *msg = NULL;
                        if (drbd_option_validate(def->name, b.outside[k], NULL) != -EINVAL)
                                fail_msg("%s=%s is beyond the table's bounds but accepted", def->name, b.outside[k]);
                        if (render_with_option(d, 0, def->name, b.outside[k], &text, &msg) != -EINVAL || text)
                                fail_msg("%s=%s is beyond the table's bounds but rendered", def->name, b.outside[k]);
                }
                for (size_t k = 0; k < b.n_inside; k++) {
                        BoundCase *c = &cases[n];
                        _cleanup_free_ char *msg = NULL;

                        assert_true(n < ELEMENTSOF(cases));
                        *c = (BoundCase) { .name = def->name };
                        snprintf(c->value, sizeof c->value, "%s", b.inside[k]);
                        if (drbd_option_validate(def->name, c->value, &msg) < 0)
                                fail_msg("%s=%s is within the table's bounds but refused: %s", def->name,
                                         c->value, msg);
                        if (render_with_option(d, (unsigned) n, def->name, c->value, &c->text, &msg) < 0)
                                fail_msg("%s=%s: render failed: %s", def->name, c->value, msg);
                        fputs(c->text, f);
                        n++;
                }
        }
        assert_int_equal(fclose(f), 0);

        if (!drbdadm_check(dialect, all, NULL))
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *msg = NULL;
                        if (drbdadm_check(dialect, cases[i].text, &msg))
                                continue;
                        fprintf(rf, "  %s=%s (%zu characters):\n%s\n", cases[i].name, cases[i].value,
                                strlen(cases[i].value), msg);
                        failures++;
                }
        for (size_t i = 0; i < n; i++)
                free(cases[i].text);
        assert_int_equal(fflush(rf), 0);
        if (failures > 0)
                fail_msg("drbdadm (DRBD %s) refuses %zu value(s) inside drbdd's option table; narrow the "
                         "bounds in drbdd/model/options.c:\n%s",
                         dialect, failures, report);
}

static void test_bounds_9(void **state) {
        check_bounds(DRBD_DIALECT_9);
}

static void test_bounds_84(void **state) {
        check_bounds(DRBD_DIALECT_84);
}

/* ---- refusals ------------------------------------------------------------ */

static void assert_refused(const RenderResource *r, const char *expected) {
        _cleanup_free_ char *msg = NULL;
        char *text = (char *) 0x1;

        assert_int_equal(drbd_render_res(r, &text, &msg), -EINVAL);
        assert_ptr_equal(text, (char *) 0x1); /* untouched */
        assert_non_null(msg);
        /* One line of UTF-8 that sd-bus sends: escaping changes nothing. */
        {
                _cleanup_free_ char *e = utf8_escape(msg, SIZE_MAX);
                assert_string_equal(e, msg);
        }
        if (expected && !strstr(msg, expected))
                fail_msg("message '%s' lacks '%s'", msg, expected);
        assert_int_equal(drbd_render_res(r, &text, NULL), -EINVAL);
}

static void test_refuse_84(void **state) {
        const RenderHost hosts3[] = {
                { .name = "alpha", .address = "10.0.0.1", .port = 7000, .disks = disks_a },
                { .name = "beta", .address = "10.0.0.2", .port = 7000, .disks = disks_b },
                { .name = "gamma", .address = "10.0.0.3", .port = 7000, .disks = disks_b },
        };
        const RenderHost diskless[] = {
                { .name = "alpha", .address = "10.0.0.1", .port = 7000, .disks = disks_a },
                { .name = "beta", .address = "10.0.0.2", .port = 7000, .diskless = true },
        };
        const RenderOption q[] = { { "options/quorum", "majority" } };
        const RenderOption dz[] = { { "disk/discard-zeroes-if-aligned", "yes" } };
        RenderResource r = two_node(DRBD_DIALECT_84);

        r.hosts = hosts3;
        r.n_hosts = 3;
        assert_refused(&r, "cannot render resource 'r0': 3 hosts, DRBD 8.4 takes at most 2");

        /* A diskless client is fine on 8.4 as one of the two hosts. */
        r = two_node(DRBD_DIALECT_84);
        r.hosts = diskless;
        {
                char *text = NULL, *msg = NULL;
                assert_int_equal(drbd_render_res(&r, &text, &msg), 0);
                assert_non_null(strstr(text, "disk none;"));
                free(text);
                free(msg);
        }

        r = two_node(DRBD_DIALECT_84);
        r.quorum = true;
        assert_refused(&r, "quorum needs DRBD 9");

        r = two_node(DRBD_DIALECT_84);
        r.options = q;
        r.n_options = 1;
        assert_refused(&r, "option options/quorum is not supported by DRBD 8.4");
        r.options = dz;
        assert_refused(&r, "not supported by DRBD 8.4");
}

static void test_refuse_paths(void **state) {
        static const char *const bad[] = {
                "/dev/vg/../../etc/passwd", "/dev/vg/a b", "/dev/vg/a;b", "/dev/vg/a}", "/dev/vg/a\"b",
                "/dev/vg/a\nb", "dev/vg/a", "/etc/passwd", "/dev/", "/dev", "", "/dev/vg/r\xc3\xa9",
                "/dev/vg/a#b", "/dev/vg/$x", "/dev/..", "/dev/vg/a\\b",
        };
        RenderHost hosts[2];
        const char *disks[1];
        RenderResource r = two_node(DRBD_DIALECT_9);

        memcpy(hosts, r.hosts, sizeof hosts);
        r.hosts = hosts;
        hosts[1].disks = disks;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                disks[0] = bad[i];
                assert_refused(&r, "is not a plain /dev path");
        }
        disks[0] = NULL;
        assert_refused(&r, "disk '(null)'");
        hosts[1].disks = NULL;
        assert_refused(&r, "no backing disks for host 'beta'");
        /* A diskless host needs none. */
        hosts[1].diskless = true;
        _cleanup_free_ char *text = NULL;
        assert_int_equal(drbd_render_res(&r, &text, NULL), 0);
        assert_non_null(strstr(text, "disk none;"));
}

static void test_refuse_secret(void **state) {
        static const char *const bad[] = { "abc\"defgh", "short", "abcdefgh;", "abcdefgh}", "abcd efgh",
                                           "abcdefgh\n", "",
                                           "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklm" };
        RenderResource r = two_node(DRBD_DIALECT_9);
        _cleanup_free_ char *text = NULL;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                r.secret = bad[i];
                assert_refused(&r, "shared secret must be 8..64 characters");
        }
        r.secret = NULL;
        assert_int_equal(drbd_render_res(&r, &text, NULL), 0);
        assert_null(strstr(text, "shared-secret"));
        assert_null(strstr(text, "cram-hmac-alg"));
}

static void test_refuse_options(void **state) {
        static const char *const values[] = { "C;", "C }", "C}", "\"C\"", "C\n", "C; } handlers { x; } net {" };
        RenderOption o[2];
        RenderResource r = two_node(DRBD_DIALECT_9);

        r.options = o;
        r.n_options = 1;
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                o[0] = (RenderOption) { "net/protocol", values[i] };
                assert_refused(&r, "invalid value for net/protocol");
        }
        o[0] = (RenderOption) { "net/max-buffers", "8000;" };
        assert_refused(&r, "invalid value for net/max-buffers: '8000;'");
        o[0] = (RenderOption) { "net/max-buffers", "8000}" };
        assert_refused(&r, NULL);
        o[0] = (RenderOption) { "net/shared-secret", "abcdefgh" };
        assert_refused(&r, "unknown DRBD option 'net/shared-secret'");
        o[0] = (RenderOption) { "handlers/before-resync-target", "/bin/sh" };
        assert_refused(&r, "unknown DRBD option");
        o[0] = (RenderOption) { "net/max-buffers", "8000" };
        o[1] = (RenderOption) { "net/max-buffers", "9000" };
        r.n_options = 2;
        assert_refused(&r, "option net/max-buffers given twice");
        r.options = NULL;
        assert_refused(&r, "no options array");
}

static void test_refuse_hosts(void **state) {
        RenderHost hosts[3];
        RenderResource r = two_node(DRBD_DIALECT_9);

        memcpy(hosts, r.hosts, 2 * sizeof(RenderHost));
        r.hosts = hosts;

        hosts[1].node_id = 0;
        assert_refused(&r, "duplicate node-id 0 (hosts 'alpha' and 'beta')");
        hosts[1].node_id = 32;
        assert_refused(&r, "node-id 32 of host 'beta' out of range 0..31");
        hosts[1].node_id = 1;

        hosts[1].name = "alpha";
        assert_refused(&r, "duplicate host 'alpha'");
        static const char *const bad_names[] = { "a b", "be\"ta", "beta;", "beta}", "be\nta", "", "123", NULL };
        for (size_t i = 0; i < ELEMENTSOF(bad_names); i++) {
                hosts[1].name = bad_names[i];
                assert_refused(&r, "is not a valid node name");
        }
        hosts[1].name = "beta";

        static const char *const bad_addrs[] = { "beta.example.com", "10.0.0.1;", "10.0.0.256", "10.0.0",
                                                 "[fd00::1]", "fd00::1]:7000", "fd00::g", "10.0.0.1 ", "",
                                                 "10.0.0.1:7000", "fe80::1%eth0", NULL };
        for (size_t i = 0; i < ELEMENTSOF(bad_addrs); i++) {
                hosts[1].address = bad_addrs[i];
                assert_refused(&r, "is not an IPv4 or IPv6 address");
        }
        hosts[1].address = "fd00::2";
        assert_refused(&r, "mixed IPv4 and IPv6 addresses");
        hosts[1].address = "10.0.0.2";

        hosts[1].port = 0;
        assert_refused(&r, "port 0 on host 'beta'");
        hosts[1].port = 7000;

        r.n_hosts = 0;
        assert_refused(&r, "no hosts");
        r.n_hosts = 33;
        r.hosts = NULL;
        assert_refused(&r, "no hosts");
}

static void test_refuse_resource(void **state) {
        const RenderVolume dup_vnr[] = { { 0, 1000 }, { 0, 1001 } };
        const RenderVolume dup_minor[] = { { 0, 1000 }, { 1, 1000 } };
        const RenderVolume big_minor[] = { { 0, 1u << 20 } };
        const RenderVolume big_vnr[] = { { 65536, 1000 } };
        RenderResource r = two_node(DRBD_DIALECT_9);
        char *text = NULL;

        r.name = "r0/../x";
        assert_refused(&r, "name 'r0/../x' is not a valid resource name");
        r.name = "r0\"; }";
        assert_refused(&r, "is not a valid resource name");
        r.name = NULL;
        assert_refused(&r, "cannot render resource '(null)'");
        r = two_node(DRBD_DIALECT_9);

        r.n_volumes = 0;
        assert_refused(&r, "no volumes");
        r.volumes = dup_vnr;
        r.n_volumes = 2;
        assert_refused(&r, "duplicate volume number 0");
        r.volumes = dup_minor;
        assert_refused(&r, "duplicate minor 1000");
        r.volumes = big_minor;
        r.n_volumes = 1;
        assert_refused(&r, "minor 1048576 out of range");
        r.volumes = big_vnr;
        assert_refused(&r, "volume number 65536 out of range");
        r = two_node(DRBD_DIALECT_9);

        r.peer_slots = 32;
        assert_refused(&r, "peer slots 32 out of range");
        r = two_node(DRBD_DIALECT_9);
        r.dialect = _DRBD_DIALECT_MAX;
        assert_refused(&r, "unknown DRBD dialect");

        assert_refused(NULL, "cannot render resource '(null)': no resource");
        r = two_node(DRBD_DIALECT_9);
        assert_int_equal(drbd_render_res(&r, NULL, NULL), -EINVAL);
        assert_null(text);
}

static void test_single_host(void **state) {
        RenderResource r = two_node(DRBD_DIALECT_9);
        _cleanup_free_ char *text = NULL;

        r.n_hosts = 1;
        assert_int_equal(drbd_render_res(&r, &text, NULL), 0);
        assert_null(strstr(text, "connection-mesh"));
        assert_drbdadm_accepts("9", text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_checker_rejects),
                cmocka_unit_test(test_golden_9_two_node),
                cmocka_unit_test(test_golden_9_tiebreaker),
                cmocka_unit_test(test_golden_9_multi_volume),
                cmocka_unit_test(test_golden_9_ipv6),
                cmocka_unit_test(test_golden_9_options),
                cmocka_unit_test(test_golden_84_two_node),
                cmocka_unit_test(test_golden_84_ipv6_multi_volume),
                cmocka_unit_test(test_deterministic),
                cmocka_unit_test(test_samples_cover_whitelist),
                cmocka_unit_test(test_all_options_9),
                cmocka_unit_test(test_all_options_84),
                cmocka_unit_test(test_bounds_9),
                cmocka_unit_test(test_bounds_84),
                cmocka_unit_test(test_refuse_84),
                cmocka_unit_test(test_refuse_paths),
                cmocka_unit_test(test_refuse_secret),
                cmocka_unit_test(test_refuse_options),
                cmocka_unit_test(test_refuse_hosts),
                cmocka_unit_test(test_refuse_resource),
                cmocka_unit_test(test_single_host),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
