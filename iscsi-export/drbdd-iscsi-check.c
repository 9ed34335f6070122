/* drbdd-iscsi-check: logs in to an iSCSI target with libiscsi (CHAP), runs INQUIRY, READ CAPACITY and a write/read-back test, and reports. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "json-util.h"
#include "macro.h"

enum {
        CHECK_OK = 0,
        CHECK_FAIL = 1,
        CHECK_USAGE = 2,
        CHECK_CONNECT = 3,  /* no TCP connection / no answer */
        CHECK_REFUSED = 4,  /* login refused: authentication or authorization */
        CHECK_SCSI = 5,     /* a SCSI command failed */
        CHECK_MISMATCH = 6, /* data read back differs, or an --expect-* failed */
};

static const char *arg_portal, *arg_target, *arg_initiator, *arg_user, *arg_muser;
static const char *arg_expect_serial;
static char *arg_password, *arg_mpassword;
static int arg_lun = 0;
static bool arg_write = false, arg_json = false;
static uint64_t arg_io = 1 << 20, arg_expect_size = 0;

static json_t *report;

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

_printf_(2, 3) static int fail(int code, const char *fmt, ...) {
        char buf[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        if (arg_json) {
                json_object_set_new(report, "ok", json_false());
                json_object_set_new(report, "exit", json_integer(code));
                json_object_set_new(report, "error", json_string(buf));
                _cleanup_free_ char *s = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                if (s)
                        printf("%s\n", s);
        }
        fprintf(stderr, "drbdd-iscsi-check: %s\n", buf);
        return code;
}

static void say(const char *key, const char *fmt, ...) _printf_(2, 3);
static void say(const char *key, const char *fmt, ...) {
        char buf[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        if (!arg_json)
                printf("%-10s %s\n", key, buf);
}

static void help(void) {
        printf("Usage: drbdd-iscsi-check --portal HOST[:PORT] --target IQN --initiator IQN [OPTIONS]\n"
               "\n"
               "Logs in with libiscsi (CHAP when --user is given), runs INQUIRY (standard\n"
               "and unit serial page), READ CAPACITY(16) and, with --write, writes a pattern\n"
               "to the first and last IO-SIZE bytes, reads it back, compares and restores\n"
               "the old contents. Login refusals (wrong secret, no ACL) fail with exit 4.\n"
               "\n"
               "  --portal HOST[:PORT]        target portal; [IPv6]:PORT for IPv6\n"
               "  --target IQN                target name\n"
               "  --initiator IQN             our initiator name (must have an ACL)\n"
               "  --lun N                     LUN (default 0)\n"
               "  --user NAME                 CHAP user name\n"
               "  --password-file FILE        CHAP secret ('-' = stdin; default $DRBDD_ISCSI_PASSWORD)\n"
               "  --mutual-user NAME          mutual CHAP: the target's user name\n"
               "  --mutual-password-file FILE default $DRBDD_ISCSI_MUTUAL_PASSWORD\n"
               "  --write                     write/read-back test (restores the data after)\n"
               "  --io-size BYTES             bytes at each end (default 1048576)\n"
               "  --expect-serial SERIAL      fail unless the unit serial matches\n"
               "  --expect-size BYTES         fail unless the capacity matches\n"
               "  -o, --output text|json      report format\n"
               "  -h, --help                  this help\n"
               "\n"
               "Exit codes: 0 ok, 1 failure, 2 usage, 3 cannot connect, 4 login refused,\n"
               "5 SCSI command failed, 6 data or expectation mismatch.\n");
}

static int read_secret(const char *file, const char *env, char **ret) {
        _cleanup_fclose_ FILE *f = NULL;
        char buf[512];
        const char *e;

        if (!file) {
                e = getenv(env);
                *ret = e && *e ? strdup(e) : NULL;
                return 0;
        }
        f = streq(file, "-") ? fdopen(dup(0), "r") : fopen(file, "re");
        if (!f)
                return -errno;
        if (!fgets(buf, sizeof buf, f))
                return -ENODATA;
        buf[strcspn(buf, "\r\n")] = '\0';
        *ret = strdup(buf);
        explicit_bzero(buf, sizeof buf);
        return *ret ? 0 : -ENOMEM;
}

/* Login failures carry the target's status text; map it to our codes. */
static int login_error(struct iscsi_context *iscsi) {
        const char *e = iscsi_get_error(iscsi);

        if (strstr(e, "Authentication failure"))
                return fail(CHECK_REFUSED, "login refused by %s: authentication failure (wrong CHAP user or secret): %s", arg_portal, e);
        if (strstr(e, "Authorization failure"))
                return fail(CHECK_REFUSED, "login refused by %s: authorization failure (initiator %s has no ACL): %s",
                            arg_portal, arg_initiator, e);
        if (strstr(e, "CHAP_R"))
                return fail(CHECK_REFUSED, "login to %s at %s failed: the target did not prove the mutual CHAP secret "
                            "(wrong --mutual-user or mutual password): %s", arg_target, arg_portal, e);
        if (strstr(e, "Failed to log in") || strstr(e, "Login") || strstr(e, "login"))
                return fail(CHECK_REFUSED, "login to %s at %s failed: %s", arg_target, arg_portal, e);
        return fail(CHECK_CONNECT, "cannot connect to %s at %s: %s", arg_target, arg_portal, e);
}

static bool task_ok(struct scsi_task *t) {
        return t && t->status == SCSI_STATUS_GOOD;
}

static void fill_pattern(unsigned char *buf, size_t len, uint64_t lba, uint32_t bs, uint32_t seed) {
        for (size_t i = 0; i < len; i += sizeof(uint64_t)) {
                uint64_t v = ((lba + i / bs) << 20) ^ (i % bs) ^ ((uint64_t) seed << 40) ^ 0x5a5aa5a5c3c33c3cULL;
                memcpy(buf + i, &v, MIN(sizeof v, len - i));
        }
}

/* Saves, writes a pattern, reads back, compares, restores. */
static int write_test(struct iscsi_context *iscsi, uint64_t lba, uint32_t blocks, uint32_t bs, const char *where) {
        size_t len = (size_t) blocks * bs;
        _cleanup_free_ unsigned char *old = NULL, *pat = malloc(len);
        struct scsi_task *t;
        double t0;
        int rc = CHECK_OK;

        if (!pat)
                return fail(CHECK_FAIL, "out of memory");
        t = iscsi_read16_sync(iscsi, arg_lun, lba, (uint32_t) len, (int) bs, 0, 0, 0, 0, 0);
        if (!task_ok(t)) {
                if (t)
                        scsi_free_scsi_task(t);
                return fail(CHECK_SCSI, "READ(16) of %s failed: %s", where, iscsi_get_error(iscsi));
        }
        old = malloc(len);
        if (!old || t->datain.size < (int) len) {
                scsi_free_scsi_task(t);
                return fail(CHECK_SCSI, "READ(16) of %s returned %d bytes", where, t->datain.size);
        }
        memcpy(old, t->datain.data, len);
        scsi_free_scsi_task(t);

        fill_pattern(pat, len, lba, bs, (uint32_t) time(NULL) ^ (uint32_t) getpid());
        t0 = now();
        t = iscsi_write16_sync(iscsi, arg_lun, lba, pat, (uint32_t) len, (int) bs, 0, 0, 1, 0, 0);
        if (!task_ok(t)) {
                if (t)
                        scsi_free_scsi_task(t);
                return fail(CHECK_SCSI, "WRITE(16) of %s failed: %s", where, iscsi_get_error(iscsi));
        }
        scsi_free_scsi_task(t);
        t = iscsi_read16_sync(iscsi, arg_lun, lba, (uint32_t) len, (int) bs, 0, 0, 0, 0, 0);
        if (!task_ok(t)) {
                if (t)
                        scsi_free_scsi_task(t);
                return fail(CHECK_SCSI, "READ(16) back of %s failed: %s", where, iscsi_get_error(iscsi));
        }
        if (t->datain.size < (int) len || memcmp(t->datain.data, pat, len) != 0)
                rc = CHECK_MISMATCH;
        scsi_free_scsi_task(t);
        say("write", "%s: %zu bytes at LBA %llu written and read back %s (%.1f ms)", where, len,
            (unsigned long long) lba, rc == CHECK_OK ? "identical" : "DIFFERENT", (now() - t0) * 1000);

        t = iscsi_write16_sync(iscsi, arg_lun, lba, old, (uint32_t) len, (int) bs, 0, 0, 1, 0, 0);
        if (!task_ok(t)) {
                if (t)
                        scsi_free_scsi_task(t);
                return fail(CHECK_SCSI, "restoring %s failed: %s", where, iscsi_get_error(iscsi));
        }
        scsi_free_scsi_task(t);
        if (rc != CHECK_OK)
                return fail(rc, "data read back from %s differs from what was written", where);
        return CHECK_OK;
}

static int run(void) {
        struct iscsi_context *iscsi;
        struct scsi_task *t;
        struct scsi_inquiry_standard *inq;
        struct scsi_inquiry_unit_serial_number *usn;
        struct scsi_readcapacity16 *rc16;
        uint64_t size, blocks_total;
        uint32_t bs, io_blocks;
        _cleanup_free_ char *serial = NULL;
        double t0 = now();
        int rc;

        iscsi = iscsi_create_context(arg_initiator);
        if (!iscsi)
                return fail(CHECK_FAIL, "cannot create an iSCSI context for %s", arg_initiator);
        iscsi_set_targetname(iscsi, arg_target);
        iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
        iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE_CRC32C);
        iscsi_set_timeout(iscsi, 30);
        if (arg_user && iscsi_set_initiator_username_pwd(iscsi, arg_user, arg_password) != 0) {
                rc = fail(CHECK_FAIL, "cannot set CHAP credentials: %s", iscsi_get_error(iscsi));
                goto out;
        }
        if (arg_muser && iscsi_set_target_username_pwd(iscsi, arg_muser, arg_mpassword) != 0) {
                rc = fail(CHECK_FAIL, "cannot set mutual CHAP credentials: %s", iscsi_get_error(iscsi));
                goto out;
        }
        if (iscsi_full_connect_sync(iscsi, arg_portal, arg_lun) != 0) {
                rc = login_error(iscsi);
                goto out;
        }
        say("login", "%s at %s as %s%s (%.1f ms)", arg_target, arg_portal, arg_initiator,
            arg_muser ? " with mutual CHAP" : arg_user ? " with CHAP" : "", (now() - t0) * 1000);
        json_object_set_new(report, "login_ms", json_real((now() - t0) * 1000));

        t = iscsi_inquiry_sync(iscsi, arg_lun, 0, 0, 255);
        if (!task_ok(t) || !(inq = scsi_datain_unmarshall(t))) {
                if (t)
                        scsi_free_scsi_task(t);
                rc = fail(CHECK_SCSI, "INQUIRY failed: %s", iscsi_get_error(iscsi));
                goto out;
        }
        say("inquiry", "vendor '%s' product '%s' revision '%s' type %d", inq->vendor_identification,
            inq->product_identification, inq->product_revision_level, inq->device_type);
        json_object_set_new(report, "vendor", json_string(inq->vendor_identification));
        json_object_set_new(report, "product", json_string(inq->product_identification));
        scsi_free_scsi_task(t);

        t = iscsi_inquiry_sync(iscsi, arg_lun, 1, SCSI_INQUIRY_PAGECODE_UNIT_SERIAL_NUMBER, 255);
        if (task_ok(t) && (usn = scsi_datain_unmarshall(t)) && usn->usn)
                serial = strdup(usn->usn);
        if (t)
                scsi_free_scsi_task(t);
        say("serial", "%s", strna(serial));
        json_object_set_new(report, "serial", serial ? json_string(serial) : json_null());
        if (arg_expect_serial && !streq_ptr(serial, arg_expect_serial)) {
                rc = fail(CHECK_MISMATCH, "unit serial is '%s', expected '%s'", strna(serial), arg_expect_serial);
                goto out;
        }

        t = iscsi_readcapacity16_sync(iscsi, arg_lun);
        if (!task_ok(t) || !(rc16 = scsi_datain_unmarshall(t))) {
                if (t)
                        scsi_free_scsi_task(t);
                rc = fail(CHECK_SCSI, "READ CAPACITY(16) failed: %s", iscsi_get_error(iscsi));
                goto out;
        }
        bs = rc16->block_length;
        blocks_total = rc16->returned_lba + 1;
        scsi_free_scsi_task(t);
        size = blocks_total * bs;
        say("capacity", "%llu bytes (%llu blocks of %u)", (unsigned long long) size, (unsigned long long) blocks_total, bs);
        json_object_set_new(report, "size", json_integer((json_int_t) size));
        json_object_set_new(report, "block_size", json_integer(bs));
        if (arg_expect_size && size != arg_expect_size) {
                rc = fail(CHECK_MISMATCH, "capacity is %llu bytes, expected %llu", (unsigned long long) size,
                          (unsigned long long) arg_expect_size);
                goto out;
        }
        if (bs == 0 || bs > (1u << 20)) {
                rc = fail(CHECK_SCSI, "implausible block size %u", bs);
                goto out;
        }

        rc = CHECK_OK;
        if (arg_write) {
                io_blocks = (uint32_t) MIN(MAX(arg_io / bs, (uint64_t) 1), blocks_total / 2);
                if (io_blocks == 0) {
                        rc = fail(CHECK_SCSI, "device too small for a write test");
                        goto out;
                }
                rc = write_test(iscsi, 0, io_blocks, bs, "start");
                if (rc == CHECK_OK)
                        rc = write_test(iscsi, blocks_total - io_blocks, io_blocks, bs, "end");
                json_object_set_new(report, "write_test", json_boolean(rc == CHECK_OK));
        }
        if (rc == CHECK_OK) {
                iscsi_logout_sync(iscsi);
                say("result", "ok (%.1f ms)", (now() - t0) * 1000);
                if (arg_json) {
                        json_object_set_new(report, "ok", json_true());
                        json_object_set_new(report, "exit", json_integer(0));
                        _cleanup_free_ char *s = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                        if (s)
                                printf("%s\n", s);
                }
        }
out:
        iscsi_destroy_context(iscsi);
        return rc;
}

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-')
                return -EINVAL;
        *ret = v;
        return 0;
}

