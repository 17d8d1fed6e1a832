#include "kernel/btf_vars.h"

#include <bpf/btf.h>

#include <cstring>

namespace lotto {

static bpf_map *section_map(bpf_object *obj, const std::string &section)
{
	bpf_map *m;
	bpf_object__for_each_map(m, obj)
	{
		if (!bpf_map__is_internal(m))
			continue;
		// libbpf names these "<object prefix>.rodata" etc.
		const char *name = bpf_map__name(m);
		size_t n = strlen(name);
		if (n >= section.size() && section == name + (n - section.size()))
			return m;
	}
	return nullptr;
}

Result<GlobalVar> find_global(bpf_object *obj, const std::string &section, const std::string &var)
{
	GlobalVar g;
	g.map = section_map(obj, section);
	if (!g.map)
		return err("the BPF object has no " + section + " section");
	const btf *b = bpf_object__btf(obj);
	if (!b)
		return err("the BPF object carries no BTF");
	int sec_id = btf__find_by_name_kind(b, section.c_str(), BTF_KIND_DATASEC);
	if (sec_id < 0)
		return err("no BTF datasec " + section + " in the BPF object");
	const btf_type *sec = btf__type_by_id(b, sec_id);
	const btf_var_secinfo *vi = btf_var_secinfos(sec);
	for (unsigned i = 0; i < btf_vlen(sec); i++, vi++) {
		const btf_type *v = btf__type_by_id(b, vi->type);
		if (!v || !btf_is_var(v))
			continue;
		if (var == btf__name_by_offset(b, v->name_off)) {
			g.offset = vi->offset;
			g.size = vi->size;
			return g;
		}
	}
	return err("no variable " + var + " in " + section + " of the BPF object");
}

} // namespace lotto
