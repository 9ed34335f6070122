build-cinder/obj/drbdd/drbdctl/drbdctl.o: drbdd/drbdctl/drbdctl.c \
 drbdd/client/client.h drbdd/model/size.h lib/json-util.h lib/macro.h \
 drbdd/drbdctl/table.h
drbdd/client/client.h:
drbdd/model/size.h:
lib/json-util.h:
lib/macro.h:
drbdd/drbdctl/table.h:
