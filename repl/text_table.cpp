#include "text_table.h"

#include <algorithm>

namespace lotto::shell {

size_t display_width(const std::string &s)
{
	size_t n = 0;
	for (unsigned char c : s)
		if ((c & 0xc0) != 0x80)
			n++;
	return n;
}

static std::string cut(const std::string &s, size_t w)
{
	if (display_width(s) <= w)
		return s;
	if (w == 0)
		return "";
	std::string out;
	size_t n = 0;
	for (size_t i = 0; i < s.size() && n < w - 1; i++) {
		out += s[i];
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
		while (i + 1 < s.size() && ((unsigned char)s[i + 1] & 0xc0) == 0x80)
			out += s[++i];
	}
	return out + "~";
}

std::string TextTable::render(int width, bool bold) const
{
	size_t nc = cols_.size();
	std::vector<size_t> w(nc);
	std::vector<bool> keep(nc, true);
	for (size_t c = 0; c < nc; c++) {
		w[c] = display_width(cols_[c].header);
		for (auto &r : rows_)
			if (c < r.size())
				w[c] = std::max(w[c], display_width(r[c]));
	}
	auto total = [&] {
		size_t t = 0, n = 0;
		for (size_t c = 0; c < nc; c++)
			if (keep[c]) {
				t += w[c];
				n++;
			}
		return t + (n ? 2 * (n - 1) : 0);
	};
	if (width > 0) {
		while (total() > (size_t)width) {
			int worst = 0;
			size_t which = nc;
			for (size_t c = 0; c < nc; c++)
				if (keep[c] && cols_[c].drop_rank > worst) {
					worst = cols_[c].drop_rank;
					which = c;
				}
			if (which == nc)
				break;
			keep[which] = false;
		}
		if (total() > (size_t)width)
			for (size_t c = 0; c < nc; c++)
				if (keep[c] && cols_[c].flex) {
					size_t over = total() - width;
					size_t minw = std::min<size_t>(w[c], std::max<size_t>(4, display_width(cols_[c].header)));
					w[c] = std::max(minw, w[c] > over ? w[c] - over : 0);
				}
	}
	std::string out;
	auto line = [&](const std::vector<std::string> &r, bool head) {
		std::string l;
		bool first = true;
		for (size_t c = 0; c < nc; c++) {
			if (!keep[c])
				continue;
			std::string v = cut(c < r.size() ? r[c] : "", w[c]);
			size_t pad = w[c] - display_width(v);
			if (!first)
				l += "  ";
			first = false;
			bool last = true;
			for (size_t d = c + 1; d < nc; d++)
				if (keep[d])
					last = false;
			if (cols_[c].right)
				l += std::string(pad, ' ') + v;
			else
				l += v + (last ? "" : std::string(pad, ' '));
		}
		if (head && bold)
			l = "\033[1m" + l + "\033[0m";
		out += l + "\n";
	};
	std::vector<std::string> head;
	for (auto &c : cols_)
		head.push_back(c.header);
	line(head, true);
	for (auto &r : rows_)
		line(r, false);
	return out;
}

} // namespace lotto::shell
