build-cinder/obj/drbdd/client/client.o: drbdd/client/client.c \
 drbdd/client/client.h drbdd/bus/bus-error.h drbdd/bus/bus-json.h \
 lib/macro.h
drbdd/client/client.h:
drbdd/bus/bus-error.h:
drbdd/bus/bus-json.h:
lib/macro.h:
