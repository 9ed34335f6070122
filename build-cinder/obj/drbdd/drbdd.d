build-cinder/obj/drbdd/drbdd.o: drbdd/drbdd.c drbdd/bus/manager-bus.h \
 drbdd/bus/bus.h drbdd/service/service.h drbdd/store/store.h \
 drbdd/model/names.h lib/fileio.h lib/log.h lib/macro.h
drbdd/bus/manager-bus.h:
drbdd/bus/bus.h:
drbdd/service/service.h:
drbdd/store/store.h:
drbdd/model/names.h:
lib/fileio.h:
lib/log.h:
lib/macro.h:
