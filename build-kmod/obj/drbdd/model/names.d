build-kmod/obj/drbdd/model/names.o: drbdd/model/names.c lib/macro.h \
 drbdd/model/names.h
lib/macro.h:
drbdd/model/names.h:
