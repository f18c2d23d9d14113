/*
 * remote.c - connections to other PostgreSQL servers, named as postgres_fdw foreign servers.
 *
 * mlp_publish and mlp_classify_batch(..., servers) talk to the servers that hold the shards
 * with libpq, using what the DBA already set up for postgres_fdw: the foreign server's
 * connection options and the caller's user mapping.  The rules are postgres_fdw's, so that
 * mlpscale opens no door postgres_fdw keeps shut: the caller needs USAGE on the server and a
 * user mapping; a non-superuser must give a password in it and the remote server must have
 * used it (otherwise a loopback "trust" or peer login would let any role connect as the OS
 * user that runs PostgreSQL), unless a superuser set password_required 'false'.  Every wait
 * is on the latch, so a query cancel or a terminate interrupts it.  Our own statements name
 * every schema and operator, and the remote session keeps the remote role's search_path, under
 * which the caller's queries (mlp_classify_batch's) mean what they mean there.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_foreign_server.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "libpq-fe.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "remote.h"

/* Is keyword an option of libpq's connection strings (not one of postgres_fdw's own)? */
static bool
IsLibpqOption(const char *keyword)
{
	static PQconninfoOption *options = NULL;

	if (options == NULL)
	{
		options = PQconndefaults();
		if (options == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory reading libpq's connection options")));
	}
	for (PQconninfoOption *o = options; o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0)
			/* "D" = debug options such as replication, which a user may not set */
			return strchr(o->dispchar, 'D') == NULL;
	return false;
}

static bool
PasswordRequired(List *um_options)
{
	ListCell   *lc;

	foreach(lc, um_options)
	{
		DefElem    *d = lfirst(lc);

		if (strcmp(d->defname, "password_required") == 0)
			return defGetBoolean(d);
	}
	return true;
}

static void
AppendOptions(List *options, const char **keys, const char **values, int *n)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *d = lfirst(lc);

		if (!IsLibpqOption(d->defname))
			continue;
		keys[*n] = d->defname;
		values[*n] = defGetString(d);
		(*n)++;
	}
}

static void
WaitForSocket(PGconn *conn, int events)
{
	(void) WaitLatchOrSocket(MyLatch, WL_LATCH_SET | events | WL_EXIT_ON_PM_DEATH,
							 PQsocket(conn), -1L, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

PGconn *
MlpRemoteConnect(const char *server_name)
{
	ForeignServer *server = GetForeignServerByName(server_name, false);
	ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);
	UserMapping *um;
	AclResult	acl;
	const char **keys;
	const char **values;
	int			n = 0;
	bool		has_password = false;
	PGconn	   *conn;
	ListCell   *lc;

	if (strcmp(fdw->fdwname, "postgres_fdw") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" is a foreign server of \"%s\", not of postgres_fdw",
						server_name, fdw->fdwname)));
	acl = pg_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_FOREIGN_SERVER, server->servername);
	um = GetUserMapping(GetUserId(), server->serverid);

	foreach(lc, um->options)
		if (strcmp(((DefElem *) lfirst(lc))->defname, "password") == 0)
			has_password = true;
	if (!superuser() && !has_password && PasswordRequired(um->options))
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("password is required to connect to server \"%s\"", server_name),
				 errdetail("Non-superusers must provide a password in the user mapping.")));

	keys = palloc(sizeof(char *) * (list_length(server->options) + list_length(um->options) + 3));
	values = palloc(sizeof(char *) * (list_length(server->options) + list_length(um->options) + 3));
	AppendOptions(server->options, keys, values, &n);
	AppendOptions(um->options, keys, values, &n);
	keys[n] = "fallback_application_name";
	values[n++] = "mlpscale";
	keys[n] = "client_encoding";
	values[n++] = GetDatabaseEncodingName();
	keys[n] = NULL;
	values[n] = NULL;

	/* Non-blocking, so that a server that does not answer can be interrupted. */
	conn = PQconnectStartParams(keys, values, false);
	if (conn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory connecting to server \"%s\"", server_name)));
	PG_TRY();
	{
		PostgresPollingStatusType st = PGRES_POLLING_WRITING;

		while (PQstatus(conn) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
			   st != PGRES_POLLING_FAILED)
		{
			WaitForSocket(conn, st == PGRES_POLLING_READING ? WL_SOCKET_READABLE :
						  WL_SOCKET_WRITEABLE);
			st = PQconnectPoll(conn);
		}
		if (PQstatus(conn) != CONNECTION_OK)
			ereport(ERROR,
					(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
					 errmsg("could not connect to server \"%s\"", server_name),
					 errdetail_internal("%s", pchomp(PQerrorMessage(conn)))));
		if (!superuser_arg(um->userid) && PasswordRequired(um->options) &&
			!PQconnectionUsedPassword(conn))
			ereport(ERROR,
					(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
					 errmsg("password is required to connect to server \"%s\"", server_name),
					 errdetail("Non-superuser cannot connect if the server does not request a password."),
					 errhint("The server's authentication method must ask for a password, or a superuser must set password_required 'false' in the user mapping.")));
	}
	PG_CATCH();
	{
		PQfinish(conn);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return conn;
}

void
MlpRemoteSend(PGconn *conn, const char *server, const char *sql, int nparams,
			  const char *const *params, const int *lengths, const int *formats)
{
	if (!PQsendQueryParams(conn, sql, nparams, NULL, params, lengths, formats, 0))
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not send a query to server \"%s\"", server),
				 errdetail_internal("%s", pchomp(PQerrorMessage(conn)))));
	/* A large parameter (a model's weights) may not fit the socket buffer at once. */
	while (PQflush(conn) == 1)
		WaitForSocket(conn, WL_SOCKET_WRITEABLE | WL_SOCKET_READABLE);
}

PGresult *
MlpRemoteResult(PGconn *conn, const char *server, ExecStatusType expected)
{
	PGresult   *last = NULL;

	for (;;)
	{
		PGresult   *res;

		while (PQisBusy(conn))
		{
			WaitForSocket(conn, WL_SOCKET_READABLE);
			if (!PQconsumeInput(conn))
			{
				PQclear(last);
				ereport(ERROR,
						(errcode(ERRCODE_CONNECTION_FAILURE),
						 errmsg("lost the connection to server \"%s\"", server),
						 errdetail_internal("%s", pchomp(PQerrorMessage(conn)))));
			}
		}
		res = PQgetResult(conn);
		if (res == NULL)
			break;
		PQclear(last);
		last = res;
	}
	if (last == NULL || PQresultStatus(last) != expected)
	{
		char	   *sqlstate = last ? PQresultErrorField(last, PG_DIAG_SQLSTATE) : NULL;
		char	   *primary = last ? PQresultErrorField(last, PG_DIAG_MESSAGE_PRIMARY) : NULL;
		char	   *msg = pstrdup(primary ? primary : last && PQresultStatus(last) == PGRES_FATAL_ERROR ?
								  PQresultErrorMessage(last) : last ? "unexpected result" :
								  PQerrorMessage(conn));
		char	   *detail = last ? PQresultErrorField(last, PG_DIAG_MESSAGE_DETAIL) : NULL;
		char	   *hint = last ? PQresultErrorField(last, PG_DIAG_MESSAGE_HINT) : NULL;
		int			code = sqlstate && strlen(sqlstate) == 5 ?
			MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2], sqlstate[3], sqlstate[4]) :
			ERRCODE_CONNECTION_FAILURE;

		hint = hint ? pstrdup(hint) : NULL;
		detail = detail ? pstrdup(detail) : NULL;
		PQclear(last);
		/* The remote's own SQLSTATE, so that callers can tell a refusal from a failure. */
		ereport(ERROR,
				(errcode(code),
				 errmsg("server \"%s\": %s", server, pchomp(msg)),
				 detail ? errdetail("%s", detail) : 0,
				 hint ? errhint("%s", hint) : 0));
	}
	return last;
}

PGresult *
MlpRemoteExec(PGconn *conn, const char *server, const char *sql, int nparams,
			  const char *const *params, const int *lengths, const int *formats,
			  ExecStatusType expected)
{
	MlpRemoteSend(conn, server, sql, nparams, params, lengths, formats);
	return MlpRemoteResult(conn, server, expected);
}

char *
MlpRemoteSchema(PGconn *conn, const char *server)
{
	PGresult   *res = MlpRemoteExec(conn, server,
									"SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_extension e "
									"JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace "
									"WHERE e.extname OPERATOR(pg_catalog.=) 'mlpscale'",
									0, NULL, NULL, NULL, PGRES_TUPLES_OK);
	char	   *schema;

	if (PQntuples(res) != 1)
	{
		PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("server \"%s\" has no mlpscale extension in its database", server),
				 errhint("Run CREATE EXTENSION mlpscale there (with mlpscale in its shared_preload_libraries).")));
	}
	schema = pstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return schema;
}
