/* Aligned text tables for drbdctl's human output. */
#pragma once

#include <stdio.h>

typedef struct Table Table;

/* Column headers, NULL-terminated. */
Table *table_new(const char *first, ...) __attribute__((sentinel));
/* One cell per column, NULL-terminated; values are copied. */
void table_add(Table *t, const char *first, ...) __attribute__((sentinel));
void table_print(Table *t, FILE *f);
void table_free(Table *t);
