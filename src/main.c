/* main.c - the vigil command line: serve, user, migrate, version.
 *
 * Settings come from defaults, then the INI file (--config FILE, or
 * vigil.conf in the working folder when present), then VIGIL_* variables,
 * then flags; every setting key is also a flag (--http-port 8080). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "app/app.h"
#include "app/password.h"
#include "app/review.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/err.h"
#include "base/log.h"
#include "media/segwriter.h"
#include "store/store.h"

extern char **environ;

typedef struct cli {
  vg_config cfg;
  const char *positional[4];
  int npositional;
  const char *role;
  const char *key; /* verify PACKAGE.zip --key BASE64 */
  bool password_stdin;
  bool help;
} cli;

static void usage(FILE *f) {
  fprintf(f,
          "Usage: vigil COMMAND [options]\n"
          "\n"
          "Vigil records and observes rooms: cameras in, live view, recordings, review.\n"
          "\n"
          "Commands:\n"
          "  serve                       run the server (web app, API and media in one process)\n"
          "  user add NAME --role ROLE   create a user (ROLE: admin, operator or viewer)\n"
          "  user passwd NAME            set a user's password\n"
          "  user list                   list users\n"
          "  user disable NAME           disable a user and end their sessions\n"
          "  user enable NAME            enable a disabled user\n"
          "  migrate                     create or upgrade the database, then exit\n"
          "  verify                      check recorded files and the audit log against the index\n"
          "  verify PACKAGE.zip          check an export package's signature and file hashes\n"
          "  version                     print the version\n"
          "\n"
          "Run 'vigil COMMAND --help' for a command's options.\n");
}

static void usage_settings(FILE *f) {
  fprintf(f,
          "\nSettings (flag, vigil.conf key with underscores, or VIGIL_<KEY> variable):\n"
          "  --config FILE                INI file (default: vigil.conf in the working folder, if "
          "any)\n");
  vg_config_print_keys(f);
}

static void usage_command(const char *cmd, FILE *f) {
  if (strcmp(cmd, "serve") == 0) {
    fprintf(
        f,
        "Usage: vigil serve [settings]\n\n"
        "Runs Vigil until SIGINT or SIGTERM. The web app listens on --http-port (and\n"
        "--https-port when --tls-cert and --tls-key are set; HTTP then redirects to HTTPS).\n"
        "  --role all                 reserved: app and media roles split in a later release\n");
  } else if (strcmp(cmd, "user") == 0) {
    fprintf(f,
            "Usage: vigil user add NAME --role ROLE [--password-stdin] [settings]\n"
            "       vigil user passwd NAME [--password-stdin] [settings]\n"
            "       vigil user list [settings]\n"
            "       vigil user disable|enable NAME [settings]\n\n"
            "Works on the store directly; the server may be running.\n"
            "  --role ROLE                admin, operator or viewer\n"
            "  --password-stdin           read the password from the first line of standard input\n"
            "                             (otherwise it is asked for twice on the terminal)\n");
  } else if (strcmp(cmd, "verify") == 0) {
    fprintf(f,
            "Usage: vigil verify [settings]\n"
            "       vigil verify PACKAGE.zip [--key BASE64]\n\n"
            "Without a file: recomputes the SHA-256 of every recorded file and compares it\n"
            "with the index, and checks the audit log's hash chain (uses --data).\n\n"
            "With an export package (a ZIP from /api/v1/.../export): checks the Ed25519\n"
            "signature in manifest.sig over manifest.json, then every listed file's size\n"
            "and SHA-256, and names each file that does not match, is missing or is not\n"
            "listed. Works offline: no server and no data folder are needed.\n"
            "  --key BASE64               also require the manifest to be signed by this\n"
            "                             public key (the server's: GET /api/v1/signing-key)\n\n"
            "Prints each problem; exits 0 when everything matches, 1 otherwise.\n");
  } else if (strcmp(cmd, "migrate") == 0) {
    fprintf(f,
            "Usage: vigil migrate [settings]\n\nApplies pending database migrations and exits.\n");
  } else {
    fprintf(f, "Usage: vigil version\n");
    return;
  }
  usage_settings(f);
}

