build-kmod-san/obj/drbdd/model/options.o: drbdd/model/options.c \
 lib/macro.h drbdd/model/names.h drbdd/model/options.h
lib/macro.h:
drbdd/model/names.h:
drbdd/model/options.h:
