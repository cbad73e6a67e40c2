#pragma once
// Turns configuration text into its one YAML document, reporting syntax
// errors, a second document and an empty file to the Diagnostics.
//
// yaml-cpp 0.7 (Debian 12) loops forever, allocating, when a document starts
// with a stray flow token such as ',' (jbeder/yaml-cpp#1040, fixed upstream
// by #1319): YAML::LoadAll never stops returning null documents. A typo in a
// configuration must not take the daemon's memory, so the documents are
// first walked with a bounded parser that notices when it makes no progress,
// and only then is the single document loaded.
//
// Internal to the config module.

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string_view>

#include "daemon/config/diagnostics.hpp"

namespace inboxd::config::detail {

// The root mapping of `yaml`, or nullopt after reporting why there is none.
std::optional<YAML::Node> load_document(Diagnostics& diag, std::string_view yaml);

}  // namespace inboxd::config::detail
