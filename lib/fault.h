/* Named fault-injection points for crash-safety tests. DRBDD_FAULT names a
 * point ("create:after-backing") or several separated by commas; reaching a
 * named point kills the process with SIGKILL, exactly as an operator's
 * kill -9 would. Unset in production: a point costs one getenv() compare. */
#pragma once

/* Kills the process if point is named in $DRBDD_FAULT. */
void fault_point(const char *point);

/* Stalls the calling thread if "point=MS" is listed in $DRBDD_STALL (comma
 * separated), e.g. DRBDD_STALL=bus:ListNodes=7000: tests of what a busy or
 * stalled event loop must not break (lease renewal). */
void fault_stall(const char *point);
