/*
 * Fuzz harness: reading a fuzz input: bytes from the front, record
 * boundaries, 4-byte edits applied to a recorded flight (see common.h).
 */

#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "common.h"


/* ---- the input reader -------------------------------------------------- */

unsigned
fz_byte(fz_reader *r)
{
    if (r->left == 0) {
        return 0;
    }

    r->left--;
    return *r->p++;
}


unsigned
fz_u16(fz_reader *r)
{
    unsigned  hi = fz_byte(r);

    return (hi << 8) | fz_byte(r);
}


/* ---- record headers ---------------------------------------------------- */

size_t
fz_record_offsets(const uint8_t *p, size_t len, size_t *off, size_t max)
{
    size_t  pos = 0, n = 0, rlen;

    while (pos + 5 <= len && n < max) {
        off[n++] = pos;
        rlen = ((size_t) p[pos + 3] << 8) | p[pos + 4];
        pos += 5 + rlen;
    }

    return n;
}

/* ---- edits ------------------------------------------------------------- */

void
fz_apply_edits(const uint8_t *orig, size_t len, const uint8_t *edits,
    size_t nedits, fz_buf *out)
{
    size_t    rec[512], nrec, i, pos, n, cur;
    unsigned  op, a, b, val, k;

    out->len = 0;
    fz_buf_add(out, orig, len);
    fz_buf_add(out, "", 1);          /* room for a position at the end */
    out->len--;

    nrec = fz_record_offsets(orig, len, rec, 512);

    for (i = 0; i < nedits; i++) {
        op = edits[4 * i];
        a = edits[4 * i + 1];
        b = edits[4 * i + 2];
        val = edits[4 * i + 3];
        cur = out->len;

        if ((op & 4) && nrec > 0) {
            pos = rec[a % nrec] + b % 5;         /* in a record header */
        } else {
            pos = ((size_t) a << 8) | b;
        }

        pos = cur ? pos % (cur + 1) : 0;

        switch (op & 3) {

        case 0:                                  /* XOR */
            if (pos < cur) {
                out->data[pos] ^= (uint8_t) (val ? val : 0xff);
            }
            break;

        case 1:                                  /* insert 1..16 bytes */
            n = 1 + (op >> 4);
            for (k = 0; k < n; k++) {
                fz_buf_add(out, "", 1);
            }
            memmove(out->data + pos + n, out->data + pos, cur - pos);
            memset(out->data + pos, (int) val, n);
            break;

        case 2:                                  /* delete 1..16 bytes */
            n = 1 + (val & 15);
            if (pos + n > cur) {
                n = cur - pos;
            }
            memmove(out->data + pos, out->data + pos + n, cur - pos - n);
            out->len -= n;
            break;

        default:                                 /* overwrite */
            if (pos < cur) {
                out->data[pos] = (uint8_t) val;
            }
            break;
        }
    }
}
