build-cinder/obj/drbdd/drbdctl/table.o: drbdd/drbdctl/table.c \
 drbdd/drbdctl/table.h
drbdd/drbdctl/table.h:
