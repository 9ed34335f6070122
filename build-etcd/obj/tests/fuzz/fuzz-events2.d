build-etcd/obj/tests/fuzz/fuzz-events2.o: tests/fuzz/fuzz-events2.c \
 lib/macro.h kmod/drbd-version.h drbdd/model/options.h kmod/events2.h
lib/macro.h:
kmod/drbd-version.h:
drbdd/model/options.h:
kmod/events2.h:
