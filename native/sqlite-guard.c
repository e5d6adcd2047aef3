/*
 * A SQLite extension that confines one connection to its own database file
 * (or memory). The `database` module loads it into every connection it opens
 * for a session, before any user SQL runs.
 *
 * better-sqlite3 exposes neither sqlite3_set_authorizer nor sqlite3_limit,
 * but loadExtension() hands an extension the connection and SQLite's API
 * table: that is the supported way to reach both. The rules are enforced by
 * SQLite's own authorizer, whatever text the SQL is written in.
 */
#include <string.h>
#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT1

static int guard(void *unused, int action, const char *a3, const char *a4, const char *db, const char *trigger) {
  (void)unused; (void)db; (void)trigger;
  switch (action) {
    case SQLITE_ATTACH:
      /* VACUUM attaches a private temporary database by the empty name (an
       * ATTACH '' names no file either); anything else names a file outside
       * this connection's own, including VACUUM INTO, whose target is
       * attached the same way. A name that is not a literal arrives as NULL. */
      return a3 != 0 && a3[0] == '\0' ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_DETACH:
      return SQLITE_DENY;
    case SQLITE_PRAGMA:
      /* Pragmas that point SQLite at other directories. */
      if (a3 != 0 && (sqlite3_stricmp(a3, "temp_store_directory") == 0 || sqlite3_stricmp(a3, "data_store_directory") == 0)) return SQLITE_DENY;
      return SQLITE_OK;
    case SQLITE_FUNCTION:
      if (a4 != 0 && sqlite3_stricmp(a4, "load_extension") == 0) return SQLITE_DENY;
      return SQLITE_OK;
    default:
      return SQLITE_OK;
  }
}

#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_vmsystemguard_init(sqlite3 *conn, char **err, const sqlite3_api_routines *api) {
  (void)err;
  SQLITE_EXTENSION_INIT2(api);
  int rc = sqlite3_set_authorizer(conn, guard, 0);
  if (rc != SQLITE_OK) return rc;
  /* One attached database at most: the temporary one VACUUM needs. */
  sqlite3_limit(conn, SQLITE_LIMIT_ATTACHED, 1);
  /* No writable_schema tricks that could corrupt the file, no functions run
   * from a schema the user wrote by hand, and no further extensions. */
  sqlite3_db_config(conn, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)0);
  sqlite3_db_config(conn, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)0);
  sqlite3_db_config(conn, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)0);
  return SQLITE_OK;
}
