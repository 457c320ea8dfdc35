/*
 * heapmap: which allocations own a process's resident heap pages, and
 * which big blocks wrote fresh pages.  A preloaded library for measuring
 * idle memory per connection (bench/run's idle case), where malloc sizes
 * say little: a 16 KiB proxy buffer costs one page or four depending on
 * what held its memory before.
 *
 *   cc -O1 -g -shared -fPIC bench/heapmap.c -o build/bench/heapmap.so -ldl
 *   LD_PRELOAD=build/bench/heapmap.so nginx ...   (master_process off)
 *   gdb -p PID -batch -ex 'call (void) heapmap_dump("/tmp/heap.txt")'
 *
 * Every live allocation is recorded with its call stack.  The dump groups
 * them by call site and size: how many, their bytes, and the resident
 * bytes they own (each resident page of /proc/self/pagemap is shared
 * among the live blocks on it in proportion to their bytes on it).  Then,
 * for blocks of 4 KiB or more, freed and live: how many of their pages
 * became resident while they were allocated, that is, were first written
 * by their owner rather than by an earlier one.
 *
 * A measuring tool: one thread, slow (a backtrace per allocation), its
 * tables outside the heap.  Not built by make.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>


#define HM_SLOTS   (1u << 22)          /* live allocations at most */
#define HM_SITES   4096
#define HM_DEPTH   7                   /* frames kept; 2 skipped */
#define HM_BIG     4096UL
#define HM_PAGE    4096UL


typedef struct {
    uintptr_t   p;                     /* 0: empty, 1: deleted */
    size_t      n;
    void       *bt[HM_DEPTH];
    int         res0;                  /* big: resident pages at malloc */
} hm_rec;

typedef struct {
    void       *bt[HM_DEPTH];
    size_t      n;
    size_t      count;
    size_t      bytes;
    double      resident;
    long        fresh;
} hm_site;


extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

void heapmap_dump(const char *path);


static hm_rec         *hm_tab;
static hm_site         hm_freed[HM_SITES];
static int             hm_nfreed;
static int             hm_pagemap = -1;
static __thread int    hm_inside;


static void *
hm_map(size_t size)
{
    return mmap(NULL, size, PROT_READ|PROT_WRITE,
                MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0);
}


static uint32_t
hm_hash(uintptr_t p)
{
    return (uint32_t) ((p >> 4) * 2654435761u) & (HM_SLOTS - 1);
}


static int
hm_resident(uintptr_t a, size_t n)
{
    int        c = 0;
    uint64_t   e[64];
    uintptr_t  i, first = a / HM_PAGE, last = (a + n + HM_PAGE - 1) / HM_PAGE;

    if (hm_pagemap < 0) {
        hm_pagemap = open("/proc/self/pagemap", O_RDONLY);
    }

    if (last - first > 64) {
        last = first + 64;
    }

    if (pread(hm_pagemap, e, (last - first) * 8, first * 8) <= 0) {
        return 0;
    }

    for (i = 0; i < last - first; i++) {
        c += (int) (e[i] >> 63);
    }

    return c;
}


static hm_site *
hm_site_of(hm_site *sites, int *nsites, const hm_rec *r)
{
    int  i;

    for (i = 0; i < *nsites; i++) {
        if (sites[i].n == r->n
            && memcmp(sites[i].bt + 2, r->bt + 2,
                      sizeof(void *) * (HM_DEPTH - 2)) == 0)
        {
            return &sites[i];
        }
    }

    if (*nsites == HM_SITES) {
        return &sites[HM_SITES - 1];     /* the rest, lumped */
    }

    memcpy(sites[i].bt, r->bt, sizeof(r->bt));
    sites[i].n = r->n;
    (*nsites)++;
    return &sites[i];
}


static void
hm_add(void *p, size_t n)
{
    uint32_t  i;

    if (p == NULL) {
        return;
    }

    if (hm_tab == NULL) {
        hm_tab = hm_map(HM_SLOTS * sizeof(hm_rec));
    }

    for (i = hm_hash((uintptr_t) p); hm_tab[i].p > 1; i = (i + 1) & (HM_SLOTS - 1))
    {
        /* void */
    }

    hm_tab[i].p = (uintptr_t) p;
    hm_tab[i].n = n;
    memset(hm_tab[i].bt, 0, sizeof(hm_tab[i].bt));

    if (!hm_inside) {
        hm_inside = 1;
        backtrace(hm_tab[i].bt, HM_DEPTH);
        hm_tab[i].res0 = n >= HM_BIG ? hm_resident((uintptr_t) p, n) : 0;
        hm_inside = 0;
    }
}


static void
hm_del(void *p)
{
    uint32_t  i;
    hm_site  *s;

    if (p == NULL || hm_tab == NULL) {
        return;
    }

    for (i = hm_hash((uintptr_t) p); hm_tab[i].p; i = (i + 1) & (HM_SLOTS - 1))
    {
        if (hm_tab[i].p != (uintptr_t) p) {
            continue;
        }

        if (hm_tab[i].n >= HM_BIG && !hm_inside) {
            s = hm_site_of(hm_freed, &hm_nfreed, &hm_tab[i]);
            s->count++;
            s->fresh += hm_resident(hm_tab[i].p, hm_tab[i].n)
                        - hm_tab[i].res0;
        }

        hm_tab[i].p = 1;
        return;
    }
}


void *
malloc(size_t n)
{
    void  *p = __libc_malloc(n);

    hm_add(p, n);
    return p;
}


void *
calloc(size_t n, size_t size)
{
    void  *p = __libc_calloc(n, size);

    hm_add(p, n * size);
    return p;
}


void *
realloc(void *old, size_t n)
{
    void  *p = __libc_realloc(old, n);

    if (p != NULL || n == 0) {
        hm_del(old);
    }

    hm_add(p, n);
    return p;
}


void
free(void *p)
{
    hm_del(p);
    __libc_free(p);
}


void *
memalign(size_t align, size_t n)
{
    void  *p = __libc_memalign(align, n);

    hm_add(p, n);
    return p;
}


void *
aligned_alloc(size_t align, size_t n)
{
    return memalign(align, n);
}


int
posix_memalign(void **out, size_t align, size_t n)
{
    void  *p = __libc_memalign(align, n);

    if (p == NULL) {
        return 12;      /* ENOMEM */
    }

    hm_add(p, n);
    *out = p;
    return 0;
}


static int
hm_by_address(const void *a, const void *b)
{
    const hm_rec  *x = a, *y = b;

    return x->p < y->p ? -1 : x->p > y->p;
}


static int
hm_by_resident(const void *a, const void *b)
{
    const hm_site  *x = a, *y = b;

    return x->resident < y->resident ? 1 : x->resident > y->resident ? -1 : 0;
}


static void
hm_print_site(FILE *f, const hm_site *s)
{
    int       i;
    Dl_info   d;

    for (i = 2; i < HM_DEPTH && s->bt[i]; i++) {
        if (!dladdr(s->bt[i], &d)) {
            fprintf(f, " %p", s->bt[i]);

        } else if (d.dli_sname) {
            fprintf(f, " %s+%lx", d.dli_sname,
                    (unsigned long) ((char *) s->bt[i] - (char *) d.dli_saddr));

        } else {
            fprintf(f, " %s:%lx", strrchr(d.dli_fname, '/') + 1,
                    (unsigned long) ((char *) s->bt[i] - (char *) d.dli_fbase));
        }
    }

    fprintf(f, "\n");
}


/* Blocks of at least HM_BIG bytes: pages first written in their life. */
static void
hm_print_fresh(FILE *f, const char *which, const hm_site *sites, size_t n)
{
    size_t  i;

    fprintf(f, "--- blocks >= %lu B %s: pages first written in their "
            "life\n", HM_BIG, which);

    for (i = 0; i < n; i++) {
        fprintf(f, "%8zu x %7zu B  fresh pages %6ld (%.2f each) |",
                sites[i].count, sites[i].n, sites[i].fresh,
                (double) sites[i].fresh / sites[i].count);
        hm_print_site(f, &sites[i]);
    }
}


void
heapmap_dump(const char *path)
{
    int         nsites = 0, nbig = 0, i;
    FILE       *f;
    size_t      nlive = 0, k, j, bytes = 0;
    double      owned = 0, *res;
    hm_rec     *live;
    hm_site    *sites, *big;
    uint64_t    e;
    uintptr_t   pg, s, t, done = 0;

    hm_inside = 1;

    live = hm_map(HM_SLOTS * sizeof(hm_rec));
    sites = hm_map(HM_SITES * sizeof(hm_site));
    big = hm_map(HM_SITES * sizeof(hm_site));

    for (k = 0; k < HM_SLOTS; k++) {
        if (hm_tab != NULL && hm_tab[k].p > 1) {
            live[nlive++] = hm_tab[k];
        }
    }

    qsort(live, nlive, sizeof(hm_rec), hm_by_address);
    res = hm_map(nlive * sizeof(double) + 1);

    /* each resident page, shared among the blocks on it by their bytes */

    for (k = 0, i = 0; i < (int) nlive; i++) {
        for (pg = live[i].p & ~(HM_PAGE - 1); pg < live[i].p + live[i].n;
             pg += HM_PAGE)
        {
            size_t  cover = 0;

            if (done && pg <= done) {
                continue;
            }

            done = pg;

            if (pread(hm_pagemap, &e, 8, (pg / HM_PAGE) * 8) != 8
                || !(e >> 63))
            {
                continue;
            }

            while (k < nlive && live[k].p + live[k].n <= pg) {
                k++;
            }

            for (j = k; j < nlive && live[j].p < pg + HM_PAGE; j++) {
                s = live[j].p > pg ? live[j].p : pg;
                t = live[j].p + live[j].n < pg + HM_PAGE
                    ? live[j].p + live[j].n : pg + HM_PAGE;
                cover += t > s ? t - s : 0;
            }

            for (j = k; j < nlive && live[j].p < pg + HM_PAGE; j++) {
                s = live[j].p > pg ? live[j].p : pg;
                t = live[j].p + live[j].n < pg + HM_PAGE
                    ? live[j].p + live[j].n : pg + HM_PAGE;
                if (t > s) {
                    res[j] += (double) HM_PAGE * (t - s) / cover;
                }
            }
        }
    }

    for (k = 0; k < nlive; k++) {
        hm_site  *st = hm_site_of(sites, &nsites, &live[k]);

        st->count++;
        st->bytes += live[k].n;
        st->resident += res[k];
        owned += res[k];
        bytes += live[k].n;

        if (live[k].n >= HM_BIG) {
            st = hm_site_of(big, &nbig, &live[k]);
            st->count++;
            st->fresh += hm_resident(live[k].p, live[k].n) - live[k].res0;
        }
    }

    qsort(sites, nsites, sizeof(hm_site), hm_by_resident);

    f = fopen(path, "w");
    if (f == NULL) {
        hm_inside = 0;
        return;
    }

    fprintf(f, "live blocks %zu, %zu bytes, resident bytes owned %.0f\n",
            nlive, bytes, owned);

    for (i = 0; i < nsites; i++) {
        fprintf(f, "%8zu x %7zu B  alloc %10zu  resident %10.0f |",
                sites[i].count, sites[i].n, sites[i].bytes,
                sites[i].resident);
        hm_print_site(f, &sites[i]);
    }

    hm_print_fresh(f, "freed", hm_freed, hm_nfreed);
    hm_print_fresh(f, "live", big, nbig);

    fclose(f);

    munmap(res, nlive * sizeof(double) + 1);
    munmap(big, HM_SITES * sizeof(hm_site));
    munmap(sites, HM_SITES * sizeof(hm_site));
    munmap(live, HM_SLOTS * sizeof(hm_rec));

    hm_inside = 0;
}
