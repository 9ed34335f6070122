build-kmod/obj/drbdd/service/placement.o: drbdd/service/placement.c \
 lib/json-util.h lib/macro.h drbdd/service/placement.h
lib/json-util.h:
lib/macro.h:
drbdd/service/placement.h:
