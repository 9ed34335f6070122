build-kmod/obj/drbdd/service/service-view.o: drbdd/service/service-view.c \
 drbdd/drbd/render.h drbdd/model/options.h drbdd/model/names.h \
 drbdd/model/sizing.h lib/exec.h lib/json-util.h lib/macro.h \
 drbdd/service/service-internal.h drbdd/store/store.h \
 drbdd/service/service.h
drbdd/drbd/render.h:
drbdd/model/options.h:
drbdd/model/names.h:
drbdd/model/sizing.h:
lib/exec.h:
lib/json-util.h:
lib/macro.h:
drbdd/service/service-internal.h:
drbdd/store/store.h:
drbdd/service/service.h:
