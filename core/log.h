// Warnings and notes for the user, on stderr ("rareforge: warning: ..."). Each distinct message
// is printed once per process (a sampler that lowers k for every class says so once per class,
// not once per row). Silenced by set_quiet(true) (the CLI's --quiet).
#pragma once

#include <string>

#include <fmt/format.h>

namespace rareforge {

void set_quiet(bool quiet);
bool is_quiet();
/// Print "rareforge: warning: <msg>" once per distinct message.
void warn_once(const std::string& msg);
/// Print "rareforge: <msg>" (informational), once per distinct message.
void note_once(const std::string& msg);
/// Number of warnings issued so far (tests use it).
size_t warning_count();

}  // namespace rareforge
