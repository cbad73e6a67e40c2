# Install rules and the Debian package (`cpack -G DEB` in a build directory).
#
# The rules describe the packaged layout: prefix /usr (CPACK_PACKAGING_
# INSTALL_PREFIX), the unit's ExecStart=/usr/bin/inboxd, the configuration in
# /etc/inboxd. For a hand installation under another prefix use
# scripts/install, which rewrites the unit's binary paths to match.
#
# The package marks /etc/inboxd/inboxd.yaml as a conffile (dpkg keeps local
# edits on upgrade), and its postinst creates the inboxd user and directories
# (systemd-sysusers/systemd-tmpfiles when present) but does not enable or start
# the service: the configuration needs its inboxes first.

include(GNUInstallDirs)

# `cpack` and `cmake --install` package what is built and do not build the
# whole tree (tests included) first: build, then package.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(INBOXD_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
  "systemd unit directory, relative to the install prefix")

install(TARGETS inboxd inboxctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES systemd/inboxd.service DESTINATION ${INBOXD_SYSTEMD_UNIT_DIR})
install(FILES systemd/inboxd.sysusers DESTINATION lib/sysusers.d RENAME inboxd.conf)
install(FILES systemd/inboxd.tmpfiles DESTINATION lib/tmpfiles.d RENAME inboxd.conf)
install(FILES config/inboxd.yaml DESTINATION /etc/inboxd)
install(FILES docs/man/inboxctl.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES docs/man/inboxd.yaml.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES docs/man/inboxd.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES README.md docs/systemd.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES config/inboxd.yaml DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME inboxd.yaml.example)
if(EXISTS ${PROJECT_SOURCE_DIR}/daemon/inboxctl/inboxctl.bash-completion)
  install(FILES daemon/inboxctl/inboxctl.bash-completion
    DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME inboxctl)
endif()

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "inboxd")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "drop-folder processing daemon")
set(CPACK_PACKAGE_DESCRIPTION
  "inboxd watches drop folders, often network shares, claims each completely\n\
written file into a persistent SQLite queue and runs a handler command on it,\n\
with timeouts, retries, a concurrency limit and an error-rate breaker.\n\
inboxctl queries and controls the daemon.")
set(CPACK_PACKAGE_CONTACT "inboxd maintainers <root@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "admin")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
find_program(INBOXD_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(INBOXD_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libuv1, libyaml-cpp0.7, libsqlite3-0, libspdlog1.10, libfmt9, libstdc++6, libc6")
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  "${PROJECT_SOURCE_DIR}/cmake/debian/conffiles"
  "${PROJECT_SOURCE_DIR}/cmake/debian/postinst"
  "${PROJECT_SOURCE_DIR}/cmake/debian/prerm"
  "${PROJECT_SOURCE_DIR}/cmake/debian/postrm")
# Maintainer scripts 0755 and conffiles 0644 whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
