build-kmod-san/obj/drbdd/bus/bus-json.o: drbdd/bus/bus-json.c \
 drbdd/bus/bus-json.h lib/macro.h
drbdd/bus/bus-json.h:
lib/macro.h:
