build-cinder/obj/kmod/drbdd-kmod-probe.o: kmod/drbdd-kmod-probe.c \
 kmod/drbd-version.h drbdd/model/options.h kmod/events2.h lib/json-util.h \
 lib/macro.h lib/log.h kmod/modules.h
kmod/drbd-version.h:
drbdd/model/options.h:
kmod/events2.h:
lib/json-util.h:
lib/macro.h:
lib/log.h:
kmod/modules.h:
