/* drbdd-waiters: many pending WaitReady calls at once, for tests and benches.
 *
 *   drbdd-waiters [--hold-ms=MS] [--measure=N] [--spread=K] CONNECTIONS CALLS RESOURCE NODE TIMEOUT_MS
 *
 * Opens CONNECTIONS connections to the system bus ($DBUS_SYSTEM_BUS_ADDRESS)
 * and sends CALLS WaitReady(RESOURCE, NODE, TIMEOUT_MS) calls on each without
 * waiting (with --spread=K, RESOURCE becomes RESOURCE0..RESOURCE{K-1} in
 * turn). Once drbdd has taken them all (a GetVersion on each connection,
 * which drbdd handles after them, has returned) it prints "taken" and:
 *   --measure=N  times N ListResourceDefinitions calls on a fresh connection
 *                and prints their p50/p90/p99/max in ms;
 * Then it waits for every answer, at most TIMEOUT_MS + 10 s, or with
 *   --hold-ms=MS at most MS, and exits with calls unanswered (the connections
 *                close; drbdd should drop them).
 * Last line: a JSON summary {"sent", "answers": {NAME: count}, "pending"},
 * where NAME is "ok" or the D-Bus error name. Exit 0, or 1 on setup errors. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

#define DEST "org.drbd.drbdd1"
#define PATH "/org/drbd/drbdd1"
#define IFACE "org.drbd.drbdd1.Manager"
#define MAX_NAMES 16

static struct {
        const char *name;
        unsigned n;
} answers[MAX_NAMES];
static unsigned n_answers, pending;

static void count(const char *name) {
        for (unsigned i = 0; i < MAX_NAMES; i++) {
                if (!answers[i].name) {
                        answers[i].name = strdup(name);
                        n_answers++;
                }
                if (answers[i].name && strcmp(answers[i].name, name) == 0) {
                        answers[i].n++;
                        return;
                }
        }
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const sd_bus_error *e = sd_bus_message_get_error(m);
        count(e ? e->name : "ok");
        pending--;
        return 0;
}

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

/* Runs every connection's pending work without blocking for long. */
static void pump(sd_bus **buses, unsigned n, uint64_t wait_usec) {
        for (unsigned i = 0; i < n; i++)
                while (sd_bus_process(buses[i], NULL) > 0)
                        ;
        if (n > 0)
                (void) sd_bus_wait(buses[0], wait_usec);
}

static int measure(unsigned n) {
        sd_bus *b = NULL;
        double *t = calloc(n, sizeof *t);
        unsigned failed = 0;
        int r = sd_bus_open_system(&b);
        if (r < 0 || !t) {
                fprintf(stderr, "drbdd-waiters: cannot connect: %s\n", strerror(-r));
                return 1;
        }
        for (unsigned i = 0; i < n; i++) {
                sd_bus_error err = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                double start = now_ms();
                r = sd_bus_call_method(b, DEST, PATH, IFACE, "ListResourceDefinitions", &err, &reply, "");
                t[i] = now_ms() - start;
                failed += r < 0;
                sd_bus_error_free(&err);
                sd_bus_message_unref(reply);
        }
        qsort(t, n, sizeof *t, cmp_double);
        printf("reads: %u ListResourceDefinitions, %u failed, p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n", n,
               failed, t[n / 2], t[n * 9 / 10], t[n * 99 / 100], t[n - 1]);
        free(t);
        sd_bus_flush_close_unref(b);
        return failed ? 1 : 0;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "hold-ms", required_argument, NULL, 'H' },
                { "measure", required_argument, NULL, 'M' },
                { "spread", required_argument, NULL, 'S' },
                {}
        };
        long hold_ms = -1;
        unsigned n_measure = 0, spread = 0;
        int o;
        while ((o = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (o) {
                case 'H': hold_ms = atol(optarg); break;
                case 'M': n_measure = (unsigned) atoi(optarg); break;
                case 'S': spread = (unsigned) atoi(optarg); break;
                default: return 2;
                }
        if (argc - optind != 5) {
                fprintf(stderr, "Usage: drbdd-waiters [--hold-ms=MS] [--measure=N] [--spread=K] CONNECTIONS CALLS "
                                "RESOURCE NODE TIMEOUT_MS\n");
                return 2;
        }
        unsigned n_conn = (unsigned) atoi(argv[optind]), n_calls = (unsigned) atoi(argv[optind + 1]);
        const char *rd = argv[optind + 2], *node = argv[optind + 3];
        uint64_t timeout_ms = strtoull(argv[optind + 4], NULL, 10);
        sd_bus **buses = calloc(n_conn ? n_conn : 1, sizeof *buses);
        unsigned sent = 0;
        int r;

        for (unsigned i = 0; i < n_conn; i++) {
                if ((r = sd_bus_open_system(&buses[i])) < 0) {
                        fprintf(stderr, "drbdd-waiters: connection %u: %s\n", i, strerror(-r));
                        return 1;
                }
                for (unsigned k = 0; k < n_calls; k++) {
                        char name[128];
                        if (spread)
                                snprintf(name, sizeof name, "%s%u", rd, sent % spread);
                        r = sd_bus_call_method_async(buses[i], NULL, DEST, PATH, IFACE, "WaitReady", on_reply, NULL,
                                                     "sst", spread ? name : rd, node, timeout_ms * 1000);
                        if (r < 0) {
                                fprintf(stderr, "drbdd-waiters: send: %s\n", strerror(-r));
                                return 1;
                        }
                        sent++;
                        pending++;
                }
                /* Answered after the WaitReady calls before it on this connection. */
                sd_bus_error err = SD_BUS_ERROR_NULL;
                if ((r = sd_bus_call_method(buses[i], DEST, PATH, IFACE, "GetVersion", &err, NULL, "")) < 0) {
                        fprintf(stderr, "drbdd-waiters: GetVersion: %s\n", err.message ? err.message : strerror(-r));
                        return 1;
                }
                sd_bus_error_free(&err);
        }
        pump(buses, n_conn, 0);
        printf("taken: %u calls on %u connections\n", sent, n_conn);
        fflush(stdout);

        int rc = 0;
        if (n_measure)
                rc = measure(n_measure);
        double end = now_ms() + (hold_ms >= 0 ? (double) hold_ms : (double) timeout_ms + 10000.0);
        while (now_ms() < end && pending > 0)
                pump(buses, n_conn, 50000);

        printf("{\"sent\": %u, \"answers\": {", sent);
        for (unsigned i = 0; i < n_answers; i++)
                printf("%s\"%s\": %u", i ? ", " : "", answers[i].name, answers[i].n);
        printf("}, \"pending\": %u}\n", pending);
        for (unsigned i = 0; i < n_conn; i++)
                sd_bus_close_unref(buses[i]);
        free(buses);
        return rc;
}
