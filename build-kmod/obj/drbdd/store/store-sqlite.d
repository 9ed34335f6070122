build-kmod/obj/drbdd/store/store-sqlite.o: drbdd/store/store-sqlite.c \
 lib/log.h lib/macro.h drbdd/store/store-sqlite.h drbdd/store/store.h
lib/log.h:
lib/macro.h:
drbdd/store/store-sqlite.h:
drbdd/store/store.h:
