# install(): library, headers, pkg-config file and CMake package config.
include(CMakePackageConfigHelpers)
install(TARGETS deepctr deepctr_static EXPORT deepctrTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${DCTR_PUBLIC_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/deepctr)
install(EXPORT deepctrTargets NAMESPACE deepctr:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/deepctr)
configure_package_config_file(cmake/deepctrConfig.cmake.in
  ${PROJECT_BINARY_DIR}/deepctrConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/deepctr)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/deepctrConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/deepctrConfig.cmake ${PROJECT_BINARY_DIR}/deepctrConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/deepctr)
# The .pc file locates the prefix relative to itself, so `cmake --install --prefix P` works
# wherever P is (the prefix chosen at configure time does not matter).
file(RELATIVE_PATH DCTR_PC_RELPREFIX "${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig"
     "${CMAKE_INSTALL_PREFIX}")
configure_file(cmake/deepctr.pc.in ${PROJECT_BINARY_DIR}/deepctr.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/deepctr.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
