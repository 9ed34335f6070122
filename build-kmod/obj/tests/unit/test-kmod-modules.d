build-kmod/obj/tests/unit/test-kmod-modules.o: \
 tests/unit/test-kmod-modules.c lib/exec.h lib/fileio.h lib/macro.h \
 kmod/modules.h
lib/exec.h:
lib/fileio.h:
lib/macro.h:
kmod/modules.h:
