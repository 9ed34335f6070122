build-kmod/obj/drbdd/bus/bus-error.o: drbdd/bus/bus-error.c \
 drbdd/bus/bus-error.h lib/macro.h
drbdd/bus/bus-error.h:
lib/macro.h:
