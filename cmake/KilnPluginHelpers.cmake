# Helpers for building Kiln plugins out of tree against an installed SDK (included by
# KilnConfig.cmake). Both make a MODULE library whose file the plugin host recognizes.
#
#   kiln_add_layer_plugin(<target> SOURCES a.cpp ... [OUTPUT_NAME name])
#     Custom layers (kiln/layer_plugin.hpp). Links Kiln::core; the plugin must not carry its own
#     copy of libkiln, so it links it as a shared library. Install it into KILN_LAYER_PLUGIN_DIR
#     or point KILN_PLUGIN_PATH at its folder.
#
#   kiln_add_backend_plugin(<target> SOURCES a.cpp ... [OUTPUT_NAME name])
#     A backend (kiln/plugin/kiln_backend.h, kiln/plugin/host_backend.hpp). Depends only on the C
#     ABI headers, never on libkiln, and is linked with --no-undefined so that stays true.
#     Install it into KILN_PLUGIN_DIR or point KILN_PLUGIN_PATH at it; check it with
#     `kiln-conformance <file>`.
include_guard(GLOBAL)

function(_kiln_plugin_common target)
  set_target_properties(${target} PROPERTIES PREFIX "" CXX_VISIBILITY_PRESET hidden C_VISIBILITY_PRESET hidden
                                             VISIBILITY_INLINES_HIDDEN ON POSITION_INDEPENDENT_CODE ON)
  target_compile_features(${target} PRIVATE cxx_std_20)
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    target_link_options(${target} PRIVATE -Wl,--no-undefined)
  endif()
endfunction()

function(kiln_add_layer_plugin target)
  cmake_parse_arguments(ARG "" "OUTPUT_NAME" "SOURCES" ${ARGN})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE Kiln::core)
  _kiln_plugin_common(${target})
  if(ARG_OUTPUT_NAME)
    set_target_properties(${target} PROPERTIES OUTPUT_NAME ${ARG_OUTPUT_NAME})
  endif()
endfunction()

function(kiln_add_backend_plugin target)
  cmake_parse_arguments(ARG "" "OUTPUT_NAME" "SOURCES" ${ARGN})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE Kiln::plugin_abi)
  _kiln_plugin_common(${target})
  if(ARG_OUTPUT_NAME)
    set_target_properties(${target} PROPERTIES OUTPUT_NAME ${ARG_OUTPUT_NAME})
  endif()
endfunction()
