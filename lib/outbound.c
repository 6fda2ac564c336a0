/*
 * outbound - the keys of the outbound table (outbound.h).
 */
#include "outbound.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "store.h"

/* lower - n bytes of s lower-cased into out */
static void
lower(char *out, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
}

size_t
outbound_key(char *buf, size_t size, const char *sender, const char *rcpt)
{
	size_t sl = strlen(sender), rl = rcpt ? strlen(rcpt) : 0;
	size_t len = 2 + sl + (rcpt ? 1 + rl : 0);

	if (len > size || sl == 0 || (rcpt != NULL && rl == 0))
		return 0;
	buf[0] = rcpt ? 'r' : 's';
	buf[1] = '\0';
	lower(buf + 2, sender, sl);
	if (rcpt != NULL) {
		buf[2 + sl] = '\0';
		lower(buf + 3 + sl, rcpt, rl);
	}
	return len;
}

bool
outbound_parse(const void *key, size_t klen, char *sender, size_t ssize,
    char *rcpt, size_t rsize)
{
	const char *k = key, *sep;
	size_t sl;

	if (klen < 3 || k[1] != '\0' || (k[0] != 's' && k[0] != 'r'))
		return false;
	sep = k[0] == 'r' ? memchr(k + 2, '\0', klen - 2) : NULL;
	if (k[0] == 'r' && sep == NULL)
		return false;
	sl = sep ? (size_t)(sep - (k + 2)) : klen - 2;
	if (sl == 0 || sl >= ssize)
		return false;
	memcpy(sender, k + 2, sl);
	sender[sl] = '\0';
	rcpt[0] = '\0';
	if (sep != NULL) {
		size_t rl = klen - (size_t)(sep + 1 - k);

		if (rl == 0 || rl >= rsize)
			return false;
		memcpy(rcpt, sep + 1, rl);
		rcpt[rl] = '\0';
	}
	return true;
}

bool
outbound_cover_decode(const void *v, size_t len, struct outbound_cover *c)
{
	const unsigned char *p = v;

	c->since = c->until = c->last = 0;
	if (len != 16 && len != 24)
		return false;
	c->since = (int64_t)store_get_u64(p);
	c->until = (int64_t)store_get_u64(p + 8);
	c->last = len == 24 ? (int64_t)store_get_u64(p + 16) : 0;
	if (c->since < 0 || c->until < c->since || c->last < 0) {
		c->since = c->until = c->last = 0;
		return false;
	}
	return true;
}

size_t
outbound_cover_encode(const struct outbound_cover *c, unsigned char *v)
{
	store_put_u64(v, (uint64_t)c->since);
	store_put_u64(v + 8, (uint64_t)c->until);
	store_put_u64(v + 16, (uint64_t)c->last);
	return 24;
}

struct outbound_cover
outbound_cover_join(const struct outbound_cover *old,
    const struct outbound_cover *add, int64_t gap)
{
	struct outbound_cover u;

	if (old == NULL)
		return *add;
	/* Apart by more than gap: the newer stretch is the coverage. */
	if (old->since == 0 || add->since > old->until + gap) {
		u = *add;
	} else if (add->since == 0 || old->since > add->until + gap) {
		u = *old;
	} else {
		u.since = add->since < old->since ? add->since : old->since;
		u.until = add->until > old->until ? add->until : old->until;
	}
	u.last = add->last > old->last ? add->last : old->last;
	return u;
}

bool
outbound_cover_live(const struct outbound_cover *c, int64_t now,
    int64_t window, int64_t gap, int64_t *starts)
{
	*starts = 0;
	if (c->since == 0 || c->until + gap < now)
		return false;
	if (now - c->since >= window)
		return true;
	*starts = c->since + window;
	return false;
}

bool
outbound_merge_cover(const void *param, size_t plen,
    const struct store_rec *old, struct store_rec *out)
{
	struct outbound_cover o, add, u;
	int64_t gap;

	if (plen != 8 || !outbound_cover_decode(out->val, out->vlen, &add))
		return false;
	gap = (int64_t)store_get_u64(param);
	u = outbound_cover_join(old != NULL && outbound_cover_decode(old->val,
	    old->vlen, &o) ? &o : NULL, &add, gap);
	out->vlen = outbound_cover_encode(&u,
	    (unsigned char *)(uintptr_t)out->val);
	return true;
}
