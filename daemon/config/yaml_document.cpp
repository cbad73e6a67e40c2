#include "daemon/config/yaml_document.hpp"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <sstream>
#include <vector>

namespace inboxd::config::detail {
namespace {

// Records where each document starts and ignores everything else.
class DocumentStarts final : public YAML::EventHandler {
 public:
  const std::vector<YAML::Mark>& starts() const { return starts_; }

  void OnDocumentStart(const YAML::Mark& mark) override { starts_.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  std::vector<YAML::Mark> starts_;
};

// Walks at most three documents. A parser that starts a document where the
// previous one started is stuck on a token it cannot consume.
// Returns false after reporting a problem.
bool check_documents(Diagnostics& diag, std::string_view yaml) {
  std::istringstream in{std::string(yaml)};
  YAML::Parser parser(in);
  DocumentStarts handler;
  for (int i = 0; i < 3 && parser.HandleNextDocument(handler); ++i) {
    const auto& starts = handler.starts();
    if (starts.size() >= 2 && starts[starts.size() - 1].pos == starts[starts.size() - 2].pos) {
      const YAML::Mark& stuck = starts.back();
      const auto offset = static_cast<std::size_t>(stuck.pos);
      diag.error(stuck, "",
                 fmt::format("invalid YAML: unexpected {}",
                             quote_value(yaml.substr(std::min(offset, yaml.size()), 1))));
      return false;
    }
  }
  if (handler.starts().size() >= 2) {
    diag.error(handler.starts()[1], "", "only one YAML document is allowed");
    return false;
  }
  return true;
}

}  // namespace

std::optional<YAML::Node> load_document(Diagnostics& diag, std::string_view yaml) {
  YAML::Node root;
  try {
    if (!check_documents(diag, yaml)) return std::nullopt;
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    diag.error(e.mark, "", fmt::format("invalid YAML: {}", e.msg));
    return std::nullopt;
  }
  if (root.IsNull()) {
    diag.error(YAML::Mark::null_mark(), "",
               "the file is empty (it needs at least an inboxes list)");
    return std::nullopt;
  }
  if (!root.IsMap()) {
    diag.error(root.Mark(), "",
               fmt::format("expected a mapping of keys at the top level, got {}", describe(root)));
    return std::nullopt;
  }
  return root;
}

}  // namespace inboxd::config::detail
