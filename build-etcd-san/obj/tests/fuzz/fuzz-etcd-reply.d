build-etcd-san/obj/tests/fuzz/fuzz-etcd-reply.o: \
 tests/fuzz/fuzz-etcd-reply.c lib/macro.h drbdd/store/store-etcd.h \
 drbdd/store/store.h
lib/macro.h:
drbdd/store/store-etcd.h:
drbdd/store/store.h:
