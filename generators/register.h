// Registration of the deep generators into core's generator registry (core/generator.h).
// Programs that link rareforge_generators call register_all() once before make_generator();
// the CLI loads the LibTorch extension instead (tools/extension.h), which calls it.
#pragma once

namespace rareforge::generators {

void register_tvae();   ///< generators/tvae.cpp
void register_ctgan();  ///< generators/ctgan.cpp
void register_ddpm();   ///< generators/ddpm.cpp
/// All of the above; idempotent.
void register_all();

}  // namespace rareforge::generators
