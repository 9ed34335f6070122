build-kmod-san/obj/tests/unit/test-kmod-version.o: \
 tests/unit/test-kmod-version.c lib/exec.h lib/fileio.h lib/json-util.h \
 lib/macro.h kmod/drbd-version.h drbdd/model/options.h
lib/exec.h:
lib/fileio.h:
lib/json-util.h:
lib/macro.h:
kmod/drbd-version.h:
drbdd/model/options.h:
