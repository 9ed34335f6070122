build-etcd/obj/drbdd/drbd/render.o: drbdd/drbd/render.c lib/macro.h \
 drbdd/drbd/render.h drbdd/model/options.h drbdd/model/names.h
lib/macro.h:
drbdd/drbd/render.h:
drbdd/model/options.h:
drbdd/model/names.h:
