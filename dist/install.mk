# dist/install.mk: "make install", "make uninstall" and "make deb" (docs/install.md).
# Included by the top-level Makefile.
#
# Each component registers what it installs in its own *.mk by appending to
# these lists; nothing here names a component's files:
#   INSTALL_BIN        programs for users             -> $(BINDIR)
#   INSTALL_SBIN       daemons and root-only tools     -> $(SBINDIR)
#   INSTALL_MAN1/5/8   man pages                       -> $(MANDIR)/manN
#   INSTALL_BASHCOMP   bash completion files, installed under the name before
#                      the first dot (drbdctl.bash-completion -> drbdctl)
#   INSTALL_DBUS_POLICY  D-Bus policy files            -> $(DBUSPOLICYDIR)
#   INSTALL_UNITS      systemd units; @SBINDIR@ and @BINDIR@ are replaced
#                      and a trailing .in dropped      -> $(UNITDIR)
#   INSTALL_TMPFILES   tmpfiles.d snippets, installed as NAME.conf (NAME.tmpfiles)
#   INSTALL_SYSUSERS   sysusers.d snippets, installed as NAME.conf (NAME.sysusers)
#   INSTALL_CONF       configuration files, mode 0644, never overwritten
#                                                      -> $(DESTDIR)/etc/drbdd
#   INSTALL_PYTHON_PKGS  Python package folders (their *.py) -> $(PYTHONDIR)
#   INSTALL_PYTHON_MODS  single modules and C extensions     -> $(PYTHONDIR)
# Files under $(BUILD) in these lists are built first.
.PHONY: install install-build uninstall deb

PREFIX        ?= /usr/local
DESTDIR       ?=
BINDIR        ?= $(PREFIX)/bin
SBINDIR       ?= $(PREFIX)/sbin
MANDIR        ?= $(PREFIX)/share/man
# Paths that their readers fix, whatever PREFIX is: systemd, D-Bus and
# drbdd itself (/etc/drbdd/drbdd.conf) look only there.
UNITDIR       ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/lib/systemd/system)
TMPFILESDIR   ?= /usr/lib/tmpfiles.d
SYSUSERSDIR   ?= /usr/lib/sysusers.d
DBUSPOLICYDIR ?= /usr/share/dbus-1/system.d
BASHCOMPDIR   ?= /usr/share/bash-completion/completions
CONFDIR       ?= /etc/drbdd
# Debian's python3 reads /usr/lib/python3/dist-packages (packages) and
# /usr/local/lib/python3.X/dist-packages (local installs).
PY3_VERSION    = $(shell /usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
PYTHONDIR     ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/python3/dist-packages,$(PREFIX)/lib/python$(PY3_VERSION)/dist-packages)

INSTALL_LISTS = INSTALL_BIN INSTALL_SBIN INSTALL_MAN1 INSTALL_MAN5 INSTALL_MAN8 INSTALL_BASHCOMP \
	INSTALL_DBUS_POLICY INSTALL_UNITS INSTALL_TMPFILES INSTALL_SYSUSERS INSTALL_CONF \
	INSTALL_PYTHON_PKGS INSTALL_PYTHON_MODS
INSTALL_BUILT = $(filter $(BUILD)/%,$(foreach l,$(INSTALL_LISTS),$($(l))))

# install_to MODE DIR FILES: one install(1) call, nothing for an empty list.
install_to = $(if $(strip $(3)),install -m $(1) $(3) $(DESTDIR)$(2)/;)
# install_as MODE DIR FILES NAME-EXPR: each FILE under the name NAME-EXPR gives
# for $$f (shell), e.g. "$${f%%.*}" (up to the first dot).
install_as = $(foreach f,$(3),f=$(notdir $(f)); install -m $(1) $(f) "$(DESTDIR)$(2)/$(4)";)
UNIT_SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g'

# The files install would write, relative to DESTDIR (for uninstall).
installed_files = \
	$(addprefix $(BINDIR)/,$(notdir $(INSTALL_BIN))) \
	$(addprefix $(SBINDIR)/,$(notdir $(INSTALL_SBIN))) \
	$(foreach n,1 5 8,$(addprefix $(MANDIR)/man$(n)/,$(notdir $(INSTALL_MAN$(n))))) \
	$(foreach f,$(notdir $(INSTALL_BASHCOMP)),$(BASHCOMPDIR)/$(firstword $(subst ., ,$(f)))) \
	$(addprefix $(DBUSPOLICYDIR)/,$(notdir $(INSTALL_DBUS_POLICY))) \
	$(addprefix $(UNITDIR)/,$(patsubst %.in,%,$(notdir $(INSTALL_UNITS)))) \
	$(addprefix $(TMPFILESDIR)/,$(patsubst %.tmpfiles,%.conf,$(notdir $(INSTALL_TMPFILES)))) \
	$(addprefix $(SYSUSERSDIR)/,$(patsubst %.sysusers,%.conf,$(notdir $(INSTALL_SYSUSERS)))) \
	$(addprefix $(PYTHONDIR)/,$(notdir $(INSTALL_PYTHON_MODS))) \
	$(foreach d,$(INSTALL_PYTHON_PKGS),$(addprefix $(PYTHONDIR)/$(notdir $(d))/,$(notdir $(wildcard $(d)/*.py))))

# Configuration files stay on uninstall (the operator's edits), as with dpkg's
# conffiles until a purge.
install-build:
	@$(MAKE) --no-print-directory $(INSTALL_BUILT)

install: install-build
	install -d $(addprefix $(DESTDIR),$(BINDIR) $(SBINDIR) $(MANDIR)/man1 $(MANDIR)/man5 $(MANDIR)/man8 \
		$(BASHCOMPDIR) $(DBUSPOLICYDIR) $(UNITDIR) $(TMPFILESDIR) $(SYSUSERSDIR) $(CONFDIR) $(PYTHONDIR))
	$(call install_to,0755,$(BINDIR),$(INSTALL_BIN))
	$(call install_to,0755,$(SBINDIR),$(INSTALL_SBIN))
	$(foreach n,1 5 8,$(call install_to,0644,$(MANDIR)/man$(n),$(INSTALL_MAN$(n)))) true
	$(call install_as,0644,$(BASHCOMPDIR),$(INSTALL_BASHCOMP),$${f%%.*})
	$(call install_to,0644,$(DBUSPOLICYDIR),$(INSTALL_DBUS_POLICY))
	$(foreach u,$(INSTALL_UNITS),$(UNIT_SUBST) $(u) >$(DESTDIR)$(UNITDIR)/$(patsubst %.in,%,$(notdir $(u))) &&) true
	$(call install_as,0644,$(TMPFILESDIR),$(INSTALL_TMPFILES),$${f%.tmpfiles}.conf)
	$(call install_as,0644,$(SYSUSERSDIR),$(INSTALL_SYSUSERS),$${f%.sysusers}.conf)
	$(foreach c,$(INSTALL_CONF),test -e $(DESTDIR)$(CONFDIR)/$(notdir $(c)) || install -m 0644 $(c) $(DESTDIR)$(CONFDIR)/;)
	$(foreach d,$(INSTALL_PYTHON_PKGS),install -d $(DESTDIR)$(PYTHONDIR)/$(notdir $(d)) && \
		install -m 0644 $(wildcard $(d)/*.py) $(DESTDIR)$(PYTHONDIR)/$(notdir $(d))/;)
	$(call install_to,0644,$(PYTHONDIR),$(INSTALL_PYTHON_MODS))

uninstall:
	rm -f $(addprefix $(DESTDIR),$(installed_files))
	$(foreach d,$(INSTALL_PYTHON_PKGS),rm -rf $(DESTDIR)$(PYTHONDIR)/$(notdir $(d))/__pycache__; \
		rmdir $(DESTDIR)$(PYTHONDIR)/$(notdir $(d)) 2>/dev/null;) true

# Debian packages (debian/), built from a copy of the tree in $(BUILD)/deb so
# that dpkg-buildpackage's clean never touches this checkout and the .debs
# land in $(BUILD)/deb/, not beside the checkout.
# The copy: what git tracks or would track; outside git, all but build trees.
DEB_DIR = $(BUILD)/deb
deb:
	@rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	@{ if git rev-parse --git-dir >/dev/null 2>&1; then git ls-files -z --cached --others --exclude-standard; \
	   else find . \( -name .git -o -name 'build*' \) -prune -o -type f -printf '%P\0'; fi; } | \
		xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done' sh | \
		tar -c --null -T - -f - | tar -x -C $(DEB_DIR)/src
	cd $(DEB_DIR)/src && DEB_BUILD_OPTIONS="nocheck parallel=$$(nproc) $(DEB_BUILD_OPTIONS)" \
		dpkg-buildpackage -b -uc -us >../build.log 2>&1 || { tail -40 ../build.log; exit 1; }
	@ls $(DEB_DIR)/*.deb
