/* bench-create: creates resource definitions through drbdd's D-Bus API and
 * reports creates per second (one client, then several at once, side by
 * side), the time to list them all, and the daemon's resident memory. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "drbdd/client/client.h"
#include "json-util.h"
#include "macro.h"

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static long rss_kib(long pid) {
        char path[64], line[256];
        long v = -1;
        snprintf(path, sizeof path, "/proc/%ld/status", pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
                        break;
        fclose(f);
        return v;
}

typedef struct Job {
        const char *prefix;
        unsigned first, count, step;
        int failures;
} Job;

static void *create_many(void *p) {
        Job *j = p;
        DrbddClient *c = NULL;
        if (drbdd_client_open(NULL, &c) < 0) {
                j->failures = (int) j->count;
                return NULL;
        }
        for (unsigned i = 0; i < j->count; i++) {
                char name[64];
                snprintf(name, sizeof name, "%s%06u", j->prefix, j->first + i * j->step);
                _cleanup_free_ char *msg = NULL;
                json_t *args = json_pack("[s,{}]", name);
                if (drbdd_client_call(c, NULL, "CreateResourceDefinition", "sa{sv}", args, NULL, &msg, NULL) < 0) {
                        if (j->failures++ < 3)
                                fprintf(stderr, "create %s failed: %s\n", name, msg ? msg : "?");
                }
                json_decref(args);
        }
        drbdd_client_free(c);
        return NULL;
}

static double run_phase(const char *prefix, unsigned total, unsigned clients, int *failures) {
        pthread_t th[64];
        Job jobs[64];
        double t0 = now_s();
        for (unsigned k = 0; k < clients; k++) {
                jobs[k] = (Job) { .prefix = prefix, .first = k, .count = total / clients + (k < total % clients),
                                  .step = clients };
                pthread_create(&th[k], NULL, create_many, &jobs[k]);
        }
        for (unsigned k = 0; k < clients; k++) {
                pthread_join(th[k], NULL);
                *failures += jobs[k].failures;
        }
        return now_s() - t0;
}

int main(int argc, char **argv) {
        if (argc != 4) {
                fprintf(stderr, "Usage: bench-create TOTAL CLIENTS DRBDD_PID\n");
                return 2;
        }
        unsigned total = (unsigned) atoi(argv[1]), clients = (unsigned) atoi(argv[2]);
        long pid = atol(argv[3]);
        if (total < 2 || clients < 1 || clients > 64)
                return 2;
        int failures = 0;
        long rss0 = rss_kib(pid);
        unsigned half = total / 2;
        double t1 = run_phase("seq", half, 1, &failures);
        double t2 = run_phase("par", total - half, clients, &failures);

        DrbddClient *c = NULL;
        if (drbdd_client_open(NULL, &c) < 0)
                return 1;
        drbdd_client_set_timeout(c, 600ULL * 1000000);
        json_t *ret = NULL;
        double t3 = now_s();
        int r = drbdd_client_call(c, NULL, "ListResourceDefinitions", "", NULL, &ret, NULL, NULL);
        double tl = now_s() - t3;
        size_t listed = r >= 0 ? json_array_size(json_array_get(ret, 0)) : 0;
        json_decref(ret);
        drbdd_client_free(c);
        long rss1 = rss_kib(pid);

        double rate1 = half / t1, rate_n = (total - half) / t2;
        printf("resource definitions created through D-Bus: %u (%d failures)\n", total, failures);
        printf("  1 client        : %6u creates in %7.2f s = %8.1f creates/s  (goal >= 1000/s: %.2fx)\n", half, t1,
               rate1, rate1 / 1000);
        printf("  %u clients       : %6u creates in %7.2f s = %8.1f creates/s  (goal >= 1000/s: %.2fx)\n", clients,
               total - half, t2, rate_n, rate_n / 1000);
        printf("  ratio %u clients / 1 client: %.2f  (goal > 1: %s)\n", clients, rate_n / rate1,
               rate_n > rate1 ? "met" : "not met");
        printf("list all %zu definitions: %.3f s (%.1f us per definition)\n", listed, tl, tl * 1e6 / (double) (listed ? listed : 1));
        printf("drbdd resident memory: %ld KiB before, %ld KiB after (%.2f KiB per definition)\n", rss0, rss1,
               (double) (rss1 - rss0) / total);
        return failures || listed < total ? 1 : 0;
}
