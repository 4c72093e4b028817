/* A layer plugin as one built against Kiln 7.2.0 would look to this host: its entry point
 * reports another major version. The host must refuse it, naming both versions, without reading
 * anything past the version fields (whose layout every Kiln keeps). Plain C so the test builds
 * it in a blink. */
#include <stdint.h>

typedef struct other_desc {
  uint32_t struct_size;
  uint32_t kiln_version_major, kiln_version_minor, kiln_version_patch;
  const char* name;
  const char* version;
} other_desc;

__attribute__((visibility("default"))) const other_desc* kiln_layer_plugin_init(uint32_t host_major,
                                                                                uint32_t host_minor,
                                                                                uint32_t host_patch) {
  static other_desc desc = {sizeof(other_desc), 7, 2, 0, "from-the-future", "1.0"};
  (void)host_major;
  (void)host_minor;
  (void)host_patch;
  return &desc;
}
