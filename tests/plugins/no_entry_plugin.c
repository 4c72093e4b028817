/* A shared library that is not a Kiln plugin: it exports a function, but not kiln_backend_init. */
#include <kiln/plugin/kiln_backend.h>

KILN_PLUGIN_EXPORT int not_a_kiln_backend(void) { return 42; }
