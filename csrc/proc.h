/*
 * proc.h - the process table: who holds which shared object, so that what
 * a dead process held is given back.
 *
 * Every process that holds cmp objects has an entry in a table inside the
 * arena (a region between the range map and the data, arena.h).  The entry
 * names the process by its pid *and its start time* (owner.h), so a reused
 * pid is never taken for the dead process, and points to its holdings: an
 * open-addressing table, in an arena block, of (object offset, count) --
 * how many of the object's shared references this process's wrappers hold.
 * Only the process itself writes its holdings while it lives; a reaper
 * reads them once the process is dead, gives each count back to its object
 * (cmp_obj_release) and frees the entry.
 *
 *   entry word (64 bits, compare-exchanged)
 *
 *     bits  0..2   state: FREE, PREPARING, FORKING, ALIVE, REAPING
 *     bits  3..33  seq: bumped by every claim, so a reaper that read an
 *                  entry never acts on its next occupant
 *     bits 34..63  REAPING: the reaper's owner token (owner.h), so a reaper
 *                  that dies is replaced
 *
 *   FREE --claim--> PREPARING --> ALIVE        a process attaching itself
 *   FREE --claim--> PREPARING --> FORKING --> ALIVE
 *                                 a fork's child: prepared by the parent
 *                                 (its holdings are the parent's wrappers,
 *                                 whose references the parent takes for
 *                                 it), named by the parent after fork()
 *                                 returns and by the child when it runs
 *   ALIVE / named FORKING --found dead--> REAPING --given back--> FREE
 *   PREPARING --its creator found dead--> REAPING (no fork happened)
 *   FREE --claim--> PREPARING --> FORKING --> ALIVE
 *                                 a spawned child's start entry: what its
 *                                 parent pickled for it, counted while
 *                                 pickling (the child adopts it)
 *   ALIVE --the process leaves (cmp_proc_leave)--> FREE
 *
 * Order, so that a death at any instruction errs on the side of a leak
 * and never frees what someone still uses: a reference is taken before it
 * is counted in the holdings, and uncounted before it is dropped; a
 * reaper zeroes a count before it gives it back.  What a death can cost:
 *
 *   - inside hold/unhold: one reference of one object (the object leaks);
 *   - while the holdings table grows: one holdings block;
 *   - a parent killed between fork() and naming its child (a few
 *     instructions), or a fork that failed: the entry prepared for the
 *     child stays FORKING until the child names it, so if the child never
 *     runs, what was taken for it leaks (never freed under a live child);
 *   - a reaper killed while giving back: the count in hand; another
 *     reaper finishes the rest.
 *
 * References that no process holds are not in any table: pickled
 * references still in flight (a message in a queue, a spawned child's
 * start-up data) and those kept by a cmp.Dict's stored values.  A process
 * killed with such a reference in hand loses it.
 *
 * Concurrency: an entry's holdings are written by one thread at a time
 * (the binding holds the GIL); claims, naming and reaping are
 * compare-exchanges on the entry word.
 */
#ifndef CMP_PROC_H
#define CMP_PROC_H

#include <stdint.h>

#include "arena.h"

#define CMP_PROC_NONE UINT32_MAX        /* no entry */
#define CMP_PROC_MAX 4095u              /* entries in the table */
#define CMP_PROC_REGION (64u * 4096u)   /* bytes of the table (arena.c) */

/* Called for an object whose references a reaper gives back: drop `n` of
 * them and, when they were the last, destroy and free the object. */
typedef void (*cmp_proc_release_fn)(cmp_arena *a, uint64_t off, uint32_t n);

/* This process's entry (CMP_PROC_NONE before attach and after leave). */
uint32_t cmp_proc_self(void);

/* Claim an entry for this process itself (once its arena is mapped, or
 * after leaving).  Returns 0, or EAGAIN when the table is full (this
 * process then holds its references unaccounted, as if no table). */
int cmp_proc_attach(cmp_arena *a);

/* Count `n` more references of the object at `off` in entry `idx` (the
 * references already taken).  Returns 0 or ENOMEM (nothing counted: the
 * caller gives the references back). */
int cmp_proc_hold(cmp_arena *a, uint32_t idx, uint64_t off, uint32_t n);
/* Uncount `n` references (before they are dropped). */
void cmp_proc_unhold(cmp_arena *a, uint32_t idx, uint64_t off, uint32_t n);

/* Before fork(): claim the child's entry; the caller then takes the
 * child's references and counts them in it (cmp_proc_hold).  Returns the
 * entry, or CMP_PROC_NONE when the table is full. */
uint32_t cmp_proc_prepare_child(cmp_arena *a);
/* Right before fork(): the prepared entry may now have a child. */
void cmp_proc_forking(cmp_arena *a, uint32_t idx);
/* Give a prepared entry back (its references are released), unless a
 * process named it meanwhile.  1 when given back. */
int cmp_proc_abandon(cmp_arena *a, uint32_t idx, cmp_proc_release_fn rel);
/* Name a FORKING entry's process: by the parent (pid from the kernel) or
 * by the child itself (pid = its own).  Returns 0, or ESRCH when `pid`
 * is already gone (the parent then abandons the entry). */
int cmp_proc_name(cmp_arena *a, uint32_t idx, uint32_t pid);
/* In the child after fork(): the prepared entry is this process's. */
void cmp_proc_become(cmp_arena *a, uint32_t idx);

/* A process started by spawn or forkserver: its parent counted the
 * references it pickled for it in a start entry (prepared and named as a
 * fork's child's, by pid once it is known); the child adopts that entry
 * when it rebuilds the first of them.  0, ESTALE when the parent gave the
 * entry up (or it is not this process's), EINVAL for a second one. */
int cmp_proc_adopt(cmp_arena *a, uint32_t idx);
/* Is `idx` this process's entry or its adopted start entry? */
int cmp_proc_owns(uint32_t idx);

/* This process lets go of its entries: what they still count is given
 * back, their blocks freed. */
void cmp_proc_leave(cmp_arena *a, cmp_proc_release_fn rel);

/* Find dead processes and give back what they held.  Returns how many
 * entries were reaped.  `force` 0: only when no process of the tree has
 * scanned for CMP_PROC_SCAN_NS (the periodic check); 1: now. */
#define CMP_PROC_SCAN_NS 1000000000ull
int cmp_proc_reap(cmp_arena *a, cmp_proc_release_fn rel, int force);

/* Does entry idx count no reference at all? */
int cmp_proc_counts_nothing(cmp_arena *a, uint32_t idx);

/* For tests: entries in use, and the count this process's entry holds. */
uint32_t cmp_proc_in_use(cmp_arena *a);
uint32_t cmp_proc_count(cmp_arena *a, uint32_t idx, uint64_t off);

#endif /* CMP_PROC_H */
