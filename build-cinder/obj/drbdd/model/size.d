build-cinder/obj/drbdd/model/size.o: drbdd/model/size.c lib/macro.h \
 drbdd/model/names.h drbdd/model/size.h
lib/macro.h:
drbdd/model/names.h:
drbdd/model/size.h:
