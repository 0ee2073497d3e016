# GPU support, an optional feature. Sets FERRY_HAVE_CUDA (the CUDA runtime and toolkit
# headers: VRAM memory), FERRY_HAVE_CUDA_KERNELS (nvcc: the KV engine's GPU path) and
# FERRY_HAVE_CUFILE (cuFile: the GDS and GDS_MT plugins). Nothing here needs a GPU: CI compiles every GPU source on a machine without
# one, and the GPU tests skip themselves there.
#
# cuFile comes from the CUDA toolkit (/usr/local/cuda/include/cufile.h) or, where the
# toolkit lacks it, from the nvidia-cufile wheel that scripts/install-deps.sh puts in
# .venv; FERRY_CUFILE_ROOT names another directory holding include/cufile.h and lib/.
set(FERRY_CUDA AUTO CACHE STRING "GPU support: AUTO (when the CUDA toolkit is found), ON, OFF")
set_property(CACHE FERRY_CUDA PROPERTY STRINGS AUTO ON OFF)
set(FERRY_CUFILE_ROOT "" CACHE PATH "Directory with include/cufile.h and lib/libcufile.so*")
set(FERRY_HAVE_CUDA OFF)
set(FERRY_HAVE_CUDA_KERNELS OFF)
set(FERRY_HAVE_CUFILE OFF)

if(NOT FERRY_CUDA STREQUAL "OFF")
  if(FERRY_CUDA STREQUAL "ON")
    find_package(CUDAToolkit REQUIRED)
  else()
    find_package(CUDAToolkit QUIET)
  endif()
endif()

if(CUDAToolkit_FOUND)
  set(FERRY_HAVE_CUDA ON)
  file(GLOB _ferry_wheel_roots "${CMAKE_SOURCE_DIR}/.venv/lib/python3*/site-packages/nvidia/cu*")
  set(_ferry_cufile_hints ${FERRY_CUFILE_ROOT} ${CUDAToolkit_LIBRARY_ROOT} ${_ferry_wheel_roots})
  find_path(CUFILE_INCLUDE cufile.h HINTS ${CUDAToolkit_INCLUDE_DIRS} PATHS ${_ferry_cufile_hints}
            PATH_SUFFIXES include targets/x86_64-linux/include)
  # The wheel ships only the versioned name.
  find_library(CUFILE_LIB NAMES cufile libcufile.so.0 HINTS ${CUDAToolkit_LIBRARY_DIR}
               PATHS ${_ferry_cufile_hints} PATH_SUFFIXES lib lib64)
  if(CUFILE_INCLUDE AND CUFILE_LIB)
    set(FERRY_HAVE_CUFILE ON)
    add_library(ferry_cufile SHARED IMPORTED)
    set_target_properties(ferry_cufile PROPERTIES IMPORTED_LOCATION ${CUFILE_LIB}
                          INTERFACE_INCLUDE_DIRECTORIES ${CUFILE_INCLUDE})
    message(STATUS "Ferry: CUDA ${CUDAToolkit_VERSION}; cuFile ${CUFILE_LIB}")
  else()
    message(WARNING "Ferry: CUDA ${CUDAToolkit_VERSION} found, but not cuFile (cufile.h: "
                    "${CUFILE_INCLUDE}, libcufile: ${CUFILE_LIB}): the GDS and GDS_MT plugins are "
                    "skipped. scripts/install-deps.sh installs the nvidia-cufile wheel into .venv.")
  endif()
elseif(FERRY_CUDA STREQUAL "AUTO")
  message(STATUS "Ferry: no CUDA toolkit found: building without GPU support")
endif()

# The KV engine's kernels (src/kv/gpu). Real code for Ampere and Hopper, PTX that any later
# GPU compiles at load; CMAKE_CUDA_ARCHITECTURES overrides.
if(FERRY_HAVE_CUDA)
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS "${CUDAToolkit_BIN_DIR}/nvcc")
    set(CMAKE_CUDA_COMPILER "${CUDAToolkit_BIN_DIR}/nvcc")
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES "80-real;90-real;75-virtual")
    endif()
    enable_language(CUDA)
    set(FERRY_HAVE_CUDA_KERNELS ON)
  else()
    message(WARNING "Ferry: CUDA ${CUDAToolkit_VERSION} found without nvcc: the KV engine is "
                    "built without its GPU path (nixl_buffer_device cuda)")
  endif()
endif()
