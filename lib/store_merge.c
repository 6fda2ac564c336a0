/*
 * store_merge - how a put's record meets the record there (store.h): the
 * built-in updates, and the table of named merges, each a pure function
 * of its parameters and the two records that the feature owning it
 * exports; and the table of named transactions (run), each a pure
 * function of its parameters and the records it reads. A backend on a
 * network server keeps a script of each name.
 */
#include "store.h"

#include <string.h>

#include "backscatter.h"
#include "greylist.h"
#include "import.h"
#include "outbound.h"

static const struct store_merge merges[] = {
	{ "backscatter.hit", bs_merge_hit },
	{ "outbound.cover", outbound_merge_cover },
	{ "import.triplet", import_merge_triplet },
	{ "import.client", import_merge_client },
};

static const struct store_script scripts[] = {
	{ GL_SCRIPT, GL_NRECS, gl_judge },
};

const struct store_script *
store_script_find(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < sizeof(scripts) / sizeof(scripts[0]);
	    i++)
		if (strcmp(scripts[i].name, name) == 0)
			return &scripts[i];
	return NULL;
}

const struct store_script *
store_run_check(const char *script, const struct store_tkey *keys, size_t n,
    size_t plen, struct why *why)
{
	const struct store_script *s = store_script_find(script);
	size_t k;

	if (s == NULL) {
		why_set(why, "no transaction named \"%.40s\"",
		    script ? script : "");
		return NULL;
	}
	if (n != s->nkeys || n > STORE_RUN_KEYS) {
		why_set(why, "%s: %zu keys, not %zu", s->name, n, s->nkeys);
		return NULL;
	}
	if (plen > STORE_PARAM_MAX) {
		why_set(why, "%s: parameters of %zu bytes, longer than %d",
		    s->name, plen, STORE_PARAM_MAX);
		return NULL;
	}
	for (k = 0; k < n; k++) {
		if (keys[k].klen > STORE_KEY_MAX) {
			why_set(why, "%s: key %zu of %zu bytes", s->name, k,
			    keys[k].klen);
			return NULL;
		}
		/* its table is checked where it is opened, before a
		 * write */
		if (keys[k].klen > 0 && keys[k].table == NULL) {
			why_set(why, "%s: key %zu in no table", s->name, k);
			return NULL;
		}
	}
	return s;
}

const struct store_merge *
store_merge_find(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < sizeof(merges) / sizeof(merges[0]);
	    i++)
		if (strcmp(merges[i].name, name) == 0)
			return &merges[i];
	return NULL;
}

bool
store_update_apply(const struct store_rec *in, const struct store_rec *old,
    struct store_rec *out, int *err, struct why *why)
{
	const struct store_update *u = in->upd;
	const struct store_merge *m;

	*err = 0;
	if (u == NULL || u->kind == STORE_UPD_SET)
		return true;
	switch (u->kind) {
	case STORE_UPD_IF_ABSENT:
		return old == NULL;
	case STORE_UPD_LATER:
		return old == NULL || old->vlen < 8 || in->vlen < 8 ||
		    store_get_u64(in->val) > store_get_u64(old->val);
	case STORE_UPD_MERGE:
		if ((m = store_merge_find(u->merge)) == NULL) {
			why_set(why, "no merge named \"%.40s\"",
			    u->merge ? u->merge : "");
			*err = -1;
			return false;
		}
		if (u->plen > STORE_PARAM_MAX) {
			why_set(why, "%s: parameters of %zu bytes, longer than "
				     "%d", m->name, u->plen, STORE_PARAM_MAX);
			*err = -1;
			return false;
		}
		return m->fn(u->param, u->plen, old, out);
	default:
		why_set(why, "an update of unknown kind %d", (int)u->kind);
		*err = -1;
		return false;
	}
}
