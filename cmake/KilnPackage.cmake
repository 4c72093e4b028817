# The installed SDK's CMake package and pkg-config files (included once, at the end of the root
# CMakeLists.txt, when every library target exists).
#
#   <prefix>/lib/cmake/Kiln/KilnConfig.cmake, KilnConfigVersion.cmake, KilnTargets*.cmake,
#                           KilnPluginHelpers.cmake (kiln_add_layer_plugin, kiln_add_backend_plugin)
#   <prefix>/lib/pkgconfig/kiln.pc (everything an app that trains needs), kiln-core.pc, kiln-nn.pc,
#                          kiln-optim.pc, kiln-serialize.pc, kiln-train.pc (one per core target),
#                          kiln-datasets.pc, kiln-vision.pc, kiln-text.pc, kiln-c.pc
#
# Imported targets: Kiln::core (libkiln, the thin core), Kiln::nn, Kiln::optim, Kiln::serialize,
# Kiln::train, Kiln::conformance, Kiln::all (the five an app that trains links), Kiln::plugin_abi
# (the C ABI headers for backends), Kiln::datasets, Kiln::vision, Kiln::text, Kiln::c (the C API),
# each only when built.
# Everything is relative to the package's own location, so a moved prefix still works.
include(CMakePackageConfigHelpers)

set(KILN_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Kiln)

# Target -> component (the name after Kiln::). Libraries find each other and the plugin folder
# relative to themselves ($ORIGIN), so the installed tree is relocatable.
set(_kiln_exported)
foreach(_pair kiln_plugin_abi:plugin_abi kiln:core kiln_nn:nn kiln_optim:optim kiln_serialize:serialize
              kiln_train:train kiln_conformance_suite:conformance kiln_all:all kiln_datasets:datasets kiln_vision:vision kiln_text:text kiln_c:c)
  string(REPLACE ":" ";" _pair ${_pair})
  list(GET _pair 0 _target)
  list(GET _pair 1 _component)
  if(TARGET ${_target})
    set_target_properties(${_target} PROPERTIES EXPORT_NAME ${_component})
    get_target_property(_type ${_target} TYPE)
    if(_type STREQUAL "SHARED_LIBRARY")
      set_target_properties(${_target} PROPERTIES INSTALL_RPATH "$ORIGIN")
    endif()
    list(APPEND _kiln_exported ${_component})
  endif()
endforeach()
# core/, datasets/ and vision/ install their libraries into the export set; the interface target
# of the plugin ABI is installed here (its headers are installed by plugins/).
install(TARGETS kiln_plugin_abi EXPORT KilnTargets COMPONENT core)

install(EXPORT KilnTargets NAMESPACE Kiln:: DESTINATION ${KILN_CMAKE_INSTALL_DIR} COMPONENT core)
string(REPLACE ";" ", " KILN_EXPORTED_COMPONENTS "${_kiln_exported}")
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/KilnConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/package/KilnConfig.cmake
                              INSTALL_DESTINATION ${KILN_CMAKE_INSTALL_DIR}
                              PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_BINDIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/package/KilnConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/package/KilnConfig.cmake ${CMAKE_BINARY_DIR}/package/KilnConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/KilnPluginHelpers.cmake
        DESTINATION ${KILN_CMAKE_INSTALL_DIR} COMPONENT core)

# pkg-config: prefix is computed from the .pc file's own folder (${pcfiledir}), so it survives a move.
file(RELATIVE_PATH KILN_PC_PREFIX_FROM_PCDIR /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" KILN_PC_PREFIX_FROM_PCDIR "${KILN_PC_PREFIX_FROM_PCDIR}")
# The core targets share one template (kiln-part.pc.in): name, description, library, requirements.
set(_kiln_pc_parts
    "core|the thin core: tensors, dispatch, backends, autograd, nn::Module and the layer registry|kiln|nlohmann_json >= 3"
    "nn|layers, functional, losses, init|kiln_nn|kiln-core = @PROJECT_VERSION@"
    "optim|optimizers and learning-rate schedulers|kiln_optim|kiln-core = @PROJECT_VERSION@"
    "serialize|.kiln files: save, load, checkpoints|kiln_serialize|kiln-nn = @PROJECT_VERSION@"
    "train|Model, fit, callbacks, metrics, progress bar|kiln_train|kiln-serialize = @PROJECT_VERSION@, kiln-optim = @PROJECT_VERSION@")
foreach(_part ${_kiln_pc_parts})
  string(REPLACE "|" ";" _part "${_part}")
  list(GET _part 0 KILN_PC_PART)
  list(GET _part 1 KILN_PC_DESCRIPTION)
  list(GET _part 2 KILN_PC_LIBRARY)
  list(GET _part 3 KILN_PC_REQUIRES)
  string(REPLACE "@PROJECT_VERSION@" "${PROJECT_VERSION}" KILN_PC_REQUIRES "${KILN_PC_REQUIRES}")
  configure_file(${CMAKE_CURRENT_LIST_DIR}/kiln-part.pc.in ${CMAKE_BINARY_DIR}/package/kiln-${KILN_PC_PART}.pc @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/package/kiln-${KILN_PC_PART}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
          COMPONENT core)
endforeach()
foreach(_pc kiln:kiln kiln-datasets:kiln_datasets kiln-vision:kiln_vision kiln-text:kiln_text kiln-c:kiln_c)
  string(REPLACE ":" ";" _pc ${_pc})
  list(GET _pc 0 _file)
  list(GET _pc 1 _target)
  if(TARGET ${_target})
    configure_file(${CMAKE_CURRENT_LIST_DIR}/${_file}.pc.in ${CMAKE_BINARY_DIR}/package/${_file}.pc @ONLY)
    install(FILES ${CMAKE_BINARY_DIR}/package/${_file}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT core)
  endif()
endforeach()

# The folder layer plugins are dropped into (kiln/layer_plugin.hpp), created empty.
install(CODE "file(MAKE_DIRECTORY \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/kiln/layers\")"
        COMPONENT core)
