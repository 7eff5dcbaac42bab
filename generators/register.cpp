#include "generators/register.h"

namespace rareforge::generators {

void register_all() {
  static const bool done = [] {
    register_tvae();
    register_ctgan();
    register_ddpm();
    return true;
  }();
  (void)done;
}

}  // namespace rareforge::generators
