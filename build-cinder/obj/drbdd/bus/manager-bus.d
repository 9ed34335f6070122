build-cinder/obj/drbdd/bus/manager-bus.o: drbdd/bus/manager-bus.c \
 drbdd/bus/bus-json.h drbdd/model/size.h lib/json-util.h lib/macro.h \
 lib/log.h drbdd/bus/manager-bus.h drbdd/bus/bus.h \
 drbdd/service/service.h drbdd/store/store.h
drbdd/bus/bus-json.h:
drbdd/model/size.h:
lib/json-util.h:
lib/macro.h:
lib/log.h:
drbdd/bus/manager-bus.h:
drbdd/bus/bus.h:
drbdd/service/service.h:
drbdd/store/store.h:
