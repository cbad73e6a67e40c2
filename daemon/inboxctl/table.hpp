#pragma once
// Table: aligned columns for inboxctl's human output. Cells may already carry
// colour (Style::paint); widths count what shows on the terminal. The last
// column is never padded, so long file names simply run on.

#include <string>
#include <vector>

namespace inboxd::inboxctl {

class Table {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string title;
    Align align = Align::kLeft;
  };

  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

  // One cell per column.
  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }

  // The header and every row, each line ending in '\n'.
  std::string render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace inboxd::inboxctl
