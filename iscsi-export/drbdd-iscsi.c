/* drbdd-iscsi: operator CLI for the LIO iSCSI exports of drbdd volumes (list, show, create, remove, grant, revoke). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "lio.h"

/* Exit codes, stable for scripts. */
enum {
        EXIT_OK = 0,
        EXIT_FAIL = 1,
        EXIT_USAGE = 2,       /* bad command line or invalid input */
        EXIT_NOTFOUND = 3,    /* device or export does not exist */
        EXIT_CONFLICT = 4,    /* exported from another device */
        EXIT_BUSY = 5,        /* device in use, lock held, address in use */
        EXIT_UNAVAILABLE = 6, /* configfs or kernel modules missing */
};

static LioConfig arg_cfg = {};
static bool arg_json = false;

static int exit_code(int r) {
        switch (r) {
        case -EINVAL:
                return EXIT_USAGE;
        case -ENOENT:
                return EXIT_NOTFOUND;
        case -EEXIST:
                return EXIT_CONFLICT;
        case -EBUSY:
        case -ETIMEDOUT:
        case -EADDRINUSE:
        case -EADDRNOTAVAIL:
                return EXIT_BUSY;
        case -ENOPKG:
                return EXIT_UNAVAILABLE;
        default:
                return EXIT_FAIL;
        }
}

/* One line on stderr, the library's message when it has one. */
static int fail(int r, const char *what) {
        const char *m = lio_error_last();
        fprintf(stderr, "drbdd-iscsi: %s: %s\n", what, *m ? m : strerror(-r));
        return exit_code(r);
}

_printf_(1, 2) static int usage_error(const char *fmt, ...) {
        va_list ap;
        fputs("drbdd-iscsi: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs(" (see --help)\n", stderr);
        return EXIT_USAGE;
}

static void help_main(void) {
        printf("Usage: drbdd-iscsi [OPTIONS] COMMAND [ARGS...]\n"
               "\n"
               "Export block devices (DRBD volumes) as LIO iSCSI targets through configfs.\n"
               "\n"
               "Commands:\n"
               "  list                          volumes with an export (or a leftover of one)\n"
               "  show VOLUME                   the export of one volume\n"
               "  create VOLUME DEVICE [...]    create or converge an export (idempotent)\n"
               "  remove VOLUME...              tear exports down (idempotent)\n"
               "  remove --orphans [--keep V]   remove every export not kept\n"
               "  grant VOLUME INITIATOR [...]  allow an initiator, with CHAP\n"
               "  revoke VOLUME INITIATOR       remove an initiator's ACL\n"
               "\n"
               "Options:\n"
               "  --root DIR        configfs target root (default $DRBDD_CONFIGFS_ROOT or %s)\n"
               "  --prefix IQN      target IQN prefix (default $DRBDD_ISCSI_IQN_PREFIX or %s)\n"
               "  --lock FILE       lock file (default $DRBDD_ISCSI_LOCK or %s)\n"
               "  -o, --output FMT  text (default) or json\n"
               "  -v, --verbose     debug messages\n"
               "  -h, --help        this help; COMMAND --help for a command's\n"
               "\n"
               "Exit codes: 0 ok, 1 failure, 2 usage or invalid input, 3 not found,\n"
               "4 conflict (exported from another device), 5 busy (device in use, lock\n"
               "held, address in use), 6 unavailable (configfs or kernel module missing).\n",
               LIO_DEFAULT_ROOT, LIO_DEFAULT_IQN_PREFIX, LIO_DEFAULT_LOCK);
}

static const char help_chap[] =
        "CHAP options (secrets never on the command line):\n"
        "  --initiator IQN             initiator name (iqn., eui. or naa.)\n"
        "  --user NAME                 CHAP user name the initiator logs in with\n"
        "  --password-file FILE        CHAP secret (12-255 chars), '-' for stdin;\n"
        "                              default $DRBDD_ISCSI_PASSWORD\n"
        "  --mutual-user NAME          mutual CHAP: the target's user name\n"
        "  --mutual-password-file FILE the target's secret; default\n"
        "                              $DRBDD_ISCSI_MUTUAL_PASSWORD\n";

/* ---- output ------------------------------------------------------------- */

static json_t *info_to_json(const LioExportInfo *i) {
        json_t *o = json_object(), *portals = json_array(), *acls = json_array();

        for (char **p = i->portals; p && *p; p++)
                json_array_append_new(portals, json_string(*p));
        for (size_t k = 0; k < i->n_acls; k++) {
                const LioAclInfo *a = &i->acls[k];
                json_t *ao = json_object();
                json_object_set_new(ao, "initiator", json_string(a->initiator));
                json_object_set_new(ao, "userid", a->userid ? json_string(a->userid) : json_null());
                json_object_set_new(ao, "mutual_userid", a->mutual_userid ? json_string(a->mutual_userid) : json_null());
                json_object_set_new(ao, "session", json_boolean(a->session));
                json_array_append_new(acls, ao);
        }
        json_object_set_new(o, "volume", json_string(i->volume));
        json_object_set_new(o, "iqn", json_string(i->iqn));
        json_object_set_new(o, "device", i->device ? json_string(i->device) : json_null());
        json_object_set_new(o, "serial", i->serial ? json_string(i->serial) : json_null());
        json_object_set_new(o, "lun", json_integer(0));
        json_object_set_new(o, "complete", json_boolean(i->backstore_enabled && i->tpg_enabled && i->lun));
        json_object_set_new(o, "backstore_enabled", json_boolean(i->backstore_enabled));
        json_object_set_new(o, "tpg_enabled", json_boolean(i->tpg_enabled));
        json_object_set_new(o, "portals", portals);
        json_object_set_new(o, "acls", acls);
        return o;
}

static void print_json(json_t *j) {
        _cleanup_free_ char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s)
                printf("%s\n", s);
}

static void print_info_text(const LioExportInfo *i) {
        bool complete = i->backstore_enabled && i->tpg_enabled && i->lun;

        printf("volume:   %s\n", i->volume);
        printf("iqn:      %s\n", i->iqn);
        printf("lun:      0\n");
        printf("device:   %s\n", strna(i->device));
        printf("serial:   %s\n", strna(i->serial));
        printf("state:    %s\n", complete ? "exported" : "incomplete (run create again, or remove)");
        for (char **p = i->portals; p && *p; p++)
                printf("portal:   %s\n", *p);
        for (size_t k = 0; k < i->n_acls; k++)
                printf("acl:      %s user=%s%s%s%s\n", i->acls[k].initiator, strna(i->acls[k].userid),
                       i->acls[k].mutual_userid ? " mutual=" : "", i->acls[k].mutual_userid ? i->acls[k].mutual_userid : "",
                       i->acls[k].session ? " (logged in)" : "");
}

static int show_one(const char *volume) {
        _cleanup_(lio_export_info_freep) LioExportInfo *info = NULL;
        int r;

        r = lio_export_show(&arg_cfg, volume, &info);
        if (r < 0)
                return fail(r, volume);
        if (arg_json) {
                _cleanup_json_ json_t *j = info_to_json(info);
                print_json(j);
        } else
                print_info_text(info);
        return EXIT_OK;
}

/* ---- secrets -------------------------------------------------------------- */

/* Reads a secret from FILE ('-' = stdin), first line, no newline. */
static int read_secret(const char *file, char **ret) {
        _cleanup_fclose_ FILE *f = NULL;
        char buf[512];
        size_t n;

        if (streq(file, "-"))
                f = fdopen(dup(STDIN_FILENO), "r");
        else
                f = fopen(file, "re");
        if (!f)
                return -errno;
        if (!fgets(buf, sizeof buf, f))
                return -ENODATA;
        n = strcspn(buf, "\r\n");
        buf[n] = '\0';
        *ret = strdup(buf);
        explicit_bzero(buf, sizeof buf);
        return *ret ? 0 : -ENOMEM;
}

typedef struct ChapArgs {
        const char *initiator, *user, *mutual_user;
        char *password, *mutual_password;
} ChapArgs;

static void chap_args_done(ChapArgs *a) {
        if (a->password)
                explicit_bzero(a->password, strlen(a->password));
        if (a->mutual_password)
                explicit_bzero(a->mutual_password, strlen(a->mutual_password));
        free(a->password);
        free(a->mutual_password);
}

/* Takes the secret from the file option or the environment. */
static int chap_secret(const char *file, const char *env, const char *what, char **ret) {
        const char *e;
        int r;

        if (file) {
                r = read_secret(file, ret);
                if (r < 0) {
                        fprintf(stderr, "drbdd-iscsi: cannot read %s from %s: %s\n", what, file, strerror(-r));
                        return EXIT_USAGE;
                }
                return 0;
        }
        e = getenv(env);
        if (e && *e) {
                *ret = strdup(e);
                return *ret ? 0 : EXIT_FAIL;
        }
        return 0;
}

static int chap_finish(ChapArgs *a, const char *pw_file, const char *mpw_file, bool need) {
        int r;

        if (!a->initiator && !need)
                return 0;
        if (!a->initiator)
                return usage_error("an initiator IQN is required");
        if (!a->user)
                return usage_error("--user is required with an initiator");
        r = chap_secret(pw_file, "DRBDD_ISCSI_PASSWORD", "the CHAP password", &a->password);
        if (r)
                return r;
        if (!a->password)
                return usage_error("no CHAP password: use --password-file or $DRBDD_ISCSI_PASSWORD");
        if (a->mutual_user || mpw_file) {
                r = chap_secret(mpw_file, "DRBDD_ISCSI_MUTUAL_PASSWORD", "the mutual CHAP password", &a->mutual_password);
                if (r)
                        return r;
                if (!a->mutual_user || !a->mutual_password)
                        return usage_error("mutual CHAP needs --mutual-user and a mutual password");
        }
        return 0;
}

static LioAcl chap_acl(const ChapArgs *a) {
        return (LioAcl) {
                .initiator = a->initiator,
                .userid = a->user,
                .password = a->password,
                .mutual_userid = a->mutual_user,
                .mutual_password = a->mutual_password,
        };
}

enum { OPT_PORTAL = 0x100, OPT_INITIATOR, OPT_USER, OPT_PWFILE, OPT_MUSER, OPT_MPWFILE, OPT_PRUNE, OPT_ORPHANS, OPT_KEEP };

static const struct option chap_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "portal", required_argument, NULL, OPT_PORTAL },
        { "initiator", required_argument, NULL, OPT_INITIATOR },
        { "user", required_argument, NULL, OPT_USER },
        { "password-file", required_argument, NULL, OPT_PWFILE },
        { "mutual-user", required_argument, NULL, OPT_MUSER },
        { "mutual-password-file", required_argument, NULL, OPT_MPWFILE },
        { "prune-acls", no_argument, NULL, OPT_PRUNE },
        {}
};

/* ---- commands ----------------------------------------------------------- */

static int cmd_list(int argc, char **argv) {
        _cleanup_(lio_strv_freep) char **vols = NULL;
        _cleanup_json_ json_t *arr = NULL;
        int r, rc = EXIT_OK;

        if (argc > 1 && (streq(argv[1], "-h") || streq(argv[1], "--help"))) {
                printf("Usage: drbdd-iscsi list\n\nVolumes with an export of ours (target with the IQN prefix,\n"
                       "or a backstore in our HBA); one line each: VOLUME IQN DEVICE STATE.\n");
                return EXIT_OK;
        }
        if (argc > 1)
                return usage_error("list takes no arguments");
        r = lio_export_list(&arg_cfg, &vols);
        if (r < 0)
                return fail(r, "list");
        arr = json_array();
        for (char **v = vols; *v; v++) {
                _cleanup_(lio_export_info_freep) LioExportInfo *info = NULL;
                r = lio_export_show(&arg_cfg, *v, &info);
                if (r < 0) {
                        rc = fail(r, *v);
                        continue;
                }
                if (arg_json)
                        json_array_append_new(arr, info_to_json(info));
                else
                        printf("%s %s %s %s\n", info->volume, info->iqn, strna(info->device),
                               info->backstore_enabled && info->tpg_enabled && info->lun ? "exported" : "incomplete");
        }
        if (arg_json)
                print_json(arr);
        return rc;
}

static int cmd_show(int argc, char **argv) {
        if (argc > 1 && (streq(argv[1], "-h") || streq(argv[1], "--help"))) {
                printf("Usage: drbdd-iscsi show VOLUME\n\nThe export of VOLUME: IQN, device, unit serial, portals, ACLs\n"
                       "(user names only, never secrets) and whether an initiator is logged in.\n");
                return EXIT_OK;
        }
        if (argc != 2)
                return usage_error("show takes one VOLUME");
        return show_one(argv[1]);
}

