# Every dependency comes from find_package: Debian 12's packages on a CPU machine,
# or a pip/zip CUDA LibTorch plus the device kit on the GPU machine.
find_package(Torch REQUIRED)
# LibTorch headers from 2.12 on refuse anything older than C++20.
if(Torch_VERSION VERSION_GREATER_EQUAL 2.12 AND CMAKE_CXX_STANDARD LESS 20)
  message(STATUS "derm: LibTorch ${Torch_VERSION} -> C++20")
  set(CMAKE_CXX_STANDARD 20)
endif()
find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs)
# libjpeg, which OpenCV decodes with too: derm calls it itself to refuse damaged
# JPEG data that OpenCV would decode with grey patches.
find_package(JPEG REQUIRED)
find_package(CLI11 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json 3.9 REQUIRED)
find_package(Threads REQUIRED)
# oneDNN, which Debian's LibTorch links (libdnnl.so.2), for the CPU inference
# plans (src/model/cpu_inference_plan.hpp); without it LibTorch's operators run.
# By path: Debian's dnnl-config.cmake requires OpenCL.
if(DERM_ONEDNN_PLANS)
  find_path(DERM_DNNL_INCLUDE_DIR dnnl.hpp)
  find_library(DERM_DNNL_LIBRARY dnnl)
endif()
# Gloo's headers (Debian: libgloo-dev), which c10d's ProcessGroupGloo.hpp includes;
# a pip/zip LibTorch may carry them in its own include folder.
find_path(DERM_GLOO_INCLUDE_DIR gloo/config.h HINTS ${TORCH_INCLUDE_DIRS} REQUIRED)
find_library(DERM_GLOO_LIBRARY gloo)
if(NOT DERM_GLOO_LIBRARY)
  set(DERM_GLOO_LIBRARY "")  # linked into libtorch_cpu
endif()
# cpp-httplib (derm-serve): Debian ships it compiled, with the defines its build used in its .pc file.
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)

# A pip/zip LibTorch ships its own fmt headers in its include folder, which is
# searched before /usr/include; spdlog was built against the system fmt, so a
# TU that sees torch's fmt would compile against the wrong fmt. Put a folder
# holding only the system fmt headers in front of every include path.
get_target_property(_fmt_include fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
list(GET _fmt_include 0 _fmt_include)
file(REAL_PATH "${_fmt_include}" _fmt_include)
set(_derm_torch_fmt "")
foreach(_dir IN LISTS TORCH_INCLUDE_DIRS)
  file(REAL_PATH "${_dir}" _real_dir)
  if(EXISTS "${_real_dir}/fmt/core.h" AND NOT _real_dir STREQUAL _fmt_include)
    set(_derm_torch_fmt "${_real_dir}")
  endif()
endforeach()
if(_derm_torch_fmt)
  set(DERM_FMT_SHADOW "${CMAKE_BINARY_DIR}/fmt-first")
  file(MAKE_DIRECTORY "${DERM_FMT_SHADOW}")
  if(NOT EXISTS "${DERM_FMT_SHADOW}/fmt")
    file(CREATE_LINK "${_fmt_include}/fmt" "${DERM_FMT_SHADOW}/fmt" SYMBOLIC)
  endif()
  include_directories(BEFORE "${DERM_FMT_SHADOW}")
  message(STATUS "derm: LibTorch at ${_derm_torch_fmt} ships fmt; using ${_fmt_include}/fmt first")
endif()
