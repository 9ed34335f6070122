# drbdd/drbdd.mk: what the daemon and drbdctl install (dist/install.mk).
# Their build rules are in the top-level Makefile.
INSTALL_SBIN        += $(BUILD)/drbdd
INSTALL_BIN         += $(BUILD)/drbdctl
INSTALL_MAN1        += drbdd/drbdctl/drbdctl.1
INSTALL_MAN8        += drbdd/drbdd.8
INSTALL_BASHCOMP    += drbdd/drbdctl/drbdctl.bash-completion
INSTALL_DBUS_POLICY += drbdd/dbus/org.drbd.drbdd1.conf
INSTALL_UNITS       += drbdd/systemd/drbdd.service.in
INSTALL_TMPFILES    += drbdd/systemd/drbdd.tmpfiles
INSTALL_SYSUSERS    += drbdd/systemd/drbdd.sysusers
INSTALL_CONF        += drbdd/drbdd.conf