static int cmd_create(int argc, char **argv) {
        _cleanup_(chap_args_done) ChapArgs a = {};
        const char *portals[16], *pw_file = NULL, *mpw_file = NULL;
        LioExport e = {};
        LioAcl acl;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", chap_options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("Usage: drbdd-iscsi create VOLUME DEVICE [--portal ADDR[:PORT]]... [CHAP options]\n"
                               "\n"
                               "Creates what is missing of VOLUME's export and converges the rest:\n"
                               "iblock backstore on DEVICE, target <prefix>:VOLUME, TPG 1, LUN 0, portals\n"
                               "(default %s; portals not given are removed), CHAP enforced.\n"
                               "With --initiator, also grants that initiator (see grant).\n"
                               "  --portal ADDR[:PORT]   IPv4 or [IPv6] address, port 3260 by default; repeatable\n"
                               "  --prune-acls           remove ACLs other than the one given\n"
                               "%s",
                               LIO_DEFAULT_PORTAL, help_chap);
                        return EXIT_OK;
                case OPT_PORTAL:
                        if (e.n_portals >= ELEMENTSOF(portals))
                                return usage_error("too many portals");
                        portals[e.n_portals++] = optarg;
                        break;
                case OPT_INITIATOR: a.initiator = optarg; break;
                case OPT_USER: a.user = optarg; break;
                case OPT_PWFILE: pw_file = optarg; break;
                case OPT_MUSER: a.mutual_user = optarg; break;
                case OPT_MPWFILE: mpw_file = optarg; break;
                case OPT_PRUNE: e.prune_acls = true; break;
                default:
                        return usage_error("unknown option for create");
                }
        if (argc - optind != 2)
                return usage_error("create takes VOLUME and DEVICE");
        r = chap_finish(&a, pw_file, mpw_file, false);
        if (r)
                return r;
        e.volume = argv[optind];
        e.device = argv[optind + 1];
        e.portals = portals;
        if (a.initiator) {
                acl = chap_acl(&a);
                e.acls = &acl;
                e.n_acls = 1;
        }
        r = lio_export_ensure(&arg_cfg, &e);
        if (r < 0)
                return fail(r, e.volume);
        return show_one(e.volume);
}

static int cmd_grant(int argc, char **argv) {
        _cleanup_(chap_args_done) ChapArgs a = {};
        const char *pw_file = NULL, *mpw_file = NULL;
        LioAcl acl;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", chap_options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("Usage: drbdd-iscsi grant VOLUME INITIATOR --user NAME [CHAP options]\n"
                               "\n"
                               "Allows INITIATOR to log in to VOLUME's target with CHAP and see LUN 0;\n"
                               "updates the credentials when the ACL exists.\n%s",
                               help_chap);
                        return EXIT_OK;
                case OPT_USER: a.user = optarg; break;
                case OPT_PWFILE: pw_file = optarg; break;
                case OPT_MUSER: a.mutual_user = optarg; break;
                case OPT_MPWFILE: mpw_file = optarg; break;
                default:
                        return usage_error("unknown option for grant");
                }
        if (argc - optind != 2)
                return usage_error("grant takes VOLUME and INITIATOR");
        a.initiator = argv[optind + 1];
        r = chap_finish(&a, pw_file, mpw_file, true);
        if (r)
                return r;
        acl = chap_acl(&a);
        r = lio_acl_ensure(&arg_cfg, argv[optind], &acl);
        if (r < 0)
                return fail(r, argv[optind]);
        return show_one(argv[optind]);
}

static int cmd_revoke(int argc, char **argv) {
        int r;

        if (argc > 1 && (streq(argv[1], "-h") || streq(argv[1], "--help"))) {
                printf("Usage: drbdd-iscsi revoke VOLUME INITIATOR\n\nRemoves INITIATOR's ACL (its mapped LUN first); the kernel ends its\n"
                       "session. Succeeds when there is no such ACL.\n");
                return EXIT_OK;
        }
        if (argc != 3)
                return usage_error("revoke takes VOLUME and INITIATOR");
        r = lio_acl_remove(&arg_cfg, argv[1], argv[2]);
        if (r < 0)
                return fail(r, argv[1]);
        if (arg_json) {
                _cleanup_json_ json_t *j = json_pack("{s:s,s:s,s:b}", "volume", argv[1], "initiator", argv[2], "removed", r > 0);
                print_json(j);
        } else
                printf("%s %s\n", argv[2], r > 0 ? "revoked" : "had no ACL");
        return EXIT_OK;
}

static int cmd_remove(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "orphans", no_argument, NULL, OPT_ORPHANS },
                { "keep", required_argument, NULL, OPT_KEEP },
                {}
        };
        _cleanup_(lio_strv_freep) char **keep = calloc(1, sizeof(char *)), **removed = NULL;
        _cleanup_json_ json_t *arr = json_array();
        bool orphans = false;
        int c, r, rc = EXIT_OK;

        if (!keep || !arr)
                return EXIT_FAIL;
        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("Usage: drbdd-iscsi remove VOLUME...\n"
                               "       drbdd-iscsi remove --orphans [--keep VOLUME[,VOLUME...]]...\n"
                               "\n"
                               "Tears exports down: TPG disabled, mapped LUNs, ACLs, LUNs, portals, TPG,\n"
                               "target, backstore. Succeeds when nothing is there. --orphans removes every\n"
                               "export of ours whose volume is not kept.\n");
                        return EXIT_OK;
                case OPT_ORPHANS: orphans = true; break;
                case OPT_KEEP: {
                        _cleanup_free_ char *copy = strdup(optarg);
                        char *save = NULL;
                        if (!copy)
                                return EXIT_FAIL;
                        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                                if (lio_strv_push(&keep, t) < 0)
                                        return EXIT_FAIL;
                        break;
                }
                default:
                        return usage_error("unknown option for remove");
                }
        if (orphans) {
                if (optind != argc)
                        return usage_error("remove --orphans takes no VOLUME (use --keep)");
                r = lio_remove_orphans(&arg_cfg, keep, &removed);
                for (char **v = removed; v && *v; v++) {
                        if (arg_json)
                                json_array_append_new(arr, json_string(*v));
                        else
                                printf("%s removed\n", *v);
                }
                if (arg_json)
                        print_json(arr);
                return r < 0 ? fail(r, "remove --orphans") : EXIT_OK;
        }
        if (lio_strv_length(keep) > 0)
                return usage_error("--keep is for --orphans");
        if (optind >= argc)
                return usage_error("remove takes at least one VOLUME");
        for (int i = optind; i < argc; i++) {
                r = lio_export_remove(&arg_cfg, argv[i]);
                if (r < 0) {
                        rc = fail(r, argv[i]);
                        continue;
                }
                if (arg_json)
                        json_array_append_new(arr, json_pack("{s:s,s:b}", "volume", argv[i], "removed", r > 0));
                else
                        printf("%s %s\n", argv[i], r > 0 ? "removed" : "was not exported");
        }
        if (arg_json)
                print_json(arr);
        return rc;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "root", required_argument, NULL, 'R' },
                { "prefix", required_argument, NULL, 'P' },
                { "lock", required_argument, NULL, 'L' },
                { "output", required_argument, NULL, 'o' },
                { "verbose", no_argument, NULL, 'v' },
                {}
        };
        static const struct {
                const char *name;
                int (*fn)(int, char **);
        } commands[] = {
                { "list", cmd_list },     { "show", cmd_show },     { "create", cmd_create },
                { "remove", cmd_remove }, { "grant", cmd_grant },   { "revoke", cmd_revoke },
        };
        int c;

        log_set_prefix("drbdd-iscsi");
        while ((c = getopt_long(argc, argv, "+ho:v", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help_main();
                        return EXIT_OK;
                case 'R': arg_cfg.root = optarg; break;
                case 'P': arg_cfg.iqn_prefix = optarg; break;
                case 'L': arg_cfg.lock_path = optarg; break;
                case 'o':
                        if (streq(optarg, "json"))
                                arg_json = true;
                        else if (!streq(optarg, "text"))
                                return usage_error("--output must be text or json");
                        break;
                case 'v': log_set_max_level(LOG_DEBUG); break;
                default:
                        return usage_error("unknown option");
                }
        if (optind >= argc)
                return usage_error("no command");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(argv[optind], commands[i].name))
                        return commands[i].fn(argc - optind, argv + optind);
        return usage_error("unknown command '%s'", argv[optind]);
}
