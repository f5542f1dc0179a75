# Finds OpenBLAS, zlib, threads and (for tests) cmocka, naming the Debian package when absent.
find_package(PkgConfig)
if(NOT PkgConfig_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config")
endif()
find_package(Threads REQUIRED)

pkg_check_modules(OPENBLAS IMPORTED_TARGET openblas)
if(NOT OPENBLAS_FOUND)
  message(FATAL_ERROR "OpenBLAS not found through pkg-config (module 'openblas'): apt-get install libopenblas-dev")
endif()
add_library(dctr_openblas INTERFACE)
target_link_libraries(dctr_openblas INTERFACE PkgConfig::OPENBLAS)
set(DCTR_OPENBLAS_LINK ${OPENBLAS_LINK_LIBRARIES})

# zlib: crc32 for model-file and cache checksums (a well-kept library beats a hand-rolled CRC).
pkg_check_modules(ZLIB_PC IMPORTED_TARGET zlib)
if(NOT ZLIB_PC_FOUND)
  message(FATAL_ERROR "zlib not found through pkg-config: apt-get install zlib1g-dev")
endif()
add_library(dctr_zlib INTERFACE)
target_link_libraries(dctr_zlib INTERFACE PkgConfig::ZLIB_PC)

if(DCTR_BUILD_TESTS)
  pkg_check_modules(CMOCKA IMPORTED_TARGET cmocka)
  if(NOT CMOCKA_FOUND)
    message(FATAL_ERROR "cmocka not found through pkg-config: apt-get install libcmocka-dev "
                        "(or configure with -DDCTR_BUILD_TESTS=OFF)")
  endif()
endif()
