# cmake --install: the tools, the layers' static libraries and headers, and a
# CMake package, so that another project can find_package(derm) and link derm::derm.
include(CMakePackageConfigHelpers)

set(DERM_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/derm")
install(EXPORT dermTargets NAMESPACE derm:: DESTINATION "${DERM_INSTALL_CMAKEDIR}")
configure_package_config_file(cmake/dermConfig.cmake.in "${PROJECT_BINARY_DIR}/dermConfig.cmake"
  INSTALL_DESTINATION "${DERM_INSTALL_CMAKEDIR}")
# 0.x: a new minor version may change the interface.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/dermConfigVersion.cmake" COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/dermConfig.cmake" "${PROJECT_BINARY_DIR}/dermConfigVersion.cmake"
  DESTINATION "${DERM_INSTALL_CMAKEDIR}")
