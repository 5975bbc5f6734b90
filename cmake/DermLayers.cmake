# The library is a stack of layers, one static library each (src/<layer>/, its
# public headers in include/derm/<layer>/):
#
#   core <- data <- augment          (images, files, manifests, augmentation)
#   core <- metrics                  (AUC, ROC, bootstrap, ensemble decisions)
#   model <- train, infer <- eval    (LibTorch: the network, training, inference, evaluation)
#   core <- distributed -> train, eval (c10d: process groups for multi-process training and evaluation)
#
# A layer's build sees only its own headers and those of the layers it links
# (each layer's include root holds nothing but derm/<layer>), so an include of a
# higher layer fails to compile instead of quietly tying the layers in a knot.

include(GNUInstallDirs)

# derm_add_layer(<layer> SOURCES <files> [LINKS <layers and libraries>] [PRIVATE_LINKS <libraries>])
# -> target derm_<layer>, alias derm::<layer>, exported as derm::<layer>.
function(derm_add_layer layer)
  cmake_parse_arguments(ARG "" "" "SOURCES;LINKS;PRIVATE_LINKS" ${ARGN})
  set(target derm_${layer})
  add_library(${target} STATIC ${ARG_SOURCES})
  add_library(derm::${layer} ALIAS ${target})
  set(root "${PROJECT_BINARY_DIR}/layer-include/${layer}")
  file(MAKE_DIRECTORY "${root}/derm")
  if(NOT EXISTS "${root}/derm/${layer}")
    file(CREATE_LINK "${PROJECT_SOURCE_DIR}/include/derm/${layer}" "${root}/derm/${layer}" SYMBOLIC)
  endif()
  target_include_directories(${target}
    PUBLIC $<BUILD_INTERFACE:${root}> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}/${layer}")
  target_link_libraries(${target} PUBLIC ${ARG_LINKS} PRIVATE ${ARG_PRIVATE_LINKS})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${layer})
  derm_set_warnings(${target})
  install(TARGETS ${target} EXPORT dermTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/derm/${layer}" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/derm")
endfunction()
