build-cinder/obj/drbdd/bus/bus.o: drbdd/bus/bus.c drbdd/bus/bus-error.h \
 drbdd/bus/bus.h lib/log.h lib/macro.h
drbdd/bus/bus-error.h:
drbdd/bus/bus.h:
lib/log.h:
lib/macro.h:
