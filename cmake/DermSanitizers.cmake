# DERM_SANITIZE (e.g. "address,undefined" or "thread"): every target of the
# project, its precompiled headers included, is compiled and linked with
# -fsanitize=<list>; the first report ends the process, so a test fails on it.
# Libraries built elsewhere (LibTorch, OpenCV) are not instrumented.
if(DERM_SANITIZE)
  if(MSVC)
    message(FATAL_ERROR "DERM_SANITIZE: only GCC and Clang are supported")
  endif()
  add_compile_options(-fsanitize=${DERM_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${DERM_SANITIZE})
  message(STATUS "derm: sanitizers: ${DERM_SANITIZE}")
endif()