/* Reads settings and arguments. Returns 0, or 2 after printing why. */
static int parse_args(int argc, char **argv, int first, cli *c) {
  char err[512];
  const char *config = getenv("VIGIL_CONFIG");
  for (int i = first; i < argc; i++)
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
      config = argv[i + 1];
    else if (strncmp(argv[i], "--config=", 9) == 0)
      config = argv[i] + 9;
  vg_config_defaults(&c->cfg);
  if (config) {
    if (vg_config_load_file(&c->cfg, config, err, sizeof err)) {
      fprintf(stderr, "vigil: %s\n", err);
      return 2;
    }
  } else if (access("vigil.conf", F_OK) == 0 &&
             vg_config_load_file(&c->cfg, "vigil.conf", err, sizeof err)) {
    fprintf(stderr, "vigil: %s\n", err);
    return 2;
  }
  if (vg_config_load_env(&c->cfg, environ, err, sizeof err)) {
    fprintf(stderr, "vigil: %s\n", err);
    return 2;
  }
  for (int i = first; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      c->help = true;
      continue;
    }
    if (strcmp(a, "--password-stdin") == 0) {
      c->password_stdin = true;
      continue;
    }
    if (strncmp(a, "--", 2) != 0) {
      if (c->npositional == (int)(sizeof c->positional / sizeof c->positional[0])) {
        fprintf(stderr, "vigil: unexpected argument '%s'\n", a);
        return 2;
      }
      c->positional[c->npositional++] = a;
      continue;
    }
    char key[64];
    const char *value;
    const char *eq = strchr(a, '=');
    if (eq) {
      snprintf(key, sizeof key, "%.*s", (int)(eq - a - 2), a + 2);
      value = eq + 1;
    } else {
      snprintf(key, sizeof key, "%s", a + 2);
      if (i + 1 >= argc) {
        fprintf(stderr, "vigil: %s needs a value\n", a);
        return 2;
      }
      value = argv[++i];
    }
    if (strcmp(key, "config") == 0) continue;
    if (strcmp(key, "role") == 0) {
      c->role = value;
      continue;
    }
    if (strcmp(key, "key") == 0) {
      c->key = value;
      continue;
    }
    if (vg_config_set(&c->cfg, key, value, err, sizeof err)) {
      fprintf(stderr, "vigil: --%s: %s\n", key, err);
      return 2;
    }
  }
  if (vg_config_validate(&c->cfg, err, sizeof err)) {
    fprintf(stderr, "vigil: %s\n", err);
    return 2;
  }
  vg_log_set_level(c->cfg.log_level);
  return 0;
}

/* Reads a password: one line of stdin, or twice from the terminal. */
static int read_password(bool from_stdin, char *out, size_t cap) {
  if (from_stdin || !isatty(STDIN_FILENO)) {
    if (!fgets(out, (int)cap, stdin)) return VG_EINVAL;
    out[strcspn(out, "\r\n")] = 0;
    return 0;
  }
  struct termios old, quiet;
  tcgetattr(STDIN_FILENO, &old);
  quiet = old;
  quiet.c_lflag &= ~(tcflag_t)ECHO;
  char again[1100];
  fprintf(stderr, "Password: ");
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  char *ok1 = fgets(out, (int)cap, stdin);
  fprintf(stderr, "\nPassword again: ");
  char *ok2 = fgets(again, sizeof again, stdin);
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  fprintf(stderr, "\n");
  if (!ok1 || !ok2) return VG_EINVAL;
  out[strcspn(out, "\r\n")] = 0;
  again[strcspn(again, "\r\n")] = 0;
  int same = strcmp(out, again) == 0;
  explicit_bzero(again, sizeof again);
  if (!same) {
    fprintf(stderr, "vigil: the passwords differ\n");
    return VG_EINVAL;
  }
  return 0;
}

static void cli_audit(vg_store *s, const char *action, const vg_user *u, const char *detail) {
  char target[32];
  snprintf(target, sizeof target, "user:%lld", (long long)u->id);
  vg_store_audit_append(s, vg_now_ms(), 0, "cli", "", action, target, detail);
}

static int cmd_user(cli *c) {
  const char *sub = c->npositional > 0 ? c->positional[0] : NULL;
  const char *name = c->npositional > 1 ? c->positional[1] : NULL;
  if (!sub) {
    usage_command("user", stderr);
    return 2;
  }
  bool needs_name = strcmp(sub, "list") != 0;
  if (needs_name && !name) {
    fprintf(stderr, "vigil: user %s needs a NAME\n", sub);
    return 2;
  }
  if (strcmp(sub, "add") && strcmp(sub, "passwd") && strcmp(sub, "list") &&
      strcmp(sub, "disable") && strcmp(sub, "enable")) {
    fprintf(stderr, "vigil: unknown user command '%s'\n", sub);
    return 2;
  }
  if (strcmp(sub, "add") == 0) {
    if (!vg_username_valid(name, strlen(name))) {
      fprintf(stderr, "vigil: user names are 1-64 letters, digits, '.', '_', '-' or '@'\n");
      return 2;
    }
    if (!c->role || !vg_role_valid(c->role)) {
      fprintf(stderr, "vigil: user add needs --role admin, operator or viewer\n");
      return 2;
    }
  }
  vg_store *s;
  if (vg_app_open_store(&c->cfg, &s)) return 1;
  int code = 1;
  vg_user u;
  memset(&u, 0, sizeof u);
  if (strcmp(sub, "list") == 0) {
    vg_user *items = NULL;
    size_t n = 0;
    int64_t total = 0, offset = 0;
    printf("%-6s %-32s %-9s %s\n", "ID", "USERNAME", "ROLE", "STATUS");
    do {
      if (vg_store_user_list(s, 500, offset, &items, &n, &total)) goto out;
      for (size_t i = 0; i < n; i++)
        printf("%-6lld %-32s %-9s %s\n", (long long)items[i].id, items[i].username, items[i].role,
               items[i].disabled ? "disabled" : "enabled");
      free(items);
      offset += (int64_t)n;
    } while (n > 0 && offset < total);
    code = 0;
    goto out;
  }
  if (strcmp(sub, "add") != 0 && vg_store_user_by_name(s, name, &u) != 0) {
    fprintf(stderr, "vigil: no user named '%s'\n", name);
    goto out;
  }
  if (strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0) {
    char pw[1100];
    if (read_password(c->password_stdin, pw, sizeof pw)) {
      fprintf(stderr, "vigil: no password given\n");
      goto out;
    }
    int rc = vg_password_hash(pw, strlen(pw), u.pwhash);
    explicit_bzero(pw, sizeof pw);
    if (rc) {
      fprintf(stderr, "vigil: passwords must be 8 to 1024 bytes\n");
      goto out;
    }
    if (strcmp(sub, "add") == 0) {
      snprintf(u.username, sizeof u.username, "%s", name);
      snprintf(u.role, sizeof u.role, "%s", c->role);
      rc = vg_store_user_create(s, &u);
      if (rc == VG_EEXIST) {
        fprintf(stderr, "vigil: a user named '%s' already exists\n", name);
        goto out;
      }
      if (rc) goto store_error;
      cli_audit(s, "user.create", &u, NULL);
      printf("Created %s '%s' (id %lld).\n", u.role, u.username, (long long)u.id);
    } else {
      if ((rc = vg_store_user_update(s, &u)) || (rc = vg_store_session_delete_user(s, u.id)))
        goto store_error;
      cli_audit(s, "user.update", &u, "{\"fields\":[\"password\"]}");
      printf("Password of '%s' changed; their sessions ended.\n", u.username);
    }
    code = 0;
    goto out;
  }
  u.disabled = strcmp(sub, "disable") == 0;
  int rc = vg_store_user_update(s, &u);
  if (rc == 0 && u.disabled) rc = vg_store_session_delete_user(s, u.id);
  if (rc) goto store_error;
  cli_audit(s, "user.update", &u,
            u.disabled ? "{\"fields\":[\"disabled\"],\"disabled\":true}"
                       : "{\"fields\":[\"disabled\"],\"disabled\":false}");
  printf("User '%s' %s.\n", u.username, u.disabled ? "disabled; their sessions ended" : "enabled");
  code = 0;
  goto out;
store_error:
  fprintf(stderr, "vigil: store: %s\n", vg_store_errmsg(s));
out:
  vg_store_close(s);
  return code;
}

/* Checks every closed segment of every recording against its hash, and
 * the audit chain. The files are read, never written. */
static int cmd_verify(cli *c) {
  vg_store *s;
  if (vg_app_open_store(&c->cfg, &s)) return 1;
  int64_t problems = 0, files = 0, offset = 0, total = 0;
  uint64_t bytes_all = 0;
  vg_recording *recs = NULL;
  size_t n = 0;
  do {
    if (vg_store_recording_list(s, NULL, 500, offset, &recs, &n, &total) != 0) {
      fprintf(stderr, "vigil: store: %s\n", vg_store_errmsg(s));
      vg_store_close(s);
      return 1;
    }
    for (size_t i = 0; i < n; i++) {
      vg_segment *segs = NULL;
      size_t ns = 0;
      vg_store_segment_list(s, recs[i].id, 0, &segs, &ns);
      for (size_t k = 0; k < ns; k++) {
        const vg_segment *g = &segs[k];
        if (strcmp(g->state, "open") == 0) continue; /* still being written */
        char sha[65];
        uint64_t bytes = 0;
        int rc = vg_file_sha256(g->path, sha, &bytes);
        files++;
        bytes_all += bytes;
        if (rc) {
          printf("MISSING  recording %lld camera %lld %s (%s)\n", (long long)recs[i].id,
                 (long long)g->camera_id, g->path, vg_strerror(rc));
          problems++;
        } else if (strcmp(sha, g->sha256) != 0 || (int64_t)bytes != g->bytes) {
          printf("CHANGED  recording %lld camera %lld %s: sha256 %s, index says %s\n",
                 (long long)recs[i].id, (long long)g->camera_id, g->path, sha, g->sha256);
          problems++;
        }
      }
      free(segs);
    }
    free(recs);
    offset += (int64_t)n;
  } while (n > 0 && offset < total);
  int64_t bad_id = 0;
  if (vg_store_audit_verify(s, &bad_id) != 0) {
    printf("AUDIT    the audit log's hash chain breaks at row %lld\n", (long long)bad_id);
    problems++;
  }
  printf("%lld recording(s), %lld file(s), %llu bytes checked: %s\n", (long long)total,
         (long long)files, (unsigned long long)bytes_all,
         problems ? "PROBLEMS FOUND" : "everything matches the index");
  vg_store_close(s);
  return problems ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("vigil %s\n", VIGIL_VERSION);
    return 0;
  }
  if (strcmp(cmd, "serve") && strcmp(cmd, "user") && strcmp(cmd, "migrate") &&
      strcmp(cmd, "verify")) {
    fprintf(stderr, "vigil: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
  }
  cli c;
  memset(&c, 0, sizeof c);
  int rc = parse_args(argc, argv, 2, &c);
  if (rc) return rc;
  if (c.help) {
    usage_command(cmd, stdout);
    return 0;
  }
  if (c.role && strcmp(cmd, "serve") == 0 && strcmp(c.role, "all") != 0) {
    fprintf(stderr, "vigil: --role %s is not available yet; only 'all'\n", c.role);
    return 2;
  }
  if (strcmp(cmd, "serve") == 0) {
    if (c.npositional) {
      fprintf(stderr, "vigil: serve takes no argument '%s'\n", c.positional[0]);
      return 2;
    }
    return vg_app_serve(&c.cfg);
  }
  if (strcmp(cmd, "user") == 0) return cmd_user(&c);
  if (strcmp(cmd, "verify") == 0 && c.npositional == 1)
    return vg_export_verify_file(c.positional[0], c.key, stdout);
  if (strcmp(cmd, "verify") == 0 && c.npositional > 1) {
    fprintf(stderr, "vigil: verify takes one package at a time\n");
    return 2;
  }
  if (strcmp(cmd, "verify") == 0) return cmd_verify(&c);
  vg_store *s;
  if (vg_app_open_store(&c.cfg, &s)) return 1;
  printf("Store at schema version %d.\n", vg_store_schema_version(s));
  vg_store_close(s);
  return 0;
}
