// A library shaped like a plugin of Ferry's plugin API 1 or 2: it exports only the old,
// versioned entry symbol. The loader must list it as unusable and say to rebuild it.
extern "C" __attribute__((visibility("default"))) const void* ferry_plugin_entry_v1() {
  return nullptr;
}
