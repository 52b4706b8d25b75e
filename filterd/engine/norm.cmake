# norm.cmake — the normalizer and its generated tables (included by
# filterd/engine/CMakeLists.txt).
#
# gen_normtab (a host program linked with libutf8proc) reads the Unicode
# Character Database of the unicode-data package and Unihan's
# kSimplifiedVariant, and writes normtab.c/normtab.h into the build tree.
# Sets in the including scope:
#   FD_NORM_SOURCES  norm.c and the generated normtab.c (absolute paths)
#   FD_NORM_DEPENDS  the target that generates the tables

set(FD_UNICODE_DIR "/usr/share/unicode" CACHE PATH
    "Unicode Character Database (PropList.txt, DerivedCoreProperties.txt, Unihan_Variants.txt.bz2)")

find_program(FD_BZIP2 bzip2 REQUIRED)

set(_fd_norm_gen_dir ${CMAKE_CURRENT_BINARY_DIR})
set(_fd_unihan_bz2 ${FD_UNICODE_DIR}/Unihan_Variants.txt.bz2)
foreach(_f PropList.txt DerivedCoreProperties.txt Unihan_Variants.txt.bz2)
  if(NOT EXISTS ${FD_UNICODE_DIR}/${_f})
    message(FATAL_ERROR "normalizer: ${FD_UNICODE_DIR}/${_f} not found (install unicode-data, "
                        "or set FD_UNICODE_DIR)")
  endif()
endforeach()

# The generator is a build tool: never sanitized, never cross-compiled here.
add_executable(gen_normtab ${CMAKE_CURRENT_SOURCE_DIR}/gen/gen_normtab.c)
target_link_libraries(gen_normtab PRIVATE PkgConfig::UTF8PROC)
target_compile_options(gen_normtab PRIVATE -fno-sanitize=all)
target_link_options(gen_normtab PRIVATE -fno-sanitize=all)

add_custom_command(
  OUTPUT ${_fd_norm_gen_dir}/Unihan_Variants.txt
  COMMAND ${FD_BZIP2} -dc ${_fd_unihan_bz2} > ${_fd_norm_gen_dir}/Unihan_Variants.txt
  DEPENDS ${_fd_unihan_bz2}
  COMMENT "Decompressing Unihan_Variants.txt"
  VERBATIM)

add_custom_command(
  OUTPUT ${_fd_norm_gen_dir}/normtab.c ${_fd_norm_gen_dir}/normtab.h
  COMMAND gen_normtab ${FD_UNICODE_DIR} ${_fd_norm_gen_dir}/Unihan_Variants.txt
          ${_fd_norm_gen_dir}/normtab.c ${_fd_norm_gen_dir}/normtab.h
  DEPENDS gen_normtab ${_fd_norm_gen_dir}/Unihan_Variants.txt
          ${FD_UNICODE_DIR}/PropList.txt ${FD_UNICODE_DIR}/DerivedCoreProperties.txt
  COMMENT "Generating the normalizer tables (normtab.c)"
  VERBATIM)

add_custom_target(fd_normtab DEPENDS ${_fd_norm_gen_dir}/normtab.c ${_fd_norm_gen_dir}/normtab.h)

set(FD_NORM_SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/norm.c
  ${_fd_norm_gen_dir}/normtab.c)
set(FD_NORM_DEPENDS fd_normtab)
