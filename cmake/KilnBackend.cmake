# kiln_add_backend(<name> SOURCES ... [LIBRARIES ...] [INCLUDES ...] [OUTPUT_DIR dir])
# Builds every backend plugin the same way: a MODULE library named kiln_backend_<name>.so that
# depends only on the plugin ABI headers and its vendor libraries, placed in the plugin folder
# beside libkiln (or OUTPUT_DIR, for the test tree's deliberately broken plugins).
function(kiln_add_backend name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIR" "SOURCES;LIBRARIES;INCLUDES" ${ARGN})
  set(target kiln_backend_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE kiln_plugin_abi ${ARG_LIBRARIES})
  target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR} ${ARG_INCLUDES})
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR ${KILN_PLUGIN_OUTPUT_DIR})
    install(TARGETS ${target} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/${KILN_PLUGIN_SUBDIR} COMPONENT core)
  endif()
  set_target_properties(${target} PROPERTIES PREFIX "" OUTPUT_NAME ${target}
                                             LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR})
  # A plugin must not have undefined symbols that only libkiln could satisfy.
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
endfunction()
