#include "daemon/inboxctl/table.hpp"

#include <algorithm>

#include "daemon/inboxctl/text.hpp"

namespace inboxd::inboxctl {
namespace {

constexpr std::string_view kGap = "  ";

std::string line(const std::vector<Table::Column>& columns, const std::vector<std::string>& cells,
                 const std::vector<std::size_t>& widths) {
  std::string out;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const std::string& cell = i < cells.size() ? cells[i] : std::string();
    bool last = i + 1 == columns.size();
    auto padding = std::string(widths[i] - std::min(widths[i], display_width(cell)), ' ');
    if (i > 0) out += kGap;
    if (columns[i].align == Table::Align::kRight) {
      out += padding + cell;
    } else {
      out += cell;
      if (!last) out += padding;
    }
  }
  out += '\n';
  return out;
}

}  // namespace

std::string Table::render() const {
  std::vector<std::size_t> widths;
  for (const auto& column : columns_) widths.push_back(display_width(column.title));
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(row[i]));
    }
  }
  std::vector<std::string> titles;
  for (const auto& column : columns_) titles.push_back(column.title);
  std::string out = line(columns_, titles, widths);
  for (const auto& row : rows_) out += line(columns_, row, widths);
  return out;
}

}  // namespace inboxd::inboxctl