int main(int argc, char **argv) {
        enum { O_PORTAL = 0x100, O_TARGET, O_INIT, O_LUN, O_USER, O_PW, O_MUSER, O_MPW, O_WRITE, O_IO, O_SERIAL, O_SIZE };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "output", required_argument, NULL, 'o' },
                { "portal", required_argument, NULL, O_PORTAL },
                { "target", required_argument, NULL, O_TARGET },
                { "initiator", required_argument, NULL, O_INIT },
                { "lun", required_argument, NULL, O_LUN },
                { "user", required_argument, NULL, O_USER },
                { "password-file", required_argument, NULL, O_PW },
                { "mutual-user", required_argument, NULL, O_MUSER },
                { "mutual-password-file", required_argument, NULL, O_MPW },
                { "write", no_argument, NULL, O_WRITE },
                { "io-size", required_argument, NULL, O_IO },
                { "expect-serial", required_argument, NULL, O_SERIAL },
                { "expect-size", required_argument, NULL, O_SIZE },
                {}
        };
        const char *pw_file = NULL, *mpw_file = NULL;
        uint64_t v;
        int c, r;

        report = json_object();
        while ((c = getopt_long(argc, argv, "ho:", options, NULL)) >= 0)
                switch (c) {
                case 'h': help(); return CHECK_OK;
                case 'o':
                        if (!streq(optarg, "json") && !streq(optarg, "text"))
                                return fail(CHECK_USAGE, "--output must be text or json");
                        arg_json = streq(optarg, "json");
                        break;
                case O_PORTAL: arg_portal = optarg; break;
                case O_TARGET: arg_target = optarg; break;
                case O_INIT: arg_initiator = optarg; break;
                case O_LUN:
                        if (parse_u64(optarg, &v) < 0 || v > 255)
                                return fail(CHECK_USAGE, "--lun must be 0..255");
                        arg_lun = (int) v;
                        break;
                case O_USER: arg_user = optarg; break;
                case O_PW: pw_file = optarg; break;
                case O_MUSER: arg_muser = optarg; break;
                case O_MPW: mpw_file = optarg; break;
                case O_WRITE: arg_write = true; break;
                case O_IO:
                        if (parse_u64(optarg, &arg_io) < 0 || arg_io == 0 || arg_io > (64u << 20))
                                return fail(CHECK_USAGE, "--io-size must be 1..67108864");
                        break;
                case O_SERIAL: arg_expect_serial = optarg; break;
                case O_SIZE:
                        if (parse_u64(optarg, &arg_expect_size) < 0)
                                return fail(CHECK_USAGE, "--expect-size must be a byte count");
                        break;
                default:
                        return fail(CHECK_USAGE, "unknown option (see --help)");
                }
        if (optind != argc)
                return fail(CHECK_USAGE, "unexpected argument '%s' (see --help)", argv[optind]);
        if (!arg_portal || !arg_target || !arg_initiator)
                return fail(CHECK_USAGE, "--portal, --target and --initiator are required (see --help)");
        r = read_secret(pw_file, "DRBDD_ISCSI_PASSWORD", &arg_password);
        if (r < 0)
                return fail(CHECK_USAGE, "cannot read the CHAP password from %s: %s", pw_file, strerror(-r));
        r = read_secret(mpw_file, "DRBDD_ISCSI_MUTUAL_PASSWORD", &arg_mpassword);
        if (r < 0)
                return fail(CHECK_USAGE, "cannot read the mutual CHAP password from %s: %s", mpw_file, strerror(-r));
        if (arg_user && !arg_password)
                return fail(CHECK_USAGE, "--user needs a password (--password-file or $DRBDD_ISCSI_PASSWORD)");
        if (arg_muser && (!arg_user || !arg_mpassword))
                return fail(CHECK_USAGE, "mutual CHAP needs --user and --mutual-user with both passwords");
        json_object_set_new(report, "target", json_string(arg_target));
        json_object_set_new(report, "portal", json_string(arg_portal));
        json_object_set_new(report, "initiator", json_string(arg_initiator));
        r = run();
        json_decref(report);
        free(arg_password);
        free(arg_mpassword);
        return r;
}
