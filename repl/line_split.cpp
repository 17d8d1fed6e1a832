#include "line_split.h"

namespace lotto::shell {

namespace {

bool blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

struct Splitter {
	std::string_view line;
	SplitResult out;
	Statement cur;
	Word word;
	bool in_word = false;
	size_t stmt_begin = 0;

	void end_word(size_t at)
	{
		if (!in_word)
			return;
		word.end = at;
		cur.words.push_back(std::move(word));
		word = Word{};
		in_word = false;
	}
	void end_statement(size_t at)
	{
		end_word(at);
		std::string_view raw = line.substr(stmt_begin, at - stmt_begin);
		size_t b = 0;
		while (b < raw.size() && blank(raw[b]))
			b++;
		size_t e = raw.size();
		while (e > b && blank(raw[e - 1]))
			e--;
		cur.raw = std::string(raw.substr(b, e - b));
		cur.begin = stmt_begin + b;
		if (!cur.words.empty())
			out.statements.push_back(std::move(cur));
		cur = Statement{};
		stmt_begin = at + 1;
	}
	void run()
	{
		char quote = 0;
		for (size_t i = 0; i < line.size(); i++) {
			char c = line[i];
			if (quote) {
				if (c == quote)
					quote = 0;
				else if (c == '\\' && quote == '"' && i + 1 < line.size())
					word.text += line[++i];
				else
					word.text += c;
				continue;
			}
			if (blank(c)) {
				end_word(i);
				continue;
			}
			if (c == ';') {
				end_statement(i);
				continue;
			}
			if (!in_word) {
				in_word = true;
				word.begin = i;
			}
			if (c == '\'' || c == '"')
				quote = c;
			else if (c == '\\' && i + 1 < line.size())
				word.text += line[++i];
			else
				word.text += c;
		}
		if (quote)
			out.error = std::string("unterminated ") + (quote == '"' ? "double" : "single") +
				    " quote: close it or escape it with a backslash";
		end_statement(line.size());
	}
};

} // namespace

SplitResult split_line(std::string_view line)
{
	Splitter s{line, {}, {}, {}, false, 0};
	s.run();
	return std::move(s.out);
}

CursorContext context_at(std::string_view line, size_t cursor)
{
	if (cursor > line.size())
		cursor = line.size();
	std::string_view before = line.substr(0, cursor);
	SplitResult r = split_line(before);
	CursorContext ctx;
	// the statement the cursor is in: the last one unless the text ends in ';'
	size_t last_semi = std::string_view::npos;
	{
		char quote = 0;
		for (size_t i = 0; i < before.size(); i++) {
			char c = before[i];
			if (quote) {
				if (c == quote)
					quote = 0;
				else if (c == '\\')
					i++;
			} else if (c == '\'' || c == '"')
				quote = c;
			else if (c == '\\')
				i++;
			else if (c == ';')
				last_semi = i;
		}
	}
	size_t stmt_start = last_semi == std::string_view::npos ? 0 : last_semi + 1;
	if (!r.statements.empty() && r.statements.back().begin >= stmt_start) {
		ctx.words = r.statements.back().words;
		ctx.raw_before = r.statements.back().raw;
	}
	ctx.new_word = before.empty() || before.size() == stmt_start || ctx.words.empty() ||
		       ctx.words.back().end < before.size();
	if (!ctx.words.empty() && ctx.words.back().end == before.size() && !r.error.empty())
		ctx.new_word = false;	// inside an open quote
	return ctx;
}

std::string quote_word(std::string_view w)
{
	bool needs = w.empty();
	for (char c : w)
		if (blank(c) || c == ';' || c == '\'' || c == '"' || c == '\\')
			needs = true;
	if (!needs)
		return std::string(w);
	std::string out = "'";
	for (char c : w) {
		if (c == '\'')
			out += "'\\''";
		else
			out += c;
	}
	return out + "'";
}

} // namespace lotto::shell
