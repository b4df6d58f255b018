/* migrations.c - access to the embedded migration table.
 *
 * The table itself is generated (scripts/embed_sql.py), which already
 * refuses gaps and duplicates; the asserts here restate that invariant for
 * readers of the back ends, which rely on migration i having version i + 1. */
#include "migrations.h"

#include <assert.h>

size_t vg_migrations_count(void) { return vg_migrations_embedded_count; }

const vg_migration *vg_migration_at(size_t i) {
  if (i >= vg_migrations_embedded_count) return NULL;
  assert(vg_migrations_embedded[i].version == (int)i + 1);
  return &vg_migrations_embedded[i];
}

int vg_migrations_latest(void) { return (int)vg_migrations_embedded_count; }
