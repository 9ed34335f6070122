/* Aligned text tables: collect rows, then print with column widths. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

struct Table {
        size_t cols, rows;
        char **cells; /* rows+1 (header) x cols */
};

static int add_row(Table *t, const char *first, va_list ap) {
        char **n = realloc(t->cells, (t->rows + 1) * t->cols * sizeof *n);
        if (!n)
                return -1;
        t->cells = n;
        const char *s = first;
        for (size_t c = 0; c < t->cols; c++) {
                /* Never print control characters that came from the daemon. */
                char *d = strdup(s ? s : "");
                for (char *p = d; p && *p; p++)
                        if ((unsigned char) *p < 0x20 || *p == 0x7f)
                                *p = '?';
                t->cells[t->rows * t->cols + c] = d;
                s = s ? va_arg(ap, const char *) : NULL;
        }
        t->rows++;
        return 0;
}

Table *table_new(const char *first, ...) {
        Table *t = calloc(1, sizeof *t);
        va_list ap;
        if (!t)
                return NULL;
        va_start(ap, first);
        for (const char *s = first; s; s = va_arg(ap, const char *))
                t->cols++;
        va_end(ap);
        va_start(ap, first);
        add_row(t, first, ap);
        va_end(ap);
        return t;
}

void table_add(Table *t, const char *first, ...) {
        va_list ap;
        if (!t)
                return;
        va_start(ap, first);
        add_row(t, first, ap);
        va_end(ap);
}

void table_print(Table *t, FILE *f) {
        if (!t)
                return;
        size_t *w = calloc(t->cols, sizeof *w);
        if (!w)
                return;
        for (size_t r = 0; r < t->rows; r++)
                for (size_t c = 0; c < t->cols; c++) {
                        size_t l = strlen(t->cells[r * t->cols + c]);
                        if (l > w[c])
                                w[c] = l;
                }
        for (size_t r = 0; r < t->rows; r++) {
                for (size_t c = 0; c < t->cols; c++) {
                        const char *cell = t->cells[r * t->cols + c];
                        if (c + 1 == t->cols)
                                fprintf(f, "%s", cell);
                        else
                                fprintf(f, "%-*s  ", (int) w[c], cell);
                }
                fputc('\n', f);
        }
        free(w);
}

void table_free(Table *t) {
        if (!t)
                return;
        for (size_t i = 0; i < t->rows * t->cols; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
}
