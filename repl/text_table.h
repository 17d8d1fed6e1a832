// text_table.h — aligned text tables that fit the terminal: on a terminal,
// the least important columns are dropped and the flexible one is cut until
// the table fits; off a terminal every column is printed in full.
#pragma once

#include <string>
#include <vector>

namespace lotto::shell {

struct Column {
	std::string header;
	bool right = false;	// right-aligned (numbers)
	int drop_rank = 0;	// 0: never dropped; higher ranks go first
	bool flex = false;	// cut this one (with '~') when still too wide
};

class TextTable {
public:
	explicit TextTable(std::vector<Column> cols) : cols_(std::move(cols)) {}
	void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
	size_t size() const { return rows_.size(); }

	// width <= 0: no limit. bold: ANSI bold header (terminals only).
	std::string render(int width, bool bold) const;

private:
	std::vector<Column> cols_;
	std::vector<std::vector<std::string>> rows_;
};

// display width of UTF-8 text (one column per code point; good enough for comm names)
size_t display_width(const std::string &s);

} // namespace lotto::shell
