/* migrations.h - the schema migrations compiled into the binary.
 *
 * Migrations are numbered SQL files under src/store/migrations/
 * (0001_foundation.sql, ...). scripts/embed_sql.py turns them into a table
 * at build time, so the binary carries its schema and needs no files at run
 * time. A back end applies, in order and each in one transaction, every
 * migration whose version is above the newest one recorded in the database.
 * Applied migrations are never edited: a change is a new file. */
#ifndef VG_MIGRATIONS_H
#define VG_MIGRATIONS_H

#include <stddef.h>

typedef struct vg_migration {
  int version;      /* 1, 2, 3, ... */
  const char *name; /* "foundation" */
  const char *sql;  /* the whole file, one or more statements */
} vg_migration;

/* Filled by the generated migrations_sql.c. */
extern const vg_migration vg_migrations_embedded[];
extern const size_t vg_migrations_embedded_count;

/* Number of migrations, which is also the newest version. */
size_t vg_migrations_count(void);
/* The i-th migration (0-based, version i + 1), or NULL past the end. */
const vg_migration *vg_migration_at(size_t i);
/* The newest version this build knows. */
int vg_migrations_latest(void);

#endif
