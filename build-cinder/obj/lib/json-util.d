build-cinder/obj/lib/json-util.o: lib/json-util.c lib/json-util.h \
 lib/macro.h
lib/json-util.h:
lib/macro.h:
