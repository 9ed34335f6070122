build-etcd/obj/drbdd/service/service-rd.o: drbdd/service/service-rd.c \
 drbdd/model/names.h drbdd/model/size.h drbdd/model/sizing.h \
 lib/json-util.h lib/macro.h lib/log.h drbdd/service/placement.h \
 drbdd/service/service-internal.h drbdd/model/options.h \
 drbdd/store/store.h drbdd/service/service.h
drbdd/model/names.h:
drbdd/model/size.h:
drbdd/model/sizing.h:
lib/json-util.h:
lib/macro.h:
lib/log.h:
drbdd/service/placement.h:
drbdd/service/service-internal.h:
drbdd/model/options.h:
drbdd/store/store.h:
drbdd/service/service.h:
