/*
 * remote.h - libpq connections to postgres_fdw foreign servers (remote.c).
 */
#ifndef MLP_REMOTE_H
#define MLP_REMOTE_H

#include "postgres.h"

#include "libpq-fe.h"

/*
 * A connection to foreign server server_name with the caller's user mapping, under
 * postgres_fdw's rules (USAGE on the server; a password for non-superusers), its
 * search_path set to pg_catalog.  ERROR naming the server on any failure; PQfinish it.
 */
extern PGconn *MlpRemoteConnect(const char *server_name);

/* Sends one statement (text parameters unless formats says binary) without waiting. */
extern void MlpRemoteSend(PGconn *conn, const char *server, const char *sql, int nparams,
						  const char *const *params, const int *lengths, const int *formats);

/*
 * Waits for the statement's result (interruptibly); ERROR "server \"s\": <its message>"
 * with the remote SQLSTATE unless its status is expected.  PQclear the result.
 */
extern PGresult *MlpRemoteResult(PGconn *conn, const char *server, ExecStatusType expected);

/* MlpRemoteSend and MlpRemoteResult. */
extern PGresult *MlpRemoteExec(PGconn *conn, const char *server, const char *sql, int nparams,
							   const char *const *params, const int *lengths,
							   const int *formats, ExecStatusType expected);

/* The quoted schema of the remote database's mlpscale; ERROR when it has none. */
extern char *MlpRemoteSchema(PGconn *conn, const char *server);

#endif
