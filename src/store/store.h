/* store.h - the database interface.
 *
 * Callers see only this header. A back end (SQLite now, PostgreSQL later)
 * fills a table of functions (store_impl.h); vg_store_open picks it by the
 * URL: a path or "sqlite:PATH" for SQLite, "postgres://..." later. Calls are
 * synchronous and short; a vg_store is used from one thread at a time (the
 * CLI, or the event loop). Times are UTC milliseconds. */
#ifndef VG_STORE_H
#define VG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vg_store vg_store;

#define VG_USERNAME_MAX 64
#define VG_ROLE_MAX 16
#define VG_PWHASH_MAX 160

typedef struct vg_user {
  int64_t id;
  char username[VG_USERNAME_MAX + 1];
  char role[VG_ROLE_MAX + 1]; /* "admin", "operator", "viewer" */
  char pwhash[VG_PWHASH_MAX + 1];
  bool disabled;
  int64_t created_at;
  int64_t updated_at;
} vg_user;

typedef struct vg_session {
  int64_t id;
  int64_t user_id;
  char token_hash[65]; /* hex SHA-256 of the token */
  char csrf[48];
  char kind[16];       /* "cookie" (browser) or "bearer" */
  char addr[64];
  int64_t created_at;
  int64_t expires_at;
} vg_session;

typedef struct vg_audit_entry {
  int64_t id;
  int64_t at;
  int64_t user_id; /* 0 when none (failed login of an unknown name, CLI) */
  char username[VG_USERNAME_MAX + 1];
  char addr[64];
  char action[64];  /* "login", "login.failed", "user.create", ... */
  char target[128]; /* "user:12" */
  char *detail;     /* JSON text, owned; freed by vg_audit_entries_free */
  char hash[65];    /* hex SHA-256 over the previous hash and this row */
} vg_audit_entry;

/* Opens (creating if needed) the store at url and applies pending
 * migrations. Returns 0 or VG_EDB / VG_EIO with a message in err;
 * VG_ECONFIG for a URL this build cannot serve (PostgreSQL for now). */
int vg_store_open(vg_store **out, const char *url, char *err, size_t errlen);
void vg_store_close(vg_store *s);
/* Number of the newest migration applied. */
int vg_store_schema_version(vg_store *s);

/* Users. Names are unique (case-insensitive). */
int vg_store_user_create(vg_store *s, vg_user *u); /* fills id, times; VG_EEXIST */
int vg_store_user_get(vg_store *s, int64_t id, vg_user *out);           /* VG_ENOTFOUND */
int vg_store_user_by_name(vg_store *s, const char *name, vg_user *out); /* VG_ENOTFOUND */
int vg_store_user_update(vg_store *s, const vg_user *u); /* role, pwhash, disabled, username */
int vg_store_user_delete(vg_store *s, int64_t id);
int vg_store_user_count(vg_store *s, int64_t *count);
/* Count of enabled admins, to refuse removing the last one. */
int vg_store_admin_count(vg_store *s, int64_t *count);
/* Users ordered by name; *items is malloc'd (free()), *total the full count. */
int vg_store_user_list(vg_store *s, int64_t limit, int64_t offset, vg_user **items, size_t *n,
                       int64_t *total);

/* Sessions and API tokens (both are rows of sessions, told apart by kind). */
int vg_store_session_create(vg_store *s, vg_session *sess); /* fills id */
/* Finds an unexpired session by token hash. VG_ENOTFOUND otherwise. */
int vg_store_session_get(vg_store *s, const char *token_hash, int64_t now, vg_session *out);
/* The deletes succeed (0) when there was nothing to delete. */
int vg_store_session_delete(vg_store *s, const char *token_hash);
int vg_store_session_delete_user(vg_store *s, int64_t user_id);
int vg_store_session_purge(vg_store *s, int64_t now); /* drops expired rows */

/* Audit log: append-only; each row's hash covers the previous row's hash. */
int vg_store_audit_append(vg_store *s, int64_t at, int64_t user_id, const char *username,
                          const char *addr, const char *action, const char *target,
                          const char *detail_json);
/* Newest first. *items malloc'd; free with vg_audit_entries_free. */
int vg_store_audit_list(vg_store *s, int64_t limit, int64_t offset, vg_audit_entry **items,
                        size_t *n, int64_t *total);
void vg_audit_entries_free(vg_audit_entry *items, size_t n);
/* Recomputes the chain; returns 0 or VG_EINVAL with *bad_id the first row
 * whose hash does not match. */
int vg_store_audit_verify(vg_store *s, int64_t *bad_id);

/* The last back-end error message on s, for logs ("" when none). */
const char *vg_store_errmsg(const vg_store *s);
/* "sqlite" (later "postgres"). */
const char *vg_store_backend_name(const vg_store *s);

#endif
