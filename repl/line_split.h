// line_split.h — a command line into statements (split on ';') and words
// (split on blanks), with '...' and "..." quoting and backslash escapes, and
// the byte offsets completion needs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lotto::shell {

struct Word {
	std::string text;	// unquoted
	size_t begin = 0;	// offsets in the original line
	size_t end = 0;
};

struct Statement {
	std::vector<Word> words;
	std::string raw;	// the statement's text, trimmed
	size_t begin = 0;	// offset of raw in the line
};

struct SplitResult {
	std::vector<Statement> statements;	// empty statements dropped
	std::string error;			// "unterminated quote", ...
};

SplitResult split_line(std::string_view line);

// Words of the statement that contains `cursor`, and whether the cursor
// starts a new word (after a blank) or sits in the last one.
struct CursorContext {
	std::vector<Word> words;	// up to the cursor
	bool new_word = true;		// the cursor is after a blank (or at the start)
	std::string raw_before;		// the statement's raw text up to the cursor
};
CursorContext context_at(std::string_view line, size_t cursor);

// Quote a word for the shell's syntax when it needs it.
std::string quote_word(std::string_view w);

} // namespace lotto::shell
