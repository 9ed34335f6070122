build-etcd/obj/tests/unit/test-store.o: tests/unit/test-store.c \
 lib/macro.h drbdd/store/store-sqlite.h drbdd/store/store.h
lib/macro.h:
drbdd/store/store-sqlite.h:
drbdd/store/store.h:
