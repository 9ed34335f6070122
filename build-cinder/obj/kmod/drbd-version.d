build-cinder/obj/kmod/drbd-version.o: kmod/drbd-version.c \
 kmod/drbd-version.h drbdd/model/options.h lib/json-util.h lib/macro.h
kmod/drbd-version.h:
drbdd/model/options.h:
lib/json-util.h:
lib/macro.h:
